package verify

import (
	"context"
	"errors"
	"net/netip"

	"github.com/otpgate/otpgate/verify/otp"
)

// TokenRequest names one token of one user for TestToken and Resync.
type TokenRequest struct {
	User     string
	Serial   string
	Protocol Protocol
	Client   netip.Addr
}

// TestToken checks code against the user's token serial alone (pending or
// active; it must be enabled), consuming the code like a login would. On
// success a pending token becomes active: this is the "perform OTP test,
// then save" step of enrollment. The decision is audited with op
// "token-test"; failures do not count towards the user's back-off.
func (e *Engine) TestToken(ctx context.Context, tr TokenRequest, code Secret) (dec Decision) {
	start := e.now()
	req := Request{User: tr.User, Protocol: tr.Protocol, Client: tr.Client}
	defer func() { e.record("token-test", req, dec, start) }()

	tok, bad := e.findToken(ctx, tr)
	if bad != nil {
		return *bad
	}
	dec = Decision{Outcome: Reject, Reason: ReasonBadOTP, TokenSerial: tok.Serial}
	if !tok.Enabled {
		dec.Reason = ReasonDisabled
		return dec
	}
	if !fits(&tok, code.Reveal()) {
		return dec
	}
	m, ok := e.matchToken(&tok, code.Reveal(), start)
	if !ok {
		return dec
	}
	if dec = e.consume(ctx, nil, m, start); dec.Outcome != Accept || !tok.Pending {
		return dec
	}
	if err := e.store.ActivateToken(ctx, tok.ID); err != nil {
		e.log.Error("verify: activate token", "token", tok.Serial, "err", err)
		return Decision{Outcome: Unavailable, Reason: ReasonStoreError, TokenSerial: tok.Serial}
	}
	return dec
}

// Resync re-aligns an HOTP token whose counter fell behind the device: it
// searches ResyncWindow counters from next_counter for two consecutive
// codes first, second and sets next_counter past the second.
func (e *Engine) Resync(ctx context.Context, tr TokenRequest, first, second Secret) (dec Decision) {
	start := e.now()
	req := Request{User: tr.User, Protocol: tr.Protocol, Client: tr.Client}
	defer func() { e.record("token-resync", req, dec, start) }()

	tok, bad := e.findToken(ctx, tr)
	if bad != nil {
		return *bad
	}
	dec = Decision{Outcome: Reject, Reason: ReasonBadOTP, TokenSerial: tok.Serial}
	if tok.Type != TypeHOTP || !fits(&tok, first.Reveal()) || !fits(&tok, second.Reveal()) {
		return dec
	}
	g, err := otp.NewGenerator(tok.Key, otp.Algorithm(tok.Algorithm), tok.Digits)
	if err != nil {
		return dec
	}
	c, ok := g.MatchSequence([]byte(first.Reveal()), []byte(second.Reveal()), tok.NextCounter, e.tokens.ResyncWindow)
	if !ok {
		return dec
	}
	return e.consume(ctx, nil, match{token: &tok, counter: c}, start)
}

// findToken loads the user's token by serial.
func (e *Engine) findToken(ctx context.Context, tr TokenRequest) (Token, *Decision) {
	u, err := e.store.UserByName(ctx, tr.User)
	if errors.Is(err, ErrNotFound) {
		return Token{}, &Decision{Outcome: Reject, Reason: ReasonUnknownUser}
	}
	if err != nil {
		e.log.Error("verify: user lookup failed", "user", tr.User, "err", err)
		return Token{}, &Decision{Outcome: Unavailable, Reason: ReasonStoreError}
	}
	all, err := e.store.Tokens(ctx, u.ID)
	if err != nil {
		e.log.Error("verify: token lookup failed", "user", tr.User, "err", err)
		return Token{}, &Decision{Outcome: Unavailable, Reason: ReasonStoreError}
	}
	for _, t := range all {
		if t.Serial == tr.Serial {
			return t, nil
		}
	}
	return Token{}, &Decision{Outcome: Reject, Reason: ReasonNoToken, TokenSerial: tr.Serial}
}
