package verify_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otpgate/otpgate/backend/ykval"
	"github.com/otpgate/otpgate/verify"
)

type ykCase struct {
	Name      string `json:"name"`
	Valid     bool   `json:"valid"`
	AESKey    string `json:"aes_key_hex"`
	OTP       string `json:"otp"`
	PublicID  string `json:"public_id_modhex"`
	PrivateID string `json:"private_uid_hex"`
}

// ykVector returns the named valid case of testdata/vectors/yubikey.json.
func ykVector(t testing.TB, name string) ykCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "vectors", "yubikey.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Cases []ykCase }
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	for _, c := range file.Cases {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no yubikey vector %q", name)
	return ykCase{}
}

func ykToken(t testing.TB, c ykCase) verify.Token {
	t.Helper()
	key, _ := hex.DecodeString(c.AESKey)
	priv, _ := hex.DecodeString(c.PrivateID)
	return verify.Token{Type: verify.TypeYubiKey, Key: key, PublicID: c.PublicID, PrivateID: priv}
}

func TestPINPlusYubiKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("alice", "pw", "ab12", verify.LevelWebOTP)
	// Same key: session counter 0 ("0000") and 1 ("ffff"), use counter 3.
	older, newer := ykVector(t, "yubiotp-random-0000"), ykVector(t, "yubiotp-random-ffff")
	f.token("alice", ykToken(t, newer))
	other := ykVector(t, "yubiotp-random-beef")

	t.Run("accepts PIN plus a YubiKey OTP", func(t *testing.T) {
		want(t, f.verify("alice", "ab12"+newer.OTP, "webmail"), verify.Accept, verify.ReasonOK)
	})
	t.Run("rejects the same OTP again", func(t *testing.T) {
		want(t, f.verify("alice", "ab12"+newer.OTP, "webmail"), verify.Reject, verify.ReasonReplay)
	})
	t.Run("rejects an OTP with a lower counter", func(t *testing.T) {
		want(t, f.verify("alice", "ab12"+older.OTP, "webmail"), verify.Reject, verify.ReasonReplay)
	})
	t.Run("rejects an OTP of another YubiKey", func(t *testing.T) {
		want(t, f.verify("alice", "ab12"+other.OTP, "webmail"), verify.Reject, verify.ReasonBadOTP)
	})
	t.Run("rejects the OTP in upper case", func(t *testing.T) {
		up := []byte(newer.OTP)
		for i := range up {
			up[i] -= 'a' - 'A'
		}
		want(t, f.verify("alice", "ab12"+string(up), "webmail"), verify.Reject, verify.ReasonBadOTP)
	})
	t.Run("shares replay state with the validation-server check", func(t *testing.T) {
		if got := f.engine.CheckYubiKeyOTP(context.Background(), newer.OTP, "client 1"); got != verify.YubiKeyReplayed {
			t.Fatalf("CheckYubiKeyOTP = %s, want REPLAYED_OTP", got)
		}
	})
}

func TestCheckYubiKeyOTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("alice", "pw", "ab12", verify.LevelWebOTP)
	older, newer := ykVector(t, "yubiotp-random-0000"), ykVector(t, "yubiotp-random-ffff")
	f.token("alice", ykToken(t, older))
	ctx := context.Background()
	for _, step := range []struct {
		otp  string
		want verify.YubiKeyStatus
	}{
		{older.OTP, verify.YubiKeyOK},
		{older.OTP, verify.YubiKeyReplayed},
		{newer.OTP, verify.YubiKeyOK},
		{"ccccccbcgujh", verify.YubiKeyBadOTP},
		{ykVector(t, "yubiotp-random-beef").OTP, verify.YubiKeyBadOTP},
	} {
		if got := f.engine.CheckYubiKeyOTP(ctx, step.otp, "client 1"); got != step.want {
			t.Fatalf("CheckYubiKeyOTP(%s) = %s, want %s", step.otp, got, step.want)
		}
	}
	want(t, f.verify("alice", "ab12"+newer.OTP, "webmail"), verify.Reject, verify.ReasonReplay)
}

// TestPINPlusYubiCloud runs a yubicloud token against a real validation
// server (otpgate's own ykval.Server over a second engine's local token),
// spoken to by the real protocol client.
func TestPINPlusYubiCloud(t *testing.T) {
	t.Parallel()
	server := newFixture(t, fixtureOptions{}) // the "YubiCloud" side
	server.user("owner", "pw", "", verify.LevelOff)
	newer := ykVector(t, "yubiotp-random-ffff")
	server.token("owner", ykToken(t, newer))
	apiKey := []byte("0123456789abcdef0123")
	ts := httptest.NewServer(&ykval.Server{
		Clients: func(id string) ([]byte, bool) { return apiKey, id == "42" },
		Check: func(ctx context.Context, otp string) ykval.Status {
			return ykval.Status(server.engine.CheckYubiKeyOTP(ctx, otp, "42"))
		},
	})
	t.Cleanup(ts.Close)
	client := &ykval.Client{URLs: []string{ts.URL + "/wsapi/2.0/verify"}, ClientID: "42", APIKey: apiKey, HTTP: ts.Client()}
	f := newFixture(t, fixtureOptions{remote: ykval.Validator{Client: client}})
	f.user("alice", "pw", "ab12", verify.LevelWebOTP)
	f.token("alice", verify.Token{Type: verify.TypeYubiCloud, Key: []byte{}, PublicID: newer.PublicID})

	want(t, f.verify("alice", "ab13"+newer.OTP, "webmail"), verify.Reject, verify.ReasonBadPIN)
	want(t, f.verify("alice", "ab12"+newer.OTP, "webmail"), verify.Accept, verify.ReasonOK)
	want(t, f.verify("alice", "ab12"+newer.OTP, "webmail"), verify.Reject, verify.ReasonReplay)

	t.Run("answers unavailable and logs loudly when the servers refuse our key", func(t *testing.T) {
		bad := &ykval.Client{URLs: client.URLs, ClientID: "42", APIKey: []byte("wrong key wrong key!"), HTTP: ts.Client()}
		g := newFixture(t, fixtureOptions{remote: ykval.Validator{Client: bad}})
		g.user("bob", "pw", "ab12", verify.LevelWebOTP)
		g.token("bob", verify.Token{Type: verify.TypeYubiCloud, Key: []byte{}, PublicID: newer.PublicID})
		want(t, g.verify("bob", "ab12"+ykVector(t, "yubiotp-random-0000").OTP, "webmail"), verify.Unavailable, verify.ReasonStoreError)
		if !strings.Contains(g.logs.String(), "MISCONFIGURED") {
			t.Fatalf("no loud log line: %s", g.logs.String())
		}
	})
	t.Run("answers unavailable when no server answers", func(t *testing.T) {
		gone := httptest.NewServer(nil)
		gone.Close()
		down := &ykval.Client{URLs: []string{gone.URL + "/wsapi/2.0/verify"}, ClientID: "42", APIKey: apiKey}
		g := newFixture(t, fixtureOptions{remote: ykval.Validator{Client: down}})
		g.user("bob", "pw", "ab12", verify.LevelWebOTP)
		g.token("bob", verify.Token{Type: verify.TypeYubiCloud, Key: []byte{}, PublicID: newer.PublicID})
		want(t, g.verify("bob", "ab12"+ykVector(t, "yubiotp-random-0000").OTP, "webmail"), verify.Unavailable, verify.ReasonStoreError)
	})
}
