package adminapi

import (
	"net/http"
	"net/netip"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

type tokenList struct {
	Tokens []manage.TokenInfo `json:"tokens"`
}

func (a *api) listTokens(r *http.Request) (reply, error) {
	toks, err := a.manager.ListTokens(r.Context(), r.PathValue("name"))
	if err != nil {
		return reply{}, err
	}
	return ok(tokenList{Tokens: toks}), nil
}

// enrollRequest mirrors manage.EnrollRequest; zero values take the
// configured defaults. The mOTP fields are only for type motp.
type enrollRequest struct {
	Type        string        `json:"type"`
	Digits      int           `json:"digits"`
	Algorithm   string        `json:"algorithm"`
	Period      int           `json:"period"` // seconds
	Description string        `json:"description"`
	MOTPSecret  verify.Secret `json:"motp_secret"`
	MOTPPIN     verify.Secret `json:"motp_pin"`
}

// enrollResult is the only answer that ever holds a token secret: URI is
// the otpauth:// Key URI (HOTP/TOTP; absent for mOTP).
type enrollResult struct {
	Serial string           `json:"serial"`
	URI    string           `json:"uri,omitempty"`
	Token  manage.TokenInfo `json:"token"`
}

// enroll creates a pending token; it becomes active after a successful
// test. 201 with the URI, which no later answer repeats.
func (a *api) enroll(r *http.Request) (reply, error) {
	var req enrollRequest
	if err := decode(r, &req, false); err != nil {
		return reply{}, err
	}
	en, err := a.manager.Enroll(r.Context(), r.PathValue("name"), manage.EnrollRequest{
		Type: verify.TokenType(req.Type), Digits: req.Digits, Algorithm: req.Algorithm, Period: req.Period,
		Description: req.Description, MOTPSecret: req.MOTPSecret, MOTPPIN: req.MOTPPIN})
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusCreated, location: userLocation(r.PathValue("name")) + "/tokens",
		body: enrollResult{Serial: en.Token.Serial, URI: en.URI.Reveal(), Token: en.Token}}, nil
}

type testRequest struct {
	OTP verify.Secret `json:"otp"`
}

// decisionResult is a verify.Decision as operators see it (the CLI's
// --json output of "token test" and "token resync").
type decisionResult struct {
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
	Token    string `json:"token,omitempty"`
}

// decisionReply maps a decision to a status: accept 200, reject 422,
// unavailable (a store failure) and anything else 503.
func decisionReply(dec verify.Decision) reply {
	status := http.StatusServiceUnavailable
	switch dec.Outcome {
	case verify.Accept:
		status = http.StatusOK
	case verify.Reject:
		status = http.StatusUnprocessableEntity
	}
	return reply{status: status, body: decisionResult{Decision: dec.Outcome.String(), Reason: string(dec.Reason),
		Token: dec.TokenSerial}}
}

// clientAddr is the peer address for the audit log (zero if unparsable).
func clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// testToken checks one code against the token, consuming it; a pending
// token becomes active on success.
func (a *api) testToken(r *http.Request) (reply, error) {
	var req testRequest
	if err := decode(r, &req, false); err != nil {
		return reply{}, err
	}
	dec := a.manager.TestToken(r.Context(), verify.TokenRequest{User: r.PathValue("name"), Serial: r.PathValue("serial"),
		Protocol: verify.ProtoHTTP, Client: clientAddr(r)}, req.OTP)
	return decisionReply(dec), nil
}

type resyncRequest struct {
	OTP1 verify.Secret `json:"otp1"`
	OTP2 verify.Secret `json:"otp2"`
}

func (a *api) resync(r *http.Request) (reply, error) {
	var req resyncRequest
	if err := decode(r, &req, false); err != nil {
		return reply{}, err
	}
	dec, err := a.manager.Resync(r.Context(), r.PathValue("serial"), req.OTP1, req.OTP2, verify.ProtoHTTP)
	if err != nil {
		return reply{}, err
	}
	return decisionReply(dec), nil
}

// tokenResult answers an operation on one token.
type tokenResult struct {
	Result string `json:"result"`
	Serial string `json:"serial"`
}

func (a *api) enableToken(r *http.Request) (reply, error)  { return a.setEnabled(r, true, "enabled") }
func (a *api) disableToken(r *http.Request) (reply, error) { return a.setEnabled(r, false, "disabled") }

func (a *api) setEnabled(r *http.Request, enabled bool, result string) (reply, error) {
	if err := decode(r, &struct{}{}, true); err != nil {
		return reply{}, err
	}
	serial := r.PathValue("serial")
	if err := a.manager.SetTokenEnabled(r.Context(), serial, enabled); err != nil {
		return reply{}, err
	}
	return ok(tokenResult{Result: result, Serial: serial}), nil
}

type descriptionRequest struct {
	// Description is required; "" clears it.
	Description *string `json:"description"`
}

func (a *api) describeToken(r *http.Request) (reply, error) {
	var req descriptionRequest
	if err := decode(r, &req, false); err != nil {
		return reply{}, err
	}
	if req.Description == nil {
		return reply{}, badRequest(`field "description" is required ("" clears it)`)
	}
	serial := r.PathValue("serial")
	if err := a.manager.DescribeToken(r.Context(), serial, *req.Description); err != nil {
		return reply{}, err
	}
	return ok(tokenResult{Result: "described", Serial: serial}), nil
}

func (a *api) deleteToken(r *http.Request) (reply, error) {
	serial := r.PathValue("serial")
	if err := a.manager.DeleteToken(r.Context(), serial); err != nil {
		return reply{}, err
	}
	return ok(tokenResult{Result: "deleted", Serial: serial}), nil
}
