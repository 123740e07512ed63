package verify_test

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/otpgate/otpgate/backend"
	"github.com/otpgate/otpgate/backend/passwd"
	"github.com/otpgate/otpgate/backend/seal"
	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
	"github.com/otpgate/otpgate/verify/otp"
	"github.com/otpgate/otpgate/verify/verifytest"
)

// clock and lockedBuffer come from verifytest, shared with the other
// packages that test against the engine.
type (
	clock        = verifytest.Clock
	lockedBuffer = verifytest.LogBuffer
)

// fixture is a real engine over a real SQLite store in a temp dir.
type fixture struct {
	t       testing.TB
	clock   *clock
	store   testStore
	keyring *seal.Keyring
	engine  *verify.Engine
	manager *manage.Manager
	audit   *lockedBuffer
	logs    *lockedBuffer
	dbPath  string // the SQLite file; "" on MariaDB
}

// cheapArgon2 keeps tests fast; production parameters come from config.
var cheapArgon2 = passwd.Argon2Params{Time: 1, Memory: 8192, Threads: 1}

type fixtureOptions struct {
	brute  verify.BruteForceOptions
	tokens verify.TokenOptions
	policy *verify.Policy
	mysql  bool // MariaDB (a fresh database) instead of SQLite
	remote verify.RemoteValidator
	// storeTimeout is the engine's StoreTimeout (default 2s); slowCheck
	// makes every password check take that long.
	storeTimeout, slowCheck time.Duration
}

// slowCredentials is a Credentials whose password checks take delay, like
// argon2id hashes queued behind others on a loaded host.
type slowCredentials struct {
	verify.Credentials
	delay time.Duration
}

func (c slowCredentials) CheckPassword(hash string, pw verify.Secret) bool {
	<-time.After(c.delay)
	return c.Credentials.CheckPassword(hash, pw)
}

// testStore is what the fixture needs of a backend store.
type testStore interface {
	manage.Store
	Migrate(ctx context.Context) (int, error)
	Close() error
}

