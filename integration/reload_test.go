package integration

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"layeh.com/radius"
)

// answered sends one request and reports the reply code, or 0 when there
// is no reply within a second (e.g. a wrong secret is dropped).
func answered(t *testing.T, addr, secret, user, pw string) radius.Code {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	resp, err := radius.Exchange(ctx, papRequestSecret(t, secret, user, pw), addr)
	if errors.Is(err, context.DeadlineExceeded) {
		return 0
	}
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return resp.Code
}

// TestReloadWithSIGHUP sends real signals to the built binary: a reload
// swaps the RADIUS secret and the policy, a broken config is refused with
// the old one kept, a changed listen address is reported as needing a
// restart, and the audit file is reopened after logrotate moved it.
func TestReloadWithSIGHUP(t *testing.T) {
	t.Parallel()
	in := newInstance(t)
	in.mustRun("correct horse\n", "user", "add", "alice")
	in.mustRun("", "user", "set-level", "alice", "web-otp-only")
	cfgPath := filepath.Join(in.dir, "otpgate.toml")
	base, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	config := func(secret, imapMode string) string {
		return string(base) + `[log]
audit = "audit.log"
level = "debug"
[radius]
listen = ["127.0.0.1:0"]
[[radius.clients]]
name = "nas"
network = "127.0.0.0/8"
secret = "` + secret + `"
service = "imap"
[ldap]
listen = []
[services.imap]
class = "other"
[policy]
off = { other = "password" }
web-otp = { other = "password" }
web-otp-only = { other = "` + imapMode + `" }
`
	}
	srv := in.serve(config("first-secret", "reject")[len(base):])
	addr := srv.addrs["radius"]
	hup := func() { srv.cmd.Process.Signal(syscall.SIGHUP) }
	if got := answered(t, addr, "first-secret", "alice", "correct horse"); got != radius.CodeAccessReject {
		t.Fatalf("before the reload: %v, want a reject (web-otp-only)", got)
	}

	t.Log("a reload swaps the client secret and the policy")
	os.WriteFile(cfgPath, []byte(config("second-secret", "password")), 0o600)
	hup()
	srv.waitLog(t, "configuration reloaded")
	if got := answered(t, addr, "first-secret", "alice", "correct horse"); got != 0 {
		t.Fatalf("the old secret still got an answer: %v", got)
	}
	if got := answered(t, addr, "second-secret", "alice", "correct horse"); got != radius.CodeAccessAccept {
		t.Fatalf("after the reload: %v, want accept", got)
	}

	t.Log("a broken config is refused and the running one kept")
	os.WriteFile(cfgPath, []byte(config("second-secret", "password")+"bogus_key = 1\n"), 0o600)
	hup()
	if line := srv.waitLog(t, "configuration error"); !strings.Contains(line, "bogus_key") {
		t.Fatalf("the error line does not name the key: %s", line)
	}
	if got := answered(t, addr, "second-secret", "alice", "correct horse"); got != radius.CodeAccessAccept {
		t.Fatalf("after a refused reload: %v, want accept", got)
	}

	t.Log("a new listen address needs a restart; the audit file is reopened")
	os.Rename(filepath.Join(in.dir, "audit.log"), filepath.Join(in.dir, "audit.log.1"))
	moved := strings.Replace(config("second-secret", "password"), `listen = ["127.0.0.1:0"]`, `listen = ["127.0.0.2:0"]`, 1)
	os.WriteFile(cfgPath, []byte(moved), 0o600)
	hup()
	if line := srv.waitLog(t, "needs a restart"); !strings.Contains(line, "radius.listen") {
		t.Fatalf("restart warning does not name radius.listen: %s", line)
	}
	answered(t, addr, "second-secret", "alice", "correct horse")
	audit, err := os.ReadFile(filepath.Join(in.dir, "audit.log"))
	if err != nil || !strings.Contains(string(audit), `"decision":"accept"`) {
		t.Fatalf("no record in the reopened audit file: %v\n%s", err, audit)
	}
	for drained := false; !drained; {
		select {
		case line := <-srv.logs:
			if strings.Contains(line, "correct horse") || strings.Contains(line, "first-secret") || strings.Contains(line, "second-secret") {
				t.Fatalf("the debug log holds a secret: %s", line)
			}
		default:
			drained = true
		}
	}
	for _, f := range []string{"audit.log", "audit.log.1"} {
		data, _ := os.ReadFile(filepath.Join(in.dir, f))
		if strings.Contains(string(data), "correct horse") || strings.Contains(string(data), "second-secret") {
			t.Fatalf("%s holds a secret", f)
		}
	}
}
