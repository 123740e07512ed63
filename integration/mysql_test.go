package integration

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/go-sql-driver/mysql"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
)

// mysqlDatabase creates a fresh database on the test MariaDB and returns
// the [store] lines for it. Without a server the test is skipped loudly,
// or fails when OTPGATE_REQUIRE_MYSQL=1 (CI).
func mysqlDatabase(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("OTPGATE_TEST_MYSQL_DSN")
	if dsn == "" {
		dsn = "root@tcp(127.0.0.1:3306)/test"
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("OTPGATE_TEST_MYSQL_DSN: %v", err)
	}
	db, err := sql.Open("mysql", dsn)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = db.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("OTPGATE_REQUIRE_MYSQL") == "1" {
			t.Fatalf("MariaDB at %s is required (OTPGATE_REQUIRE_MYSQL=1): %v", cfg.Addr, err)
		}
		t.Skipf("SKIPPED: no MariaDB at %s (%v); set OTPGATE_TEST_MYSQL_DSN", cfg.Addr, err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "otpgate_it_" + hex.EncodeToString(b[:])
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Exec("DROP DATABASE " + name); db.Close() })
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		t.Fatalf("OTPGATE_TEST_MYSQL_DSN address %q: %v", cfg.Addr, err)
	}
	pwFile := filepath.Join(t.TempDir(), "db.pw")
	os.WriteFile(pwFile, []byte(cfg.Passwd+"\n"), 0o600)
	return fmt.Sprintf("[store]\ndriver = \"mysql\"\nhost = %q\nport = %s\nuser = %q\npassword_file = %q\ndatabase = %q\n",
		host, port, cfg.User, pwFile, name)
}

