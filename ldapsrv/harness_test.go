package ldapsrv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/otpgate/otpgate/backend"
	"github.com/otpgate/otpgate/backend/passwd"
	"github.com/otpgate/otpgate/backend/seal"
	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
	"github.com/otpgate/otpgate/verify/otp"
	"github.com/otpgate/otpgate/verify/verifytest"
)

// TestMain fails the run if any goroutine of the server or the library
// outlives the tests: every Serve must have closed all it started.
func TestMain(m *testing.M) {
	code := m.Run()
	start := time.Now()
	if code == 0 {
		if leaked := waitForLeaks(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n%s\n", leaked)
			code = 1
		}
	}
	if d := time.Since(start); d > time.Second {
		fmt.Fprintf(os.Stderr, "leak check took %v\n", d)
	}
	os.Exit(code)
}

// waitForLeaks polls until no goroutine runs code of this package or of
// nmcclain/ldap (goroutines finish asynchronously after Close), and
// returns the offending stacks if some remain after limit.
func waitForLeaks(limit time.Duration) string {
	deadline := time.Now().Add(limit)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var bad []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if (strings.Contains(g, "otpgate/ldapsrv.") || strings.Contains(g, "nmcclain/ldap.")) &&
				!strings.Contains(g, "ldapsrv.TestMain") && !strings.Contains(g, "ldapsrv.waitForLeaks") {
				bad = append(bad, g)
			}
		}
		if len(bad) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(bad, "\n\n")
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond) // polling a leak check, not synchronisation
	}
}

// clock comes from verifytest, shared with the other packages that test
// against the engine.
type clock = verifytest.Clock

// fixture is a real engine over a real SQLite store.
type fixture struct {
	t       testing.TB
	env     *verifytest.Env
	clock   *clock
	store   *backend.SQLite
	keyring *seal.Keyring
	engine  *verify.Engine
	manager *manage.Manager
}

// cheapArgon2 (64 KiB, one pass) keeps tests and benchmarks about the
// listener rather than the hash; production parameters come from config.
var cheapArgon2 = passwd.Argon2Params{Time: 1, Memory: 64, Threads: 1}

var rfcKey = []byte("12345678901234567890")

func newFixture(t testing.TB) *fixture {
	t.Helper()
	env := verifytest.New(t, verifytest.Options{Argon2: cheapArgon2, Engine: verify.Options{
		Tokens: verify.TokenOptions{TOTPSkew: 1}}})
	return &fixture{t: t, env: env, clock: env.Clock, store: env.Store, keyring: env.Keyring, engine: env.Engine, manager: env.Manager}
}

// user creates a user with password, optional PIN and level.
func (f *fixture) user(name, password, pin, level string) {
	f.t.Helper()
	f.env.User(f.t, name, password, pin, level)
}

// totpUser creates a web-otp user with PIN and an active TOTP token over
// rfcKey.
func (f *fixture) totpUser(name, password, pin string) {
	f.t.Helper()
	f.user(name, password, pin, verify.LevelWebOTP)
	u, err := f.store.UserByName(context.Background(), name)
	if err != nil {
		f.t.Fatal(err)
	}
	_, err = f.store.CreateToken(context.Background(), verify.Token{UserID: u.ID, Serial: "totp-" + name,
		Type: verify.TypeTOTP, Key: rfcKey, Digits: 6, Algorithm: "SHA1", Period: 30, Enabled: true, LastStep: verify.NoStep})
	if err != nil {
		f.t.Fatal(err)
	}
}

