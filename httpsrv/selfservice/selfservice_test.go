package selfservice_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/otpgate/otpgate/httpsrv/selfservice"
	"github.com/otpgate/otpgate/verify"
	vo "github.com/otpgate/otpgate/verify/otp"
)

const msgLoginFailed = "Login failed. Check your account name and password."

func TestLogin(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("olivia", "pw-olivia", "", verify.LevelOff)
	f.user("wendy", "pw-wendy", "ab12", verify.LevelWebOTP)
	_, uri := f.activeTOTP("wendy")
	f.clock.Advance(30 * time.Second) // the activation used this step's code

	t.Run("accepts the password at level off", func(t *testing.T) {
		c := f.client()
		p := c.mustLogin("olivia", "pw-olivia")
		wantStatus(t, p, http.StatusOK)
		wantText(t, p, "Logged in as", "olivia", "Your tokens")
	})
	t.Run("accepts PIN plus TOTP at web-otp", func(t *testing.T) {
		c := f.client()
		p := c.mustLogin("wendy", "ab12"+codeFromURI(t, uri, f.clock.Now()))
		wantText(t, p, "Logged in as", "wendy")
	})
	failures := []struct {
		name, user, password string
	}{
		{name: "refuses a wrong password", user: "olivia", password: "wrong"},
		{name: "refuses the password alone at web-otp", user: "wendy", password: "pw-wendy"},
		{name: "refuses an unknown user", user: "nobody", password: "pw"},
		{name: "refuses an empty password", user: "olivia", password: ""},
	}
	for _, tc := range failures {
		t.Run(tc.name+" with the one generic message", func(t *testing.T) {
			c := f.client()
			p := c.login(tc.user, tc.password)
			wantStatus(t, p, http.StatusUnauthorized)
			wantText(t, p, msgLoginFailed, `aria-describedby="login-error"`)
			if got := c.get("/self/"); strings.Contains(got.body, "Logged in as") {
				t.Fatal("a failed login left a session")
			}
		})
	}
	t.Run("sets HttpOnly SameSite=Strict cookies, Secure when configured", func(t *testing.T) {
		sf := newFixture(t, fixtureOptions{secure: true})
		c := sf.client()
		p := c.get("/self/")
		for _, sc := range p.header.Values("Set-Cookie") {
			if !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") || !strings.Contains(sc, "Secure") {
				t.Errorf("cookie %q lacks HttpOnly, SameSite=Strict or Secure", sc)
			}
		}
		if len(p.header.Values("Set-Cookie")) == 0 {
			t.Fatal("no login cookie set")
		}
	})
	t.Run("logs out and ends the session", func(t *testing.T) {
		c := f.client()
		c.mustLogin("olivia", "pw-olivia")
		oldCSRF := c.csrf
		p := c.post("/self/logout", nil)
		wantStatus(t, p, http.StatusOK)
		wantText(t, p, "You have logged out.", "Account name")
		p = c.post("/self/pin", url.Values{"csrf": {oldCSRF}, "pin": {"zz99"}, "pin_confirm": {"zz99"}})
		wantStatus(t, p, http.StatusUnauthorized)
	})
	f.assertNoSecret(f.client(), "pw-olivia", "pw-wendy", secretOf(t, uri))
}

func TestSessionStoreIsBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{maxSessions: 2, idle: time.Minute})
	f.user("olivia", "pw-olivia", "", verify.LevelOff)
	a, b, c := f.client(), f.client(), f.client()
	a.mustLogin("olivia", "pw-olivia")
	b.mustLogin("olivia", "pw-olivia")
	t.Run("refuses a login while the store is full of live sessions", func(t *testing.T) {
		p := c.login("olivia", "pw-olivia")
		wantStatus(t, p, http.StatusServiceUnavailable)
		wantText(t, p, "temporarily unavailable")
	})
	t.Run("makes room by dropping expired sessions", func(t *testing.T) {
		f.clock.Advance(2 * time.Minute)
		c.mustLogin("olivia", "pw-olivia")
		wantNoText(t, a.get("/self/"), "Logged in as")
	})
}

func TestLoginCSRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("olivia", "pw-olivia", "", verify.LevelOff)
	form := func(csrf string) url.Values {
		return url.Values{"user": {"olivia"}, "password": {"pw-olivia"}, "csrf": {csrf}}
	}
	t.Run("refuses a login without the form's cookie", func(t *testing.T) {
		c := f.client()
		wantStatus(t, c.post("/self/login", form("made-up")), http.StatusForbidden)
	})
	t.Run("refuses a login with a missing token", func(t *testing.T) {
		c := f.client()
		c.get("/self/")
		wantStatus(t, c.post("/self/login", form("")), http.StatusForbidden)
	})
	t.Run("refuses a login with a wrong token", func(t *testing.T) {
		c := f.client()
		c.get("/self/")
		wantStatus(t, c.post("/self/login", form(c.csrf+"x")), http.StatusForbidden)
	})
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("olivia", "pw-olivia", "", verify.LevelOff)
	serial, _ := f.activeTOTP("olivia")
	routes := []struct {
		path string
		form url.Values
	}{
		{path: "/self/pin", form: url.Values{"pin": {"ab12"}, "pin_confirm": {"ab12"}}},
		{path: "/self/level", form: url.Values{"level": {verify.LevelWebOTPOnly}}},
		{path: "/self/enroll", form: url.Values{"type": {"totp"}}},
		{path: "/self/enroll/test", form: url.Values{"code": {"123456"}}},
		{path: "/self/enroll/save"},
		{path: "/self/enroll/cancel"},
		{path: "/self/tokens/disable", form: url.Values{"serial": {serial}}},
		{path: "/self/tokens/enable", form: url.Values{"serial": {serial}}},
		{path: "/self/tokens/delete", form: url.Values{"serial": {serial}}},
		{path: "/self/tokens/rename", form: url.Values{"serial": {serial}, "description": {"x"}}},
		{path: "/self/logout"},
	}
	c := f.client()
	c.mustLogin("olivia", "pw-olivia")
	good := c.csrf
	other := f.client()
	other.mustLogin("olivia", "pw-olivia") // a second session's token must not work either
	for _, rt := range routes {
		for name, token := range map[string]string{"missing": "", "wrong": good[:len(good)-1] + "A", "another session's": other.csrf} {
			if token == good {
				continue
			}
			t.Run("refuses "+rt.path+" with a "+name+" token", func(t *testing.T) {
				form := url.Values{"csrf": {token}}
				for k, v := range rt.form {
					form[k] = v
				}
				p := c.post(rt.path, form)
				wantStatus(t, p, http.StatusForbidden)
				wantText(t, p, "This form has expired")
			})
		}
	}
	c.csrf = good
	info, err := f.manager.ShowUser(context.Background(), "olivia")
	if err != nil {
		t.Fatal(err)
	}
	if info.PINSet || info.Level != verify.LevelOff || len(info.Tokens) != 1 || info.Tokens[0].State != "active" || info.Tokens[0].Description != "" {
		t.Fatalf("a refused form changed the account: %+v", info)
	}
	if p := c.get("/self/"); !strings.Contains(p.body, "Logged in as") {
		t.Fatal("the session did not survive refused forms")
	}
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("olivia", "pw-olivia", "", verify.LevelOff)

	t.Run("ends a session idle for 15 minutes", func(t *testing.T) {
		c := f.client()
		c.mustLogin("olivia", "pw-olivia")
		f.clock.Advance(14*time.Minute + 59*time.Second)
		wantText(t, c.get("/self/"), "Logged in as")
		f.clock.Advance(15 * time.Minute)
		p := c.post("/self/pin", url.Values{"pin": {"ab12"}, "pin_confirm": {"ab12"}})
		wantStatus(t, p, http.StatusUnauthorized)
		wantText(t, p, "Your session has ended. Please log in again.", "Account name")
		wantNoText(t, c.get("/self/"), "Logged in as")
	})
	t.Run("ends an active session after 8 hours", func(t *testing.T) {
		c := f.client()
		c.mustLogin("olivia", "pw-olivia")
		for elapsed := time.Duration(0); elapsed < 8*time.Hour-10*time.Minute; elapsed += 10 * time.Minute {
			f.clock.Advance(10 * time.Minute)
			wantText(t, c.get("/self/"), "Logged in as")
		}
		f.clock.Advance(10 * time.Minute)
		p := c.get("/self/")
		wantStatus(t, p, http.StatusOK)
		wantText(t, p, "Your session has ended.")
		wantNoText(t, p, "Logged in as")
	})
}

func TestOneSessionPerTwoFactorUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("wendy", "pw-wendy", "ab12", verify.LevelWebOTP)
	f.user("olivia", "pw-olivia", "", verify.LevelOff)
	_, uri := f.activeTOTP("wendy")

	t.Run("a second login with an OTP ends the first session", func(t *testing.T) {
		first, second := f.client(), f.client()
		f.clock.Advance(30 * time.Second)
		first.mustLogin("wendy", "ab12"+codeFromURI(t, uri, f.clock.Now()))
		f.clock.Advance(30 * time.Second)
		second.mustLogin("wendy", "ab12"+codeFromURI(t, uri, f.clock.Now()))
		p := first.get("/self/")
		wantText(t, p, "Your session has ended.")
		wantNoText(t, p, "Logged in as")
		wantText(t, second.get("/self/"), "Logged in as")
	})
	t.Run("password users keep parallel sessions", func(t *testing.T) {
		first, second := f.client(), f.client()
		first.mustLogin("olivia", "pw-olivia")
		second.mustLogin("olivia", "pw-olivia")
		wantText(t, first.get("/self/"), "Logged in as")
		wantText(t, second.get("/self/"), "Logged in as")
	})
}

func TestPIN(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("olivia", "pw-olivia", "", verify.LevelOff)
	c := f.client()
	c.mustLogin("olivia", "pw-olivia")

	t.Run("refuses a PIN confirmation that does not match", func(t *testing.T) {
		p := c.post("/self/pin", url.Values{"pin": {"ab12"}, "pin_confirm": {"ab13"}})
		wantStatus(t, p, http.StatusUnprocessableEntity)
		wantText(t, p, "The two PIN fields do not match.", `aria-describedby="pin_confirm-error"`, `id="pin_confirm-error"`)
	})
	t.Run("refuses special characters", func(t *testing.T) {
		p := c.post("/self/pin", url.Values{"pin": {"ab-1"}, "pin_confirm": {"ab-1"}})
		wantStatus(t, p, http.StatusUnprocessableEntity)
		wantText(t, p, "PIN may contain only letters and digits", `id="pin-error"`)
	})
	t.Run("refuses a short PIN", func(t *testing.T) {
		wantStatus(t, c.post("/self/pin", url.Values{"pin": {"ab1"}, "pin_confirm": {"ab1"}}), http.StatusUnprocessableEntity)
	})
	t.Run("sets a PIN", func(t *testing.T) {
		p := c.follow(c.post("/self/pin", url.Values{"pin": {"Ab12"}, "pin_confirm": {"Ab12"}}))
		wantText(t, p, "Your new PIN is set.")
		wantNoText(t, p, "cut off and ignored. Your PIN")
	})
	t.Run("cuts a long PIN and says so", func(t *testing.T) {
		p := c.post("/self/pin", url.Values{"pin": {"xy34longer"}, "pin_confirm": {"xy34longer"}})
		wantStatus(t, p, http.StatusSeeOther)
		p = c.follow(p)
		wantText(t, p, "Your PIN was longer than 4 characters", "Your PIN is its first 4 characters.")
		// The cut PIN works for a PIN+OTP login.
		f.user("x", "x", "", verify.LevelOff) // unrelated user keeps the store busy
		if _, err := f.manager.SetLevel(context.Background(), "olivia", verify.LevelWebOTP); err != nil {
			t.Fatal(err)
		}
		_, uri := f.activeTOTP("olivia")
		f.clock.Advance(30 * time.Second)
		dec := f.engine.Verify(context.Background(), verify.Request{User: "olivia", Service: "webmail", Protocol: verify.ProtoHTTP,
			Password: verify.Secret("xy34" + codeFromURI(t, uri, f.clock.Now()))})
		if dec.Outcome != verify.Accept {
			t.Fatalf("login with the cut PIN: %v/%s", dec.Outcome, dec.Reason)
		}
	})
	f.assertNoSecret(c, "Ab12", "xy34longer", "pw-olivia")
}

