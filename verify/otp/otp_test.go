package otp

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

func loadVectors[T any](t testing.TB, name string) []T {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vectors", name))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []T `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(file.Cases) == 0 {
		t.Fatalf("%s: no cases", name)
	}
	return file.Cases
}

type hotpCase struct {
	Name      string `json:"name"`
	SecretHex string `json:"secret_hex"`
	SecretB32 string `json:"secret_base32"`
	Digits    int    `json:"digits"`
	Counter   uint64 `json:"counter"`
	OTP       string `json:"otp"`
}

type totpCase struct {
	Name      string `json:"name"`
	Algorithm string `json:"algorithm"`
	SecretHex string `json:"secret_hex"`
	SecretB32 string `json:"secret_base32"`
	Digits    int    `json:"digits"`
	Period    int    `json:"period"`
	UnixTime  int64  `json:"unix_time"`
	TimeStep  int64  `json:"time_step"`
	OTP       string `json:"otp"`
}

type motpCase struct {
	Name     string `json:"name"`
	Secret   string `json:"secret"`
	PIN      string `json:"pin"`
	UnixTime int64  `json:"unix_time"`
	OTP      string `json:"otp"`
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHOTPVectors(t *testing.T) {
	t.Parallel()
	for _, tc := range loadVectors[hotpCase](t, "hotp.json") {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := HOTP(mustHex(t, tc.SecretHex), tc.Counter, SHA1, tc.Digits)
			if err != nil || got != tc.OTP {
				t.Fatalf("HOTP = %q, %v; want %q", got, err, tc.OTP)
			}
			// Cross-check against the mandated library.
			lib, err := hotp.GenerateCodeCustom(tc.SecretB32, tc.Counter, hotp.ValidateOpts{Digits: otp.Digits(tc.Digits), Algorithm: otp.AlgorithmSHA1})
			if err != nil || lib != got {
				t.Fatalf("pquerna/otp = %q, %v; ours %q", lib, err, got)
			}
		})
	}
}

func libAlg(a string) otp.Algorithm {
	switch a {
	case "SHA256":
		return otp.AlgorithmSHA256
	case "SHA512":
		return otp.AlgorithmSHA512
	}
	return otp.AlgorithmSHA1
}

func TestTOTPVectors(t *testing.T) {
	t.Parallel()
	for _, tc := range loadVectors[totpCase](t, "totp.json") {
		t.Run(tc.Name, func(t *testing.T) {
			step := TOTPStep(tc.UnixTime, tc.Period)
			if step != tc.TimeStep {
				t.Fatalf("step = %d, want %d", step, tc.TimeStep)
			}
			g, err := NewGenerator(mustHex(t, tc.SecretHex), Algorithm(tc.Algorithm), tc.Digits)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(g.Code(uint64(step))); got != tc.OTP {
				t.Fatalf("code = %q, want %q", got, tc.OTP)
			}
			lib, err := totp.GenerateCodeCustom(tc.SecretB32, time.Unix(tc.UnixTime, 0), totp.ValidateOpts{
				Period: uint(tc.Period), Digits: otp.Digits(tc.Digits), Algorithm: libAlg(tc.Algorithm)})
			if err != nil || lib != tc.OTP {
				t.Fatalf("pquerna/otp = %q, %v; want %q", lib, err, tc.OTP)
			}
		})
	}
}

func TestMOTPVectors(t *testing.T) {
	t.Parallel()
	for _, tc := range loadVectors[motpCase](t, "motp.json") {
		t.Run(tc.Name, func(t *testing.T) {
			if got := MOTP(tc.UnixTime/10, []byte(tc.Secret), tc.PIN); got != tc.OTP {
				t.Fatalf("MOTP = %q, want %q", got, tc.OTP)
			}
		})
	}
}