// code returns the current TOTP code of rfcKey on the fixture's clock.
func (f *fixture) code() string {
	f.t.Helper()
	c, err := otp.HOTP(rfcKey, uint64(f.clock.Now().Unix()/30), otp.SHA1, 6)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// hash returns a password hash for a service account.
func (f *fixture) hash(pw string) string {
	f.t.Helper()
	h, err := f.keyring.HashPassword(verify.Secret(pw))
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

const (
	baseDN     = "dc=example,dc=org"
	webmailDN  = "cn=webmail,ou=services,dc=example,dc=org"
	webmailPW  = "service-secret"
	uidTmpl    = "uid={user},ou=people,dc=example,dc=org"
	mailTmpl   = "mail={user},ou=people,dc=example,dc=org"
	alicePW    = "correct horse"
	aliceName  = "alice@example.org"
	aliceDN    = `uid=alice@example.org,ou=people,dc=example,dc=org`
	testPeople = "ou=people,dc=example,dc=org"
)

// baseConfig is a server for service "imap" (password mode at every level
// of the default policy) with the webmail service account.
func (f *fixture) baseConfig() Config {
	return Config{Service: "imap", BaseDN: baseDN, UserDNTemplates: []string{uidTmpl, mailTmpl},
		ServiceAccounts: []ServiceAccount{{DN: webmailDN, PasswordHash: f.hash(webmailPW)}},
		TLS:             testTLS(f.t)}
}

// testServer is a running Server on 127.0.0.1:0.
type testServer struct {
	srv  *Server
	addr string
}

// serve starts cfg on a fresh loopback listener (optionally wrapped) and
// stops it at cleanup, checking that Serve returned nil.
func (f *fixture) serve(cfg Config, wrap func(net.Listener) net.Listener) *testServer {
	return f.serveWith(cfg, wrap, false)
}

func (f *fixture) serveWith(cfg Config, wrap func(net.Listener) net.Listener, implicitTLS bool) *testServer {
	t := f.t
	t.Helper()
	srv, err := New(cfg, f.engine, f.store, f.keyring, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if wrap != nil {
		ln = wrap(ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		if implicitTLS {
			done <- srv.ServeTLS(ctx, ln)
		} else {
			done <- srv.Serve(ctx, ln)
		}
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v", err)
		}
	})
	return &testServer{srv: srv, addr: addr}
}

// dial opens a go-ldap client connection and closes it at cleanup.
func (s *testServer) dial(t testing.TB) *goldap.Conn {
	t.Helper()
	c, err := goldap.DialURL("ldap://" + s.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimeout(10 * time.Second)
	t.Cleanup(func() { c.Close() })
	return c
}

// bindCode binds and returns the LDAP result code (0 on success).
func bindCode(t testing.TB, c *goldap.Conn, dn, pw string) int {
	t.Helper()
	_, err := c.SimpleBind(&goldap.SimpleBindRequest{Username: dn, Password: pw, AllowEmptyPassword: true})
	return codeOf(t, err)
}

func codeOf(t testing.TB, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var le *goldap.Error
	if errors.As(err, &le) && le.ResultCode != goldap.ErrorNetwork {
		return int(le.ResultCode)
	}
	t.Fatalf("not an LDAP result: %v", err)
	return -1
}

// mustBind fails the test unless a fresh connection can bind alice.
func (s *testServer) mustBind(t testing.TB) {
	t.Helper()
	c := s.dial(t)
	if code := bindCode(t, c, aliceDN, alicePW); code != 0 {
		t.Fatalf("bind after the attack: result %d", code)
	}
}

// waitClosed reads from c until the server closes it; it fails if the
// server sends anything but a close within limit.
func waitClosed(t testing.TB, c net.Conn, limit time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(limit))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue // a response is fine; we wait for the close
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after %v", limit)
		}
		if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
			t.Fatalf("read: %v", err)
		}
		return
	}
}

var (
	tlsOnce sync.Once
	tlsCert tls.Certificate
	tlsPool *x509.CertPool
)

// testTLS returns a server config with a self-signed certificate for
// 127.0.0.1 and localhost.
func testTLS(t testing.TB) *tls.Config {
	t.Helper()
	tlsOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		leaf, _ := x509.ParseCertificate(der)
		tlsCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
		tlsPool = x509.NewCertPool()
		tlsPool.AddCert(leaf)
	})
	return &tls.Config{Certificates: []tls.Certificate{tlsCert}}
}

func clientTLS() *tls.Config {
	return &tls.Config{RootCAs: tlsPool, ServerName: "127.0.0.1"}
}

// remoteListener makes every accepted connection report the client
// address from, so that the non-loopback rules can be tested on loopback.
type remoteListener struct {
	net.Listener
	from string
}

func (l remoteListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return remoteConn{Conn: c, from: l.from}, nil
}

type remoteConn struct {
	net.Conn
	from string
}

func (c remoteConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.ParseIP(c.from), Port: 40000}
}

func contextWithCancel(t testing.TB) (context.Context, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx, cancel
}

// The production types satisfy the interfaces ldapsrv declares, today.
var (
	_ Authenticator   = (*verify.Engine)(nil)
	_ Directory       = (*backend.SQLite)(nil)
	_ PasswordChecker = (*seal.Keyring)(nil)
)
