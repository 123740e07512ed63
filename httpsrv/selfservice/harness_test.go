package selfservice_test

import (
	"context"
	"encoding/base32"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"

	"github.com/otpgate/otpgate/backend"
	"github.com/otpgate/otpgate/backend/passwd"
	"github.com/otpgate/otpgate/backend/seal"
	"github.com/otpgate/otpgate/httpsrv/selfservice"
	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
	vo "github.com/otpgate/otpgate/verify/otp"
	"github.com/otpgate/otpgate/verify/verifytest"
)

// clock and lockedBuffer come from verifytest, shared with the other
// packages that test against the engine.
type (
	clock        = verifytest.Clock
	lockedBuffer = verifytest.LogBuffer
)

// cheapArgon2 keeps tests fast; production parameters come from config.
var cheapArgon2 = passwd.Argon2Params{Time: 1, Memory: 64, Threads: 1}

type fixtureOptions struct {
	realTime bool // time.Now instead of the settable clock (browser test)
	secure   bool
	// maxSessions and idle set Config.MaxSessions and IdleTimeout.
	maxSessions int
	idle        time.Duration
	// remote validates the OTPs of yubicloud tokens (verify.Options.Remote).
	remote verify.RemoteValidator
}

// fixture is the page over a real engine, manager and SQLite store,
// served on 127.0.0.1:0. logs collects the page's, the engine's and the
// audit log.
type fixture struct {
	t       testing.TB
	env     *verifytest.Env
	clock   *clock
	now     func() time.Time
	engine  *verify.Engine
	manager *manage.Manager
	store   *backend.SQLite
	keyring *seal.Keyring
	logs    *lockedBuffer
	srv     *httptest.Server
}

