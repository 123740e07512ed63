package ldapsrv

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// guardConn is the net.Conn the library reads from. Read hands the library
// only whole, validated messages with controls stripped, one at a time;
// searches, extended operations and abandons are answered here and never
// reach the library. This is safe because the library reads the next
// message only after it has written every reply to the previous one.
//
// All fields except mu-guarded ones are used only by the connection's
// goroutine (the library's handleConnection), which also runs Bind.
type guardConn struct {
	l      *guardListener
	base   net.Conn // the accepted TCP connection
	remote netip.Addr

	mu       sync.Mutex
	raw      net.Conn // base, or a *tls.Conn over it
	draining bool

	tlsActive     bool
	needHandshake bool
	// rd buffers reads from rdOf (the raw connection it was made for), so
	// that a message costs one read from the socket rather than one per
	// header field.
	rd        *bufio.Reader
	rdOf      net.Conn
	pending   []byte
	id        identity
	closeOnce sync.Once
}

func newGuardConn(l *guardListener, raw net.Conn, addr netip.Addr) *guardConn {
	c := &guardConn{l: l, base: raw, raw: raw, remote: addr}
	if l.implicitTLS {
		c.raw = tls.Server(raw, l.s.tls)
		c.tlsActive, c.needHandshake = true, true
	}
	return c
}

// readBufferSize is the read buffer of a connection: a bind request is
// well under it; a longer message is read past it.
const readBufferSize = 512

// errUnbind ends the connection after an UnbindRequest (RFC 4511 §4.3).
var errUnbind = errors.New("unbind")

// Read implements net.Conn for the library. Any failure, including invalid
// input, is reported as io.EOF so that the library closes the connection
// quietly; the guard has logged the reason.
// A panic anywhere in the guard closes this connection only.
func (c *guardConn) Read(p []byte) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.l.s.log.Error("ldap: guard panicked", "remote", c.remote.String(), "panic", r)
			n, err = 0, io.EOF
		}
	}()
	for len(c.pending) == 0 {
		if err := c.next(); err != nil {
			c.logEnd(err)
			return 0, io.EOF
		}
	}
	n = copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// next reads and validates one message and either queues it for the
// library or answers it.
func (c *guardConn) next() error {
	if c.needHandshake {
		if err := c.handshake(c.current()); err != nil {
			return err
		}
		c.needHandshake = false
	}
	frame, err := c.readFrame()
	if err != nil {
		return err
	}
	m, err := parseMessage(frame, c.l.s.cfg.MaxDepth)
	if err != nil {
		return err
	}
	return c.dispatch(m)
}

func (c *guardConn) dispatch(m message) error {
	s := c.l.s
	switch m.op.ident {
	case opUnbindRequest:
		return errUnbind
	case opAbandonRequest:
		// RFC 4511 §4.11: no response. Operations run one at a time, so
		// there is never anything outstanding to abandon.
		return nil
	case opBindRequest:
		// RFC 4511 §4.2.1: a bind that fails, in any way, leaves the
		// connection anonymous; Bind sets the identity on success.
		c.id = identity{}
		if m.unsupportedCritical() {
			return c.reply(result(m.id, opBindResponse, codeUnavailableCriticalExtension, ""))
		}
		c.pending = m.withoutControls()
		return nil
	case opSearchRequest:
		return c.reply(s.search(c, m)...)
	case opExtendedRequest:
		return c.extended(m)
	}
	return invalidf("operation %#x", m.op.ident) // unreachable: parseMessage allows only the above
}

// readFrame reads one message with the idle deadline for its first octet
// and the message deadline for the rest.
func (c *guardConn) readFrame() ([]byte, error) {
	cfg := c.l.s.cfg
	c.mu.Lock()
	if c.draining {
		c.mu.Unlock()
		return nil, errDraining
	}
	raw := c.raw
	_ = raw.SetReadDeadline(time.Now().Add(cfg.IdleTimeout))
	c.mu.Unlock()
	if c.rdOf != raw {
		c.rd, c.rdOf = bufio.NewReaderSize(raw, readBufferSize), raw
	}
	return readFrame(c.rd, cfg.MaxMessageSize, func() {
		c.mu.Lock()
		if !c.draining {
			_ = raw.SetReadDeadline(time.Now().Add(cfg.MessageTimeout))
		}
		c.mu.Unlock()
	})
}

var errDraining = errors.New("server shutting down")

// reply writes whole responses to the client.
func (c *guardConn) reply(frames ...[]byte) error {
	for _, f := range frames {
		if _, err := c.Write(f); err != nil {
			return err
		}
	}
	return nil
}

func (c *guardConn) current() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raw
}

// handshake runs a server TLS handshake within MessageTimeout.
func (c *guardConn) handshake(raw net.Conn) error {
	tc, ok := raw.(*tls.Conn)
	if !ok {
		return errors.New("not a tls connection")
	}
	c.mu.Lock()
	if c.draining {
		c.mu.Unlock()
		return errDraining
	}
	_ = tc.SetDeadline(time.Now().Add(c.l.s.cfg.MessageTimeout))
	c.mu.Unlock()
	if err := tc.HandshakeContext(c.l.ctx); err != nil {
		return err
	}
	return tc.SetDeadline(time.Time{})
}

// startTLS switches the connection to TLS after the StartTLS response has
// been written (RFC 4511 §4.14.2, RFC 4513 §3).
func (c *guardConn) startTLS() error {
	if c.rd != nil && c.rd.Buffered() > 0 {
		// RFC 4511 §4.14.1: nothing may follow the request before the
		// response; those bytes would be plaintext read as TLS.
		return invalidf("data after the StartTLS request")
	}
	c.mu.Lock()
	tc := tls.Server(c.raw, c.l.s.tls)
	c.raw = tc
	c.mu.Unlock()
	if err := c.handshake(tc); err != nil {
		return err
	}
	c.tlsActive = true
	return nil
}

// Write writes p within MessageTimeout.
func (c *guardConn) Write(p []byte) (int, error) {
	raw := c.current()
	_ = raw.SetWriteDeadline(time.Now().Add(c.l.s.cfg.MessageTimeout))
	return raw.Write(p)
}

// stopReading makes the connection end before its next message: a Read
// in progress is interrupted, an operation in progress completes.
func (c *guardConn) stopReading() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining = true
	_ = c.raw.SetReadDeadline(time.Unix(1, 0))
}

// Close closes the connection once and releases its slot.
func (c *guardConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		err = c.base.Close()
		c.l.s.release(c.remote)
		c.l.forget(c)
	})
	return err
}

func (c *guardConn) logEnd(err error) {
	switch {
	case errors.Is(err, errInvalid):
		c.l.s.warn("ldap: closing connection on invalid input", "remote", c.remote.String(), "err", err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.l.s.debug("ldap: closing connection on timeout", "remote", c.remote.String())
	}
}

// LocalAddr implements net.Conn.
func (c *guardConn) LocalAddr() net.Addr { return c.base.LocalAddr() }

// RemoteAddr implements net.Conn.
func (c *guardConn) RemoteAddr() net.Addr { return c.base.RemoteAddr() }

// SetDeadline implements net.Conn; the guard manages deadlines itself.
func (c *guardConn) SetDeadline(time.Time) error { return nil }

// SetReadDeadline implements net.Conn; the guard manages deadlines itself.
func (c *guardConn) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline implements net.Conn; the guard manages deadlines itself.
func (c *guardConn) SetWriteDeadline(time.Time) error { return nil }
