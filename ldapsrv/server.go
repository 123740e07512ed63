// Package ldapsrv is otpgate's LDAP front-end for webmail servers. It runs
// github.com/nmcclain/ldap behind an input guard of its own: every LDAP
// message is read whole, size-limited and validated before the library's
// parser sees it, and the operations the library gets wrong (search result
// codes, extended responses, StartTLS, abandon) are answered by the guard.
// Binds are decided by the verify engine with the listener's service;
// configured service accounts may search the user subtree.
package ldapsrv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nmcclain/ldap"

	"github.com/otpgate/otpgate/verify"
)

// Authenticator decides a user's bind; *verify.Engine implements it.
type Authenticator interface {
	Verify(context.Context, verify.Request) verify.Decision
}

// Directory is the read access to accounts that searches need.
// *backend.SQLite implements it. UserByName must return an error wrapping
// verify.ErrNotFound for a missing user; UsersAfter returns up to limit
// users whose names sort after after, ordered by name, and is only called
// (page by page) for filters that are not an equality on uid, mail or cn.
//
// UserAttributes and UsersByAttribute serve the extra attributes of
// Config.Attributes; stored names are lower-case.
type Directory interface {
	UserByName(ctx context.Context, name string) (verify.User, error)
	UsersAfter(ctx context.Context, after string, limit int) ([]verify.User, error)
	UserAttributes(ctx context.Context, userID int64) (map[string][]string, error)
	UsersByAttribute(ctx context.Context, name, value string) ([]verify.User, error)
}

// PasswordChecker checks a service account's password against its stored,
// scheme-prefixed hash; *seal.Keyring implements it.
type PasswordChecker interface {
	CheckPassword(hash string, password verify.Secret) bool
}

// PlainPolicy says whether simple binds are accepted on connections
// without TLS.
type PlainPolicy int

// Plain-text bind policies. The zero value is PlainLoopbackOnly.
const (
	// PlainLoopbackOnly accepts plain-text binds from loopback clients only.
	PlainLoopbackOnly PlainPolicy = iota
	// PlainNever requires TLS (StartTLS or LDAPS) for every bind.
	PlainNever
	// PlainAlways accepts binds without TLS from anywhere.
	PlainAlways
)

// NetworkService maps client networks to a policy service.
type NetworkService struct {
	Network netip.Prefix
	Service string
}

// ServiceAccount is a configured identity (e.g. the webmail server) that
// may search the user subtree.
type ServiceAccount struct {
	DN           string
	PasswordHash string // scheme-prefixed, checked with PasswordChecker
}

// Config configures a Server. Zero values get the documented defaults.
type Config struct {
	Service         string   // policy service of user binds (required)
	BaseDN          string   // naming context, e.g. dc=example,dc=org (required)
	UserDNTemplates []string // e.g. uid={user},ou=people,dc=example,dc=org; the first names entries
	ServiceAccounts []ServiceAccount
	// Networks narrow the policy service by client address: a bind from a
	// client in Network is checked for Service (the most specific network
	// wins), e.g. the IMAP servers' network for service imap while the
	// webmail keeps the default Service.
	Networks []NetworkService
	// Attributes are extra per-user attributes (stored with "otpgate user
	// set-attr") that entries publish and filters match, e.g.
	// displayName, mailAlternateAddress.
	Attributes []string
	// TLS enables StartTLS on Serve and is required by ServeTLS. Use
	// GetCertificate to reload certificates. MinVersion is raised to TLS 1.2.
	TLS                  *tls.Config
	AllowPlainBinds      PlainPolicy
	AllowAnonymousSearch bool          // anonymous may search the subtree (default: RootDSE only)
	MaxMessageSize       int           // bytes per LDAP message (default 16 KiB)
	MaxDepth             int           // BER nesting depth (default 32)
	MaxConns             int           // live connections (default 1024)
	MaxConnsPerIP        int           // live connections per client address (default 64)
	IdleTimeout          time.Duration // wait for the next message (default 60s)
	MessageTimeout       time.Duration // finish reading a message, write a reply, TLS handshake (default 10s)
	SizeLimit            int           // entries per search (default 500)
	// ScanLimit bounds the users one search that must look at every user
	// examines; past it the search ends with adminLimitExceeded (100,000).
	ScanLimit       int
	ShutdownTimeout time.Duration // wait for in-flight operations on shutdown (default 10s)
}

// Server is an LDAP listener. It is safe for concurrent use; Serve and
// ServeTLS may run at the same time on different listeners.
type Server struct {
	cfg       Config
	auth      Authenticator
	dir       Directory
	creds     PasswordChecker
	log       *slog.Logger
	limit     *rateLimiter
	tls       *tls.Config
	baseDN    []rdn
	templates []dnTemplate
	accounts  atomic.Pointer[[]serviceAccount]
	extra     map[string]string // canonical name → published name

	mu       sync.Mutex
	total    int
	rejected uint64
	perIP    map[string]int
}

type serviceAccount struct {
	dn   string
	rdns []rdn
	hash string
}