func newFixture(t testing.TB, o fixtureOptions) *fixture {
	t.Helper()
	f := &fixture{t: t, logs: &lockedBuffer{}}
	logger := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var now func() time.Time
	if o.realTime {
		now = time.Now
	}
	env := verifytest.New(t, verifytest.Options{Argon2: cheapArgon2, Now: now, Engine: verify.Options{
		Audit: logger.With("log", "audit"), Log: logger.With("log", "engine"), Remote: o.remote}})
	f.env = env
	f.clock, f.now, f.store, f.keyring, f.engine, f.manager = env.Clock, env.Now, env.Store, env.Keyring, env.Engine, env.Manager
	h, err := selfservice.New(selfservice.Config{Engine: verify.NewSwitch(f.engine), Manager: f.manager,
		Service: "webmail", PINLength: 4, Now: f.now, Secure: o.secure, Log: logger.With("log", "selfservice"),
		MaxSessions: o.maxSessions, IdleTimeout: o.idle})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(selfservice.Prefix, h)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// user creates a user with password, optional PIN and level.
func (f *fixture) user(name, password, pin, level string) {
	f.t.Helper()
	f.env.User(f.t, name, password, pin, level)
}

// activeTOTP enrolls and activates a TOTP token for name and returns its
// URI.
func (f *fixture) activeTOTP(name string) (serial string, uri string) {
	f.t.Helper()
	ctx := context.Background()
	enr, err := f.manager.Enroll(ctx, name, manage.EnrollRequest{Type: verify.TypeTOTP})
	if err != nil {
		f.t.Fatal(err)
	}
	code := codeFromURI(f.t, enr.URI.Reveal(), f.now())
	dec := f.manager.TestToken(ctx, verify.TokenRequest{User: name, Serial: enr.Token.Serial, Protocol: verify.ProtoCLI}, verify.Secret(code))
	if dec.Outcome != verify.Accept {
		f.t.Fatalf("activate token: %v/%s", dec.Outcome, dec.Reason)
	}
	return enr.Token.Serial, enr.URI.Reveal()
}

// tokens returns name's tokens by serial.
func (f *fixture) tokens(name string) map[string]manage.TokenInfo {
	f.t.Helper()
	list, err := f.manager.ListTokens(context.Background(), name)
	if err != nil {
		f.t.Fatal(err)
	}
	out := make(map[string]manage.TokenInfo)
	for _, t := range list {
		out[t.Serial] = t
	}
	return out
}

// codeFromURI computes the TOTP code (or HOTP code at the URI's counter)
// of an otpauth URI with verify/otp: HOTP at the TOTP step.
func codeFromURI(t testing.TB, uri string, now time.Time) string {
	t.Helper()
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(key.Secret()))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(uri)
	var counter uint64
	if key.Type() == "totp" {
		counter = uint64(now.Unix()) / key.Period()
	} else {
		if counter, err = strconv.ParseUint(u.Query().Get("counter"), 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	code, err := vo.HOTP(raw, counter, vo.Algorithm(strings.ToUpper(key.Algorithm().String())), key.Digits().Length())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// secretOf returns the base32 secret of an otpauth URI.
func secretOf(t testing.TB, uri string) string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil || u.Query().Get("secret") == "" {
		t.Fatalf("no secret in the URI: %v", err)
	}
	return u.Query().Get("secret")
}

// assertNoSecret fails if a secret shows up in any log line or in any URL
// a client requested or was redirected to.
func (f *fixture) assertNoSecret(b *client, secrets ...string) {
	f.t.Helper()
	logs := f.logs.String()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, v := range []string{s, url.QueryEscape(s), strings.ToLower(s)} {
			if strings.Contains(logs, v) {
				f.t.Errorf("a secret appears in the logs: %q", v)
			}
			for _, u := range b.urls {
				if strings.Contains(u, v) {
					f.t.Errorf("a secret appears in URL %s", u)
				}
			}
		}
	}
}

// client is a browser stand-in with a cookie jar that does not follow
// redirects by itself, so tests see every status.
type client struct {
	t    testing.TB
	f    *fixture
	http *http.Client
	csrf string   // from the last page with a form
	urls []string // every URL requested
}

type page struct {
	status   int
	location string
	header   http.Header
	body     string
}

func (f *fixture) client() *client {
	f.t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		f.t.Fatal(err)
	}
	// The server's own transport: httptest.Server.Close closes the idle
	// connections of http.DefaultTransport, which parallel tests share.
	return &client{t: f.t, f: f, http: &http.Client{Jar: jar, Transport: f.srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) do(req *http.Request) page {
	c.t.Helper()
	c.urls = append(c.urls, req.URL.String())
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, location: resp.Header.Get("Location"), header: resp.Header, body: string(body)}
	if p.location != "" {
		c.urls = append(c.urls, p.location)
	}
	if m := csrfField.FindStringSubmatch(p.body); m != nil {
		c.csrf = m[1]
	}
	return p
}

func (c *client) get(path string) page {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.f.srv.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

// post sends a form; the current CSRF token is added unless form has one.
func (c *client) post(path string, form url.Values) page {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", c.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, c.f.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// follow GETs the location of a 303; other pages are returned as they are.
func (c *client) follow(p page) page {
	c.t.Helper()
	if p.status != http.StatusSeeOther {
		return p
	}
	return c.get(p.location)
}

// login opens the login form and logs in; it returns the first answer.
func (c *client) login(user, password string) page {
	c.t.Helper()
	c.get("/self/")
	return c.post("/self/login", url.Values{"user": {user}, "password": {password}})
}

// mustLogin logs in and returns the settings page.
func (c *client) mustLogin(user, password string) page {
	c.t.Helper()
	p := c.login(user, password)
	if p.status != http.StatusSeeOther || p.location != "/self/" {
		c.t.Fatalf("login %s: status %d location %q", user, p.status, p.location)
	}
	return c.follow(p)
}

// text is the page body with entities decoded, for message checks.
func (p page) text() string { return html.UnescapeString(p.body) }

func wantStatus(t testing.TB, p page, status int) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status = %d, want %d; body:\n%s", p.status, status, p.body)
	}
}

func wantText(t testing.TB, p page, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if !strings.Contains(p.text(), s) {
			t.Errorf("page lacks %q; body:\n%s", s, p.body)
		}
	}
}

func wantNoText(t testing.TB, p page, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if s != "" && strings.Contains(p.text(), s) {
			t.Errorf("page contains %q", s)
		}
	}
}
