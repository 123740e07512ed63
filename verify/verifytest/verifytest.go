// Package verifytest builds the real engine over a real SQLite store for
// the tests of the packages that use the engine (verify itself, the
// listeners, the HTTP pages): one place instead of a copy per package.
package verifytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/otpgate/otpgate/backend"
	"github.com/otpgate/otpgate/backend/passwd"
	"github.com/otpgate/otpgate/backend/seal"
	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// CheapArgon2 keeps password hashing out of test and benchmark time;
// production parameters come from the config.
var CheapArgon2 = passwd.Argon2Params{Time: 1, Memory: 64, Threads: 1}

// Start is the time a new Clock shows: 2023-11-14T22:13:20Z.
var Start = time.Unix(1_700_000_000, 0)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set sets the clock.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// LogBuffer collects log output from concurrent goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Options adjust an Env. The zero value gives cheap argon2, a Clock at
// Start, the default policy and a TOTP skew of one step.
type Options struct {
	Argon2 passwd.Argon2Params // zero: CheapArgon2
	Now    func() time.Time    // nil: Env.Clock.Now
	// Engine is the base of the engine's options; Store, Credentials and
	// (unless set) Now are filled in, a zero Policy becomes the default.
	Engine verify.Options
}

// Env is a real engine, manager, keyring and SQLite store in t.TempDir().
type Env struct {
	Clock   *Clock
	Now     func() time.Time
	Store   *backend.SQLite
	Keyring *seal.Keyring
	Engine  *verify.Engine
	Manager *manage.Manager
}

// New builds an Env; the store is closed when the test ends.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	e := &Env{Clock: NewClock(Start)}
	e.Now = o.Now
	if e.Now == nil {
		e.Now = e.Clock.Now
	}
	if o.Argon2 == (passwd.Argon2Params{}) {
		o.Argon2 = CheapArgon2
	}
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.Keyring, err = seal.New(master, seal.Options{Argon2: o.Argon2}); err != nil {
		t.Fatal(err)
	}
	e.Store, err = backend.OpenSQLite(context.Background(), backend.SQLiteOptions{
		Path: filepath.Join(t.TempDir(), "otpgate.db"), Sealer: e.Keyring, Now: e.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Store.Close() })
	if _, err := e.Store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.Engine = e.NewEngine(t, o.Engine)
	if e.Manager, err = manage.New(manage.Options{Store: e.Store, Credentials: e.Keyring, Engine: e.Engine, Now: e.Now}); err != nil {
		t.Fatal(err)
	}
	return e
}

// NewEngine builds another engine over the Env's store and keyring (for a
// reload test or different options).
func (e *Env) NewEngine(t testing.TB, opts verify.Options) *verify.Engine {
	t.Helper()
	opts.Store, opts.Credentials = e.Store, e.Keyring
	if opts.Now == nil {
		opts.Now = e.Now
	}
	if opts.Policy.Services == nil {
		opts.Policy = verify.DefaultPolicy()
	}
	if opts.Tokens == (verify.TokenOptions{}) {
		opts.Tokens = verify.TokenOptions{TOTPSkew: 1, MOTPSkew: 180 * time.Second}
	}
	engine, err := verify.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return engine
}

// User creates a user with password, optional PIN and level.
func (e *Env) User(t testing.TB, name, password, pin, level string) verify.User {
	t.Helper()
	ctx := context.Background()
	if _, err := e.Manager.AddUser(ctx, name, verify.Secret(password)); err != nil {
		t.Fatal(err)
	}
	if pin != "" {
		if _, err := e.Manager.SetPIN(ctx, name, verify.Secret(pin)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Manager.SetLevel(ctx, name, level); err != nil {
		t.Fatal(err)
	}
	u, err := e.Store.UserByName(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Token stores an active, enabled token for the user (Serial defaults to
// type-name, LastStep to NoStep) and returns it with its ID.
func (e *Env) Token(t testing.TB, user string, tok verify.Token) verify.Token {
	t.Helper()
	u, err := e.Store.UserByName(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	tok.UserID, tok.Enabled = u.ID, true
	if tok.Serial == "" {
		tok.Serial = string(tok.Type) + "-" + user
	}
	if tok.LastStep == 0 {
		tok.LastStep = verify.NoStep
	}
	saved, err := e.Store.CreateToken(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	return saved
}
