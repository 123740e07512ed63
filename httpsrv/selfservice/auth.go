package selfservice

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/otpgate/otpgate/verify"
)

// serveHome shows the settings page to a logged-in user and the login
// form to everyone else.
func (h *handler) serveHome(w http.ResponseWriter, r *http.Request) {
	ss, st := h.sessions.get(cookieValue(r, sessionCookie), h.cfg.Now())
	if st != sessionLive {
		h.noSession(w, r, ss, st, http.StatusOK)
		return
	}
	h.renderHome(w, r, ss, http.StatusOK, nil, nil)
}

// noSession answers a request without a live session with the login form;
// an expired session's pending enrollment is removed first.
func (h *handler) noSession(w http.ResponseWriter, r *http.Request, ss session, st sessionStatus, status int) {
	d := &pageData{}
	if st == sessionExpired {
		h.abandonEnrollment(r.Context(), ss)
		h.requestLog(r, ss.user).Info("selfservice: session expired")
	}
	if cookieValue(r, sessionCookie) != "" {
		d.Notices = []string{msgSessionEnded}
		h.setCookie(w, sessionCookie, "")
	}
	h.renderLogin(w, status, d)
}

// withSession wraps a handler that needs a logged-in user. A POST must
// carry the session's CSRF token (403 otherwise).
func (h *handler) withSession(next func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss, st := h.sessions.get(cookieValue(r, sessionCookie), h.cfg.Now())
		if st != sessionLive {
			h.noSession(w, r, ss, st, http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				h.renderError(w, http.StatusBadRequest, "The form could not be read.")
				return
			}
			if !tokenEqual(r.PostForm.Get("csrf"), ss.csrf) {
				h.requestLog(r, ss.user).Warn("selfservice: csrf token mismatch", "path", r.URL.Path)
				h.renderError(w, http.StatusForbidden, msgBadForm)
				return
			}
		}
		next(w, r, ss)
	}
}

// serveLogin checks the login form's CSRF cookie and lets the engine
// decide. Every refusal gets the same message; the engine's back-off and
// audit apply as for any other login.
func (h *handler) serveLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.renderError(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	if !tokenEqual(r.PostForm.Get("csrf"), cookieValue(r, loginCookie)) {
		h.requestLog(r, "").Warn("selfservice: login csrf token mismatch")
		h.renderError(w, http.StatusForbidden, msgBadForm)
		return
	}
	user := strings.TrimSpace(r.PostForm.Get("user"))
	password := verify.Secret(r.PostForm.Get("password"))
	log := h.requestLog(r, user)
	failed := &pageData{LoginUser: user, Errors: map[string]string{"login": msgLoginFailed}}
	if user == "" || password.Len() == 0 {
		h.renderLogin(w, http.StatusUnauthorized, failed)
		return
	}
	dec := h.cfg.Engine.Verify(r.Context(), verify.Request{User: user, Password: password, Service: h.cfg.Service,
		Protocol: verify.ProtoHTTP, Client: clientAddr(r), Stage: verify.StageFull})
	switch dec.Outcome {
	case verify.Accept:
	case verify.Unavailable:
		log.Error("selfservice: login undecided", "reason", dec.Reason)
		h.renderLogin(w, http.StatusServiceUnavailable, &pageData{LoginUser: user, Alert: msgUnavailable})
		return
	default:
		log.Info("selfservice: login refused", "reason", dec.Reason)
		h.renderLogin(w, http.StatusUnauthorized, failed)
		return
	}
	h.startSession(w, r, user, dec)
}

// startSession replaces the browser's session with a new one (fresh id,
// fresh CSRF token). A login with an OTP ends the user's other sessions.
func (h *handler) startSession(w http.ResponseWriter, r *http.Request, user string, dec verify.Decision) {
	log := h.requestLog(r, user)
	id, err := randomToken(h.cfg.Rand)
	var csrf string
	if err == nil {
		csrf, err = randomToken(h.cfg.Rand)
	}
	if err != nil {
		log.Error("selfservice: new session", "err", err)
		h.renderError(w, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	if old, st := h.sessions.get(cookieValue(r, sessionCookie), h.cfg.Now()); st != sessionNone {
		h.endSession(r.Context(), old)
	}
	twoFactor := dec.Mode == verify.ModePINOTP || dec.Mode == verify.ModePasswordOTP
	ended, ok := h.sessions.create(id, csrf, user, twoFactor, h.cfg.Now())
	for _, e := range ended {
		h.abandonEnrollment(r.Context(), e)
		if e.user == user {
			log.Info("selfservice: older session ended by a new login")
		}
	}
	if !ok {
		log.Error("selfservice: session store full")
		h.renderLogin(w, http.StatusServiceUnavailable, &pageData{LoginUser: user, Alert: msgUnavailable})
		return
	}
	log.Info("selfservice: logged in", "mode", dec.Mode, "token", dec.TokenSerial)
	h.setCookie(w, loginCookie, "")
	h.setCookie(w, sessionCookie, id)
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

// endSession removes a session and its untested enrollment.
func (h *handler) endSession(ctx context.Context, ss session) {
	if last, ok := h.sessions.remove(ss.key); ok {
		ss = last
	}
	h.abandonEnrollment(ctx, ss)
}

func (h *handler) serveLogout(w http.ResponseWriter, r *http.Request, ss session) {
	h.endSession(r.Context(), ss)
	h.requestLog(r, ss.user).Info("selfservice: logged out")
	h.setCookie(w, sessionCookie, "")
	h.renderLogin(w, http.StatusOK, &pageData{Notices: []string{msgLoggedOut}})
}

// abandonEnrollment deletes the pending token of an enrollment that was
// never tested: nobody can see its secret again, so it is useless.
func (h *handler) abandonEnrollment(ctx context.Context, ss session) {
	if ss.enroll == nil || ss.enroll.tested {
		return
	}
	err := h.cfg.Manager.DeleteToken(ctx, ss.enroll.serial)
	if err != nil && !errors.Is(err, verify.ErrNotFound) {
		h.log.Error("selfservice: remove abandoned token", "user", ss.user, "token", ss.enroll.serial, "err", err)
	}
}
