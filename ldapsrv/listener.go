package ldapsrv

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Accept back-off after a failed Accept (EMFILE, ENFILE, ECONNABORTED...).
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

// guardListener is what the library's Serve accepts from. Its Accept never
// fails except with net.ErrClosed: the library's accept loop stops for
// good on any error, so transient errors are retried here with back-off.
// It enforces the connection caps and tracks live connections so that
// shutdown can close them.
type guardListener struct {
	s           *Server
	ln          net.Listener
	implicitTLS bool
	ctx         context.Context // not cancelled by shutdown; for engine calls

	done      chan struct{}
	closeOnce sync.Once
	dead      chan struct{} // closed when ln failed for good
	deadOnce  sync.Once
	deadErr   error
	exited    chan struct{} // closed once Accept has returned net.ErrClosed
	exitOnce  sync.Once

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[*guardConn]struct{}
}

func newGuardListener(s *Server, ln net.Listener, implicitTLS bool, ctx context.Context) *guardListener {
	return &guardListener{s: s, ln: ln, implicitTLS: implicitTLS, ctx: ctx,
		done: make(chan struct{}), dead: make(chan struct{}), exited: make(chan struct{}), conns: map[*guardConn]struct{}{}}
}

// Accept returns the next admitted connection or net.ErrClosed.
func (l *guardListener) Accept() (net.Conn, error) {
	c, err := l.accept()
	if err != nil {
		l.exitOnce.Do(func() { close(l.exited) })
	}
	return c, err
}

func (l *guardListener) accept() (net.Conn, error) {
	backoff := minAcceptBackoff
	for {
		raw, err := l.ln.Accept()
		if err != nil {
			if l.isClosed() {
				return nil, net.ErrClosed
			}
			if errors.Is(err, net.ErrClosed) {
				l.fail(err)
				return nil, net.ErrClosed
			}
			l.s.warn("ldap: accept failed; retrying", "addr", l.ln.Addr().String(), "err", err, "backoff", backoff)
			select {
			case <-time.After(backoff):
			case <-l.done:
				return nil, net.ErrClosed
			}
			backoff = min(2*backoff, maxAcceptBackoff)
			continue
		}
		backoff = minAcceptBackoff
		if c := l.admit(raw); c != nil {
			return c, nil
		}
	}
}

func (l *guardListener) fail(err error) {
	l.deadOnce.Do(func() {
		l.deadErr = err
		close(l.dead)
	})
}

func (l *guardListener) isClosed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// Close stops accepting; live connections stay until drain.
func (l *guardListener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.ln.Close()
	})
	return err
}

// Addr returns the underlying listener's address.
func (l *guardListener) Addr() net.Addr { return l.ln.Addr() }

// admit applies the connection caps and wraps raw, or closes it.
func (l *guardListener) admit(raw net.Conn) *guardConn {
	addr := remoteAddr(raw)
	if !l.s.acquire(addr) {
		l.s.warn("ldap: connection refused by cap", "remote", addr.String())
		raw.Close()
		return nil
	}
	c := newGuardConn(l, raw, addr)
	l.mu.Lock()
	l.conns[c] = struct{}{}
	l.wg.Add(1)
	l.mu.Unlock()
	if l.isClosed() { // lost the race with shutdown
		c.Close()
		return nil
	}
	return c
}

func (l *guardListener) forget(c *guardConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	l.wg.Done()
}

func (l *guardListener) snapshot() []*guardConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*guardConn, 0, len(l.conns))
	for c := range l.conns {
		out = append(out, c)
	}
	return out
}

// drain makes every connection end after its current operation, waits up
// to timeout, then closes whatever is left.
func (l *guardListener) drain(timeout time.Duration) {
	for _, c := range l.snapshot() {
		c.stopReading()
	}
	finished := make(chan struct{})
	go func() {
		l.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		return
	case <-time.After(timeout):
	}
	for _, c := range l.snapshot() {
		c.Close()
	}
	<-finished
}

// remoteAddr returns the client address of c without zone or v4-in-v6
// mapping; the zero Addr if it is not an IP connection.
func remoteAddr(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	return netip.Addr{}
}

// acquire counts a new connection from addr against MaxConns and
// MaxConnsPerIP.
func (s *Server) acquire(addr netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := addr.String()
	if s.total >= s.cfg.MaxConns || s.perIP[key] >= s.cfg.MaxConnsPerIP {
		s.rejected++
		return false
	}
	s.total++
	s.perIP[key]++
	return true
}

func (s *Server) release(addr netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := addr.String()
	s.total--
	if s.perIP[key]--; s.perIP[key] <= 0 {
		delete(s.perIP, key)
	}
}

// Stats is a snapshot of the listener's connection counters.
type Stats struct {
	ConnsOpen     int    // connections open now (all listeners of s)
	ConnsRejected uint64 // connections refused by MaxConns or MaxConnsPerIP
}

// Stats returns the current counters; safe for concurrent use.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{ConnsOpen: s.total, ConnsRejected: s.rejected}
}
