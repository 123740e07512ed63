package adminapi

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// ykVector is one valid case of testdata/vectors/yubikey.json.
type ykVector struct {
	Name      string `json:"name"`
	AESKey    string `json:"aes_key_hex"`
	OTP       string `json:"otp"`
	PublicID  string `json:"public_id_modhex"`
	PrivateID string `json:"private_uid_hex"`
}

// yubiKeyVector returns the named case; yubiotp-random-0000 and
// yubiotp-random-ffff are two successive OTPs of one key.
func yubiKeyVector(t *testing.T, name string) ykVector {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vectors", "yubikey.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Cases []ykVector }
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	for _, c := range file.Cases {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no yubikey vector %q", name)
	return ykVector{}
}

// localYubiKey is the registration body of the vectors' key.
func localYubiKey(v ykVector) map[string]any {
	return map[string]any{"public_id": v.PublicID, "private_id": v.PrivateID, "aes_key": v.AESKey, "description": "desk key"}
}

// addYubiKey registers a YubiKey for user and returns the 201 answer.
func (f *fixture) addYubiKey(user string, body any) (manage.TokenInfo, response) {
	f.t.Helper()
	r := f.do("POST", "/api/v1/users/"+user+"/yubikeys", body)
	want(f.t, r, http.StatusCreated)
	var info manage.TokenInfo
	r.decode(f.t, &info)
	return info, r
}

