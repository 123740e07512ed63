// Package radiussrv is otpgate's RADIUS front-end (RFC 2865 PAP, RFC 2869
// and RFC 3579 Message-Authenticator, RFC 5997 Status-Server, RFC 2865 §4.4
// Access-Challenge) on top of layeh.com/radius. It translates packets into
// verify.Requests and the engine's decisions into replies; it checks no
// credential itself.
//
// What it adds to the library: Message-Authenticator checking and signing
// (so a wrong shared secret is detected instead of counting as a failed
// login), a reply cache for retransmits, the challenge State table, bounded
// concurrency, panic recovery, a rate-limited library log and a shutdown
// that lets in-flight requests send their replies.
//
// Left to the library: the read loop (one goroutine per datagram; the
// goroutines beyond MaxInFlight return at once) and its in-flight
// de-duplication by (address, Identifier), which silently drops a datagram
// whose key is still registered. The library unregisters a request only
// after the handler has returned, so a new request reusing the Identifier
// in the instant after our reply is written is dropped and the NAS
// retransmits it. Datagrams the library drops that way are not counted.
package radiussrv

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"layeh.com/radius"

	"github.com/otpgate/otpgate/verify"
)

// Authenticator decides one authentication request; *verify.Engine is one.
// It must be safe for concurrent use.
type Authenticator interface {
	Verify(context.Context, verify.Request) verify.Decision
}

// Config configures a Server. Zero durations and sizes take the defaults
// given per field.
type Config struct {
	Clients []Client
	// ReplyCacheTTL is how long a reply is kept for retransmits (30 s).
	ReplyCacheTTL time.Duration
	// ChallengeTTL is how long an Access-Challenge State stays valid
	// (120 s).
	ChallengeTTL time.Duration
	// RequestTimeout bounds one engine call, independent of shutdown
	// (5 s). Serve waits about this long for in-flight requests.
	RequestTimeout time.Duration
	// MaxInFlight is the number of requests processed at once; further
	// datagrams are dropped and counted (64).
	MaxInFlight int
	// ReplyCacheSize bounds the reply cache; the oldest entry goes first
	// (65536).
	ReplyCacheSize int
	// MaxChallenges bounds the outstanding challenges; the oldest goes
	// first (10000).
	MaxChallenges int
	// Rand supplies State values; nil means crypto/rand. The Server
	// serialises its reads, so it need not be safe for concurrent use.
	Rand io.Reader
	// Now is the clock of the reply cache and State expiry; nil means
	// time.Now.
	Now func() time.Time
}

// Server answers RADIUS Access-Request and Status-Server datagrams. It is
// safe for concurrent use; Serve may run on several sockets at once.
type Server struct {
	cfg     Config
	auth    Authenticator
	log     *slog.Logger
	clients atomic.Pointer[clientTable]
	cache   *replyCache
	states  *stateTable
	sem     chan struct{}
	stats   counters

	libLog        *log.Logger // the library's ErrorLog, rate-limited
	libLimit      rateLimiter // lines of the library's ErrorLog
	badMALimit    rateLimiter // "wrong shared secret" warnings
	unknownLimit  rateLimiter // "unknown client" warnings
	overloadLimit rateLimiter // "overloaded" warnings
	onEvent       func(event) // test hook; nil in production
}

