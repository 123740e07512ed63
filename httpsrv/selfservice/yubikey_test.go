package selfservice_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/otpgate/otpgate/backend/ykval"
	"github.com/otpgate/otpgate/verify"
)

// ykCase is one valid case of testdata/vectors/yubikey.json.
type ykCase struct {
	Name      string `json:"name"`
	AESKey    string `json:"aes_key_hex"`
	OTP       string `json:"otp"`
	PublicID  string `json:"public_id_modhex"`
	PrivateID string `json:"private_uid_hex"`
}

// ykVector returns the named case; yubiotp-random-0000 and
// yubiotp-random-ffff are two successive OTPs of one key.
func ykVector(t testing.TB, name string) ykCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vectors", "yubikey.json"))
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

// yubiCloud runs a validation server as verify's TestPINPlusYubiCloud
// does: a second engine holds the vectors' key as a local yubikey token
// and answers through ykval.Server over HTTP; the page's engine reaches
// it with the real protocol client.
func yubiCloud(t *testing.T) verify.RemoteValidator {
	t.Helper()
	server := newFixture(t, fixtureOptions{})
	server.user("owner", "pw-owner", "", verify.LevelOff)
	v := ykVector(t, "yubiotp-random-0000")
	key, _ := hex.DecodeString(v.AESKey)
	priv, _ := hex.DecodeString(v.PrivateID)
	ctx := context.Background()
	owner, err := server.store.UserByName(ctx, "owner")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.store.CreateToken(ctx, verify.Token{Type: verify.TypeYubiKey, Serial: "UBAM-owner", UserID: owner.ID,
		Enabled: true, Key: key, PrivateID: priv, PublicID: v.PublicID, LastStep: verify.NoStep}); err != nil {
		t.Fatal(err)
	}
	apiKey := []byte("0123456789abcdef0123")
	ts := httptest.NewServer(&ykval.Server{
		Clients: func(id string) ([]byte, bool) { return apiKey, id == "42" },
		Check: func(ctx context.Context, otp string) ykval.Status {
			return ykval.Status(server.engine.CheckYubiKeyOTP(ctx, otp, "42"))
		},
	})
	t.Cleanup(ts.Close)
	return ykval.Validator{Client: &ykval.Client{URLs: []string{ts.URL + "/wsapi/2.0/verify"}, ClientID: "42",
		APIKey: apiKey, HTTP: ts.Client()}}
}

// yubiKeyToken returns the user's only token.
func yubiKeyToken(t *testing.T, f *fixture, user string) (serial string, state string) {
	t.Helper()
	toks := f.tokens(user)
	if len(toks) != 1 {
		t.Fatalf("%s has %d tokens, want 1", user, len(toks))
	}
	for s, tok := range toks {
		if tok.Type != string(verify.TypeYubiCloud) || tok.PublicID != "ccccccbcgujh" {
			t.Fatalf("token %+v", tok)
		}
		serial, state = s, tok.State
	}
	return serial, state
}

