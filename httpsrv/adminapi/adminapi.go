// Package adminapi is otpgate's admin HTTP API: JSON over HTTP for the
// operator operations of verify/manage (users and tokens). It runs the same
// manage.Manager methods as the CLI, so validation and errors are the
// same. The handler serves paths under /api/v1/ and is meant to be mounted
// on the operations listener with httpsrv.Server.Handle("/api/", h), which
// supplies the source allow-list and TLS; this package adds bearer-token
// authentication.
//
// Every response carries Cache-Control: no-store (an enrollment answer
// holds a token secret) and errors have one shape, {"error": "message"}.
// Secrets (passwords, PINs, OTPs, mOTP secrets, YubiKey AES keys, bearer
// tokens) travel only in request bodies or headers, as verify.Secret, and
// never reach a log.
package adminapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/otpgate/otpgate/verify/manage"
)

// Prefix is the path under which every route of the API lives.
const Prefix = "/api/v1"

// maxBodyBytes bounds a request body; larger bodies get 413.
const maxBodyBytes = 64 << 10

// Config configures the API.
type Config struct {
	// Tokens are the accepted bearer tokens (RFC 6750). At least one is
	// required and none may be empty. They are hashed at New and compared
	// in constant time; the slices are not retained.
	Tokens [][]byte
	// TokenSHA256 are accepted bearer tokens given by their SHA-256
	// digests, so a config file need not hold the tokens themselves.
	// Tokens and TokenSHA256 together need at least one entry.
	TokenSHA256 [][sha256.Size]byte
	// Manager runs the operations. Required.
	Manager *manage.Manager
	// Log receives one record per request (never a secret) and the real
	// cause of every 500. nil discards.
	Log *slog.Logger
}

// api is the handler New returns.
type api struct {
	tokens  [][sha256.Size]byte
	manager *manage.Manager
	log     *slog.Logger
	mux     *http.ServeMux
	routes  []route
}

// New checks cfg and returns the API handler. It answers every path under
// /api/: routes under /api/v1/ after authentication, JSON errors for the
// rest (401 without a valid token, then 404 or 405 with Allow).
func New(cfg Config) (http.Handler, error) {
	a, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	return a, nil
}

func newAPI(cfg Config) (*api, error) {
	if cfg.Manager == nil {
		return nil, errors.New("adminapi: manager is required")
	}
	if len(cfg.Tokens)+len(cfg.TokenSHA256) == 0 {
		return nil, errors.New("adminapi: at least one bearer token is required")
	}
	a := &api{manager: cfg.Manager, log: cfg.Log, mux: http.NewServeMux()}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	for i, tok := range cfg.Tokens {
		if len(tok) == 0 {
			return nil, fmt.Errorf("adminapi: bearer token %d is empty", i+1)
		}
		a.tokens = append(a.tokens, sha256.Sum256(tok))
	}
	a.tokens = append(a.tokens, cfg.TokenSHA256...)
	a.register()
	return a, nil
}

// ServeHTTP authenticates the request, then routes it.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if challenge, ok := a.authenticate(r); !ok {
		a.log.Warn("admin api: authentication failed", "proto", "http", "remote", r.RemoteAddr,
			"method", r.Method, "path", r.URL.Path)
		h.Set("WWW-Authenticate", challenge)
		writeError(w, http.StatusUnauthorized, "missing or invalid bearer token")
		return
	}
	if _, pattern := a.mux.Handler(r); pattern == "" {
		a.serveUnmatched(w, r)
		return
	}
	a.mux.ServeHTTP(w, r)
}

// authenticate checks the bearer token. On failure it returns the
// WWW-Authenticate challenge to send (RFC 6750 §3).
func (a *api) authenticate(r *http.Request) (challenge string, ok bool) {
	const realm = `Bearer realm="otpgate-admin"`
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return realm, false // RFC 6750 §3.1: no error code when none was sent
	}
	invalid := realm + `, error="invalid_token"`
	if len(values) != 1 {
		return invalid, false
	}
	// RFC 9110 §11.1: the auth scheme is case-insensitive.
	scheme, token, found := strings.Cut(values[0], " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return invalid, false
	}
	token = strings.TrimLeft(token, " ")
	if token == "" {
		return invalid, false
	}
	sum := sha256.Sum256([]byte(token))
	match := 0
	for i := range a.tokens {
		match |= subtle.ConstantTimeCompare(sum[:], a.tokens[i][:]) // no early exit
	}
	if match != 1 {
		return invalid, false
	}
	return "", true
}

// probeMethods are tried to tell 405 from 404. GET covers HEAD.
var probeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch}

// serveUnmatched answers a request no route matched: 405 with Allow when
// the path exists under another method, else 404; both as JSON errors.
func (a *api) serveUnmatched(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range probeMethods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := a.mux.Handler(probe); pattern != "" {
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
	}
	if len(allow) == 0 {
		writeError(w, http.StatusNotFound, "no such API route")
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, http.StatusMethodNotAllowed, "method not allowed")
}
