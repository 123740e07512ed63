package radiussrv

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"net"
	"net/netip"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
)

// maLen is the length of a Message-Authenticator value (RFC 2869 §5.14).
const maLen = md5.Size

// handlePacket runs one datagram from src through the request path: client
// lookup, parse, integrity checks, reply cache, engine, reply encoding. It
// returns the encoded reply, or nil when nothing must be sent. It is the
// whole per-packet path without a socket (used by the fuzz test); it does
// not recover panics and does not bound concurrency, Serve does.
func (s *Server) handlePacket(ctx context.Context, raw []byte, src netip.AddrPort) []byte {
	c, pkt := s.admit(raw, src)
	if pkt == nil {
		return nil
	}
	return s.answer(ctx, c, pkt, src)
}

// admit is the cheap first half of the request path, run by the reader
// before a datagram takes a worker: client lookup, parse, code and
// integrity checks. It returns a nil packet for a datagram to drop (and
// counts why). The packet's attributes refer to raw.
func (s *Server) admit(raw []byte, src netip.AddrPort) (*clientEntry, *radius.Packet) {
	c := s.clients.Load().lookup(src.Addr())
	if c == nil {
		s.unknownClient(src.String())
		return nil, nil
	}
	pkt, err := radius.Parse(raw, c.secret)
	if err != nil {
		s.count(evMalformed)
		return nil, nil
	}
	if pkt.Code != radius.CodeAccessRequest && pkt.Code != radius.CodeStatusServer {
		s.count(evMalformed)
		return nil, nil
	}
	if !s.checkIntegrity(c, pkt, src) {
		return nil, nil
	}
	return c, pkt
}

// answer is the second half: the reply to an admitted packet, or nil.
func (s *Server) answer(ctx context.Context, c *clientEntry, pkt *radius.Packet, src netip.AddrPort) []byte {
	if pkt.Code == radius.CodeStatusServer {
		// RFC 5997 §3: answer Status-Server with Access-Accept (with a
		// Message-Authenticator). It is cheap, so it bypasses the cache.
		return s.encode(c, pkt.Response(radius.CodeAccessAccept), evStatusReply)
	}
	return s.cachedAccess(ctx, c, pkt, src)
}

// cachedAccess answers an Access-Request through the reply cache: a
// retransmit gets the bytes sent before, a copy of a request still in
// progress is dropped, anything else goes to the engine.
func (s *Server) cachedAccess(ctx context.Context, c *clientEntry, pkt *radius.Packet, src netip.AddrPort) (reply []byte) {
	key := cacheKey{src: src, id: pkt.Identifier, auth: pkt.Authenticator}
	cached, status := s.cache.begin(key, s.cfg.Now())
	switch status {
	case cacheHit:
		s.count(evCacheHit)
		return cached
	case cacheBusy:
		s.count(evInFlight)
		return nil
	}
	defer func() { s.cache.finish(key, reply, s.cfg.Now()) }()
	resp, ev := s.access(ctx, c, pkt, src)
	if resp == nil {
		return nil
	}
	return s.encode(c, resp, ev)
}

// checkIntegrity applies the Message-Authenticator rules and counts the
// cause of a drop. Invalid packets are dropped silently: a reply to a forged
// packet would make us an amplifier.
func (s *Server) checkIntegrity(c *clientEntry, pkt *radius.Packet, src netip.AddrPort) bool {
	ma, n := messageAuthenticator(pkt)
	switch {
	case n > 1 || (n == 1 && len(ma) != maLen):
		// RFC 3579 §3.2: at most one Message-Authenticator, 16 octets.
		s.count(evMalformed)
		return false
	case n == 1:
		if !hmac.Equal(ma, requestMAC(pkt, c.secret)) {
			s.badAuthenticator(c, src)
			return false
		}
		if c.RequireMA == MAAuto && c.seenMA.CompareAndSwap(false, true) {
			s.log.Info("radiussrv: client sends Message-Authenticator, now requiring it", "client", c.Name)
		}
		return true
	case pkt.Code == radius.CodeStatusServer:
		// RFC 5997 §3: Status-Server MUST carry a Message-Authenticator.
		s.count(evMissingMA)
		return false
	case hasAttr(pkt, rfc2865.ProxyState_Type):
		// BlastRADIUS (CVE-2024-3596): the forged response rides on
		// Proxy-State; never accept it unauthenticated.
		s.count(evProxyStateNoMA)
		return false
	case c.requiresMA():
		s.count(evMissingMA)
		return false
	}
	return true
}

