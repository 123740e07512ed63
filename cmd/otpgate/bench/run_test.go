package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/otpgate/otpgate/backend"
	"github.com/otpgate/otpgate/backend/passwd"
	"github.com/otpgate/otpgate/backend/seal"
	"github.com/otpgate/otpgate/ldapsrv"
	"github.com/otpgate/otpgate/radiussrv"
	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// fixture is the real engine over a real SQLite store, as the listeners'
// own tests build it, with users seeded by Seed.
type fixture struct {
	t       *testing.T
	store   *backend.SQLite
	keyring *seal.Keyring
	engine  *verify.Engine
	manager *manage.Manager
	file    string // the users file
}

// newFixture seeds n users into a fresh store.
func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	return newFixtureWith(t, SeedOptions{Users: n})
}

// newFixtureWith seeds users into a fresh store with o (File is set).
func newFixtureWith(t *testing.T, o SeedOptions) *fixture {
	t.Helper()
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	kr, err := seal.New(master, seal.Options{Argon2: passwd.Argon2Params{Time: 1, Memory: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := backend.OpenSQLite(t.Context(), backend.SQLiteOptions{
		Path: filepath.Join(t.TempDir(), "otpgate.db"), Sealer: kr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, store: st, keyring: kr, file: filepath.Join(t.TempDir(), "users.csv")}
	f.engine, err = verify.New(verify.Options{Store: st, Credentials: kr, Policy: verify.DefaultPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	f.manager, err = manage.New(manage.Options{Store: st, Credentials: kr, Engine: f.engine})
	if err != nil {
		t.Fatal(err)
	}
	target := SeedTarget{Store: st, Manager: f.manager, PINLength: 4}
	o.File = f.file
	if err := Seed(t.Context(), target, o); err != nil {
		t.Fatal(err)
	}
	return f
}

// radius serves RADIUS for service webmail on 127.0.0.1:0 until the test
// ends and returns its address.
func (f *fixture) radius() string {
	f.t.Helper()
	srv, err := radiussrv.New(radiussrv.Config{Clients: []radiussrv.Client{{Name: "bench",
		Network: netip.MustParsePrefix("127.0.0.0/8"), Secret: "testing123", Service: "webmail"}}},
		f.engine, slog.New(slog.DiscardHandler))
	if err != nil {
		f.t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		f.t.Fatal(err)
	}
	f.serve(func(ctx context.Context) error { return srv.Serve(ctx, pc) })
	return pc.LocalAddr().String()
}

// ldap serves LDAP for service on 127.0.0.1:0 until the test ends and
// returns its address.
func (f *fixture) ldap(service string) string {
	f.t.Helper()
	cfg := ldapsrv.Config{Service: service, BaseDN: "dc=example,dc=org",
		UserDNTemplates: []string{DefaultBindDNTemplate}}
	srv, err := ldapsrv.New(cfg, f.engine, f.store, f.keyring, slog.New(slog.DiscardHandler))
	if err != nil {
		f.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.t.Fatal(err)
	}
	f.serve(func(ctx context.Context) error { return srv.Serve(ctx, ln) })
	return ln.Addr().String()
}

// serve runs serve until the test ends and checks that it returned nil.
func (f *fixture) serve(serve func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx) }()
	f.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.t.Errorf("Serve: %v", err)
		}
	})
}

// run runs the load generator with o (filled in with the fixture's users
// file and bounds) and fails unless every request was accepted.
func (f *fixture) run(o Options, requests int) Result {
	f.t.Helper()
	o.UsersFile, o.MaxRequests, o.Duration, o.Concurrency = f.file, requests, time.Minute, 4
	var out bytes.Buffer
	r, err := Run(f.t.Context(), o, &out)
	if err != nil {
		f.t.Fatal(err)
	}
	if r.Requests != int64(requests) || r.Accepts != r.Requests {
		f.t.Fatalf("want %d accepts of %d requests, got:\n%s", requests, requests, out.String())
	}
	if !strings.Contains(out.String(), "req/s") {
		f.t.Errorf("no report:\n%s", out.String())
	}
	return r
}

func TestRunAcceptsEveryPINOTPOverRADIUSAndContinuesNextRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 8)
	addr := f.radius()
	f.run(Options{Proto: ProtoRADIUS, Addr: addr}, 40)
	users, err := ReadUsers(f.file)
	if err != nil {
		t.Fatal(err)
	}
	var sum uint64
	for _, u := range users {
		sum += u.NextCounter
	}
	if sum != 40 {
		t.Fatalf("saved counters add up to %d, want 40", sum)
	}
	f.run(Options{Proto: ProtoRADIUS, Addr: addr}, 40) // replays would be rejected
}