func TestEnrollYubiKey(t *testing.T) {
	t.Parallel()
	older, newer := ykVector(t, "yubiotp-random-0000"), ykVector(t, "yubiotp-random-ffff")
	f := newFixture(t, fixtureOptions{remote: yubiCloud(t)})
	f.user("olivia", "pw-olivia", "", verify.LevelOff)
	f.user("mallory", "pw-mallory", "", verify.LevelOff)
	c := f.client()
	home := c.mustLogin("olivia", "pw-olivia")
	wantText(t, home, `id="type-yubikey" name="type" value="yubikey"`, `<label for="type-yubikey">YubiKey`,
		`<label for="yubikey_otp">Touch your YubiKey</label>`, `aria-describedby="yubikey-help"`)
	enroll := func(c *client, otp string) page {
		t.Helper()
		return c.post("/self/enroll", url.Values{"type": {"yubikey"}, "yubikey_otp": {otp}, "description": {"desk key"}})
	}

	for _, tc := range []struct {
		name, otp, text string
	}{
		{name: "refuses a malformed OTP at its field", otp: "ccccccbcgujh-not-an-otp",
			text: "This is not a one-time password of a YubiKey."},
		{name: "refuses an OTP in upper case at its field", otp: "CCCCCCBCGUJHTLEUDCKRVTHTRDKFRKDKGBEJVCLKJRFCL",
			text: "This is not a one-time password of a YubiKey."},
		{name: "asks for a touch when the field is empty", otp: "", text: "touch the button of your YubiKey once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := enroll(c, tc.otp)
			wantStatus(t, p, http.StatusUnprocessableEntity)
			wantText(t, p, tc.text, `id="yubikey_otp-error"`, `aria-describedby="yubikey-help yubikey_otp-error" aria-invalid="true"`,
				`id="type-yubikey" name="type" value="yubikey" checked`, `value="desk key"`)
			if n := len(f.tokens("olivia")); n != 0 {
				t.Fatalf("a refused OTP left %d tokens", n)
			}
		})
	}
	t.Run("refuses a YubiKey OTP sent with another token type", func(t *testing.T) {
		p := c.post("/self/enroll", url.Values{"type": {"totp"}, "yubikey_otp": {older.OTP}})
		wantStatus(t, p, http.StatusUnprocessableEntity)
		wantText(t, p, "choose YubiKey as the token type", `id="type-error"`, `aria-describedby="type-error"`)
		if n := len(f.tokens("olivia")); n != 0 {
			t.Fatalf("%d tokens", n)
		}
	})

	var serial string
	t.Run("registers the key from OTP 0000 as a pending yubicloud token without a QR code", func(t *testing.T) {
		p := enroll(c, older.OTP)
		wantStatus(t, p, http.StatusSeeOther)
		if p.location != "/self/enroll" {
			t.Fatalf("enroll redirects to %q", p.location)
		}
		p = c.get(p.location)
		wantStatus(t, p, http.StatusOK)
		wantText(t, p, "(YubiKey) is waiting for its OTP test", "Your YubiKey is registered.", "Perform OTP test",
			`inputmode="text"`, "touch the button of your YubiKey once", "Save is available after a successful OTP test.")
		wantNoText(t, p, "otpauth://", "data:image/png", older.OTP)
		var state string
		serial, state = yubiKeyToken(t, f, "olivia")
		if state != "pending" {
			t.Fatalf("state %s", state)
		}
	})
	t.Run("refuses the registration OTP as the test", func(t *testing.T) {
		p := c.post("/self/enroll/test", url.Values{"code": {older.OTP}})
		wantStatus(t, p, http.StatusUnprocessableEntity)
		wantText(t, p, "This one-time password has been used before", `id="code-error"`, `aria-describedby="code-help code-error"`)
		if _, state := yubiKeyToken(t, f, "olivia"); state != "pending" {
			t.Fatalf("state %s", state)
		}
	})
	t.Run("refuses a public id already registered, to anyone, with one generic text", func(t *testing.T) {
		other := f.client()
		other.mustLogin("mallory", "pw-mallory")
		p := enroll(other, newer.OTP)
		wantStatus(t, p, http.StatusUnprocessableEntity)
		wantText(t, p, "This YubiKey is already registered.", `id="yubikey_otp-error"`)
		wantNoText(t, p, "olivia", serial)
		if n := len(f.tokens("mallory")); n != 0 {
			t.Fatalf("mallory has %d tokens", n)
		}
	})
	t.Run("activates the key with OTP ffff checked by the validation server", func(t *testing.T) {
		p := c.post("/self/enroll/test", url.Values{"code": {newer.OTP}})
		wantStatus(t, p, http.StatusSeeOther)
		p = c.get(p.location)
		wantText(t, p, "The OTP test was successful.")
		if _, state := yubiKeyToken(t, f, "olivia"); state != "active" {
			t.Fatalf("state %s", state)
		}
		p = c.follow(c.post("/self/enroll/save", nil))
		wantText(t, p, "You have changed your OTP settings.", "Your token "+serial+" is active.", "<td>YubiKey</td>", "desk key")
	})
	t.Run("refuses an OTP the validation server has seen as a replay on test", func(t *testing.T) {
		c.follow(c.post("/self/tokens/delete", url.Values{"serial": {serial}}))
		wantStatus(t, enroll(c, older.OTP), http.StatusSeeOther)
		p := c.post("/self/enroll/test", url.Values{"code": {newer.OTP}})
		wantStatus(t, p, http.StatusUnprocessableEntity)
		wantText(t, p, "This one-time password has been used before", `id="code-error"`)
		if _, state := yubiKeyToken(t, f, "olivia"); state != "pending" {
			t.Fatalf("a replayed OTP activated the token: %s", state)
		}
	})
	f.assertNoSecret(c, older.OTP, newer.OTP, "pw-olivia")
}

func TestEnrollYubiKeyValidationUnavailable(t *testing.T) {
	t.Parallel()
	gone := httptest.NewServer(nil)
	gone.Close()
	down := ykval.Validator{Client: &ykval.Client{URLs: []string{gone.URL + "/wsapi/2.0/verify"}, ClientID: "42",
		APIKey: []byte("0123456789abcdef0123")}}
	f := newFixture(t, fixtureOptions{remote: down})
	f.user("olivia", "pw-olivia", "", verify.LevelOff)
	c := f.client()
	c.mustLogin("olivia", "pw-olivia")
	wantStatus(t, c.post("/self/enroll", url.Values{"type": {"yubikey"}, "yubikey_otp": {ykVector(t, "yubiotp-random-0000").OTP}}),
		http.StatusSeeOther)

	t.Run("says so at the test field and keeps the token pending", func(t *testing.T) {
		p := c.post("/self/enroll/test", url.Values{"code": {ykVector(t, "yubiotp-random-ffff").OTP}})
		wantStatus(t, p, http.StatusServiceUnavailable)
		wantText(t, p, "YubiKey validation is not available right now", `id="code-error"`,
			`aria-describedby="code-help code-error"`, "Perform OTP test")
		if _, state := yubiKeyToken(t, f, "olivia"); state != "pending" {
			t.Fatalf("state %s", state)
		}
	})
}