func newFixture(t testing.TB, o fixtureOptions) *fixture {
	t.Helper()
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	kr, err := seal.New(master, seal.Options{Argon2: cheapArgon2})
	if err != nil {
		t.Fatal(err)
	}
	clk := verifytest.NewClock(verifytest.Start)
	var (
		st     testStore
		dbPath string
	)
	if o.mysql {
		st, err = openMariaDB(t, kr, clk.Now)
	} else {
		dbPath = filepath.Join(t.TempDir(), "otpgate.db")
		st, err = backend.OpenSQLite(context.Background(), backend.SQLiteOptions{
			Path: dbPath, Sealer: kr, Now: clk.Now})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, clock: clk, store: st, keyring: kr, audit: &lockedBuffer{}, logs: &lockedBuffer{}, dbPath: dbPath}
	if o.tokens == (verify.TokenOptions{}) {
		o.tokens = verify.TokenOptions{TOTPSkew: 1, MOTPSkew: 180 * time.Second}
	}
	policy := verify.DefaultPolicy()
	if o.policy != nil {
		policy = *o.policy
	}
	var creds verify.Credentials = kr
	if o.slowCheck > 0 {
		creds = slowCredentials{Credentials: kr, delay: o.slowCheck}
	}
	f.engine, err = verify.New(verify.Options{
		Store: st, Credentials: creds, Policy: policy, Tokens: o.tokens, BruteForce: o.brute, Remote: o.remote,
		StoreTimeout: o.storeTimeout,
		Audit:        slog.New(slog.NewJSONHandler(f.audit, nil)),
		Log:          slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:          clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.manager, err = manage.New(manage.Options{Store: st, Credentials: kr, Engine: f.engine, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// user creates a user with password, PIN and level.
func (f *fixture) user(name, password, pin, level string) {
	f.t.Helper()
	ctx := context.Background()
	if _, err := f.manager.AddUser(ctx, name, verify.Secret(password)); err != nil {
		f.t.Fatal(err)
	}
	if pin != "" {
		if _, err := f.manager.SetPIN(ctx, name, verify.Secret(pin)); err != nil {
			f.t.Fatal(err)
		}
	}
	if _, err := f.manager.SetLevel(ctx, name, level); err != nil {
		f.t.Fatal(err)
	}
}

// token creates an active token directly in the store with a known key.
func (f *fixture) token(name string, tok verify.Token) verify.Token {
	f.t.Helper()
	u, err := f.store.UserByName(context.Background(), name)
	if err != nil {
		f.t.Fatal(err)
	}
	tok.UserID = u.ID
	tok.Enabled = true
	if tok.Serial == "" {
		tok.Serial = string(tok.Type) + "-" + name
	}
	if tok.LastStep == 0 {
		tok.LastStep = verify.NoStep
	}
	saved, err := f.store.CreateToken(context.Background(), tok)
	if err != nil {
		f.t.Fatal(err)
	}
	return saved
}

var rfcKey = []byte("12345678901234567890")

func totpToken() verify.Token {
	return verify.Token{Type: verify.TypeTOTP, Key: rfcKey, Digits: 6, Algorithm: "SHA1", Period: 30}
}

func hotpToken() verify.Token {
	return verify.Token{Type: verify.TypeHOTP, Key: rfcKey, Digits: 6, Algorithm: "SHA1"}
}

// totpAt returns the 6-digit SHA1 code of rfcKey for unix time ts.
func totpAt(t testing.TB, ts int64) string {
	t.Helper()
	code, err := otp.HOTP(rfcKey, uint64(ts/30), otp.SHA1, 6)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func hotpAt(t testing.TB, counter uint64) string {
	t.Helper()
	code, err := otp.HOTP(rfcKey, counter, otp.SHA1, 6)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func (f *fixture) verify(user, password, service string) verify.Decision {
	return f.engine.Verify(context.Background(), verify.Request{User: user, Password: verify.Secret(password),
		Service: service, Protocol: verify.ProtoRADIUS, Client: netip.MustParseAddr("192.0.2.10")})
}

func (f *fixture) verifyFrom(user, password, service, client string) verify.Decision {
	return f.engine.Verify(context.Background(), verify.Request{User: user, Password: verify.Secret(password),
		Service: service, Protocol: verify.ProtoLDAP, Client: netip.MustParseAddr(client)})
}

func want(t testing.TB, got verify.Decision, outcome verify.Outcome, reason verify.Reason) {
	t.Helper()
	if got.Outcome != outcome || got.Reason != reason {
		t.Fatalf("decision = %v/%s, want %v/%s", got.Outcome, got.Reason, outcome, reason)
	}
}

// openMariaDB opens the MySQL store on a fresh database of the test
// MariaDB (OTPGATE_TEST_MYSQL_DSN, default the local one), dropped at the
// end. Without a server it skips loudly unless OTPGATE_REQUIRE_MYSQL=1.
func openMariaDB(t testing.TB, sealer backend.Sealer, now func() time.Time) (*backend.MySQL, error) {
	t.Helper()
	dsn := cmp.Or(os.Getenv("OTPGATE_TEST_MYSQL_DSN"), "root@tcp(127.0.0.1:3306)/test")
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	admin, err := sql.Open("mysql", dsn)
	if err == nil {
		err = admin.Ping()
	}
	if err != nil {
		if os.Getenv("OTPGATE_REQUIRE_MYSQL") == "1" {
			t.Fatalf("MariaDB required (OTPGATE_REQUIRE_MYSQL=1): %v", err)
		}
		t.Skipf("SKIPPED: no MariaDB at %s: %v", cfg.Addr, err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := fmt.Sprintf("otpgate_v_%x", b)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		return nil, err
	}
	t.Cleanup(func() { admin.Exec("DROP DATABASE " + name); admin.Close() })
	host, port, _ := net.SplitHostPort(cfg.Addr)
	p, _ := strconv.Atoi(port)
	return backend.OpenMySQL(context.Background(), backend.MySQLOptions{Host: host, Port: p, User: cfg.User,
		Password: cfg.Passwd, Database: name, Sealer: sealer, Now: now, Log: slog.New(slog.DiscardHandler)})
}