func TestAddYubiKey(t *testing.T) {
	t.Parallel()
	older, newer := yubiKeyVector(t, "yubiotp-random-0000"), yubiKeyVector(t, "yubiotp-random-ffff")
	if older.AESKey != newer.AESKey || older.PublicID != newer.PublicID {
		t.Fatal("the vectors are not two OTPs of one key")
	}
	secrets := []string{older.AESKey, strings.ToUpper(older.AESKey), older.OTP, newer.OTP, password, adminToken}

	t.Run("registers a local key pending, activates it with OTP 0000 and refuses 0000 again as a replay", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t).with(t)
		f.addUser("alice")
		tok, r := f.addYubiKey("alice", localYubiKey(older))
		if tok.Type != string(verify.TypeYubiKey) || tok.State != "pending" || tok.PublicID != older.PublicID ||
			tok.User != "alice" || tok.Description != "desk key" || tok.Serial == "" {
			t.Fatalf("token %+v", tok)
		}
		if loc := r.header.Get("Location"); loc != "/api/v1/users/alice/tokens" {
			t.Fatalf("Location %q", loc)
		}
		if strings.Contains(string(r.body), older.PrivateID) {
			t.Errorf("the answer holds the private id: %s", r.body)
		}
		test := "/api/v1/users/alice/tokens/" + tok.Serial + "/test"
		r = f.do("POST", test, map[string]string{"otp": older.OTP})
		want(t, r, http.StatusOK)
		var dec decisionResult
		r.decode(t, &dec)
		if dec.Decision != "accept" || dec.Token != tok.Serial {
			t.Fatalf("decision %+v", dec)
		}
		if got := f.tokenState(t, "alice", tok.Serial); got != "active" {
			t.Fatalf("state %s after a good test", got)
		}
		r = f.do("POST", test, map[string]string{"otp": older.OTP})
		want(t, r, http.StatusUnprocessableEntity)
		r.decode(t, &dec)
		if dec.Decision != "reject" || dec.Reason != string(verify.ReasonReplay) {
			t.Fatalf("replayed OTP: %+v", dec)
		}
		want(t, f.do("POST", test, map[string]string{"otp": newer.OTP}), http.StatusOK)
		f.do("GET", "/api/v1/users/alice", nil)
		f.noLeak(t, secrets)
	})

	t.Run("registers a remote key with the public id taken from one OTP", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t).with(t)
		f.addUser("alice")
		tok, _ := f.addYubiKey("alice", map[string]any{"remote": true, "otp": newer.OTP, "description": "YubiCloud"})
		if tok.Type != string(verify.TypeYubiCloud) || tok.State != "pending" || tok.PublicID != newer.PublicID ||
			tok.Description != "YubiCloud" {
			t.Fatalf("token %+v", tok)
		}
		f.do("GET", "/api/v1/users/alice/tokens", nil)
		f.noLeak(t, secrets)
	})

	t.Run("refuses a public id registered already, to the same or another user, with 409", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t).with(t)
		f.addUser("alice")
		f.addUser("bob")
		first, _ := f.addYubiKey("alice", localYubiKey(older))
		for _, c := range []struct {
			user string
			body map[string]any
		}{
			{user: "alice", body: localYubiKey(older)},
			{user: "bob", body: localYubiKey(older)},
			{user: "bob", body: map[string]any{"remote": true, "otp": newer.OTP}},
		} {
			r := f.do("POST", "/api/v1/users/"+c.user+"/yubikeys", c.body)
			want(t, r, http.StatusConflict)
			if msg := r.errorText(t); !strings.Contains(msg, "already exists") {
				t.Errorf("409 text %q", msg)
			}
		}
		var list struct{ Tokens []manage.TokenInfo }
		f.do("GET", "/api/v1/users/bob/tokens", nil).decode(t, &list)
		if len(list.Tokens) != 0 {
			t.Fatalf("bob got tokens %+v", list.Tokens)
		}
		if got := f.tokenState(t, "alice", first.Serial); got != "pending" {
			t.Fatalf("the first key is %s", got)
		}
		f.noLeak(t, secrets)
	})

	const badKey = "c4c5c6c7c8c9cacbcccdcecfd0d1d2zz"
	with := func(key string, value any) map[string]any {
		body := localYubiKey(older)
		body[key] = value
		return body
	}
	for _, c := range []struct {
		name    string
		user    string
		body    any
		status  int
		errText string
	}{
		{name: "refuses an AES key that is not hex with 400", body: with("aes_key", badKey), status: http.StatusBadRequest,
			errText: "invalid: AES key must be 32 hex digits"},
		{name: "refuses a 30-digit AES key with 400", body: with("aes_key", older.AESKey[:30]), status: http.StatusBadRequest,
			errText: "invalid: AES key must be 32 hex digits"},
		{name: "refuses a private id of 10 digits with 400", body: with("private_id", "1122334455"), status: http.StatusBadRequest,
			errText: "invalid: private id must be 12 hex digits"},
		{name: "refuses a public id that is not modhex with 400", body: with("public_id", "abcdef"), status: http.StatusBadRequest,
			errText: "invalid: public id must be 2 to 32 lower-case modhex characters"},
		{name: "refuses a remote OTP that is too short with 400", body: map[string]any{"remote": true, "otp": "ccccccbcgujh"},
			status: http.StatusBadRequest, errText: "invalid: a YubiKey OTP has 32 to 64 modhex characters"},
		{name: "refuses a remote registration that also sends a key with 400",
			body: map[string]any{"remote": true, "otp": newer.OTP, "aes_key": older.AESKey}, status: http.StatusBadRequest,
			errText: `a remote YubiKey takes only "otp" and "description"`},
		{name: "refuses a local registration that sends an OTP with 400", body: with("otp", newer.OTP),
			status: http.StatusBadRequest, errText: `field "otp" is only for a remote YubiKey`},
		{name: "refuses remote given as a string with 400", body: `{"remote":"yes","otp":"x"}`, status: http.StatusBadRequest,
			errText: `field "remote" must be a boolean`},
		{name: "refuses an unknown user with 404", user: "nobody", body: localYubiKey(older), status: http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t).with(t)
			f.addUser("alice")
			user := "alice"
			if c.user != "" {
				user = c.user
			}
			r := f.do("POST", "/api/v1/users/"+user+"/yubikeys", c.body)
			want(t, r, c.status)
			if msg := r.errorText(t); c.errText != "" && !strings.Contains(msg, c.errText) {
				t.Errorf("error %q, want %q", msg, c.errText)
			}
			var list struct{ Tokens []manage.TokenInfo }
			f.do("GET", "/api/v1/users/alice/tokens", nil).decode(t, &list)
			if len(list.Tokens) != 0 {
				t.Fatalf("a refused registration left tokens %+v", list.Tokens)
			}
			f.noLeak(t, append(secrets, badKey))
		})
	}
}