func TestLevel(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("olivia", "pw-olivia", "", verify.LevelOff)
	c := f.client()
	p := c.mustLogin("olivia", "pw-olivia")
	wantText(t, p, "Off, just normal passwords", "Web service OTP, other services password",
		"Web service OTP, other services off", "password-reset (recovery) methods")
	if !regexp.MustCompile(`id="level-off" name="level" value="off" checked`).MatchString(p.body) {
		t.Error("level off is not checked")
	}

	t.Run("warns about a missing PIN and token", func(t *testing.T) {
		p := c.follow(c.post("/self/level", url.Values{"level": {verify.LevelWebOTP}}))
		wantText(t, p, "You have changed your OTP settings.", "Your OTP security level is now: Web service OTP, other services password.",
			"you have no PIN yet", "you have no active token yet", "password-reset (recovery) methods")
		if lvl := showLevel(t, f, "olivia"); lvl != verify.LevelWebOTP {
			t.Fatalf("level = %s", lvl)
		}
	})
	t.Run("says web-otp-only switches off the other services", func(t *testing.T) {
		p := c.follow(c.post("/self/level", url.Values{"level": {verify.LevelWebOTPOnly}}))
		wantText(t, p, "IMAP, POP3, SMTP and WebDAV, CalDAV and CardDAV are now switched off")
		dec := f.engine.Verify(context.Background(), verify.Request{User: "olivia", Password: "pw-olivia", Service: "imap", Protocol: verify.ProtoHTTP})
		if dec.Outcome != verify.Reject {
			t.Fatalf("imap at web-otp-only: %v", dec.Outcome)
		}
	})
	t.Run("has no warnings once PIN and token exist", func(t *testing.T) {
		if _, err := f.manager.SetPIN(context.Background(), "olivia", "ab12"); err != nil {
			t.Fatal(err)
		}
		f.activeTOTP("olivia")
		p := c.follow(c.post("/self/level", url.Values{"level": {verify.LevelWebOTP}}))
		wantNoText(t, p, "Warning:")
	})
	t.Run("refuses an unknown level", func(t *testing.T) {
		p := c.post("/self/level", url.Values{"level": {"root"}})
		wantStatus(t, p, http.StatusUnprocessableEntity)
		wantText(t, p, "Choose one of the three security levels.", `id="level-error"`)
	})
}