// newMySQLInstance is an instance whose config points at database.
func newMySQLInstance(t *testing.T, storeConfig string, keyFrom *instance) *instance {
	t.Helper()
	dir := t.TempDir()
	cfg := "key_file = \"otpgate.key\"\n[passwords]\nargon2_time = 1\nargon2_memory = 8192\n[http]\nlisten = \"127.0.0.1:0\"\n" + storeConfig
	if err := os.WriteFile(filepath.Join(dir, "otpgate.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if keyFrom != nil { // instances sharing a database share the master key
		key, err := os.ReadFile(filepath.Join(keyFrom.dir, "otpgate.key"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "otpgate.key"), key, 0o600)
	}
	return &instance{t: t, dir: dir}
}

// papRequest builds an Access-Request with a Message-Authenticator for the
// built-in client's secret.
func papRequest(t *testing.T, user, password string) *radius.Packet {
	t.Helper()
	return papRequestSecret(t, "testing123", user, password)
}

// papRequestSecret builds an Access-Request with a Message-Authenticator.
func papRequestSecret(t *testing.T, secret, user, password string) *radius.Packet {
	t.Helper()
	p := radius.New(radius.CodeAccessRequest, []byte(secret))
	rfc2865.UserName_SetString(p, user)
	rfc2865.UserPassword_SetString(p, password)
	rfc2869.MessageAuthenticator_Set(p, make([]byte, 16))
	raw, err := p.MarshalBinary() // RFC 3579 §3.2: HMAC-MD5 over the packet with MA zeroed
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(md5.New, p.Secret)
	mac.Write(raw)
	rfc2869.MessageAuthenticator_Set(p, mac.Sum(nil))
	return p
}

// TestTwoInstancesShareReplayAndBackoffState runs two "otpgate serve" on
// one MariaDB database: one PIN+TOTP code sent 40 times at once, split
// across both, is accepted exactly once; failures on both count together.
func TestTwoInstancesShareReplayAndBackoffState(t *testing.T) {
	t.Parallel()
	oathtool := requireTool(t, "oathtool")
	storeConfig := mysqlDatabase(t)
	a := newMySQLInstance(t, storeConfig, nil)
	a.mustRun("correct horse\n", "user", "add", "alice")
	a.mustRun("ab12\n", "user", "set-pin", "alice")
	a.mustRun("", "user", "set-level", "alice", "web-otp")
	out := a.mustRun("", "token", "enroll", "alice", "--type", "totp")
	serial, secret := field(t, out, "serial"), uriSecret(t, field(t, out, "uri"))
	now := time.Now()
	a.mustRun("", "token", "test", "alice", serial, oathTOTP(t, oathtool, secret, now))
	a.mustRun("battery staple\n", "user", "add", "bob")
	a.mustRun("cd34\n", "user", "set-pin", "bob")
	a.mustRun("", "user", "set-level", "bob", "web-otp")
	out = a.mustRun("", "token", "enroll", "bob", "--type", "hotp")
	bobSerial, bobSecret := field(t, out, "serial"), uriSecret(t, field(t, out, "uri"))
	a.mustRun("", "token", "test", "bob", bobSerial, oathHOTP(t, oathtool, bobSecret, 0))
	b := newMySQLInstance(t, storeConfig, a)
	listen := "[radius]\nlisten = [\"127.0.0.1:0\"]\n[ldap]\nlisten = [\"127.0.0.1:0\"]\n[bruteforce]\nmax_fail = 4\n"
	srvA, srvB := a.serve(listen), b.serve(listen)
	addrs := []string{srvA.addrs["radius"], srvB.addrs["radius"]}

	pw := "ab12" + oathTOTP(t, oathtool, secret, now.Add(30*time.Second))
	var accepts, rejects atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := radius.Exchange(ctx, papRequest(t, "alice", pw), addrs[i%2])
			switch {
			case err != nil:
				t.Errorf("request %d: %v", i, err)
			case resp.Code == radius.CodeAccessAccept:
				accepts.Add(1)
			case resp.Code == radius.CodeAccessReject:
				rejects.Add(1)
			}
		})
	}
	wg.Wait()
	if accepts.Load() != 1 || rejects.Load() != 39 {
		t.Fatalf("accepts = %d, rejects = %d; want 1 and 39", accepts.Load(), rejects.Load())
	}

	t.Log("the same over LDAP: 40 binds with one code on both instances, one succeeds")
	ldapAddrs := []string{srvA.addrs["ldap"], srvB.addrs["ldap"]}
	bindPW := "cd34" + oathHOTP(t, oathtool, bobSecret, 1)
	var binds, refusals atomic.Int32
	for i := range 40 {
		wg.Go(func() {
			c, err := goldap.DialURL("ldap://" + ldapAddrs[i%2])
			if err != nil {
				t.Errorf("dial: %v", err)
				return
			}
			defer c.Close()
			err = c.Bind("uid=bob,ou=people,dc=example,dc=org", bindPW)
			switch {
			case err == nil:
				binds.Add(1)
			case goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials):
				refusals.Add(1)
			default:
				t.Errorf("bind %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if binds.Load() != 1 || refusals.Load() != 39 {
		t.Fatalf("binds = %d, refusals = %d; want 1 and 39", binds.Load(), refusals.Load())
	}

	t.Log("failures on both instances add up to one back-off")
	a.mustRun("", "user", "unlock", "alice")
	for i := range 4 {
		exchange(t, addrs[i%2], "alice", "ab12000000")
	}
	next := "ab12" + oathTOTP(t, oathtool, secret, now.Add(60*time.Second))
	if code := exchange(t, addrs[0], "alice", next); code != radius.CodeAccessReject {
		t.Fatalf("a valid code during the back-off got %v", code)
	}
	if out := a.mustRun("", "user", "show", "alice"); !strings.Contains(out, "backing off until") {
		t.Fatalf("user show does not report the back-off:\n%s", out)
	}
}

func exchange(t *testing.T, addr, user, pw string) radius.Code {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := radius.Exchange(ctx, papRequest(t, user, pw), addr)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return resp.Code
}

// oathHOTP asks oathtool for the HOTP code of a base32 secret at counter.
func oathHOTP(t *testing.T, tool, secret string, counter int) string {
	t.Helper()
	out, err := exec.Command(tool, "--hotp", "-b", "-c", fmt.Sprint(counter), secret).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	return strings.TrimSpace(string(out))
}
