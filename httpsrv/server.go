// Package httpsrv is otpgate's operations HTTP listener: Prometheus
// metrics (/metrics), liveness (/healthz) and readiness (/readyz), behind
// a source-address allow-list. Later features (the YubiKey validation
// endpoint, the self-service page) mount their handlers with
// Server.Handle. It never verifies tokens itself.
package httpsrv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultReadyTimeout    = time.Second
	DefaultShutdownTimeout = 5 * time.Second
)

// Server timeouts and limits. Every route answers small requests, so the
// limits are tight: a slow or oversized client gets cut off.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second // a scrape of a busy process
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10
)

// Config configures a Server. Zero values get the documented defaults.
type Config struct {
	// Allow lists the client networks that may use the listener; every
	// other source gets 403. Empty means loopback only (127.0.0.0/8, ::1).
	// The check uses the TCP peer address, never forwarding headers.
	Allow []netip.Prefix
	// TLS, when set, makes Serve speak HTTPS only. It needs Certificates,
	// GetCertificate or GetConfigForClient; MinVersion is raised to TLS 1.2.
	TLS *tls.Config
	// ReadyTimeout bounds one readiness check (default 1s).
	ReadyTimeout time.Duration
	// ShutdownTimeout bounds how long Serve waits for in-flight requests
	// after its context ends before closing their connections (default 5s).
	ShutdownTimeout time.Duration
}

// Server is the operations HTTP listener. It is safe for concurrent use;
// Serve may run on several listeners at once.
type Server struct {
	cfg     Config
	allow   []netip.Prefix
	tls     *tls.Config
	log     *slog.Logger
	metrics *Metrics
	ready   func(context.Context) error
	mux     *http.ServeMux
	handler http.Handler
	serving atomic.Bool
	// readyOK is the outcome of the last readiness check; failures are
	// logged when it flips, not on every probe.
	readyOK atomic.Bool
}

// New validates cfg and returns a Server. m is required. ready reports
// whether the process can serve authentications (store reachable,
// migrations done); nil means always ready. A nil log discards.
func New(cfg Config, m *Metrics, ready func(ctx context.Context) error, log *slog.Logger) (*Server, error) {
	if m == nil {
		return nil, errors.New("httpsrv: metrics are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if ready == nil {
		ready = func(context.Context) error { return nil }
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	s := &Server{cfg: cfg, log: log, metrics: m, ready: ready, mux: http.NewServeMux()}
	s.readyOK.Store(true)
	if err := s.compile(); err != nil {
		return nil, err
	}
	s.routes()
	s.handler = s.allowList(s.mux)
	return s, nil
}

// compile checks the allow-list and the TLS configuration.
func (s *Server) compile() error {
	for _, p := range s.cfg.Allow {
		if !p.IsValid() {
			return fmt.Errorf("httpsrv: allow: invalid prefix %q", p.String())
		}
		s.allow = append(s.allow, p.Masked())
	}
	if s.cfg.TLS != nil {
		t := s.cfg.TLS
		if len(t.Certificates) == 0 && t.GetCertificate == nil && t.GetConfigForClient == nil {
			return errors.New("httpsrv: tls: no certificate")
		}
		s.tls = t.Clone()
		if s.tls.MinVersion < tls.VersionTLS12 {
			s.tls.MinVersion = tls.VersionTLS12
		}
	}
	return nil
}

// Handler returns the complete handler: the allow-list in front of every
// route. It is what Serve serves; tests and embedding programs may use it
// directly.
func (s *Server) Handler() http.Handler { return s.handler }

// Handle mounts h at pattern (net/http ServeMux syntax, e.g.
// "GET /wsapi/2.0/verify") behind the allow-list. It must be called
// before the first Serve and panics afterwards, or if pattern conflicts
// with a registered route.
func (s *Server) Handle(pattern string, h http.Handler) {
	if s.serving.Load() {
		panic("httpsrv: Handle called after Serve")
	}
	s.mux.Handle(pattern, h)
}

// Serve answers HTTP (HTTPS when Config.TLS is set) on ln until ctx ends,
// then stops accepting, waits up to ShutdownTimeout for in-flight
// requests, closes every remaining connection and returns nil. It always
// closes ln. It returns an error early only if ln fails (for instance it
// was closed by someone else).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.serving.Store(true)
	srv := s.newHTTPServer(ctx)
	errc := make(chan error, 1)
	go func() {
		if s.tls != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		srv.Close()
		return fmt.Errorf("httpsrv: listener %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("http: shutdown timed out; closing connections", "addr", ln.Addr().String())
		srv.Close()
	}
	<-errc // http.ErrServerClosed
	return nil
}

func (s *Server) newHTTPServer(ctx context.Context) *http.Server {
	base := context.WithoutCancel(ctx) // in-flight requests finish on shutdown
	return &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.tls,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
}

// allowList answers 403 to clients whose TCP peer address is outside
// Config.Allow (loopback when empty).
func (s *Server) allowList(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.allowed(r.RemoteAddr) {
			plain(w, http.StatusForbidden, "forbidden")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowed reports whether remote, an http.Request.RemoteAddr, may use the
// listener. An address that does not parse (not TCP/IP) is refused.
func (s *Server) allowed(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap().WithZone("")
	if len(s.allow) == 0 {
		return addr.IsLoopback()
	}
	for _, p := range s.allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
