// Package integration drives the built otpgate binary end to end with real
// files, a real SQLite store and third-party clients (oathtool).
package integration

import (
	"bytes"
	"encoding/base32"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var binary string // built once by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "otpgate-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "otpgate")
	build := exec.Command("go", "build", "-o", binary, "../cmd/otpgate")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build otpgate:", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireTool finds an external client; missing tools skip loudly, or fail
// when OTPGATE_REQUIRE_TOOLS=1 (CI sets it so nothing is skipped there).
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("OTPGATE_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s is required (OTPGATE_REQUIRE_TOOLS=1) but not installed", name)
	}
	t.Skipf("SKIPPED: %s is not installed; install it (Debian package) to run this test", name)
	return ""
}

// instance is an otpgate working directory with its own config.
type instance struct {
	t   *testing.T
	dir string
}

const testConfig = `key_file = "otpgate.key"
[store]
path = "otpgate.db"
[passwords]
argon2_time = 1
argon2_memory = 8192
[http]
listen = "127.0.0.1:0"
`

func newInstance(t *testing.T) *instance {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "otpgate.toml"), []byte(testConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return &instance{t: t, dir: dir}
}

// run runs otpgate in the instance's directory (so ./otpgate.toml is found
// without -c) and returns stdout and the exit code.
func (in *instance) run(stdin string, args ...string) (string, int) {
	in.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = in.dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit):
		in.t.Logf("otpgate %s: exit %d: %s", strings.Join(args, " "), exit.ExitCode(), strings.TrimSpace(errOut.String()))
		return out.String(), exit.ExitCode()
	}
	in.t.Fatalf("otpgate %s: %v", strings.Join(args, " "), err)
	return "", 0
}

func (in *instance) mustRun(stdin string, args ...string) string {
	in.t.Helper()
	out, code := in.run(stdin, args...)
	if code != 0 {
		in.t.Fatalf("otpgate %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// mustRunWith runs a command with extra config appended for this call only.
func (in *instance) mustRunWith(extraConfig, stdin string, args ...string) string {
	in.t.Helper()
	cfg := filepath.Join(in.dir, "otpgate.toml")
	orig, err := os.ReadFile(cfg)
	if err != nil {
		in.t.Fatal(err)
	}
	os.WriteFile(cfg, append(append([]byte{}, orig...), extraConfig...), 0o600)
	defer os.WriteFile(cfg, orig, 0o600)
	return in.mustRun(stdin, args...)
}

// field returns the value of a "key: value" line of out.
func field(t *testing.T, out, key string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, key+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %q line in:\n%s", key, out)
	return ""
}

// mustBase32 decodes an unpadded base32 secret.
func mustBase32(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// uriSecret returns the base32 secret of an otpauth URI.
func uriSecret(t *testing.T, uri string) string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil || u.Query().Get("secret") == "" {
		t.Fatalf("uri %q has no secret (%v)", uri, err)
	}
	return u.Query().Get("secret")
}

// oathTOTP asks oathtool for the TOTP code of a base32 secret at time at.
func oathTOTP(t *testing.T, tool, secret string, at time.Time) string {
	t.Helper()
	out, err := exec.Command(tool, "--totp", "-b", "-N", "@"+fmt.Sprint(at.Unix()), secret).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestWalkThrough is the README's walk-through with codes from oathtool:
// enroll → test → check, replay, and the level rules for other services.
func TestWalkThrough(t *testing.T) {
	t.Parallel()
	oathtool := requireTool(t, "oathtool")
	in := newInstance(t)
	in.mustRun("correct horse\n", "user", "add", "alice@example.org")
	in.mustRun("ab12\n", "user", "set-pin", "alice@example.org")
	in.mustRun("", "user", "set-level", "alice@example.org", "web-otp")

	out := in.mustRun("", "token", "enroll", "alice@example.org", "--type", "totp", "--description", "phone")
	serial, uri := field(t, out, "serial"), field(t, out, "uri")
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("uri %q: %v", uri, err)
	}
	if got := u.Path; got != "/otpgate:alice@example.org" {
		t.Errorf("label %q, want /otpgate:alice@example.org", got)
	}
	secret := uriSecret(t, uri)

	t.Log("a pending token does not log in")
	now := time.Now()
	if _, code := in.run("ab12"+oathTOTP(t, oathtool, secret, now)+"\n", "check", "--service", "webmail", "alice@example.org"); code != 1 {
		t.Fatalf("check with a pending token: exit %d, want 1", code)
	}
	in.mustRun("", "token", "test", "alice@example.org", serial, oathTOTP(t, oathtool, secret, now))

	// The next step's code is inside the ±1 step window and unused.
	next := "ab12" + oathTOTP(t, oathtool, secret, now.Add(30*time.Second)) + "\n"
	if out := in.mustRun(next, "check", "--service", "webmail", "alice@example.org"); out != "accept ok\n" {
		t.Fatalf("PIN+TOTP on webmail: %q", out)
	}
	if out, code := in.run(next, "check", "--service", "webmail", "alice@example.org"); code != 1 || out != "reject replay\n" {
		t.Fatalf("the same code again: %q exit %d, want reject replay / 1", out, code)
	}
	if out := in.mustRun("correct horse\n", "check", "--service", "imap", "alice@example.org"); out != "accept ok\n" {
		t.Fatalf("password on imap at web-otp: %q", out)
	}
	in.mustRun("", "user", "set-level", "alice@example.org", "web-otp-only")
	if out, code := in.run("correct horse\n", "check", "--service", "imap", "alice@example.org"); code != 1 || out != "reject service-denied\n" {
		t.Fatalf("password on imap at web-otp-only: %q exit %d", out, code)
	}
}