func showLevel(t *testing.T, f *fixture, name string) string {
	t.Helper()
	info, err := f.manager.ShowUser(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return info.Level
}

var (
	uriArea = regexp.MustCompile(`<textarea id="otpauth-uri"[^>]*>([^<]+)</textarea>`)
	qrImage = regexp.MustCompile(`<img id="qr" src="data:image/png;base64,[A-Za-z0-9+/=&#;]+"`)
)

func TestEnrollTOTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("wendy", "pw-wendy", "ab12", verify.LevelWebOTP)
	_, first := f.activeTOTP("wendy")
	f.clock.Advance(30 * time.Second)
	c := f.client()
	c.mustLogin("wendy", "ab12"+codeFromURI(t, first, f.clock.Now()))

	p := c.post("/self/enroll", url.Values{"type": {"totp"}, "description": {"phone"}})
	wantStatus(t, p, http.StatusSeeOther)
	if p.location != "/self/enroll" {
		t.Fatalf("enroll redirects to %q", p.location)
	}
	p = c.get(p.location)
	wantStatus(t, p, http.StatusOK)
	m := uriArea.FindStringSubmatch(p.body)
	if m == nil || !qrImage.MatchString(p.body) {
		t.Fatalf("enrollment page lacks the URI or the QR code:\n%s", p.body)
	}
	uri := html.UnescapeString(m[1])
	secret := url.Values{}
	if u, err := url.Parse(uri); err == nil {
		secret = u.Query()
	}
	if secret.Get("secret") == "" {
		t.Fatalf("no secret in %q", uri)
	}
	wantText(t, p, "Perform OTP test", "Save is available after a successful OTP test.")
	if !regexp.MustCompile(`<button type="submit" id="save" disabled`).MatchString(p.body) {
		t.Error("Save is not disabled before the test")
	}
	serial := pendingSerial(t, f, "wendy")

	t.Run("refuses Save before the test", func(t *testing.T) {
		wantStatus(t, c.post("/self/enroll/save", nil), http.StatusConflict)
	})
	t.Run("refuses a wrong code", func(t *testing.T) {
		p := c.post("/self/enroll/test", url.Values{"code": {"000000"}})
		wantStatus(t, p, http.StatusUnprocessableEntity)
		wantText(t, p, "The OTP test failed.", `id="code-error"`, `aria-describedby="code-help code-error"`)
		if f.tokens("wendy")[serial].State != "pending" {
			t.Fatal("a failed test activated the token")
		}
	})
	t.Run("activates the token with the code from the URI", func(t *testing.T) {
		p := c.post("/self/enroll/test", url.Values{"code": {codeFromURI(t, uri, f.clock.Now())}})
		wantStatus(t, p, http.StatusSeeOther)
		p = c.get(p.location)
		wantText(t, p, "The OTP test was successful.")
		wantNoText(t, p, secret.Get("secret"), "otpauth://", "data:image/png")
		if regexp.MustCompile(`id="save" disabled`).MatchString(p.body) {
			t.Error("Save is still disabled after the test")
		}
		if f.tokens("wendy")[serial].State != "active" {
			t.Fatal("the tested token is not active")
		}
	})
	t.Run("saves and confirms 2FA with a reminder to log out", func(t *testing.T) {
		p := c.follow(c.post("/self/enroll/save", nil))
		wantText(t, p, "You have changed your OTP settings.", "Your two-factor authentication is now active.",
			"Finally, log out to finish the setup.", serial, "phone")
		wantNoText(t, p, secret.Get("secret"))
	})
	t.Run("never shows the secret again", func(t *testing.T) {
		p := c.get("/self/enroll")
		wantStatus(t, p, http.StatusSeeOther)
		wantNoText(t, c.get("/self/"), secret.Get("secret"), "otpauth://")
	})
	f.assertNoSecret(c, secret.Get("secret"), uri, "pw-wendy")
}

// pendingSerial returns the user's only pending token.
func pendingSerial(t *testing.T, f *fixture, name string) string {
	t.Helper()
	for s, tok := range f.tokens(name) {
		if tok.State == "pending" {
			return s
		}
	}
	t.Fatal("no pending token")
	return ""
}

func TestEnrollHOTPAndMOTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("olivia", "pw-olivia", "", verify.LevelOff)
	c := f.client()
	c.mustLogin("olivia", "pw-olivia")

	t.Run("enrolls an HOTP token at counter 0", func(t *testing.T) {
		p := c.follow(c.post("/self/enroll", url.Values{"type": {"hotp"}}))
		m := uriArea.FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no URI:\n%s", p.body)
		}
		uri := html.UnescapeString(m[1])
		wantStatus(t, c.post("/self/enroll/test", url.Values{"code": {codeFromURI(t, uri, f.clock.Now())}}), http.StatusSeeOther)
		p = c.follow(c.post("/self/enroll/save", nil))
		wantText(t, p, "is active. Choose an OTP security level above")
	})
	t.Run("enrolls an mOTP token from the app's secret and PIN without a QR code", func(t *testing.T) {
		const appSecret, appPIN = "0123456789abcdef", "47110815" // 8 digits: a 4-digit PIN turned up by chance in log timestamps
		p := c.follow(c.post("/self/enroll", url.Values{"type": {"motp"}, "motp_secret": {appSecret}, "motp_pin": {appPIN}}))
		wantStatus(t, p, http.StatusOK)
		wantText(t, p, "Perform OTP test", "MOTP")
		wantNoText(t, p, "otpauth://", "data:image/png", appSecret)
		code := vo.MOTP(f.clock.Now().Unix()/10, []byte(appSecret), appPIN)
		wantStatus(t, c.post("/self/enroll/test", url.Values{"code": {code}}), http.StatusSeeOther)
		c.follow(c.post("/self/enroll/save", nil))
		f.assertNoSecret(c, appSecret, appPIN)
	})
	t.Run("refuses an mOTP PIN that is not digits, at its field", func(t *testing.T) {
		p := c.post("/self/enroll", url.Values{"type": {"motp"}, "motp_secret": {"0123456789abcdef"}, "motp_pin": {"ab"}})
		wantStatus(t, p, http.StatusUnprocessableEntity)
		wantText(t, p, "MOTP PIN must be 4 to 8 digits", `id="motp_pin-error"`)
	})
	t.Run("refuses an unknown token type", func(t *testing.T) {
		wantStatus(t, c.post("/self/enroll", url.Values{"type": {"sms"}}), http.StatusUnprocessableEntity)
	})
	for s, tok := range f.tokens("olivia") {
		if tok.State != "active" {
			t.Errorf("token %s is %s", s, tok.State)
		}
	}
}

func TestEnrollAbandoned(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("olivia", "pw-olivia", "", verify.LevelOff)
	c := f.client()
	c.mustLogin("olivia", "pw-olivia")

	t.Run("cancel removes the untested token", func(t *testing.T) {
		c.follow(c.post("/self/enroll", url.Values{"type": {"totp"}}))
		pendingSerial(t, f, "olivia")
		p := c.follow(c.post("/self/enroll/cancel", nil))
		wantText(t, p, "The enrollment was cancelled")
		if n := len(f.tokens("olivia")); n != 0 {
			t.Fatalf("%d tokens left", n)
		}
	})
	t.Run("a new enrollment replaces the untested one", func(t *testing.T) {
		c.follow(c.post("/self/enroll", url.Values{"type": {"totp"}}))
		c.follow(c.post("/self/enroll", url.Values{"type": {"hotp"}}))
		if toks := f.tokens("olivia"); len(toks) != 1 {
			t.Fatalf("tokens = %v", toks)
		}
	})
	t.Run("logout removes the untested token", func(t *testing.T) {
		c.post("/self/logout", nil)
		if n := len(f.tokens("olivia")); n != 0 {
			t.Fatalf("%d tokens left", n)
		}
	})
	t.Run("five failed tests remove the token", func(t *testing.T) {
		c.mustLogin("olivia", "pw-olivia")
		c.follow(c.post("/self/enroll", url.Values{"type": {"totp"}}))
		var p page
		for range 5 {
			p = c.post("/self/enroll/test", url.Values{"code": {"000000"}})
		}
		wantText(t, c.follow(p), "Too many failed OTP tests")
		if n := len(f.tokens("olivia")); n != 0 {
			t.Fatalf("%d tokens left", n)
		}
	})
}

