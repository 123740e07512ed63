package radiussrv

import (
	"context"
	"net/netip"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/otpgate/otpgate/verify"
)

// Texts sent to users. They never say why a request was refused.
const (
	challengeMessage = "Enter your one-time password"
	rejectMessage    = "Authentication failed"
)

// reasonBadState labels the refusal of an Access-Request whose State was
// not an outstanding challenge; the engine is not called for it.
const reasonBadState verify.Reason = "bad-state"

// access decides an Access-Request whose integrity was checked and returns
// the reply (nil: no reply) and the event that counts it.
func (s *Server) access(ctx context.Context, c *clientEntry, pkt *radius.Packet, src netip.AddrPort) (*radius.Packet, event) {
	user := rfc2865.UserName_GetString(pkt)
	log := s.log.With("client", c.Name, "remote", src.String(), "service", c.Service, "user", user)
	stage := verify.StageFull
	if c.Challenge {
		stage = verify.StageChallengeable
		// RFC 2865 §4.4: the answer to a challenge echoes its State.
		if state, ok := pkt.Lookup(rfc2865.State_Type); ok {
			binding := challengeBinding{user: user, client: c.Name, service: c.Service}
			if !s.states.redeem(state, binding, s.cfg.Now()) {
				s.count(evStateReject)
				log.Warn("radiussrv: State is unknown, expired, used or bound to another login; rejected")
				return s.reply(pkt, c, user, verify.Decision{Outcome: verify.Reject, Reason: reasonBadState})
			}
			stage = verify.StageOTP
		}
	}
	password, err := rfc2865.UserPassword_Lookup(pkt)
	if user == "" || err != nil {
		// No PAP password (CHAP, EAP) or a bad User-Password length.
		log.Info("radiussrv: request without a usable User-Name and User-Password; rejected")
		return s.reply(pkt, c, user, verify.Decision{Outcome: verify.Reject, Reason: verify.ReasonBadRequest})
	}
	req := verify.Request{
		User: user, Password: verify.Secret(password), Service: c.Service,
		Protocol: verify.ProtoRADIUS, Client: src.Addr(), Stage: stage,
	}
	// A shutdown must not abort the engine's store writes (replay state,
	// failure count), so the call gets its own deadline instead.
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RequestTimeout)
	defer cancel()
	return s.reply(pkt, c, user, s.auth.Verify(ectx, req))
}

// reply is the one mapping from an engine decision to RADIUS: Accept →
// Access-Accept with the client's reply attributes; Reject →
// Access-Reject with a generic Reply-Message; Challenge → Access-Challenge
// with a fresh State (RFC 2865 §4.4); Unavailable → no reply, so that the
// NAS fails over to another server. A nil packet means no reply.
func (s *Server) reply(req *radius.Packet, c *clientEntry, user string, dec verify.Decision) (*radius.Packet, event) {
	switch dec.Outcome {
	case verify.Accept:
		resp := req.Response(radius.CodeAccessAccept)
		if c.ReplyClass != "" {
			_ = rfc2865.Class_SetString(resp, c.ReplyClass) // length checked in New
		}
		if c.ReplyMessage != "" {
			_ = rfc2865.ReplyMessage_SetString(resp, c.ReplyMessage)
		}
		return resp, evAccept
	case verify.Challenge:
		if c.Challenge {
			return s.challenge(req, c, user)
		}
		s.log.Error("radiussrv: engine challenged a client without challenges; rejected", "client", c.Name)
	case verify.Unavailable:
		s.count(evUnavailable)
		return nil, evUnavailable
	}
	resp := req.Response(radius.CodeAccessReject)
	_ = rfc2865.ReplyMessage_SetString(resp, rejectMessage)
	return resp, evReject
}

// challenge builds an Access-Challenge with a new State bound to user,
// client and service. If no State can be made, nothing is sent.
func (s *Server) challenge(req *radius.Packet, c *clientEntry, user string) (*radius.Packet, event) {
	binding := challengeBinding{user: user, client: c.Name, service: c.Service}
	state, evicted, err := s.states.issue(binding, s.cfg.Now())
	if err != nil {
		s.log.Error("radiussrv: cannot issue a challenge", "client", c.Name, "err", err)
		s.count(evUnavailable)
		return nil, evUnavailable
	}
	if evicted > 0 {
		s.log.Warn("radiussrv: challenge table full, oldest challenge forgotten", "max", s.cfg.MaxChallenges)
	}
	s.count(evChallenge)
	resp := req.Response(radius.CodeAccessChallenge)
	_ = rfc2865.State_Set(resp, state)
	_ = rfc2865.ReplyMessage_SetString(resp, challengeMessage)
	return resp, evChallengeReply
}