// New validates cfg and returns a Server. auth, dir and creds are required;
// a nil log discards.
func New(cfg Config, auth Authenticator, dir Directory, creds PasswordChecker, log *slog.Logger) (*Server, error) {
	if auth == nil || dir == nil || creds == nil {
		return nil, errors.New("ldapsrv: authenticator, directory and password checker are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fillDefaults(&cfg)
	s := &Server{cfg: cfg, auth: auth, dir: dir, creds: creds, log: log,
		limit: newRateLimiter(10, 20, time.Now), perIP: map[string]int{}}
	if err := s.compile(); err != nil {
		return nil, err
	}
	return s, nil
}

func fillDefaults(c *Config) {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxMessageSize, 16<<10)
	def(&c.MaxDepth, 32)
	def(&c.MaxConns, 1024)
	def(&c.MaxConnsPerIP, 64)
	def(&c.SizeLimit, 500)
	def(&c.ScanLimit, 100_000)
	defDur(&c.IdleTimeout, 60*time.Second)
	defDur(&c.MessageTimeout, 10*time.Second)
	defDur(&c.ShutdownTimeout, 10*time.Second)
}

// compile parses the DNs of the configuration.
func (s *Server) compile() error {
	var err error
	if s.cfg.Service == "" {
		return errors.New("ldapsrv: service is required")
	}
	for _, n := range s.cfg.Networks {
		if !n.Network.IsValid() || n.Service == "" {
			return fmt.Errorf("ldapsrv: network %v: invalid prefix or empty service", n.Network)
		}
	}
	if s.baseDN, err = parseDN(s.cfg.BaseDN); err != nil || len(s.baseDN) == 0 {
		return fmt.Errorf("ldapsrv: base dn %q: invalid", s.cfg.BaseDN)
	}
	if len(s.cfg.UserDNTemplates) == 0 {
		return errors.New("ldapsrv: at least one user dn template is required")
	}
	for _, t := range s.cfg.UserDNTemplates {
		tpl, err := parseTemplate(t)
		if err != nil {
			return fmt.Errorf("ldapsrv: user dn template %q: %w", t, err)
		}
		s.templates = append(s.templates, tpl)
	}
	if err := s.SetServiceAccounts(s.cfg.ServiceAccounts); err != nil {
		return err
	}
	s.extra = map[string]string{}
	for _, name := range s.cfg.Attributes {
		canon := canonicalAttr(name)
		if canon == "" || computedAttrs[canon] {
			return fmt.Errorf("ldapsrv: attribute %q: empty or computed by the server", name)
		}
		s.extra[canon] = name
	}
	if s.cfg.TLS != nil {
		s.tls = s.cfg.TLS.Clone()
		if s.tls.MinVersion < tls.VersionTLS12 {
			s.tls.MinVersion = tls.VersionTLS12
		}
	}
	return nil
}

// SetServiceAccounts replaces the service accounts atomically (a config
// reload); binds already checked keep their identity. On error nothing
// changes.
func (s *Server) SetServiceAccounts(accounts []ServiceAccount) error {
	compiled := make([]serviceAccount, 0, len(accounts))
	for _, a := range accounts {
		rdns, err := parseDN(a.DN)
		if err != nil || len(rdns) == 0 || a.PasswordHash == "" {
			return fmt.Errorf("ldapsrv: service account %q: invalid dn or empty hash", a.DN)
		}
		compiled = append(compiled, serviceAccount{dn: a.DN, rdns: rdns, hash: a.PasswordHash})
	}
	s.accounts.Store(&compiled)
	return nil
}

// Serve answers LDAP on ln (plain text; StartTLS when Config.TLS is set)
// until ctx is cancelled, then stops accepting, lets in-flight operations
// finish for up to ShutdownTimeout, closes every connection of ln and
// returns nil. It closes ln. It returns an error early only if ln fails
// for good (for instance it was closed by someone else).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, false)
}

// ServeTLS is Serve for LDAPS: every connection starts with a TLS
// handshake using Config.TLS, which is required.
func (s *Server) ServeTLS(ctx context.Context, ln net.Listener) error {
	if s.tls == nil {
		return errors.New("ldapsrv: serve tls: no tls config")
	}
	return s.serve(ctx, ln, true)
}

func (s *Server) serve(ctx context.Context, ln net.Listener, implicitTLS bool) error {
	gl := newGuardListener(s, ln, implicitTLS, context.WithoutCancel(ctx))
	lib := ldap.NewServer()
	lib.BindFunc("", binder{s})
	lib.CloseFunc("", closer{})
	quit := make(chan bool)
	lib.QuitChannel(quit)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = lib.Serve(gl)
	}()
	var err error
	select {
	case <-ctx.Done():
	case <-gl.dead:
		err = fmt.Errorf("ldapsrv: listener %s: %w", ln.Addr(), gl.deadErr)
	}
	// The library's accept goroutine blocks handing over a connection if
	// its Serve loop has already quit: close our listener and wait until
	// that goroutine saw net.ErrClosed before quitting the library.
	gl.Close()
	<-gl.exited
	close(quit)
	<-done
	gl.drain(s.cfg.ShutdownTimeout)
	return err
}

// closer replaces the library's default Close handler, which would close
// the connection a second time.
type closer struct{}

func (closer) Close(string, net.Conn) error { return nil }

// serviceFor returns the policy service of a bind from addr: the service
// of the most specific configured network containing it, else
// Config.Service.
func (s *Server) serviceFor(addr netip.Addr) string {
	service, bits := s.cfg.Service, -1
	addr = addr.Unmap()
	for _, n := range s.cfg.Networks {
		if n.Network.Contains(addr) && n.Network.Bits() > bits {
			service, bits = n.Service, n.Network.Bits()
		}
	}
	return service
}
