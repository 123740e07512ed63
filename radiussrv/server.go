// Package radiussrv is otpgate's RADIUS front-end (RFC 2865 PAP, RFC 2869
// and RFC 3579 Message-Authenticator, RFC 5997 Status-Server, RFC 2865 §4.4
// Access-Challenge) on top of layeh.com/radius. It translates packets into
// verify.Requests and the engine's decisions into replies; it checks no
// credential itself.
//
// What it adds to the library (which parses and encodes packets): the read
// loop and long-lived workers started as needed (bounded concurrency;
// datagrams beyond it are dropped and counted), Message-Authenticator
// checking and signing
// (so a wrong shared secret is detected instead of counting as a failed
// login), a reply cache for retransmits that also drops copies of a
// request still in progress, the challenge State table, panic recovery and
// a shutdown that lets in-flight requests send their replies.
package radiussrv

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
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
	for _, l := range []*rateLimiter{&s.badMALimit, &s.unknownLimit, &s.overloadLimit} {
		l.every = 10 * time.Second
	}
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
//
// One goroutine reads and hands each datagram to a long-lived worker,
// started when none is idle; when MaxInFlight requests are in flight
// already the datagram is dropped and counted. Long-lived workers keep
// their grown stacks: a goroutine per datagram spent about a tenth of the
// server's CPU growing and copying stacks (SQLite's call depth) in a
// profile of integration/bench.
func (s *Server) Serve(ctx context.Context, pc net.PacketConn) error {
	// A datagram that took a place in s.sem goes to an idle worker (the
	// send on the unbuffered work succeeds only then) or to a new one. A
	// socket has at most MaxInFlight workers; with all of them started, a
	// place in s.sem means one has finished its request and is about to
	// take the next, so the send waits for it. Only the reader calls
	// dispatch.
	work := make(chan datagram)
	var workers sync.WaitGroup
	started := 0
	dispatch := func(d datagram) {
		if started == s.cfg.MaxInFlight {
			work <- d
			return
		}
		select {
		case work <- d:
		default:
			started++
			workers.Go(func() {
				for ok := true; ok; d, ok = <-work {
					s.serveDatagram(pc, d)
					<-s.sem
				}
			})
		}
	}
	stop := context.AfterFunc(ctx, func() {
		_ = pc.SetReadDeadline(time.Now()) // wakes the reader
	})
	err := s.readLoop(ctx, pc, dispatch)
	stop()
	s.count(evSocketClosed) // reading has stopped
	close(work)
	drained := make(chan struct{})
	go func() { workers.Wait(); close(drained) }()
	timer := time.NewTimer(s.cfg.RequestTimeout + time.Second)
	defer timer.Stop()
	select {
	case <-drained:
	case <-timer.C:
		s.log.Warn("radiussrv: requests still running after the drain timeout")
	}
	pc.Close()
	if err != nil {
		s.log.Error("radiussrv: serve stopped", "err", err)
		return fmt.Errorf("radiussrv: serve: %w", err)
	}
	return nil
}

// datagram is one admitted packet; buf, which its attributes refer to,
// goes back to bufPool after use.
type datagram struct {
	buf    *[]byte
	client *clientEntry
	pkt    *radius.Packet
	src    netip.AddrPort
}

// bufPool holds receive buffers. 4096 octets is the RADIUS maximum (RFC
// 2865 §3); a longer datagram is truncated and then fails to parse.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

// readLoop reads datagrams, admits them (so that junk, unknown clients and
// forged packets never take a worker) and dispatches each that gets a
// place among the MaxInFlight, until
// ctx is cancelled (it returns nil) or a read fails for another reason
// (it returns the error).
func (s *Server) readLoop(ctx context.Context, pc net.PacketConn, dispatch func(datagram)) error {
	udp, _ := pc.(*net.UDPConn)
	for {
		bp := bufPool.Get().(*[]byte)
		var (
			n   int
			src netip.AddrPort
			err error
		)
		if udp != nil {
			n, src, err = udp.ReadFromUDPAddrPort(*bp)
			src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		} else {
			var addr net.Addr
			n, addr, err = pc.ReadFrom(*bp)
			if err == nil {
				var ok bool
				if src, ok = addrPort(addr); !ok {
					s.count(evMalformed)
					bufPool.Put(bp)
					continue
				}
			}
		}
		if err != nil {
			bufPool.Put(bp)
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		c, pkt := s.admit((*bp)[:n], src)
		if pkt == nil {
			bufPool.Put(bp)
			continue
		}
		select {
		case s.sem <- struct{}{}:
			dispatch(datagram{buf: bp, client: c, pkt: pkt, src: src})
		default:
			bufPool.Put(bp)
			s.count(evOverload)
			if n, ok := s.overloadLimit.allow(); ok {
				s.log.Warn("radiussrv: overloaded, dropping requests", "max_in_flight", s.cfg.MaxInFlight, "suppressed", n)
			}
		}
	}
}

// serveDatagram is one worker's request: panic recovery, the request
// path, and the write of the reply.
func (s *Server) serveDatagram(pc net.PacketConn, d datagram) {
	defer bufPool.Put(d.buf)
	defer func() {
		if v := recover(); v != nil {
			s.count(evPanic)
			s.log.Error("radiussrv: panic in request path", "remote", d.src.String(), "panic", fmt.Sprint(v))
		}
	}()
	reply := s.answer(context.Background(), d.client, d.pkt, d.src)
	if reply == nil {
		return
	}
	var err error
	if udp, ok := pc.(*net.UDPConn); ok {
		_, err = udp.WriteToUDPAddrPort(reply, d.src)
	} else {
		_, err = pc.WriteTo(reply, net.UDPAddrFromAddrPort(d.src))
	}
	if err != nil {
		s.log.Warn("radiussrv: write reply", "remote", d.src.String(), "err", err)
	}
}

func (s *Server) unknownClient(remote string) {
	s.count(evUnknownClient)
	if n, ok := s.unknownLimit.allow(); ok {
		s.log.Warn("radiussrv: datagram from unknown client dropped", "remote", remote, "suppressed", n)
	}
}
