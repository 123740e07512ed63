// Package selfservice is the end-user "One Time Passwords" page: log in
// with the account name and the one password field, set the PIN, choose
// the security level, enroll and test an HOTP, TOTP or mOTP token or a
// YubiKey (checked by the validation servers), and rename, enable,
// disable or delete tokens. It follows the flow of the
// mailbox.org how-to, but every control is a real form control so the page
// works with the keyboard alone and without JavaScript.
//
// The page is server-rendered (html/template) and mounted under /self/.
// It never decides a login itself: the engine does, for the page's policy
// service, with its own back-off. Changes go through manage.Manager.
package selfservice

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// Prefix is the path the handler serves; mount it with
// srv.Handle(selfservice.Prefix, h).
const Prefix = "/self/"

// Defaults of Config.
const (
	DefaultIdleTimeout     = 15 * time.Minute
	DefaultAbsoluteTimeout = 8 * time.Hour
	DefaultPINLength       = 4
	DefaultMaxSessions     = 10000
)

// maxFormBytes bounds a request body; every form of the page is small.
const maxFormBytes = 16 << 10

// Engine decides logins; *verify.Switch and *verify.Engine implement it.
type Engine interface {
	Verify(context.Context, verify.Request) verify.Decision
}

// Config configures the page. Engine, Manager and Service are required;
// zero values of the rest get the documented defaults.
type Config struct {
	Engine  Engine
	Manager *manage.Manager
	// Service is the policy service of the page (class web), e.g.
	// "webmail": the user's level for it decides whether the login takes
	// the password or PIN+OTP.
	Service string
	// PINLength is the policy's PIN length, shown to the user (default 4).
	PINLength int
	Now       func() time.Time // default time.Now
	Rand      io.Reader        // session ids and CSRF tokens; default crypto/rand
	// IdleTimeout ends a session after this long without a request
	// (default 15m); AbsoluteTimeout ends it this long after the login
	// regardless of activity (default 8h).
	IdleTimeout, AbsoluteTimeout time.Duration
	// Secure marks cookies Secure; true unless testing over plain loopback.
	Secure bool
	// MaxSessions bounds the in-memory session store (default 10000); when
	// it is full of live sessions a new login gets 503.
	MaxSessions int
	Log         *slog.Logger // nil discards
}

// handler serves the page.
type handler struct {
	cfg      Config
	log      *slog.Logger
	sessions *sessionStore
	pages    *pages
	mux      *http.ServeMux
}

//go:embed templates/*.html static/style.css
var assets embed.FS

// New validates cfg and returns the handler for Prefix.
func New(cfg Config) (http.Handler, error) {
	if cfg.Engine == nil || cfg.Manager == nil || cfg.Service == "" {
		return nil, errors.New("selfservice: engine, manager and service are required")
	}
	if cfg.PINLength <= 0 {
		cfg.PINLength = DefaultPINLength
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.AbsoluteTimeout <= 0 {
		cfg.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	h := &handler{cfg: cfg, log: cfg.Log, pages: p, mux: http.NewServeMux(),
		sessions: newSessionStore(cfg.IdleTimeout, cfg.AbsoluteTimeout, cfg.MaxSessions)}
	h.routes()
	return h, nil
}

// routes registers every page. GET patterns also answer HEAD. A GET of a
// form target gets 405 with Allow: POST, any other unknown GET 404.
func (h *handler) routes() {
	h.mux.HandleFunc("GET /self/{$}", h.serveHome)
	h.mux.HandleFunc("GET /self/style.css", h.serveCSS)
	h.mux.HandleFunc("GET /self/enroll", h.withSession(h.serveEnrollPage))
	posts := map[string]http.HandlerFunc{
		"/self/login":          h.serveLogin,
		"/self/logout":         h.withSession(h.serveLogout),
		"/self/pin":            h.withSession(h.servePIN),
		"/self/level":          h.withSession(h.serveLevel),
		"/self/enroll":         h.withSession(h.serveEnroll),
		"/self/enroll/test":    h.withSession(h.serveEnrollTest),
		"/self/enroll/save":    h.withSession(h.serveEnrollSave),
		"/self/enroll/cancel":  h.withSession(h.serveEnrollCancel),
		"/self/tokens/enable":  h.withSession(h.serveTokenEnable),
		"/self/tokens/disable": h.withSession(h.serveTokenDisable),
		"/self/tokens/delete":  h.withSession(h.serveTokenDelete),
		"/self/tokens/rename":  h.withSession(h.serveTokenRename),
	}
	for path, fn := range posts {
		h.mux.HandleFunc("POST "+path, fn)
	}
	h.mux.HandleFunc("GET /self/", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := posts[r.URL.Path]; ok {
			// A form target opened directly (a bookmark, a reload).
			w.Header().Set("Allow", http.MethodPost)
			h.renderError(w, http.StatusMethodNotAllowed, "This address only takes forms of the page.")
			return
		}
		h.renderError(w, http.StatusNotFound, "This page does not exist.")
	})
}

// contentSecurityPolicy allows only the page's own stylesheet, inline PNG
// QR codes and forms posting to the page; no script at all.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// ServeHTTP sets the security headers on every answer and dispatches.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	}
	h.mux.ServeHTTP(w, r)
}

func (h *handler) serveCSS(w http.ResponseWriter, _ *http.Request) {
	css, _ := assets.ReadFile("static/style.css")
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(css)
}

// clientAddr is the TCP peer; forwarding headers are never trusted.
func clientAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// requestLog is the per-request child logger.
func (h *handler) requestLog(r *http.Request, user string) *slog.Logger {
	return h.log.With("proto", verify.ProtoHTTP, "remote", clientAddr(r).String(), "service", h.cfg.Service, "user", user)
}
