package selfservice

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/otpgate/otpgate/verify"
)

// Cookie names. The login cookie carries the double-submit CSRF token of
// the login form (there is no session yet to hold it).
const (
	sessionCookie = "otpgate_self"
	loginCookie   = "otpgate_self_login"
)

// session is one logged-in browser. The store keeps it by the SHA-256 of
// the cookie value, so a map lookup never compares the secret id itself.
type session struct {
	key       [sha256.Size]byte
	user      string
	csrf      string
	twoFactor bool // logged in with an OTP: one session per user
	created   time.Time
	lastSeen  time.Time
	notices   []string     // shown once on the next page
	enroll    *enrollState // the enrollment in progress, if any
}

// enrollState is a token enrolled in this session and not yet saved. uri
// holds the secret (otpauth URI) until the test succeeds or the
// enrollment is abandoned; it lives nowhere else.
type enrollState struct {
	serial    string
	tokenType verify.TokenType
	uri       verify.Secret
	tested    bool
	failures  int
	// registeredWith is the OTP a YubiKey was registered with (yubicloud
	// only), refused as its test; cleared with uri.
	registeredWith verify.Secret
}

// Session end reasons reported by get.
type sessionStatus int

const (
	sessionNone sessionStatus = iota // no cookie or unknown id
	sessionLive
	sessionExpired
)

// sessionStore is the bounded in-memory session table.
type sessionStore struct {
	mu       sync.Mutex
	byKey    map[[sha256.Size]byte]*session
	idle     time.Duration
	absolute time.Duration
	max      int
}

func newSessionStore(idle, absolute time.Duration, max int) *sessionStore {
	return &sessionStore{byKey: make(map[[sha256.Size]byte]*session), idle: idle, absolute: absolute, max: max}
}

func randomToken(r io.Reader) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("selfservice: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func (s *sessionStore) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.lastSeen) >= s.idle || now.Sub(ss.created) >= s.absolute
}

// create stores a new session for user and returns its cookie value and a
// copy. A two-factor session ends every older session of the user; the
// ended sessions are returned so their pending enrollments can be removed.
// ok is false when the store is full of live sessions.
func (s *sessionStore) create(id, csrf, user string, twoFactor bool, now time.Time) (ended []session, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, ss := range s.byKey {
		if s.expired(ss, now) || (twoFactor && ss.user == user) {
			ended = append(ended, *ss)
			delete(s.byKey, k)
		}
	}
	if len(s.byKey) >= s.max {
		return ended, false
	}
	ss := &session{key: sha256.Sum256([]byte(id)), user: user, csrf: csrf, twoFactor: twoFactor, created: now, lastSeen: now}
	s.byKey[ss.key] = ss
	return ended, true
}

// get returns a copy of the live session of cookie value id and marks it
// seen. An expired session is removed and returned with sessionExpired.
func (s *sessionStore) get(id string, now time.Time) (session, sessionStatus) {
	if id == "" {
		return session{}, sessionNone
	}
	key := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byKey[key]
	if !ok {
		return session{}, sessionNone
	}
	if s.expired(ss, now) {
		delete(s.byKey, key)
		return *ss, sessionExpired
	}
	ss.lastSeen = now
	return *ss, sessionLive
}

// update runs fn on the stored session; false if it is gone.
func (s *sessionStore) update(key [sha256.Size]byte, fn func(*session)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byKey[key]
	if ok {
		fn(ss)
	}
	return ok
}

// remove deletes the session and returns its last state.
func (s *sessionStore) remove(key [sha256.Size]byte) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byKey[key]
	if ok {
		delete(s.byKey, key)
		return *ss, true
	}
	return session{}, false
}

// takeNotices returns and clears the session's one-time notices.
func (s *sessionStore) takeNotices(key [sha256.Size]byte) []string {
	var out []string
	s.update(key, func(ss *session) { out, ss.notices = ss.notices, nil })
	return out
}

// tokenEqual compares two CSRF tokens in constant time; empty never
// matches.
func tokenEqual(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// setCookie sets an HttpOnly, SameSite=Strict cookie under Prefix; an
// empty value deletes it.
func (h *handler) setCookie(w http.ResponseWriter, name, value string) {
	c := &http.Cookie{Name: name, Value: value, Path: Prefix, HttpOnly: true, Secure: h.cfg.Secure,
		SameSite: http.SameSiteStrictMode}
	if value == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}
