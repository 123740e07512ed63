package selfservice

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// formTypeYubiKey is the enroll form's type value for a YubiKey. It is
// registered as a yubicloud token: its OTPs are checked by the configured
// validation servers (YubiCloud or the provider's own), so the page needs
// no secret from the user, only one OTP for the public id.
const formTypeYubiKey = "yubikey"

// Client-visible texts of the YubiKey enrollment. They never say who
// holds a key already.
const (
	msgYubiKeyTouch      = "Click into the field and touch the button of your YubiKey once."
	msgYubiKeyMalformed  = "This is not a one-time password of a YubiKey. " + msgYubiKeyTouch
	msgYubiKeyRegistered = "This YubiKey is already registered."
	msgYubiKeyWrongType  = "You entered a YubiKey one-time password: choose YubiKey as the token type."
	msgYubiKeyReplay     = "This one-time password has been used before: each one works only once. " +
		"Touch your YubiKey again for a new one."
	msgYubiKeyTestFailed = "The OTP test failed. Click into the field and touch your YubiKey once for a new " +
		"one-time password, or repeat the token setup."
	msgYubiKeyUnavailable = "YubiKey validation is not available right now. Please try again later with a new " +
		"one-time password."
)

// serveEnrollYubiKey registers the YubiKey whose OTP is in the form as a
// pending yubicloud token (manage.AddYubiKey takes the public id from the
// OTP and validates nothing else), then continues like serveEnroll: the
// enrollment page asks for a second, fresh OTP as the test. The OTP given
// here is kept in the session only to refuse it as that test.
func (h *handler) serveEnrollYubiKey(w http.ResponseWriter, r *http.Request, ss session) {
	req := manage.YubiKeyRequest{Remote: true, OTP: verify.Secret(strings.TrimSpace(r.PostForm.Get("yubikey_otp"))),
		Description: strings.TrimSpace(r.PostForm.Get("description"))}
	form := map[string]string{"type": formTypeYubiKey, "description": req.Description}
	if req.OTP.Len() == 0 {
		h.renderHome(w, r, ss, http.StatusUnprocessableEntity, map[string]string{"yubikey_otp": msgYubiKeyTouch}, form)
		return
	}
	h.abandonEnrollment(r.Context(), ss)
	h.sessions.update(ss.key, func(s *session) { s.enroll = nil })
	tok, err := h.cfg.Manager.AddYubiKey(r.Context(), ss.user, req)
	if field, msg := yubiKeyFieldError(err); field != "" {
		h.requestLog(r, ss.user).Info("selfservice: yubikey refused", "err", err)
		h.renderHome(w, r, ss, http.StatusUnprocessableEntity, map[string]string{field: msg}, form)
		return
	}
	if err != nil {
		h.requestLog(r, ss.user).Error("selfservice: add yubikey", "err", err)
		h.renderError(w, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	state := &enrollState{serial: tok.Serial, tokenType: verify.TypeYubiCloud, registeredWith: req.OTP}
	if !h.sessions.update(ss.key, func(s *session) { s.enroll = state }) {
		// The session ended meanwhile (a newer login): drop the token.
		h.abandonEnrollment(r.Context(), session{user: ss.user, enroll: state})
		h.noSession(w, r, ss, sessionNone, http.StatusUnauthorized)
		return
	}
	h.requestLog(r, ss.user).Info("selfservice: token enrolled", "token", tok.Serial, "type", verify.TypeYubiCloud,
		"public_id", tok.PublicID)
	http.Redirect(w, r, Prefix+"enroll", http.StatusSeeOther)
}

// yubiKeyFieldError maps AddYubiKey's refusals to the form field and
// text; field is "" for success and for failures of the service.
func yubiKeyFieldError(err error) (field, msg string) {
	switch {
	case errors.Is(err, manage.ErrInvalid) && strings.Contains(err.Error(), "description"):
		return "description", invalidText(err)
	case errors.Is(err, manage.ErrInvalid):
		return "yubikey_otp", msgYubiKeyMalformed
	case errors.Is(err, verify.ErrExists):
		// Generic on purpose: the public id may be another user's.
		return "yubikey_otp", msgYubiKeyRegistered
	}
	return "", ""
}

// reusesRegistrationOTP reports whether code is the OTP the YubiKey was
// registered with: registration did not consume it, so without this
// check it would pass as the "fresh" test OTP.
func (e *enrollState) reusesRegistrationOTP(code verify.Secret) bool {
	return e.tokenType == verify.TypeYubiCloud && e.registeredWith.Len() > 0 &&
		subtle.ConstantTimeCompare([]byte(code.Reveal()), []byte(e.registeredWith.Reveal())) == 1
}

// testFailedText is the error at the test field after a refused test.
func testFailedText(t verify.TokenType, reason verify.Reason) string {
	switch {
	case t != verify.TypeYubiCloud:
		return "The OTP test failed. Enter the code your token shows now, before it changes, or repeat the token setup."
	case reason == verify.ReasonReplay:
		return msgYubiKeyReplay
	}
	return msgYubiKeyTestFailed
}
