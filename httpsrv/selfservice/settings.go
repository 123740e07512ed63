package selfservice

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// renderHome shows the settings page. errs are field errors (field id →
// message) and form the values to keep in the fields after an error.
func (h *handler) renderHome(w http.ResponseWriter, r *http.Request, ss session, status int, errs, form map[string]string) {
	info, err := h.cfg.Manager.ShowUser(r.Context(), ss.user)
	if errors.Is(err, verify.ErrNotFound) {
		// The operator deleted the account meanwhile.
		h.endSession(r.Context(), ss)
		h.noSession(w, r, ss, sessionNone, http.StatusUnauthorized)
		return
	}
	if err != nil {
		h.requestLog(r, ss.user).Error("selfservice: show user", "err", err)
		h.renderError(w, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	d := &pageData{Title: "One Time Passwords", User: ss.user, CSRF: ss.csrf, Level: info.Level, PINSet: info.PINSet,
		Levels: levelOptions(info.Level), Tokens: info.Tokens, Errors: errs, Form: form,
		Enrolling: ss.enroll != nil, Notices: h.sessions.takeNotices(ss.key)}
	if len(errs) > 0 {
		d.Alert = "Your changes were not saved. Please correct the marked fields."
	}
	h.render(w, status, "home", d)
}

// done stores notices for the next page and redirects to the settings
// page (post/redirect/get, so a reload never repeats a change).
func (h *handler) done(w http.ResponseWriter, r *http.Request, ss session, notices ...string) {
	h.sessions.update(ss.key, func(s *session) { s.notices = append(s.notices, notices...) })
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

// invalidText is the client-facing part of a manage.ErrInvalid error.
func invalidText(err error) string {
	msg := strings.TrimPrefix(err.Error(), manage.ErrInvalid.Error()+": ")
	if msg == "" {
		return "The value is not valid."
	}
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}

// servePIN sets the PIN from two fields that must match.
func (h *handler) servePIN(w http.ResponseWriter, r *http.Request, ss session) {
	pin, confirm := r.PostForm.Get("pin"), r.PostForm.Get("pin_confirm")
	switch {
	case pin == "":
		h.renderHome(w, r, ss, http.StatusUnprocessableEntity, map[string]string{"pin": "Enter your new PIN in both fields."}, nil)
		return
	case subtle.ConstantTimeCompare([]byte(pin), []byte(confirm)) != 1:
		h.renderHome(w, r, ss, http.StatusUnprocessableEntity, map[string]string{"pin_confirm": "The two PIN fields do not match."}, nil)
		return
	}
	truncated, err := h.cfg.Manager.SetPIN(r.Context(), ss.user, verify.Secret(pin))
	if errors.Is(err, manage.ErrInvalid) {
		h.renderHome(w, r, ss, http.StatusUnprocessableEntity, map[string]string{"pin": invalidText(err)}, nil)
		return
	}
	if err != nil {
		h.requestLog(r, ss.user).Error("selfservice: set pin", "err", err)
		h.renderError(w, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	h.requestLog(r, ss.user).Info("selfservice: pin set", "truncated", truncated)
	notices := []string{msgSettingsSaved, "Your new PIN is set."}
	if truncated {
		notices = append(notices, fmt.Sprintf("Your PIN was longer than %d characters: the extra characters were cut off "+
			"and ignored. Your PIN is its first %d characters.", h.cfg.PINLength, h.cfg.PINLength))
	}
	h.done(w, r, ss, notices...)
}

// serveLevel sets the security level and passes on manage's warnings.
func (h *handler) serveLevel(w http.ResponseWriter, r *http.Request, ss session) {
	level := r.PostForm.Get("level")
	warnings, err := h.cfg.Manager.SetLevel(r.Context(), ss.user, level)
	if errors.Is(err, manage.ErrInvalid) {
		h.renderHome(w, r, ss, http.StatusUnprocessableEntity, map[string]string{"level": "Choose one of the three security levels."}, nil)
		return
	}
	if err != nil {
		h.requestLog(r, ss.user).Error("selfservice: set level", "err", err)
		h.renderError(w, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	h.requestLog(r, ss.user).Info("selfservice: level set", "level", level, "warnings", len(warnings))
	notices := []string{msgSettingsSaved, "Your OTP security level is now: " + levelLabel(level) + "."}
	for _, w := range warnings {
		notices = append(notices, "Warning: "+levelWarning(w))
	}
	if level == verify.LevelWebOTPOnly {
		notices = append(notices, "IMAP, POP3, SMTP and WebDAV, CalDAV and CardDAV are now switched off for your account.")
	}
	if level != verify.LevelOff {
		notices = append(notices, msgRecovery)
	}
	h.done(w, r, ss, notices...)
}

// levelWarning words manage's operator-oriented warnings for the user;
// an unknown warning is passed on as it is.
func levelWarning(w string) string {
	switch {
	case strings.Contains(w, "no PIN"):
		return "you have no PIN yet. Set one above, or you cannot log in to the web service with an OTP."
	case strings.Contains(w, "no active token"):
		return "you have no active token yet. Enroll and test one below, or you cannot log in to the web service."
	}
	return w
}

// ownToken returns the user's token serial; ok is false (and the answer
// written) when the user has no such token: the manager acts on any
// serial, so ownership is checked here.
func (h *handler) ownToken(w http.ResponseWriter, r *http.Request, ss session) (manage.TokenInfo, bool) {
	serial := r.PostForm.Get("serial")
	toks, err := h.cfg.Manager.ListTokens(r.Context(), ss.user)
	if err != nil {
		h.requestLog(r, ss.user).Error("selfservice: list tokens", "err", err)
		h.renderError(w, http.StatusServiceUnavailable, msgUnavailable)
		return manage.TokenInfo{}, false
	}
	for _, t := range toks {
		if serial != "" && t.Serial == serial {
			return t, true
		}
	}
	h.requestLog(r, ss.user).Warn("selfservice: token not the user's", "token", serial)
	h.renderError(w, http.StatusNotFound, msgNoSuchToken)
	return manage.TokenInfo{}, false
}

func (h *handler) serveTokenEnable(w http.ResponseWriter, r *http.Request, ss session) {
	h.setTokenEnabled(w, r, ss, true)
}

func (h *handler) serveTokenDisable(w http.ResponseWriter, r *http.Request, ss session) {
	h.setTokenEnabled(w, r, ss, false)
}

func (h *handler) setTokenEnabled(w http.ResponseWriter, r *http.Request, ss session, enabled bool) {
	tok, ok := h.ownToken(w, r, ss)
	if !ok {
		return
	}
	if err := h.cfg.Manager.SetTokenEnabled(r.Context(), tok.Serial, enabled); err != nil {
		h.requestLog(r, ss.user).Error("selfservice: set token enabled", "token", tok.Serial, "err", err)
		h.renderError(w, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	h.requestLog(r, ss.user).Info("selfservice: token enabled set", "token", tok.Serial, "enabled", enabled)
	verb := "disabled"
	if enabled {
		verb = "enabled"
	}
	h.done(w, r, ss, h.withLockoutWarning(r.Context(), ss, "Token "+tok.Serial+" is now "+verb+".")...)
}

func (h *handler) serveTokenDelete(w http.ResponseWriter, r *http.Request, ss session) {
	tok, ok := h.ownToken(w, r, ss)
	if !ok {
		return
	}
	if err := h.cfg.Manager.DeleteToken(r.Context(), tok.Serial); err != nil {
		h.requestLog(r, ss.user).Error("selfservice: delete token", "token", tok.Serial, "err", err)
		h.renderError(w, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	h.sessions.update(ss.key, func(s *session) {
		if s.enroll != nil && s.enroll.serial == tok.Serial {
			s.enroll = nil
		}
	})
	h.requestLog(r, ss.user).Info("selfservice: token deleted", "token", tok.Serial)
	h.done(w, r, ss, h.withLockoutWarning(r.Context(), ss, "Token "+tok.Serial+" has been deleted.")...)
}

func (h *handler) serveTokenRename(w http.ResponseWriter, r *http.Request, ss session) {
	tok, ok := h.ownToken(w, r, ss)
	if !ok {
		return
	}
	text := strings.TrimSpace(r.PostForm.Get("description"))
	err := h.cfg.Manager.DescribeToken(r.Context(), tok.Serial, text)
	if errors.Is(err, manage.ErrInvalid) {
		h.renderHome(w, r, ss, http.StatusUnprocessableEntity, map[string]string{"desc-" + tok.Serial: invalidText(err)}, nil)
		return
	}
	if err != nil {
		h.requestLog(r, ss.user).Error("selfservice: rename token", "token", tok.Serial, "err", err)
		h.renderError(w, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	h.requestLog(r, ss.user).Info("selfservice: token renamed", "token", tok.Serial)
	h.done(w, r, ss, "Token "+tok.Serial+" has been renamed.")
}

// withLockoutWarning adds a warning when the user's level needs an OTP
// and no active token is left.
func (h *handler) withLockoutWarning(ctx context.Context, ss session, notice string) []string {
	info, err := h.cfg.Manager.ShowUser(ctx, ss.user)
	if err != nil || info.Level == verify.LevelOff {
		return []string{notice}
	}
	for _, t := range info.Tokens {
		if t.State == "active" {
			return []string{notice}
		}
	}
	return []string{notice, "Warning: you have no active token left. Your security level needs one: " +
		"you cannot log in to the web service until you enable or enroll a token, or set the level to Off."}
}