// badAuthenticator records an invalid Message-Authenticator. With a
// well-behaved NAS this means the shared secrets differ, so say so.
func (s *Server) badAuthenticator(c *clientEntry, src netip.AddrPort) {
	s.count(evBadAuthenticator)
	if n, ok := s.badMALimit.allow(); ok {
		s.log.Warn("radiussrv: invalid Message-Authenticator: wrong shared secret or forged packet",
			"client", c.Name, "remote", src.String(), "suppressed", n)
	}
}

// messageAuthenticator returns the first Message-Authenticator value and
// how many there are.
func messageAuthenticator(pkt *radius.Packet) (value []byte, n int) {
	for _, avp := range pkt.Attributes {
		if avp.Type == rfc2869.MessageAuthenticator_Type {
			if n == 0 {
				value = avp.Attribute
			}
			n++
		}
	}
	return value, n
}

func hasAttr(pkt *radius.Packet, t radius.Type) bool {
	_, ok := pkt.Lookup(t)
	return ok
}

// requestMAC computes the Message-Authenticator a request should carry.
// RFC 2869 §5.14: HMAC-MD5 keyed with the shared secret over the whole
// packet with the Message-Authenticator value set to 16 zero octets; for a
// request the authenticator field is the Request Authenticator as received.
// MarshalBinary re-creates the received bytes exactly (findings §1).
func requestMAC(pkt *radius.Packet, secret []byte) []byte {
	zeroed := *pkt
	zeroed.Attributes = make(radius.Attributes, len(pkt.Attributes))
	for i, avp := range pkt.Attributes {
		if avp.Type == rfc2869.MessageAuthenticator_Type {
			avp = &radius.AVP{Type: avp.Type, Attribute: make([]byte, maLen)}
		}
		zeroed.Attributes[i] = avp
	}
	wire, err := zeroed.MarshalBinary()
	if err != nil {
		return nil // cannot happen for a parsed packet; nil never verifies
	}
	mac := hmac.New(md5.New, secret)
	mac.Write(wire)
	return mac.Sum(nil)
}

// encode signs resp and encodes it for the wire, counting ev. RFC 3579
// §3.2: the reply's Message-Authenticator is computed with the Request
// Authenticator in the authenticator field; it goes FIRST among the
// attributes (BlastRADIUS mitigation), and the Response Authenticator is
// computed last, over the final attributes, by Encode. nil on failure.
func (s *Server) encode(c *clientEntry, resp *radius.Packet, ev event) []byte {
	ma := make([]byte, maLen)
	attrs := radius.Attributes{{Type: rfc2869.MessageAuthenticator_Type, Attribute: ma}}
	for _, avp := range resp.Attributes {
		if avp.Type != rfc2869.MessageAuthenticator_Type {
			attrs = append(attrs, avp)
		}
	}
	resp.Attributes = attrs
	wire, err := resp.MarshalBinary()
	if err == nil {
		mac := hmac.New(md5.New, c.secret)
		mac.Write(wire)
		copy(ma, mac.Sum(nil))
		wire, err = resp.Encode()
	}
	if err != nil {
		s.log.Error("radiussrv: encode reply", "client", c.Name, "err", err)
		return nil
	}
	s.count(ev)
	return wire
}

// addrPort converts the library's remote address.
func addrPort(a net.Addr) (netip.AddrPort, bool) {
	udp, ok := a.(*net.UDPAddr)
	if !ok {
		ap, err := netip.ParseAddrPort(a.String())
		return ap, err == nil
	}
	ap := udp.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.IsValid()
}
