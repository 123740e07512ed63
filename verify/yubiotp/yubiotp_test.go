package yubiotp

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vectorCase is one case of testdata/vectors/yubikey.json.
type vectorCase struct {
	Name                     string `json:"name"`
	Valid                    bool   `json:"valid"`
	AESKeyHex                string `json:"aes_key_hex"`
	OTP                      string `json:"otp"`
	OTPLength                int    `json:"otp_length"`
	PublicIDModhex           string `json:"public_id_modhex"`
	PublicIDHex              string `json:"public_id_hex"`
	TokenModhex              string `json:"token_modhex"`
	TokenHex                 string `json:"token_hex"`
	PlaintextHex             string `json:"plaintext_hex"`
	PrivateUIDHex            string `json:"private_uid_hex"`
	UseCounter               uint16 `json:"use_counter"`
	UseCounterCleaned        uint16 `json:"use_counter_cleaned"`
	CapslockFlag             bool   `json:"capslock_flag"`
	TimestampLow             uint32 `json:"timestamp_low"`
	TimestampHigh            uint32 `json:"timestamp_high"`
	Timestamp                uint32 `json:"timestamp"`
	SessionCounter           uint8  `json:"session_counter"`
	Random                   uint16 `json:"random"`
	CRC                      uint16 `json:"crc"`
	ExpectedError            string `json:"expected_error"`
	RegisteredPublicIDModhex string `json:"registered_public_id_modhex"`
	RegisteredPrivateUIDHex  string `json:"registered_private_uid_hex"`
	DecodedPrivateUIDHex     string `json:"decoded_private_uid_hex"`
	DerivedFrom              string `json:"derived_from"`
	LowercasedOTP            string `json:"lowercased_otp"`
	MappedOTP                string `json:"mapped_otp"`
}

func loadVectors(t testing.TB) []vectorCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vectors", "yubikey.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []vectorCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) != 21 {
		t.Fatalf("yubikey.json has %d cases, want 21", len(file.Cases))
	}
	return file.Cases
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// byName indexes the cases so negative cases can find their source case.
func byName(cases []vectorCase) map[string]vectorCase {
	m := make(map[string]vectorCase, len(cases))
	for _, c := range cases {
		m[c.Name] = c
	}
	return m
}

func TestValidVectorsDecodeToEveryField(t *testing.T) {
	t.Parallel()
	for _, c := range loadVectors(t) {
		if !c.Valid {
			continue
		}
		t.Run("decodes "+c.Name, func(t *testing.T) {
			t.Parallel()
			checkValidVector(t, c)
		})
	}
}

func checkValidVector(t *testing.T, c vectorCase) {
	t.Helper()
	if len(c.OTP) != c.OTPLength {
		t.Fatalf("vector otp length %d != otp_length %d", len(c.OTP), c.OTPLength)
	}
	publicID, token, err := Split(c.OTP, len(c.PublicIDModhex))
	if err != nil {
		t.Fatalf("Split: %v", err)
	}
	if publicID != c.PublicIDModhex {
		t.Errorf("public id %q, want %q", publicID, c.PublicIDModhex)
	}
	if pid, err := ModhexDecode(publicID); err != nil || hex.EncodeToString(pid) != c.PublicIDHex {
		t.Errorf("public id decodes to %x (%v), want %s", pid, err, c.PublicIDHex)
	}
	if got := hex.EncodeToString(token[:]); got != c.TokenHex {
		t.Errorf("token %s, want %s", got, c.TokenHex)
	}
	if got := ModhexEncode(token[:]); got != c.TokenModhex {
		t.Errorf("token re-encodes to %s, want %s", got, c.TokenModhex)
	}
	f, err := Decrypt(mustHex(t, c.AESKeyHex), token)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	want := Fields{
		UseCounter:     c.UseCounterCleaned,
		CapsLock:       c.CapslockFlag,
		Timestamp:      c.Timestamp,
		SessionCounter: c.SessionCounter,
		Random:         c.Random,
	}
	copy(want.PrivateID[:], mustHex(t, c.PrivateUIDHex))
	if f != want {
		t.Errorf("fields %+v, want %+v", f, want)
	}
	checkVectorConsistency(t, c, f)
	if !CheckPrivateID(f, mustHex(t, c.PrivateUIDHex)) {
		t.Error("CheckPrivateID rejects the vector's private id")
	}
	key := Key{PublicID: c.PublicIDModhex, PrivateID: mustHex(t, c.PrivateUIDHex), AESKey: mustHex(t, c.AESKeyHex)}
	if got, err := Check(c.OTP, key); err != nil || got != want {
		t.Errorf("Check = %+v, %v; want %+v", got, err, want)
	}
}