func rfcGenerator(t testing.TB) *Generator {
	g, err := NewGenerator([]byte("12345678901234567890"), SHA1, 6)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestMatchCounter(t *testing.T) {
	t.Parallel()
	// RFC 4226 Appendix D: counter 3 → 969429, counter 9 → 520489.
	tests := []struct {
		name   string
		code   string
		from   uint64
		window int
		want   uint64
		ok     bool
	}{
		{"finds the code at the start of the window", "755224", 0, 10, 0, true},
		{"finds the code at counter+3", "969429", 0, 10, 3, true},
		{"finds the code at the last counter of the window", "520489", 0, 10, 9, true},
		{"misses a code one past the window", "520489", 0, 9, 0, false},
		{"misses a code before the window", "755224", 1, 10, 0, false},
		{"misses a wrong code", "000000", 0, 10, 0, false},
		{"stops at 2^64-1 without wrapping", "755224", ^uint64(0) - 2, 10, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := rfcGenerator(t).MatchCounter([]byte(tc.code), tc.from, tc.window)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("MatchCounter = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestMatchSequence(t *testing.T) {
	t.Parallel()
	// RFC 4226 Appendix D: 5 → 254676, 6 → 287922, 7 → 162583.
	tests := []struct {
		name          string
		first, second string
		from          uint64
		window        int
		want          uint64
		ok            bool
	}{
		{"finds two consecutive codes", "254676", "287922", 0, 100, 6, true},
		{"refuses two codes out of order", "287922", "254676", 0, 100, 0, false},
		{"refuses codes that are not adjacent", "254676", "162583", 0, 100, 0, false},
		{"finds a first code at the window's last counter", "254676", "287922", 0, 6, 6, true},
		{"misses a first code past the window", "254676", "287922", 0, 5, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := rfcGenerator(t).MatchSequence([]byte(tc.first), []byte(tc.second), tc.from, tc.window)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("MatchSequence = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestMatchSteps(t *testing.T) {
	t.Parallel()
	codeAt := func(s int64) []byte { return []byte(strconv.FormatInt(s, 10)) }
	tests := []struct {
		name     string
		code     string
		center   int64
		skew     int
		lastStep int64
		want     int64
		result   StepResult
	}{
		{"accepts the current step", "100", 100, 1, NoStepForTest, 100, Fresh},
		{"accepts one step behind at skew 1", "99", 100, 1, NoStepForTest, 99, Fresh},
		{"accepts one step ahead at skew 1", "101", 100, 1, NoStepForTest, 101, Fresh},
		{"refuses two steps behind at skew 1", "98", 100, 1, NoStepForTest, 0, NoMatch},
		{"refuses one step behind at skew 0", "99", 100, 0, NoStepForTest, 0, NoMatch},
		{"reports a step equal to the last used as replayed", "100", 100, 1, 100, 100, Replayed},
		{"reports an older step as replayed", "99", 100, 1, 100, 99, Replayed},
		{"accepts a step after the last used", "101", 100, 1, 100, 101, Fresh},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, res := MatchSteps(codeAt, []byte(tc.code), tc.center, tc.skew, tc.lastStep)
			if res != tc.result || got != tc.want {
				t.Fatalf("MatchSteps = %d, %v; want %d, %v", got, res, tc.want, tc.result)
			}
		})
	}
}

const NoStepForTest = -1

func TestNewGeneratorRejectsBadParameters(t *testing.T) {
	t.Parallel()
	if _, err := NewGenerator([]byte("k"), "MD4", 6); err == nil {
		t.Error("accepted algorithm MD4")
	}
	for _, d := range []int{0, 5, 10} {
		if _, err := NewGenerator([]byte("k"), SHA1, d); err == nil {
			t.Errorf("accepted %d digits", d)
		}
	}
}

func BenchmarkMatchCounterWindow10(b *testing.B) {
	g := rfcGenerator(b)
	code := []byte("520489")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := g.MatchCounter(code, 0, 10); !ok {
			b.Fatal("no match")
		}
	}
}
