package selfservice

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"net/http"
	"strings"

	"github.com/pquerna/otp"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// maxTestFailures ends an enrollment after this many failed OTP tests.
const maxTestFailures = 5

// enrollView is the enrollment page's data. URI and QR are set only while
// the token is untested, and only on this page.
type enrollView struct {
	Serial  string
	Type    string
	QR      template.URL // data:image/png;base64,...
	URI     template.URL // otpauth://... for the "add to app" link
	URIText string
	MOTP    bool
	YubiKey bool // a yubicloud token: test with a touch, nothing to show
	Tested  bool
}

// serveEnroll creates a pending token and sends the browser to the
// enrollment page; the secret stays in the session, never in the URL.
func (h *handler) serveEnroll(w http.ResponseWriter, r *http.Request, ss session) {
	if r.PostForm.Get("type") == formTypeYubiKey {
		h.serveEnrollYubiKey(w, r, ss)
		return
	}
	if strings.TrimSpace(r.PostForm.Get("yubikey_otp")) != "" {
		// A touch on the key sends the form with Enter, whatever type is chosen.
		h.renderHome(w, r, ss, http.StatusUnprocessableEntity, map[string]string{"type": msgYubiKeyWrongType}, nil)
		return
	}
	req := manage.EnrollRequest{Type: verify.TokenType(r.PostForm.Get("type")),
		Description: strings.TrimSpace(r.PostForm.Get("description"))}
	if req.Type == verify.TypeMOTP {
		req.MOTPSecret = verify.Secret(strings.TrimSpace(r.PostForm.Get("motp_secret")))
		req.MOTPPIN = verify.Secret(strings.TrimSpace(r.PostForm.Get("motp_pin")))
	}
	if req.Type != verify.TypeHOTP && req.Type != verify.TypeTOTP && req.Type != verify.TypeMOTP {
		h.renderHome(w, r, ss, http.StatusUnprocessableEntity, map[string]string{"type": "Choose HOTP, TOTP, mOTP or YubiKey."}, nil)
		return
	}
	h.abandonEnrollment(r.Context(), ss)
	h.sessions.update(ss.key, func(s *session) { s.enroll = nil })
	enr, err := h.cfg.Manager.Enroll(r.Context(), ss.user, req)
	if errors.Is(err, manage.ErrInvalid) {
		field := "description"
		switch msg := err.Error(); {
		case strings.Contains(msg, "mOTP secret"):
			field = "motp_secret"
		case strings.Contains(msg, "mOTP PIN"):
			field = "motp_pin"
		}
		h.renderHome(w, r, ss, http.StatusUnprocessableEntity, map[string]string{field: invalidText(err)},
			map[string]string{"type": string(req.Type), "description": req.Description})
		return
	}
	if err != nil {
		h.requestLog(r, ss.user).Error("selfservice: enroll", "err", err)
		h.renderError(w, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	state := &enrollState{serial: enr.Token.Serial, tokenType: req.Type, uri: enr.URI}
	if !h.sessions.update(ss.key, func(s *session) { s.enroll = state }) {
		// The session ended meanwhile (a newer login): drop the token.
		h.abandonEnrollment(r.Context(), session{user: ss.user, enroll: state})
		h.noSession(w, r, ss, sessionNone, http.StatusUnauthorized)
		return
	}
	h.requestLog(r, ss.user).Info("selfservice: token enrolled", "token", enr.Token.Serial, "type", req.Type)
	http.Redirect(w, r, Prefix+"enroll", http.StatusSeeOther)
}

// serveEnrollPage shows the QR code and URI of the untested token (or the
// mOTP test), the OTP test field and Save.
func (h *handler) serveEnrollPage(w http.ResponseWriter, r *http.Request, ss session) {
	if ss.enroll == nil {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	h.renderEnroll(w, r, ss, http.StatusOK, nil)
}

func (h *handler) renderEnroll(w http.ResponseWriter, r *http.Request, ss session, status int, errs map[string]string) {
	e := ss.enroll
	v := &enrollView{Serial: e.serial, Type: strings.ToUpper(string(e.tokenType)), MOTP: e.tokenType == verify.TypeMOTP,
		YubiKey: e.tokenType == verify.TypeYubiCloud, Tested: e.tested}
	if v.YubiKey {
		v.Type = "YubiKey"
	}
	if !e.tested && e.uri.Len() > 0 {
		qr, err := qrDataURI(e.uri)
		if err != nil {
			h.requestLog(r, ss.user).Error("selfservice: qr code", "token", e.serial, "err", err)
		}
		// The URI is the otpauth:// Key-URI manage built; template.URL keeps
		// html/template from replacing the unknown scheme.
		v.QR, v.URI, v.URIText = qr, template.URL(e.uri.Reveal()), e.uri.Reveal()
	}
	d := &pageData{Title: "Provision your token", User: ss.user, CSRF: ss.csrf, Enroll: v, Errors: errs,
		Notices: h.sessions.takeNotices(ss.key)}
	h.render(w, status, "enroll", d)
}

// qrDataURI draws the otpauth URI as a 256×256 PNG data: URI.
func qrDataURI(uri verify.Secret) (template.URL, error) {
	key, err := otp.NewKeyFromURL(uri.Reveal())
	if err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	img, err := key.Image(256, 256)
	if err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())), nil
}

// serveEnrollTest checks a code against the enrolled token; success
// activates it (manage.TestToken) and forgets the secret.
func (h *handler) serveEnrollTest(w http.ResponseWriter, r *http.Request, ss session) {
	if ss.enroll == nil {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	if ss.enroll.tested {
		http.Redirect(w, r, Prefix+"enroll", http.StatusSeeOther)
		return
	}
	log := h.requestLog(r, ss.user).With("token", ss.enroll.serial)
	code := verify.Secret(strings.ReplaceAll(r.PostForm.Get("code"), " ", ""))
	var dec verify.Decision
	if ss.enroll.reusesRegistrationOTP(code) {
		dec = verify.Decision{Outcome: verify.Reject, Reason: verify.ReasonReplay, TokenSerial: ss.enroll.serial}
	} else {
		dec = h.cfg.Manager.TestToken(r.Context(), verify.TokenRequest{User: ss.user, Serial: ss.enroll.serial,
			Protocol: verify.ProtoHTTP, Client: clientAddr(r)}, code)
	}
	switch dec.Outcome {
	case verify.Accept:
		h.sessions.update(ss.key, func(s *session) {
			if s.enroll != nil && s.enroll.serial == ss.enroll.serial {
				s.enroll.tested, s.enroll.uri, s.enroll.registeredWith = true, "", ""
				s.notices = append(s.notices, "The OTP test was successful. Choose Save to finish.")
			}
		})
		log.Info("selfservice: token test passed")
		http.Redirect(w, r, Prefix+"enroll", http.StatusSeeOther)
		return
	case verify.Unavailable:
		log.Error("selfservice: token test undecided", "reason", dec.Reason)
		if ss.enroll.tokenType == verify.TypeYubiCloud {
			// The validation servers did not answer; not the user's fault.
			h.renderEnroll(w, r, ss, http.StatusServiceUnavailable, map[string]string{"code": msgYubiKeyUnavailable})
			return
		}
		h.renderError(w, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	log.Info("selfservice: token test failed", "reason", dec.Reason)
	failures := 0
	h.sessions.update(ss.key, func(s *session) {
		if s.enroll != nil {
			s.enroll.failures++
			failures = s.enroll.failures
		}
	})
	if failures >= maxTestFailures {
		h.abandonEnrollment(r.Context(), ss)
		h.sessions.update(ss.key, func(s *session) { s.enroll = nil })
		h.done(w, r, ss, "Too many failed OTP tests: the new token was removed. Please enroll a new token.")
		return
	}
	h.renderEnroll(w, r, ss, http.StatusUnprocessableEntity, map[string]string{"code": testFailedText(ss.enroll.tokenType, dec.Reason)})
}

// serveEnrollSave confirms a tested token and shows the "2FA active"
// confirmation.
func (h *handler) serveEnrollSave(w http.ResponseWriter, r *http.Request, ss session) {
	if ss.enroll == nil {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	if !ss.enroll.tested {
		h.renderEnroll(w, r, ss, http.StatusConflict, map[string]string{"code": "Perform the OTP test first: " +
			"Save is available after a successful test."})
		return
	}
	h.sessions.update(ss.key, func(s *session) { s.enroll = nil })
	info, err := h.cfg.Manager.ShowUser(r.Context(), ss.user)
	if err != nil {
		h.requestLog(r, ss.user).Error("selfservice: show user", "err", err)
		h.renderError(w, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	h.requestLog(r, ss.user).Info("selfservice: token saved", "token", ss.enroll.serial)
	notices := []string{msgSettingsSaved}
	switch {
	case info.Level != verify.LevelOff && info.PINSet:
		notices = append(notices, "Your two-factor authentication is now active. From now on, you will log in to "+
			"the web service with your PIN in combination with the one-time password of your token.", msgLogoutReminder)
	case info.Level != verify.LevelOff:
		notices = append(notices, "Your token "+ss.enroll.serial+" is active. Set a PIN above: "+
			"logins with a one-time password need it.")
	default:
		notices = append(notices, "Your token "+ss.enroll.serial+" is active. Choose an OTP security level above "+
			"to use it, then log out to finish the setup.")
	}
	h.done(w, r, ss, notices...)
}

// serveEnrollCancel abandons the enrollment and removes the untested token.
func (h *handler) serveEnrollCancel(w http.ResponseWriter, r *http.Request, ss session) {
	if ss.enroll == nil {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	h.abandonEnrollment(r.Context(), ss)
	h.sessions.update(ss.key, func(s *session) { s.enroll = nil })
	h.requestLog(r, ss.user).Info("selfservice: enrollment cancelled", "token", ss.enroll.serial)
	msg := "The enrollment was cancelled and the new token removed."
	if ss.enroll.tested {
		msg = "Token " + ss.enroll.serial + " was tested and stays active."
	}
	h.done(w, r, ss, msg)
}
