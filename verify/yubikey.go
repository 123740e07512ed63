package verify

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/otpgate/otpgate/verify/yubiotp"
)

// RemoteResult is a validation service's verdict on a YubiKey OTP.
type RemoteResult int

// Verdicts of a RemoteValidator.
const (
	RemoteOK       RemoteResult = iota + 1 // valid and now used
	RemoteBadOTP                           // not a valid OTP
	RemoteReplayed                         // valid but used before
)

// RemoteValidator checks YubiKey OTPs of yubicloud tokens with validation
// servers (YubiCloud or a provider's own; backend/ykval). An error means
// no verdict: the engine answers Unavailable.
type RemoteValidator interface {
	ValidateOTP(ctx context.Context, otp string) (RemoteResult, error)
}

// ErrRemoteConfig is wrapped by a RemoteValidator's error when the servers
// refused our credentials (bad signature, unknown client): an operator
// must act, so the engine logs it at error level.
var ErrRemoteConfig = errors.New("validation service configuration error")

// isModhex reports whether s holds only lower-case modhex characters.
func isModhex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("cbdefghijklnrtuv", rune(s[i])) {
			return false
		}
	}
	return true
}

// fitsYubiKey: a YubiKey OTP is the token's public id and 32 modhex
// characters; the public id is not secret, so a plain prefix check is fine.
func fitsYubiKey(t *Token, code string) bool {
	return t.PublicID != "" && len(code) == len(t.PublicID)+yubiotp.TokenLen &&
		strings.HasPrefix(code, t.PublicID) && isModhex(code)
}

// matchYubiKey decrypts and checks a local YubiKey OTP; its counter
// (use counter << 8 | session counter) must exceed the stored one.
func (e *Engine) matchYubiKey(t *Token, code string) (match, bool) {
	f, err := yubiotp.Check(code, yubiotp.Key{PublicID: t.PublicID, PrivateID: t.PrivateID, AESKey: t.Key})
	if err != nil {
		return match{}, false
	}
	counter := int64(f.Counter())
	return match{token: t, step: counter, replay: counter <= t.LastStep}, true
}

// consumeRemote claims the OTP for the token (so it is passed on at most
// once, on any instance), then asks the validation servers.
func (e *Engine) consumeRemote(ctx context.Context, m match, now time.Time) Decision {
	serial := m.token.Serial
	dec := Decision{Outcome: Unavailable, Reason: ReasonStoreError, TokenSerial: serial}
	if e.remote == nil {
		e.log.Error("verify: yubicloud token but no validation servers configured", "token", serial)
		return dec
	}
	won, err := e.store.ClaimOTP(ctx, m.token.ID, m.code, now)
	switch {
	case err != nil:
		e.log.Error("verify: claim of a yubikey otp failed", "token", serial, "err", err)
		return dec
	case !won:
		return Decision{Outcome: Reject, Reason: ReasonReplay, TokenSerial: serial}
	}
	res, err := e.remote.ValidateOTP(ctx, m.code)
	switch {
	case errors.Is(err, ErrRemoteConfig):
		e.log.Error("verify: YUBIKEY VALIDATION MISCONFIGURED: the servers refused our client id or key", "err", err)
		return dec
	case err != nil:
		e.log.Warn("verify: yubikey validation servers unavailable", "err", err)
		return dec
	case res == RemoteOK:
		return Decision{Outcome: Accept, Reason: ReasonOK, TokenSerial: serial}
	case res == RemoteReplayed:
		return Decision{Outcome: Reject, Reason: ReasonReplay, TokenSerial: serial}
	}
	return Decision{Outcome: Reject, Reason: ReasonBadOTP, TokenSerial: serial}
}

// YubiKeyStatus is the verdict of CheckYubiKeyOTP, as the validation
// protocol names it.
type YubiKeyStatus string

// Verdicts of CheckYubiKeyOTP.
const (
	YubiKeyOK           YubiKeyStatus = "OK"
	YubiKeyBadOTP       YubiKeyStatus = "BAD_OTP"
	YubiKeyReplayed     YubiKeyStatus = "REPLAYED_OTP"
	YubiKeyBackendError YubiKeyStatus = "BACKEND_ERROR"
)

// CheckYubiKeyOTP checks a YubiKey OTP alone (no PIN, no policy) against
// the local yubikey token with its public id, consuming it: this is
// otpgate acting as a YubiKey validation server. It shares the replay
// state with logins, so an OTP is accepted once overall. Audited with op
// "yubikey-validate".
func (e *Engine) CheckYubiKeyOTP(ctx context.Context, code string, client string) (status YubiKeyStatus) {
	start := e.now()
	defer func() {
		dec := Decision{Outcome: Reject, Reason: ReasonBadOTP}
		switch status {
		case YubiKeyOK:
			dec = Decision{Outcome: Accept, Reason: ReasonOK}
		case YubiKeyReplayed:
			dec.Reason = ReasonReplay
		case YubiKeyBackendError:
			dec = Decision{Outcome: Unavailable, Reason: ReasonStoreError}
		}
		e.record("yubikey-validate", Request{User: client, Protocol: ProtoHTTP}, dec, start)
	}()
	if len(code) <= yubiotp.TokenLen || !isModhex(code) {
		return YubiKeyBadOTP
	}
	t, err := e.store.TokenByPublicID(ctx, code[:len(code)-yubiotp.TokenLen])
	switch {
	case errors.Is(err, ErrNotFound):
		return YubiKeyBadOTP
	case err != nil:
		e.log.Error("verify: token lookup by public id failed", "err", err)
		return YubiKeyBackendError
	case t.Type != TypeYubiKey || !t.Enabled || t.Pending:
		return YubiKeyBadOTP
	}
	m, ok := e.matchYubiKey(&t, code)
	if !ok {
		return YubiKeyBadOTP
	}
	switch dec := e.consume(ctx, nil, m, start); {
	case dec.Outcome == Accept:
		return YubiKeyOK
	case dec.Reason == ReasonReplay:
		return YubiKeyReplayed
	case dec.Outcome == Unavailable:
		return YubiKeyBackendError
	}
	return YubiKeyBadOTP
}
