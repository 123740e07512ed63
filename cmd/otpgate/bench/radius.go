package bench

import (
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"fmt"
	"net"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/otpgate/otpgate/verify"
)

// radiusClient is one worker's RADIUS client: its own connected UDP socket
// (so its own source port) and an Identifier that advances with every
// request, so that no request is mistaken by the server for a retransmit
// of the previous one. It sends each request once: a lost datagram is a
// timeout, not a retransmit.
type radiusClient struct {
	conn    *net.UDPConn
	secret  []byte
	timeout time.Duration
	id      byte
	buf     []byte
}

func newRADIUSClient(o *Options) (*radiusClient, error) {
	raddr, err := net.ResolveUDPAddr("udp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("radius: %w", err)
	}
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, fmt.Errorf("radius: %w", err)
	}
	return &radiusClient{conn: conn, secret: []byte(o.Secret.Reveal()), timeout: o.Timeout,
		buf: make([]byte, radius.MaxPacketLength)}, nil
}

func (c *radiusClient) Close() error { return c.conn.Close() }

// accessRequest builds a PAP Access-Request for user and password with a
// Message-Authenticator as its last attribute.
func (c *radiusClient) accessRequest(user string, password verify.Secret) ([]byte, error) {
	p := radius.New(radius.CodeAccessRequest, c.secret)
	c.id++
	p.Identifier = c.id
	if err := rfc2865.UserName_SetString(p, user); err != nil {
		return nil, err
	}
	if err := rfc2865.UserPassword_SetString(p, password.Reveal()); err != nil {
		return nil, err
	}
	p.Add(rfc2869.MessageAuthenticator_Type, make([]byte, 16))
	wire, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	// RFC 3579 §3.2: HMAC-MD5 over the packet with the Message-Authenticator
	// zeroed; it is the last attribute, so its value is the last 16 bytes.
	mac := hmac.New(md5.New, c.secret)
	mac.Write(wire)
	mac.Sum(wire[len(wire)-16 : len(wire)-16])
	return wire, nil
}

// do sends one Access-Request and classifies the answer.
func (c *radiusClient) do(user string, password verify.Secret) outcome {
	wire, err := c.accessRequest(user, password)
	if err != nil {
		return outcomeError
	}
	// The request timeout alone bounds the wait: a request in flight when
	// the run ends is finished, not counted as a timeout.
	if err := c.conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return outcomeError
	}
	if _, err := c.conn.Write(wire); err != nil {
		return classifyNetErr(err)
	}
	for {
		n, err := c.conn.Read(c.buf)
		if err != nil {
			return classifyNetErr(err)
		}
		// A late reply to an earlier, timed-out request has another
		// Identifier or does not authenticate against this request.
		reply := c.buf[:n]
		if n < 20 || reply[1] != wire[1] || !radius.IsAuthenticResponse(reply, wire, c.secret) {
			continue
		}
		switch radius.Code(reply[0]) {
		case radius.CodeAccessAccept:
			return outcomeAccept
		case radius.CodeAccessReject, radius.CodeAccessChallenge:
			return outcomeReject
		}
		return outcomeError
	}
}

// classifyNetErr tells a timeout from other network errors.
func classifyNetErr(err error) outcome {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return outcomeTimeout
	}
	return outcomeError
}
