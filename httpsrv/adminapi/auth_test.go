package adminapi

import (
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, c := range []struct {
		name string
		cfg  Config
		err  string
	}{
		{name: "refuses a config without a manager", cfg: Config{Tokens: [][]byte{[]byte("x")}},
			err: "adminapi: manager is required"},
		{name: "refuses a config without bearer tokens", cfg: Config{Manager: f.manager},
			err: "adminapi: at least one bearer token is required"},
		{name: "refuses an empty bearer token", cfg: Config{Manager: f.manager, Tokens: [][]byte{[]byte("x"), nil}},
			err: "adminapi: bearer token 2 is empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h, err := New(c.cfg)
			if err == nil || err.Error() != c.err || h != nil {
				t.Fatalf("New: %v, want %q", err, c.err)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addUser("alice")
	const (
		challenge = `Bearer realm="otpgate-admin"`
		invalid   = `Bearer realm="otpgate-admin", error="invalid_token"`
	)
	t.Run("each case", func(cases *testing.T) {
		for _, c := range []struct {
			name      string
			method    string
			path      string
			header    http.Header
			status    int
			challenge string
		}{
			{name: "refuses a request without a token, without an error code", method: "GET", path: "/api/v1/users",
				status: http.StatusUnauthorized, challenge: challenge},
			{name: "refuses a wrong token", method: "GET", path: "/api/v1/users",
				header: http.Header{"Authorization": {"Bearer " + adminToken + "x"}}, status: http.StatusUnauthorized, challenge: invalid},
			{name: "refuses a prefix of the right token", method: "GET", path: "/api/v1/users",
				header: http.Header{"Authorization": {"Bearer " + adminToken[:8]}}, status: http.StatusUnauthorized, challenge: invalid},
			{name: "refuses the token under the Basic scheme", method: "GET", path: "/api/v1/users",
				header: http.Header{"Authorization": {"Basic " + adminToken}}, status: http.StatusUnauthorized, challenge: invalid},
			{name: "refuses an empty bearer token", method: "GET", path: "/api/v1/users",
				header: http.Header{"Authorization": {"Bearer "}}, status: http.StatusUnauthorized, challenge: invalid},
			{name: "refuses two Authorization headers", method: "GET", path: "/api/v1/users",
				header: http.Header{"Authorization": {"Bearer " + adminToken, "Bearer " + otherToken}}, status: http.StatusUnauthorized,
				challenge: invalid},
			{name: "refuses a token in the query string", method: "GET", path: "/api/v1/users?access_token=" + adminToken,
				status: http.StatusUnauthorized, challenge: challenge},
			{name: "refuses before routing, so unknown paths reveal nothing", method: "GET", path: "/api/v2/nothing",
				status: http.StatusUnauthorized, challenge: challenge},
			{name: "refuses a write without a token and changes nothing", method: "DELETE", path: "/api/v1/users/alice",
				status: http.StatusUnauthorized, challenge: challenge},
			{name: "accepts the first configured token", method: "GET", path: "/api/v1/users",
				header: http.Header{"Authorization": {"Bearer " + adminToken}}, status: http.StatusOK},
			{name: "accepts the second configured token", method: "GET", path: "/api/v1/users",
				header: http.Header{"Authorization": {"Bearer " + otherToken}}, status: http.StatusOK},
			{name: "accepts the scheme in any case", method: "GET", path: "/api/v1/users",
				header: http.Header{"Authorization": {"bEARER " + adminToken}}, status: http.StatusOK},
		} {
			cases.Run(c.name, func(t *testing.T) {
				t.Parallel()
				r := f.with(t).send(c.method, c.path, nil, c.header)
				want(t, r, c.status)
				if got := r.header.Get("WWW-Authenticate"); got != c.challenge {
					t.Fatalf("WWW-Authenticate %q, want %q", got, c.challenge)
				}
				if c.status == http.StatusUnauthorized && r.errorText(t) != "missing or invalid bearer token" {
					t.Fatalf("body %s", r.body)
				}
			})
		}
	})
	if r := f.do("GET", "/api/v1/users/alice", nil); r.status != http.StatusOK {
		t.Errorf("an unauthenticated DELETE removed the user: %d", r.status)
	}
	t.Run("logs failures without the presented token", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.send("GET", "/api/v1/users", nil, http.Header{"Authorization": {"Bearer wrong-" + adminToken}})
		if logs := f.logs.String(); !strings.Contains(logs, "authentication failed") {
			t.Fatalf("no log line for the failure:\n%s", logs)
		}
		f.noLeak(t, []string{adminToken})
	})
}

func TestRequestShape(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	t.Run("each case", func(cases *testing.T) {
		for _, c := range []struct {
			name    string
			method  string
			path    string
			body    any
			status  int
			errText string
			allow   string
		}{
			{name: "refuses malformed JSON with 400 and does not echo it", method: "POST", path: "/api/v1/users",
				body: `{"name":"bob","password":` + password, status: http.StatusBadRequest, errText: "request body is not valid JSON (at byte 26)"},
			{name: "refuses truncated JSON with 400", method: "POST", path: "/api/v1/users",
				body: `{"name":"bob"`, status: http.StatusBadRequest, errText: "request body is truncated JSON"},
			{name: "refuses a syntax error with its offset", method: "POST", path: "/api/v1/users",
				body: `{"name" "bob"}`, status: http.StatusBadRequest, errText: "request body is not valid JSON (at byte 9)"},
			{name: "refuses an unknown field with 400", method: "POST", path: "/api/v1/users",
				body: `{"name":"bob","password":"x","level":"off"}`, status: http.StatusBadRequest, errText: `request body: unknown field "level"`},
			{name: "refuses an empty body where one is required", method: "POST", path: "/api/v1/users",
				status: http.StatusBadRequest, errText: "request body must be a JSON object"},
			{name: "refuses an array body", method: "POST", path: "/api/v1/users", body: `[]`,
				status: http.StatusBadRequest, errText: "request body must be a JSON object"},
			{name: "refuses two JSON objects in one body", method: "POST", path: "/api/v1/users",
				body: `{"name":"bob","password":"x"} {"name":"eve","password":"y"}`, status: http.StatusBadRequest,
				errText: "request body must hold a single JSON object"},
			{name: "refuses a body over 64 KiB with 413", method: "POST", path: "/api/v1/users",
				body: `{"name":"bob","password":"` + strings.Repeat("a", 70<<10) + `"}`, status: http.StatusRequestEntityTooLarge,
				errText: "request body exceeds 65536 bytes"},
			{name: "answers an unknown path with a JSON 404", method: "GET", path: "/api/v1/groups",
				status: http.StatusNotFound, errText: "no such API route"},
			{name: "answers an unknown API version with a JSON 404", method: "GET", path: "/api/v2/users",
				status: http.StatusNotFound, errText: "no such API route"},
			{name: "answers a wrong method with 405 and Allow", method: "PATCH", path: "/api/v1/users",
				status: http.StatusMethodNotAllowed, errText: "method not allowed", allow: "GET, HEAD, POST"},
			{name: "answers GET on an action with 405 and Allow", method: "GET", path: "/api/v1/tokens/X/resync",
				status: http.StatusMethodNotAllowed, errText: "method not allowed", allow: "POST"},
		} {
			cases.Run(c.name, func(t *testing.T) {
				t.Parallel()
				r := f.with(t).do(c.method, c.path, c.body)
				want(t, r, c.status)
				if got := r.errorText(t); got != c.errText {
					t.Fatalf("error %q, want %q", got, c.errText)
				}
				if got := r.header.Get("Allow"); got != c.allow {
					t.Fatalf("Allow %q, want %q", got, c.allow)
				}
			})
		}
	})
	f.noLeak(t, []string{password}) // after the parallel cases
}

func TestAcceptsATokenGivenByItsDigest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	h, err := New(Config{Manager: f.manager, TokenSHA256: [][32]byte{sha256.Sum256([]byte("digest-only-token"))}})
	if err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]int{"digest-only-token": http.StatusOK, "digest-only-token2": http.StatusUnauthorized} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/v1/users", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("token %q: status %d, want %d", token, rec.Code, want)
		}
	}
}