// New validates cfg (client names non-empty and unique, secrets non-empty,
// networks valid and distinct, reply attributes at most 253 bytes), fills
// defaults and returns a Server that is not yet serving. A nil log
// discards.
func New(cfg Config, auth Authenticator, logger *slog.Logger) (*Server, error) {
	if auth == nil {
		return nil, errors.New("radiussrv: new: nil Authenticator")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	fillDefaults(&cfg)
	s := &Server{
		cfg: cfg, auth: auth, log: logger.With("proto", "radius"),
		cache:  newReplyCache(cfg.ReplyCacheTTL, cfg.ReplyCacheSize),
		states: newStateTable(cfg.ChallengeTTL, cfg.MaxChallenges, cfg.Rand),
		sem:    make(chan struct{}, cfg.MaxInFlight),
	}
	for _, l := range []*rateLimiter{&s.libLimit, &s.badMALimit, &s.unknownLimit, &s.overloadLimit} {
		l.every = 10 * time.Second
	}
	s.libLimit.every = time.Second
	s.libLog = log.New(libLogWriter{s}, "", 0)
	if err := s.SetClients(cfg.Clients); err != nil {
		return nil, err
	}
	return s, nil
}

func fillDefaults(c *Config) {
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur(&c.ReplyCacheTTL, 30*time.Second)
	defDur(&c.ChallengeTTL, 120*time.Second)
	defDur(&c.RequestTimeout, 5*time.Second)
	defInt(&c.MaxInFlight, 64)
	defInt(&c.ReplyCacheSize, 65536)
	defInt(&c.MaxChallenges, 10000)
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// SetClients validates clients like New and replaces the client table
// atomically: a datagram is matched against either the old or the new
// table, never a mixture. On error the old table stays. An MAAuto client
// keeps its "Message-Authenticator seen" state across the swap when name
// and secret are unchanged.
func (s *Server) SetClients(clients []Client) error {
	t, err := newClientTable(clients, s.clients.Load())
	if err != nil {
		return err
	}
	s.clients.Store(t)
	return nil
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// count records ev.
func (s *Server) count(ev event) {
	s.stats[ev].Add(1)
	if s.onEvent != nil {
		s.onEvent(ev)
	}
}

// Serve answers datagrams read from pc until ctx is cancelled or reading
// fails. On cancellation it stops reading, lets the requests in flight
// finish and send their replies (waiting at most RequestTimeout plus one
// second), closes pc and returns nil. A read error (including pc being
// closed by someone else) is returned after the same drain. Serve always
// closes pc.
func (s *Server) Serve(ctx context.Context, pc net.PacketConn) error {
	conn := &drainConn{PacketConn: pc, onClose: func() { s.count(evSocketClosed) }}
	ps := &radius.PacketServer{
		SecretSource: secretSource{s},
		Handler: radius.HandlerFunc(func(_ radius.ResponseWriter, r *radius.Request) {
			s.serveDatagram(pc, r)
		}),
		ErrorLog: s.libLog,
	}
	served := make(chan error, 1)
	go func() { served <- ps.Serve(conn) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
		s.log.Error("radiussrv: serve stopped", "err", err)
	}
	drain, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout+time.Second)
	defer cancel()
	if derr := ps.Shutdown(drain); derr != nil {
		s.log.Warn("radiussrv: requests still running after the drain timeout", "err", derr)
	}
	if err == nil {
		err = <-served
	}
	pc.Close()
	if errors.Is(err, radius.ErrServerShutdown) { // only our Shutdown causes it
		return nil
	}
	return fmt.Errorf("radiussrv: serve: %w", err)
}

// serveDatagram is the library's handler: bounded concurrency, panic
// recovery, the request path, and the write of the reply to the real
// socket (still open during a drain).
func (s *Server) serveDatagram(pc net.PacketConn, r *radius.Request) {
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	default:
		s.count(evOverload)
		if n, ok := s.overloadLimit.allow(); ok {
			s.log.Warn("radiussrv: overloaded, dropping requests", "max_in_flight", s.cfg.MaxInFlight, "suppressed", n)
		}
		return
	}
	defer func() {
		if v := recover(); v != nil {
			s.count(evPanic)
			s.log.Error("radiussrv: panic in request path", "remote", r.RemoteAddr.String(), "panic", fmt.Sprint(v))
		}
	}()
	src, ok := addrPort(r.RemoteAddr)
	if !ok {
		s.count(evMalformed)
		return
	}
	raw, err := r.Packet.MarshalBinary() // the exact received bytes (findings §1)
	if err != nil {
		s.count(evMalformed)
		return
	}
	if reply := s.handlePacket(r.Context(), raw, src); reply != nil {
		if _, err := pc.WriteTo(reply, r.RemoteAddr); err != nil {
			s.log.Warn("radiussrv: write reply", "remote", src.String(), "err", err)
		}
	}
}

// secretSource gives the library the shared secret of the datagram's
// client. Unknown sources get no secret, which makes the library drop the
// datagram.
type secretSource struct{ s *Server }

func (src secretSource) RADIUSSecret(_ context.Context, remote net.Addr) ([]byte, error) {
	s := src.s
	ap, ok := addrPort(remote)
	var c *clientEntry
	if ok {
		c = s.clients.Load().lookup(ap.Addr())
	}
	if c == nil {
		s.unknownClient(remote.String())
		return nil, nil
	}
	return c.secret, nil
}

func (s *Server) unknownClient(remote string) {
	s.count(evUnknownClient)
	if n, ok := s.unknownLimit.allow(); ok {
		s.log.Warn("radiussrv: datagram from unknown client dropped", "remote", remote, "suppressed", n)
	}
}

// libLogWriter receives the library's ErrorLog lines. Each line but the
// unknown-client one (already counted) is a datagram the library dropped
// as malformed; the lines themselves are rate-limited.
type libLogWriter struct{ s *Server }

func (w libLogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	switch {
	case strings.Contains(line, "empty secret returned"):
		return len(p), nil
	case strings.Contains(line, "packet validation failed"), strings.Contains(line, "unable to parse packet"):
		w.s.count(evMalformed)
	}
	if n, ok := w.s.libLimit.allow(); ok {
		w.s.log.Warn("radiussrv: library", "detail", line, "suppressed", n)
	}
	return len(p), nil
}

// drainConn is handed to the library's Serve so that its Shutdown only
// stops reading: Close sets a flag and a past read deadline, the real
// socket stays open for in-flight replies and Serve closes it last.
type drainConn struct {
	net.PacketConn
	closed  atomic.Bool
	onClose func()
}

func (c *drainConn) ReadFrom(b []byte) (int, net.Addr, error) {
	if c.closed.Load() {
		return 0, nil, net.ErrClosed
	}
	n, addr, err := c.PacketConn.ReadFrom(b)
	if err != nil && c.closed.Load() {
		return 0, nil, net.ErrClosed
	}
	return n, addr, err
}

func (c *drainConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := c.PacketConn.SetReadDeadline(time.Now())
	c.onClose()
	return err
}