func TestTokenActions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("wendy", "pw-wendy", "ab12", verify.LevelWebOTP)
	f.user("mallory", "pw-mallory", "", verify.LevelOff)
	serial, _ := f.activeTOTP("wendy")
	c := f.client()
	c.mustLogin("mallory", "pw-mallory")
	t.Run("refuses another user's token", func(t *testing.T) {
		for _, path := range []string{"/self/tokens/disable", "/self/tokens/delete", "/self/tokens/rename"} {
			p := c.post(path, url.Values{"serial": {serial}, "description": {"owned"}})
			wantStatus(t, p, http.StatusNotFound)
		}
		if tok := f.tokens("wendy")[serial]; tok.State != "active" || tok.Description != "" {
			t.Fatalf("another user changed the token: %+v", tok)
		}
	})
	c.post("/self/logout", nil)
	_, uri := f.activeTOTP("wendy")
	f.clock.Advance(30 * time.Second)
	p := c.mustLogin("wendy", "ab12"+codeFromURI(t, uri, f.clock.Now()))
	wantText(t, p, `data-action="disable" data-serial="`+serial+`"`, "Description of token "+serial)

	t.Run("renames a token", func(t *testing.T) {
		p := c.follow(c.post("/self/tokens/rename", url.Values{"serial": {serial}, "description": {"Nitrokey"}}))
		wantText(t, p, "has been renamed", `value="Nitrokey"`)
	})
	t.Run("refuses a description with control characters at its field", func(t *testing.T) {
		p := c.post("/self/tokens/rename", url.Values{"serial": {serial}, "description": {"a\x01b"}})
		wantStatus(t, p, http.StatusUnprocessableEntity)
		wantText(t, p, `id="desc-`+serial+`-error"`, `aria-describedby="desc-`+serial+`-error"`)
	})
	t.Run("disables and enables a token", func(t *testing.T) {
		p := c.follow(c.post("/self/tokens/disable", url.Values{"serial": {serial}}))
		wantText(t, p, "Token "+serial+" is now disabled.", `data-action="enable" data-serial="`+serial+`"`)
		if f.tokens("wendy")[serial].State != "disabled" {
			t.Fatal("not disabled")
		}
		c.follow(c.post("/self/tokens/enable", url.Values{"serial": {serial}}))
		if f.tokens("wendy")[serial].State != "active" {
			t.Fatal("not enabled")
		}
	})
	t.Run("deletes tokens and warns when none is left at an OTP level", func(t *testing.T) {
		p := c.follow(c.post("/self/tokens/delete", url.Values{"serial": {serial}}))
		wantText(t, p, "Token "+serial+" has been deleted.")
		wantNoText(t, p, "you have no active token left")
		for s := range f.tokens("wendy") {
			p = c.follow(c.post("/self/tokens/delete", url.Values{"serial": {s}}))
		}
		wantText(t, p, "you have no active token left")
		if n := len(f.tokens("wendy")); n != 0 {
			t.Fatalf("%d tokens left", n)
		}
	})
	t.Run("answers an unknown serial with 404", func(t *testing.T) {
		wantStatus(t, c.post("/self/tokens/delete", url.Values{"serial": {"TOTPNONE"}}), http.StatusNotFound)
	})
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("olivia", "pw-olivia", "", verify.LevelOff)
	c := f.client()
	pages := map[string]page{"login": c.get("/self/"), "home": c.mustLogin("olivia", "pw-olivia"),
		"404": c.get("/self/nowhere"), "css": c.get("/self/style.css"), "405": c.get("/self/logout")}
	if pages["404"].status != http.StatusNotFound || pages["405"].status != http.StatusMethodNotAllowed {
		t.Fatalf("404 page %d, GET /self/logout %d", pages["404"].status, pages["405"].status)
	}
	for name, p := range pages {
		for header, want := range map[string]string{
			"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'",
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "no-referrer",
			"Cache-Control":           "no-store",
			"X-Content-Type-Options":  "nosniff",
		} {
			if got := p.header.Get(header); !strings.Contains(got, want) {
				t.Errorf("%s: %s = %q, want %q", name, header, got, want)
			}
		}
		if name != "css" && name != "405" {
			wantText(t, p, `<html lang="en">`, `class="skip-link" href="#main"`, `<main id="main"`, "<h1>")
		}
	}
	if !strings.Contains(pages["css"].body, ":focus-visible") {
		t.Error("no :focus-visible style")
	}
}

func TestNewRequiresEngineManagerService(t *testing.T) {
	t.Parallel()
	if _, err := selfservice.New(selfservice.Config{}); err == nil {
		t.Fatal("New accepted an empty config")
	}
	// ServeHTTP on a recorder works without a listener.
	f := newFixture(t, fixtureOptions{})
	h, err := selfservice.New(selfservice.Config{Engine: f.engine, Manager: f.manager, Service: "webmail"})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/self/", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `name="password"`) {
		t.Fatalf("GET /self/ = %d", rec.Code)
	}
}
