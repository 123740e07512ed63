package adminapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// tokenState returns the state of serial in the user's token list.
func (f *fixture) tokenState(t *testing.T, user, serial string) string {
	t.Helper()
	var list struct{ Tokens []manage.TokenInfo }
	r := f.do("GET", "/api/v1/users/"+user+"/tokens", nil)
	want(t, r, http.StatusOK)
	r.decode(t, &list)
	for _, tok := range list.Tokens {
		if tok.Serial == serial {
			return tok.State
		}
	}
	return "absent"
}

func TestEnroll(t *testing.T) {
	t.Parallel()

	t.Run("enrolls a TOTP token, returns its URI once, and activates it with a code from that URI", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice@example.org")
		en, enrolled := f.enroll("alice@example.org", map[string]any{"type": "totp", "digits": 8, "algorithm": "sha256", "period": 60})
		if !strings.HasPrefix(en.URI, "otpauth://totp/") || en.Serial != en.Token.Serial || en.Token.State != "pending" {
			t.Fatalf("enrollment %+v", en)
		}
		if loc := enrolled.header.Get("Location"); loc != "/api/v1/users/alice@example.org/tokens" {
			t.Fatalf("Location %q", loc)
		}
		if en.Token.Digits != 8 || en.Token.Algorithm != "SHA256" || en.Token.Period != 60 {
			t.Fatalf("token %+v", en.Token)
		}
		key := parseOATH(t, en.URI)
		if key.digits != 8 || key.period != 60 {
			t.Fatalf("URI parameters %+v", key)
		}
		code := f.totp(t, key)

		r := f.do("POST", "/api/v1/users/alice@example.org/tokens/"+en.Serial+"/test", map[string]string{"otp": code})
		want(t, r, http.StatusOK)
		var dec decisionResult
		r.decode(t, &dec)
		if dec.Decision != "accept" || dec.Reason != "ok" || dec.Token != en.Serial {
			t.Fatalf("decision %+v", dec)
		}
		if got := f.tokenState(t, "alice@example.org", en.Serial); got != "active" {
			t.Fatalf("state %s after a good test", got)
		}

		r = f.do("POST", "/api/v1/users/alice@example.org/tokens/"+en.Serial+"/test", map[string]string{"otp": code})
		want(t, r, http.StatusUnprocessableEntity)
		r.decode(t, &dec)
		if dec.Decision != "reject" || dec.Reason != string(verify.ReasonReplay) {
			t.Fatalf("replayed code: %+v", dec)
		}

		// No later answer carries the URI or the secret; no log line does.
		f.do("GET", "/api/v1/users/alice@example.org", nil)
		f.do("GET", "/api/v1/users/alice@example.org/tokens", nil)
		f.do("GET", "/api/v1/users", nil)
		f.noLeak(t, []string{key.base32, "otpauth://", password, code, adminToken}, enrolled)
	})

	t.Run("enrolls an HOTP token whose URI carries the counter", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		en, enrolled := f.enroll("alice", map[string]any{"type": "hotp"})
		key := parseOATH(t, en.URI)
		if !strings.HasPrefix(en.URI, "otpauth://hotp/") || !strings.Contains(en.URI, "counter=0") {
			t.Fatalf("URI lacks the counter")
		}
		r := f.do("POST", "/api/v1/users/alice/tokens/"+en.Serial+"/test", map[string]string{"otp": key.code(t, key.counter)})
		want(t, r, http.StatusOK)
		f.noLeak(t, []string{key.base32}, enrolled)
	})

	t.Run("enrolls an mOTP token without a URI and never echoes its secret or PIN", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		en, _ := f.enroll("alice", map[string]any{"type": "motp", "motp_secret": motpSecret, "motp_pin": motpPIN})
		if en.URI != "" || en.Token.Type != "motp" || en.Token.Period != 0 {
			t.Fatalf("enrollment %+v", en)
		}
		f.do("GET", "/api/v1/users/alice", nil)
		f.noLeak(t, []string{motpSecret, motpPIN})
	})

	for _, c := range []struct {
		name    string
		body    any
		errText string
	}{
		{name: "refuses an unknown token type with 400", body: map[string]any{"type": "sms"},
			errText: "invalid: token type must be hotp, totp or motp"},
		{name: "refuses 7 digits with 400", body: map[string]any{"type": "totp", "digits": 7}, errText: "invalid: digits must be 6 or 8"},
		{name: "refuses a 45 second period with 400", body: map[string]any{"type": "totp", "period": 45},
			errText: "invalid: period must be 30 or 60 seconds"},
		{name: "refuses an mOTP PIN with letters with 400", body: map[string]any{"type": "motp", "motp_secret": motpSecret, "motp_pin": "12ab"},
			errText: "invalid: mOTP PIN must be 4 to 8 digits"},
		{name: "refuses digits given as a string with 400", body: `{"type":"totp","digits":"8"}`,
			errText: `field "digits" must be an integer`},
		{name: "refuses an unknown field such as a client-chosen secret with 400", body: `{"type":"totp","secret":"JBSWY3DPEHPK3PXP"}`,
			errText: `request body: unknown field "secret"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.addUser("alice")
			r := f.do("POST", "/api/v1/users/alice/tokens", c.body)
			want(t, r, http.StatusBadRequest)
			if got := r.errorText(t); got != c.errText {
				t.Fatalf("error %q, want %q", got, c.errText)
			}
			if got := f.tokenState(t, "alice", ""); got != "absent" {
				t.Fatal("a token was created")
			}
		})
	}
}

func TestTokenTest(t *testing.T) {
	t.Parallel()

	for _, c := range []struct {
		name   string
		user   string
		serial string
		otp    string
		reason verify.Reason
	}{
		{name: "rejects a wrong code with 422", user: "alice", otp: "000000", reason: verify.ReasonBadOTP},
		{name: "rejects a test for an unknown user with 422", user: "nobody", otp: "000000", reason: verify.ReasonUnknownUser},
		{name: "rejects a test of another user's serial with 422", user: "alice", serial: "TOTP00000000", otp: "000000",
			reason: verify.ReasonNoToken},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.addUser("alice")
			en, _ := f.enroll("alice", map[string]any{"type": "totp"})
			serial := c.serial
			if serial == "" {
				serial = en.Serial
			}
			r := f.do("POST", "/api/v1/users/"+c.user+"/tokens/"+serial+"/test", map[string]string{"otp": c.otp})
			want(t, r, http.StatusUnprocessableEntity)
			var dec decisionResult
			r.decode(t, &dec)
			if dec.Decision != "reject" || dec.Reason != string(c.reason) {
				t.Fatalf("decision %+v, want reject %s", dec, c.reason)
			}
			if got := f.tokenState(t, "alice", en.Serial); got != "pending" {
				t.Fatalf("state %s after a failed test", got)
			}
		})
	}

	t.Run("refuses a test without a body with 400", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		en, _ := f.enroll("alice", map[string]any{"type": "totp"})
		r := f.do("POST", "/api/v1/users/alice/tokens/"+en.Serial+"/test", nil)
		want(t, r, http.StatusBadRequest)
	})
}

func TestTokenOperations(t *testing.T) {
	t.Parallel()

	t.Run("disables a token so its codes are refused, then enables it again", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		en, _ := f.enroll("alice", map[string]any{"type": "totp"})
		key := parseOATH(t, en.URI)
		want(t, f.do("POST", "/api/v1/tokens/"+en.Serial+"/disable", nil), http.StatusOK)
		r := f.do("POST", "/api/v1/users/alice/tokens/"+en.Serial+"/test", map[string]string{"otp": f.totp(t, key)})
		want(t, r, http.StatusUnprocessableEntity)
		var dec decisionResult
		r.decode(t, &dec)
		if dec.Reason != string(verify.ReasonDisabled) {
			t.Fatalf("decision %+v", dec)
		}
		want(t, f.do("POST", "/api/v1/tokens/"+en.Serial+"/enable", "{}"), http.StatusOK)
		want(t, f.do("POST", "/api/v1/users/alice/tokens/"+en.Serial+"/test", map[string]string{"otp": f.totp(t, key)}), http.StatusOK)
		want(t, f.do("POST", "/api/v1/tokens/"+en.Serial+"/disable", nil), http.StatusOK)
		if got := f.tokenState(t, "alice", en.Serial); got != "disabled" {
			t.Fatalf("state %s", got)
		}
	})

	t.Run("sets and clears a token's description", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		en, _ := f.enroll("alice", map[string]any{"type": "totp"})
		want(t, f.do("PUT", "/api/v1/tokens/"+en.Serial+"/description", map[string]string{"description": "work phone"}), http.StatusOK)
		var list struct{ Tokens []manage.TokenInfo }
		f.do("GET", "/api/v1/users/alice/tokens", nil).decode(t, &list)
		if len(list.Tokens) != 1 || list.Tokens[0].Description != "work phone" {
			t.Fatalf("tokens %+v", list.Tokens)
		}
		want(t, f.do("PUT", "/api/v1/tokens/"+en.Serial+"/description", map[string]string{"description": ""}), http.StatusOK)
		r := f.do("PUT", "/api/v1/tokens/"+en.Serial+"/description", map[string]string{"description": "bell\a"})
		want(t, r, http.StatusBadRequest)
		if got := r.errorText(t); got != "invalid: description must be at most 200 bytes without control characters" {
			t.Fatalf("error %q", got)
		}
		want(t, f.do("PUT", "/api/v1/tokens/"+en.Serial+"/description", "{}"), http.StatusBadRequest)
	})

	t.Run("deletes a token", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		en, _ := f.enroll("alice", map[string]any{"type": "totp"})
		want(t, f.do("DELETE", "/api/v1/tokens/"+en.Serial, nil), http.StatusOK)
		if got := f.tokenState(t, "alice", en.Serial); got != "absent" {
			t.Fatalf("state %s after delete", got)
		}
	})

	t.Run("answers 404 for an unknown serial on every token route", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/api/v1/tokens/TOTP00000000/enable", nil},
			{"POST", "/api/v1/tokens/TOTP00000000/disable", nil},
			{"PUT", "/api/v1/tokens/TOTP00000000/description", map[string]string{"description": "x"}},
			{"DELETE", "/api/v1/tokens/TOTP00000000", nil},
			{"POST", "/api/v1/tokens/TOTP00000000/resync", map[string]string{"otp1": "123456", "otp2": "234567"}},
		} {
			r := f.do(c.method, c.path, c.body)
			if r.status != http.StatusNotFound || !strings.HasPrefix(r.errorText(t), "token TOTP00000000: ") {
				t.Errorf("%s %s: %d %s, want 404", c.method, c.path, r.status, r.body)
			}
		}
	})
}

func TestResync(t *testing.T) {
	t.Parallel()

	t.Run("resynchronises an HOTP token with two consecutive codes far ahead", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		en, enrolled := f.enroll("alice", map[string]any{"type": "hotp"})
		key := parseOATH(t, en.URI)
		want(t, f.do("POST", "/api/v1/users/alice/tokens/"+en.Serial+"/test", map[string]string{"otp": key.code(t, 0)}), http.StatusOK)
		// Counter 40 is beyond the login window (10) but within resync's.
		want(t, f.do("POST", "/api/v1/users/alice/tokens/"+en.Serial+"/test", map[string]string{"otp": key.code(t, 40)}),
			http.StatusUnprocessableEntity)
		first, second := key.code(t, 40), key.code(t, 41)
		r := f.do("POST", "/api/v1/tokens/"+en.Serial+"/resync", map[string]string{"otp1": first, "otp2": second})
		want(t, r, http.StatusOK)
		var dec decisionResult
		r.decode(t, &dec)
		if dec.Decision != "accept" {
			t.Fatalf("decision %+v", dec)
		}
		want(t, f.do("POST", "/api/v1/users/alice/tokens/"+en.Serial+"/test", map[string]string{"otp": key.code(t, 42)}), http.StatusOK)
		f.noLeak(t, []string{key.base32, first, second}, enrolled)
	})

	t.Run("rejects codes that are not consecutive with 422", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		en, _ := f.enroll("alice", map[string]any{"type": "hotp"})
		key := parseOATH(t, en.URI)
		r := f.do("POST", "/api/v1/tokens/"+en.Serial+"/resync", map[string]string{"otp1": key.code(t, 5), "otp2": key.code(t, 7)})
		want(t, r, http.StatusUnprocessableEntity)
	})

	t.Run("refuses resynchronising a TOTP token with 400", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		en, _ := f.enroll("alice", map[string]any{"type": "totp"})
		r := f.do("POST", "/api/v1/tokens/"+en.Serial+"/resync", map[string]string{"otp1": "123456", "otp2": "234567"})
		want(t, r, http.StatusBadRequest)
		if got := r.errorText(t); got != "invalid: only HOTP tokens can be resynchronised" {
			t.Fatalf("error %q", got)
		}
	})
}

func TestStoreFailure(t *testing.T) {
	t.Parallel()

	t.Run("answers 500 with generic text and logs the cause when the store fails", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		f.store.Close()
		r := f.do("PUT", "/api/v1/users/alice/password", map[string]string{"password": newPassword})
		want(t, r, http.StatusInternalServerError)
		if got := r.errorText(t); got != "internal error" {
			t.Fatalf("error %q", got)
		}
		logs := f.logs.String()
		if !strings.Contains(logs, `"level":"ERROR"`) || !strings.Contains(logs, "closed") {
			t.Fatalf("the cause is not logged:\n%s", logs)
		}
		f.noLeak(t, []string{password, newPassword})
	})

	t.Run("answers 503 with decision unavailable when a test cannot reach the store", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		en, _ := f.enroll("alice", map[string]any{"type": "totp"})
		f.store.Close()
		r := f.do("POST", "/api/v1/users/alice/tokens/"+en.Serial+"/test", map[string]string{"otp": "123456"})
		want(t, r, http.StatusServiceUnavailable)
		var dec decisionResult
		r.decode(t, &dec)
		if dec.Decision != "unavailable" {
			t.Fatalf("decision %+v", dec)
		}
	})
}