func TestRunAcceptsEveryPINOTPOverLDAP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 8)
	addr := f.ldap("webmail")
	t.Run("on persistent connections", func(t *testing.T) {
		f.run(Options{Proto: ProtoLDAP, Addr: addr}, 40)
	})
	t.Run("with a new connection per bind", func(t *testing.T) {
		f.run(Options{Proto: ProtoLDAP, Addr: addr, NewConnPerBind: true}, 40)
	})
}

func TestRunAcceptsPasswordsForAPasswordService(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.run(Options{Proto: ProtoLDAP, Addr: f.ldap("imap"), Mode: ModePassword}, 20)
}

func TestSeedWithASharedPasswordHashesItOnce(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, SeedOptions{Users: 5, SharedPassword: true})
	users, err := ReadUsers(f.file)
	if err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for _, u := range users {
		su, err := f.store.UserByName(t.Context(), u.Name)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, su.PasswordHash)
		if u.Password != users[0].Password || u.PIN == users[0].PIN && u.Name != users[0].Name {
			t.Errorf("%s: password shared %v, PIN shared %v; want the password only", u.Name,
				u.Password == users[0].Password, u.PIN == users[0].PIN)
		}
	}
	if len(users) != 5 || len(slices.Compact(hashes)) != 1 {
		t.Fatalf("%d users, %d distinct hashes; want 5 users and one hash", len(users), len(slices.Compact(hashes)))
	}
	// Every user logs in with the password and with PIN + OTP.
	f.run(Options{Proto: ProtoLDAP, Addr: f.ldap("imap"), Mode: ModePassword}, 10)
	f.run(Options{Proto: ProtoRADIUS, Addr: f.radius()}, 10)
}

func TestRunCountsRejectsAndTimeouts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 2)
	var out bytes.Buffer
	// Passwords where webmail wants PIN+OTP: rejects.
	r, err := Run(t.Context(), Options{Proto: ProtoRADIUS, Addr: f.radius(), UsersFile: f.file,
		Mode: ModePassword, MaxRequests: 4, Concurrency: 2}, &out)
	if err != nil || r.Rejects != 4 {
		t.Fatalf("want 4 rejects, got %+v, %v", r, err)
	}
	// A socket that never answers: timeouts.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	r, err = Run(t.Context(), Options{Proto: ProtoRADIUS, Addr: pc.LocalAddr().String(), UsersFile: f.file,
		MaxRequests: 2, Concurrency: 2, Timeout: 50 * time.Millisecond}, &out)
	if err != nil || r.Timeouts != 2 {
		t.Fatalf("want 2 timeouts, got %+v, %v", r, err)
	}
}

func TestSeedRefusesToOverwriteAUsersFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	err := Seed(t.Context(), SeedTarget{Store: f.store, Manager: f.manager, PINLength: 4},
		SeedOptions{Users: 1, File: f.file})
	if !errors.Is(err, ErrUsage) {
		t.Fatalf("err = %v, want a usage error", err)
	}
}

func TestSeedWritesOnlyTheUsersItCreated(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1) // bench0000 exists
	file := filepath.Join(t.TempDir(), "more.csv")
	err := Seed(t.Context(), SeedTarget{Store: f.store, Manager: f.manager, PINLength: 4},
		SeedOptions{Users: 3, File: file})
	if !errors.Is(err, verify.ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	users, err := ReadUsers(file)
	if errors.Is(err, os.ErrNotExist) {
		return // the error came before any user was created
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Name == "bench0000" {
			t.Fatal("the users file lists bench0000, which Seed did not create")
		}
		if _, err := f.store.UserByName(t.Context(), u.Name); err != nil {
			t.Fatalf("the users file lists %s: %v", u.Name, err)
		}
	}
}

func TestCommandParsesFlags(t *testing.T) {
	t.Parallel()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s3cret\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := parseRunFlags(ProtoLDAP, []string{"--addr", "127.0.0.1:9", "--file", "u.csv", "-c", "32",
		"-d", "3s", "-n", "100", "--new-conn", "--mode", "password", "--secret-file", secret})
	if err != nil {
		t.Fatal(err)
	}
	if o.Addr != "127.0.0.1:9" || o.Concurrency != 32 || o.Duration != 3*time.Second || o.MaxRequests != 100 ||
		!o.NewConnPerBind || o.Mode != ModePassword || o.Secret != "s3cret" {
		t.Fatalf("options %+v", o)
	}
	for _, args := range [][]string{{}, {"tacacs"}, {"radius", "stray"}, {"radius", "--bogus"}, {"seed"}} {
		err := Command(t.Context(), args, io.Discard, nil)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("Command(%q) = %v, want a usage error", args, err)
		}
	}
}
