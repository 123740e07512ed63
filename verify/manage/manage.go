package manage

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/otpgate/otpgate/verify"
)

// Errors callers branch on (besides verify.ErrNotFound and verify.ErrExists).
var (
	// ErrInvalid: an argument failed validation; the message says which.
	ErrInvalid = errors.New("invalid")
	// ErrRefused: the operation is not allowed in the record's state.
	ErrRefused = errors.New("refused")
)

// EnrollDefaults are the parameters a new HOTP/TOTP token gets unless the
// request overrides them.
type EnrollDefaults struct {
	Digits    int
	Algorithm string
	Period    int // seconds
}

// Engine is what manage needs of the engine. *verify.Engine implements it,
// and so does *verify.Switch, which follows config reloads.
type Engine interface {
	TestToken(ctx context.Context, tr verify.TokenRequest, code verify.Secret) verify.Decision
	Resync(ctx context.Context, tr verify.TokenRequest, first, second verify.Secret) verify.Decision
	LockedUntil(u verify.User) time.Time
	Policy() verify.Policy
}

// Options configure a Manager. Store, Credentials and Engine are required.
type Options struct {
	Store       Store
	Credentials verify.Credentials
	Engine      Engine
	Issuer      string // otpauth issuer (default "otpgate")
	Defaults    EnrollDefaults
	Rand        io.Reader        // nil = crypto/rand
	Now         func() time.Time // nil = time.Now
}

// Manager runs the operator operations. It is safe for concurrent use.
type Manager struct {
	store  Store
	creds  verify.Credentials
	engine Engine
	issuer string
	def    EnrollDefaults
	rand   io.Reader
	now    func() time.Time
}

