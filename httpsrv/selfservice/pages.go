package selfservice

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// pages holds one template set per page, each with the shared layout.
type pages struct {
	byName map[string]*template.Template
}

var pageNames = []string{"login", "home", "enroll", "error"}

func parsePages() (*pages, error) {
	funcs := template.FuncMap{
		"upper": strings.ToUpper,
		"when": func(t *time.Time) string {
			if t == nil {
				return "never"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
	}
	p := &pages{byName: make(map[string]*template.Template)}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("selfservice: templates: %w", err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// pageData is what every template gets.
type pageData struct {
	Title     string
	User      string // logged-in user; "" on the login page
	CSRF      string
	Notices   []string          // confirmations, announced politely
	Alert     string            // a page-level error, announced at once
	Errors    map[string]string // field id → message, tied with aria-describedby
	PINLength int

	// Login page.
	LoginUser string

	// Home page.
	Level     string
	PINSet    bool
	Levels    []levelOption
	Tokens    []manage.TokenInfo
	Enrolling bool // an enrollment is in progress (link back to it)
	Form      map[string]string

	// Enrollment page.
	Enroll *enrollView
}

// levelOption is one radio button of the security level.
type levelOption struct {
	Name, Label, Description string
	Current                  bool
}

// levels are mailbox.org's three security levels with the how-to's
// explanations.
var levels = []levelOption{
	{Name: verify.LevelOff, Label: "Off, just normal passwords",
		Description: "You log in to the web service and to all other services with your normal account password."},
	{Name: verify.LevelWebOTP, Label: "Web service OTP, other services password",
		Description: "You log in to the web interface using your PIN and a one-time password. All other services " +
			"such as IMAP, POP3, SMTP, WebDAV, CalDAV, CardDAV or ActiveSync do not use 2FA and keep taking your " +
			"normal password, so your e-mail clients and calendar synchronisation keep working."},
	{Name: verify.LevelWebOTPOnly, Label: "Web service OTP, other services off",
		Description: "You can only log in to the web interface, using your PIN and a one-time password. " +
			"IMAP, POP3, SMTP and WebDAV, CalDAV and CardDAV (and ActiveSync) are switched off for your account: " +
			"local e-mail clients and data synchronisation stop working."},
}

func levelOptions(current string) []levelOption {
	out := make([]levelOption, len(levels))
	for i, l := range levels {
		l.Current = l.Name == current
		out[i] = l
	}
	return out
}

func levelLabel(name string) string {
	for _, l := range levels {
		if l.Name == name {
			return l.Label
		}
	}
	return name
}

// render executes page into a buffer first so a template error never
// leaves half a page.
func (h *handler) render(w http.ResponseWriter, status int, page string, d *pageData) {
	d.PINLength = h.cfg.PINLength
	var buf bytes.Buffer
	if err := h.pages.byName[page].ExecuteTemplate(&buf, "layout", d); err != nil {
		h.log.Error("selfservice: render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderError shows a short generic message with a link back.
func (h *handler) renderError(w http.ResponseWriter, status int, msg string) {
	h.render(w, status, "error", &pageData{Title: http.StatusText(status), Alert: msg})
}

// renderLogin shows the login form with a fresh double-submit CSRF token.
func (h *handler) renderLogin(w http.ResponseWriter, status int, d *pageData) {
	tok, err := randomToken(h.cfg.Rand)
	if err != nil {
		h.log.Error("selfservice: login form", "err", err)
		h.renderError(w, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	h.setCookie(w, loginCookie, tok)
	d.Title, d.CSRF = "Log in", tok
	h.render(w, status, "login", d)
}

// Client-visible texts.
const (
	msgLoginFailed = "Login failed. Check your account name and password. " +
		"If your security level uses OTP, enter your PIN directly followed by the one-time password."
	msgUnavailable    = "The service is temporarily unavailable. Please try again later."
	msgSessionEnded   = "Your session has ended. Please log in again."
	msgBadForm        = "This form has expired or did not come from this page. Reload the page and try again."
	msgNoSuchToken    = "There is no such token."
	msgLoggedOut      = "You have logged out."
	msgSettingsSaved  = "You have changed your OTP settings."
	msgLogoutReminder = "Finally, log out to finish the setup."
	msgRecovery       = "If you lose your token or the device that generates your one-time passwords, the only " +
		"way back into your account is one of its password-reset (recovery) methods: set one up beforehand."
)
