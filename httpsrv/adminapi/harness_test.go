package adminapi

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/otpgate/otpgate/backend/passwd"
	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
	"github.com/otpgate/otpgate/verify/otp"
	"github.com/otpgate/otpgate/verify/verifytest"
)

// Secrets used by the tests; none may appear in a response or a log line
// (except the enrollment URI in its own response).
const (
	adminToken  = "admin-bearer-7f3c9a51e2"
	otherToken  = "second-admin-bearer-0b8d"
	password    = "Tr0ub4dor&3-horse"
	newPassword = "c0rrect-b4ttery-staple"
	pin         = "Zq9x"
	motpSecret  = "a1b2c3d4e5f60718"
	motpPIN     = "482913"
)

// cheapArgon2 keeps tests fast; production parameters come from config.
var cheapArgon2 = passwd.Argon2Params{Time: 1, Memory: 64, Threads: 1}

// clock and lockedBuffer come from verifytest, shared with the other
// packages that test against the engine.
type (
	clock        = verifytest.Clock
	lockedBuffer = verifytest.LogBuffer
)

type testStore interface {
	manage.Store
	Migrate(ctx context.Context) (int, error)
	Close() error
}

// fixture is the API over a real manager, engine and SQLite store, served
// by a real HTTP server mounted as httpsrv mounts it ("/api/").
type fixture struct {
	t       *testing.T
	clock   *clock
	store   testStore
	engine  *verify.Engine
	manager *manage.Manager
	logs    *lockedBuffer // API log, engine log and engine audit log
	srv     *httptest.Server
	seen    *responseLog
}

// responseLog keeps every response, to look for leaked secrets.
type responseLog struct {
	mu        sync.Mutex
	responses []response
}

// with returns f bound to t, for use in t's (parallel) subtest: failures
// then stop that subtest, not the test that built f.
func (f *fixture) with(t *testing.T) *fixture {
	g := *f
	g.t = t
	return &g
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, logs: &lockedBuffer{}, seen: &responseLog{}}
	logger := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env := verifytest.New(t, verifytest.Options{Argon2: cheapArgon2, Engine: verify.Options{Audit: logger, Log: logger}})
	f.clock, f.store, f.engine, f.manager = env.Clock, env.Store, env.Engine, env.Manager
	h, err := New(Config{Tokens: [][]byte{[]byte(adminToken), []byte(otherToken)}, Manager: f.manager, Log: logger})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", h) // as cmd mounts it on the operations listener
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// response is one answer as the client saw it.
type response struct {
	status int
	header http.Header
	body   []byte
}

// decode parses the JSON body into dst, failing the test otherwise.
func (r response) decode(t *testing.T, dst any) {
	t.Helper()
	if err := json.Unmarshal(r.body, dst); err != nil {
		t.Fatalf("response body %q: %v", r.body, err)
	}
}

// errorText returns the "error" of an error body.
func (r response) errorText(t *testing.T) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	r.decode(t, &e)
	if e.Error == "" {
		t.Fatalf("no error text in %s", r.body)
	}
	return e.Error
}

// do sends an authenticated request; body is marshalled unless it is a
// string (sent raw) or nil (no body).
func (f *fixture) do(method, path string, body any) response {
	f.t.Helper()
	return f.send(method, path, body, http.Header{"Authorization": {"Bearer " + adminToken}})
}

// send sends a request with the given headers and checks what every
// response must carry: JSON and Cache-Control: no-store.
func (f *fixture) send(method, path string, body any, header http.Header) response {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(f.t.Context(), method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		f.t.Errorf("%s %s: Cache-Control %q, want no-store", method, path, cc)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	r := response{status: res.StatusCode, header: res.Header, body: got}
	f.seen.mu.Lock()
	f.seen.responses = append(f.seen.responses, r)
	f.seen.mu.Unlock()
	return r
}

// want fails unless r has status code.
func want(t *testing.T, r response, code int) {
	t.Helper()
	if r.status != code {
		t.Fatalf("status %d, want %d; body %s", r.status, code, r.body)
	}
}

// noLeak fails if any secret appears in a log line or in a response
// other than those in allowed (compared by body).
func (f *fixture) noLeak(t *testing.T, secrets []string, allowed ...response) {
	t.Helper()
	logs := f.logs.String()
	f.seen.mu.Lock()
	defer f.seen.mu.Unlock()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("a log line contains the secret %q:\n%s", s, logs)
		}
	next:
		for _, r := range f.seen.responses {
			for _, a := range allowed {
				if bytes.Equal(a.body, r.body) {
					continue next
				}
			}
			if bytes.Contains(r.body, []byte(s)) || strings.Contains(r.header.Get("Location"), s) {
				t.Errorf("a response contains the secret %q: %s", s, r.body)
			}
		}
	}
}

// addUser creates name with the test password through the API.
func (f *fixture) addUser(name string) {
	f.t.Helper()
	want(f.t, f.do("POST", "/api/v1/users", map[string]string{"name": name, "password": password}), http.StatusCreated)
}

// enrollment is the 201 answer of an enrollment.
type enrollment struct {
	Serial string           `json:"serial"`
	URI    string           `json:"uri"`
	Token  manage.TokenInfo `json:"token"`
}

// enroll enrolls a token through the API and returns the answer.
func (f *fixture) enroll(user string, req map[string]any) (enrollment, response) {
	f.t.Helper()
	r := f.do("POST", "/api/v1/users/"+url.PathEscape(user)+"/tokens", req)
	want(f.t, r, http.StatusCreated)
	var en enrollment
	r.decode(f.t, &en)
	return en, r
}

// oathKey is the key of an otpauth URI, as an authenticator app reads it.
type oathKey struct {
	secret    []byte
	base32    string
	algorithm otp.Algorithm
	digits    int
	period    int64
	counter   uint64
}

func parseOATH(t *testing.T, uri string) oathKey {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "otpauth" {
		t.Fatalf("not an otpauth URI: %v", err)
	}
	q := u.Query()
	k := oathKey{base32: q.Get("secret"), algorithm: otp.Algorithm(q.Get("algorithm")), digits: 6, period: 30}
	k.secret, err = base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(k.base32))
	if err != nil || len(k.secret) == 0 {
		t.Fatalf("otpauth secret: %v", err)
	}
	if d := q.Get("digits"); d != "" {
		k.digits, _ = strconv.Atoi(d)
	}
	if p := q.Get("period"); p != "" {
		k.period, _ = strconv.ParseInt(p, 10, 64)
	}
	if c := q.Get("counter"); c != "" {
		k.counter, _ = strconv.ParseUint(c, 10, 64)
	}
	return k
}

// code is the HOTP code at counter.
func (k oathKey) code(t *testing.T, counter uint64) string {
	t.Helper()
	c, err := otp.HOTP(k.secret, counter, k.algorithm, k.digits)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// totp is the TOTP code at the fixture's clock.
func (f *fixture) totp(t *testing.T, k oathKey) string {
	t.Helper()
	return k.code(t, uint64(f.clock.Now().Unix()/k.period))
}