// New returns a Manager.
func New(o Options) (*Manager, error) {
	if o.Store == nil || o.Credentials == nil || o.Engine == nil {
		return nil, errors.New("manage: store, credentials and engine are required")
	}
	if o.Issuer == "" {
		o.Issuer = "otpgate"
	}
	if o.Defaults.Digits == 0 {
		o.Defaults.Digits = 6
	}
	if o.Defaults.Algorithm == "" {
		o.Defaults.Algorithm = "SHA1"
	}
	if o.Defaults.Period == 0 {
		o.Defaults.Period = 30
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Manager{store: o.Store, creds: o.Credentials, engine: o.Engine,
		issuer: o.Issuer, def: o.Defaults, rand: o.Rand, now: o.Now}, nil
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// ValidateName checks a login name: 1 to 255 bytes of UTF-8 without
// spaces, control characters or ':' (the otpauth label separator).
func ValidateName(name string) error {
	if name == "" || len(name) > 255 || !utf8.ValidString(name) {
		return invalidf("user name must be 1 to 255 bytes of UTF-8")
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == ':' {
			return invalidf("user name must not contain spaces, control characters or ':'")
		}
	}
	return nil
}

// validatePassword: non-empty and at most 1024 bytes; RADIUS alone limits
// the whole field to 128 bytes, but LDAP and the CLI do not.
func validatePassword(pw verify.Secret) error {
	if pw.Len() == 0 || pw.Len() > 1024 {
		return invalidf("password must be 1 to 1024 bytes")
	}
	return nil
}

// user loads a user by name.
func (m *Manager) user(ctx context.Context, name string) (verify.User, error) {
	u, err := m.store.UserByName(ctx, name)
	if err != nil {
		return verify.User{}, fmt.Errorf("user %s: %w", name, err)
	}
	return u, nil
}

// AddUser creates a user at level off with the given account password.
func (m *Manager) AddUser(ctx context.Context, name string, password verify.Secret) (verify.User, error) {
	if err := ValidateName(name); err != nil {
		return verify.User{}, err
	}
	if err := validatePassword(password); err != nil {
		return verify.User{}, err
	}
	hash, err := m.creds.HashPassword(password)
	if err != nil {
		return verify.User{}, fmt.Errorf("add user: %w", err)
	}
	u, err := m.store.CreateUser(ctx, verify.User{Name: name, PasswordHash: hash, Level: verify.LevelOff})
	if err != nil {
		return verify.User{}, fmt.Errorf("add user %s: %w", name, err)
	}
	return u, nil
}

// SetPassword replaces the user's account password.
func (m *Manager) SetPassword(ctx context.Context, name string, password verify.Secret) error {
	if err := validatePassword(password); err != nil {
		return err
	}
	u, err := m.user(ctx, name)
	if err != nil {
		return err
	}
	hash, err := m.creds.HashPassword(password)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return m.store.UpdatePassword(ctx, u.ID, hash)
}

// SetPIN sets the user's PIN. Letters and digits only; input longer than
// the PIN length is cut (as the mailbox.org page does) and truncated says
// so; shorter input is refused.
func (m *Manager) SetPIN(ctx context.Context, name string, pin verify.Secret) (truncated bool, err error) {
	s := pin.Reveal()
	n := m.engine.Policy().PINLength
	if len(s) > n {
		s, truncated = s[:n], true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false, invalidf("PIN may contain only letters and digits")
		}
	}
	if len(s) < n {
		return false, invalidf("PIN must have %d characters", n)
	}
	u, err := m.user(ctx, name)
	if err != nil {
		return false, err
	}
	h, err := m.creds.HashPIN(verify.Secret(s))
	if err != nil {
		return false, fmt.Errorf("set pin: %w", err)
	}
	return truncated, m.store.UpdatePIN(ctx, u.ID, h)
}

// SetLevel sets the user's security level. It returns warnings (not
// errors) when the level needs an OTP the user cannot give yet: no PIN, or
// no active enabled token.
func (m *Manager) SetLevel(ctx context.Context, name, level string) ([]string, error) {
	if !m.engine.Policy().HasLevel(level) {
		return nil, invalidf("unknown level %q", level)
	}
	u, err := m.user(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := m.store.UpdateLevel(ctx, u.ID, level); err != nil {
		return nil, err
	}
	return m.levelWarnings(ctx, u, level)
}

func (m *Manager) levelWarnings(ctx context.Context, u verify.User, level string) ([]string, error) {
	needsPIN, needsToken := false, false
	for _, mode := range m.engine.Policy().Modes[level] {
		needsPIN = needsPIN || mode == verify.ModePINOTP
		needsToken = needsToken || mode == verify.ModePINOTP || mode == verify.ModePasswordOTP
	}
	var warn []string
	if needsPIN && u.PINHash == nil {
		warn = append(warn, "the user has no PIN yet: set one with 'otpgate user set-pin'")
	}
	if needsToken {
		toks, err := m.store.Tokens(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		active := false
		for _, t := range toks {
			active = active || (t.Enabled && !t.Pending)
		}
		if !active {
			warn = append(warn, "the user has no active token yet: enroll and test one")
		}
	}
	return warn, nil
}

// Unlock clears the user's failure count and so ends any back-off.
func (m *Manager) Unlock(ctx context.Context, name string) error {
	u, err := m.user(ctx, name)
	if err != nil {
		return err
	}
	return m.store.ResetFailures(ctx, u.ID)
}

// ResetUser is the password-reset path: new account password, level back
// to off (2FA disabled), failures cleared. PIN and tokens are kept so the
// user can turn 2FA on again.
func (m *Manager) ResetUser(ctx context.Context, name string, password verify.Secret) error {
	if err := m.SetPassword(ctx, name, password); err != nil {
		return err
	}
	u, err := m.user(ctx, name)
	if err != nil {
		return err
	}
	if err := m.store.UpdateLevel(ctx, u.ID, verify.LevelOff); err != nil {
		return err
	}
	return m.store.ResetFailures(ctx, u.ID)
}

// RenameUser renames a user; refused while the level is not off, as
// mailbox.org refuses changing the main address with OTP on.
func (m *Manager) RenameUser(ctx context.Context, name, newName string) error {
	if err := ValidateName(newName); err != nil {
		return err
	}
	u, err := m.user(ctx, name)
	if err != nil {
		return err
	}
	if u.Level != verify.LevelOff {
		return fmt.Errorf("%w: user %s has level %s; set it to off before renaming", ErrRefused, name, u.Level)
	}
	if err := m.store.RenameUser(ctx, u.ID, newName); err != nil {
		return fmt.Errorf("rename %s: %w", name, err)
	}
	return nil
}

// DeleteUser deletes the user and their tokens.
func (m *Manager) DeleteUser(ctx context.Context, name string) error {
	u, err := m.user(ctx, name)
	if err != nil {
		return err
	}
	return m.store.DeleteUser(ctx, u.ID)
}