// checkVectorConsistency ties the raw vector fields (raw counter, timestamp
// halves, stored CRC) to the decoded ones and the plaintext.
func checkVectorConsistency(t *testing.T, c vectorCase, f Fields) {
	t.Helper()
	raw := f.UseCounter
	if f.CapsLock {
		raw |= capsLockFlag
	}
	if raw != c.UseCounter {
		t.Errorf("raw use counter %d, want %d", raw, c.UseCounter)
	}
	if c.TimestampHigh<<16|c.TimestampLow != f.Timestamp {
		t.Errorf("timestamp %d != high<<16|low of the vector", f.Timestamp)
	}
	plain := mustHex(t, c.PlaintextHex)
	if crc16(plain) != crcResidue {
		t.Error("vector plaintext fails the CRC residue")
	}
	if stored := uint16(plain[14]) | uint16(plain[15])<<8; stored != c.CRC || ^crc16(plain[:14]) != c.CRC {
		t.Errorf("stored crc %d, computed %d, want %d", stored, ^crc16(plain[:14]), c.CRC)
	}
	if got, want := f.Counter(), uint32(c.UseCounterCleaned)<<8|uint32(c.SessionCounter); got != want {
		t.Errorf("Counter() = %d, want %d", got, want)
	}
}

// expectedErrors maps the vectors' expected_error to our sentinel. The two
// policy cases are errors because we do not fold case or map Dvorak.
var expectedErrors = map[string]error{
	"crc_mismatch":         ErrCRC,
	"invalid_modhex":       ErrInvalidModhex,
	"bad_length":           ErrBadLength,
	"public_id_mismatch":   ErrPublicIDMismatch,
	"private_uid_mismatch": ErrPrivateIDMismatch,
	"policy_case_fold":     ErrInvalidModhex,
	"policy_dvorak":        ErrInvalidModhex,
}

func TestNegativeVectorsFailWithTheMatchingError(t *testing.T) {
	t.Parallel()
	cases := loadVectors(t)
	index := byName(cases)
	for _, c := range cases {
		if c.Valid {
			continue
		}
		t.Run("rejects "+c.Name, func(t *testing.T) {
			t.Parallel()
			wantErr, ok := expectedErrors[c.ExpectedError]
			if !ok {
				t.Fatalf("unknown expected_error %q", c.ExpectedError)
			}
			_, err := Check(c.OTP, keyForNegative(t, c, index))
			if !errors.Is(err, wantErr) {
				t.Fatalf("Check error %v, want %v", err, wantErr)
			}
			if strings.Contains(err.Error(), c.OTP) {
				t.Error("error text contains the otp")
			}
		})
	}
}

// keyForNegative builds the registered key a verifier would hold for a
// negative case: the source case's ids when there is one, else the
// registered values the case records, else the OTP's own public id.
func keyForNegative(t *testing.T, c vectorCase, index map[string]vectorCase) Key {
	t.Helper()
	key := Key{PublicID: publicIDPrefix(c.OTP), AESKey: mustHex(t, c.AESKeyHex)}
	if src, ok := index[c.DerivedFrom]; ok {
		key.PublicID = src.PublicIDModhex
		key.PrivateID = mustHex(t, src.PrivateUIDHex)
	}
	if c.RegisteredPublicIDModhex != "" {
		key.PublicID = c.RegisteredPublicIDModhex
	}
	if c.RegisteredPrivateUIDHex != "" {
		key.PrivateID = mustHex(t, c.RegisteredPrivateUIDHex)
	}
	return key
}

// publicIDPrefix returns the first DefaultPublicIDLen characters
// of otp (the whole of a shorter one).
func publicIDPrefix(otp string) string {
	return otp[:min(len(otp), DefaultPublicIDLen)]
}

func TestPolicyCasesAreValidOnlyAfterTheirMapping(t *testing.T) {
	t.Parallel()
	cases := loadVectors(t)
	index := byName(cases)
	for _, c := range cases {
		mapped := c.LowercasedOTP + c.MappedOTP
		if mapped == "" {
			continue
		}
		t.Run("accepts the mapped form of "+c.Name, func(t *testing.T) {
			t.Parallel()
			if _, _, err := Split(c.OTP, DefaultPublicIDLen); !errors.Is(err, ErrInvalidModhex) {
				t.Errorf("Split of the typed form: %v, want ErrInvalidModhex", err)
			}
			if _, err := Check(mapped, keyForNegative(t, c, index)); err != nil {
				t.Errorf("mapped otp rejected: %v", err)
			}
		})
	}
}

func TestCheckReportsThePrivateIDItDecoded(t *testing.T) {
	t.Parallel()
	c := byName(loadVectors(t))["neg-private-uid-mismatch"]
	_, token, err := Split(c.OTP, DefaultPublicIDLen)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Decrypt(mustHex(t, c.AESKeyHex), token)
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPrivateID(f, mustHex(t, c.DecodedPrivateUIDHex)) {
		t.Errorf("decoded private id %x, want %s", f.PrivateID, c.DecodedPrivateUIDHex)
	}
}
