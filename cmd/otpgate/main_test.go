package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otpgate/otpgate/verify/otp"
)

// cli runs the otpgate command in-process against a config in a temp dir.
type cli struct {
	t   *testing.T
	dir string
	cfg string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "otpgate.toml")
	body := "key_file = " + quote(filepath.Join(dir, "otpgate.key")) + "\n[store]\npath = " + quote(filepath.Join(dir, "otpgate.db")) +
		"\n[passwords]\nargon2_time = 1\nargon2_memory = 8192\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cli{t: t, dir: dir, cfg: cfg}
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func (c *cli) run(stdin string, args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	code = run(c.t.Context(), append([]string{"-c", c.cfg}, args...), strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

func (c *cli) ok(stdin string, args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(stdin, args...)
	if code != 0 {
		c.t.Fatalf("otpgate %v: exit %d: %s", args, code, errOut)
	}
	return out
}

func (c *cli) fails(wantCode int, stdin string, args ...string) string {
	c.t.Helper()
	_, errOut, code := c.run(stdin, args...)
	if code != wantCode {
		c.t.Fatalf("otpgate %v: exit %d, want %d (stderr %q)", args, code, wantCode, errOut)
	}
	if wantCode != 0 && strings.Count(strings.TrimSpace(errOut), "\n") > 0 && !strings.Contains(args[0], "config") {
		c.t.Errorf("error is not one line: %q", errOut)
	}
	return errOut
}

func TestUserCommands(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.ok("pw one\n", "user", "add", "alice@example.org")
	c.fails(1, "pw\n", "user", "add", "alice@example.org")
	c.fails(2, "", "user", "add", "bob") // no password on stdin
	c.fails(2, "pw\n", "user", "add", "bad name")

	if out := c.ok("Ab12xyz\n", "user", "set-pin", "alice@example.org"); !strings.Contains(out, "only the first 4 characters") {
		t.Errorf("set-pin did not say the PIN was cut: %q", out)
	}
	c.fails(2, "ab!2\n", "user", "set-pin", "alice@example.org")
	c.fails(2, "ab1\n", "user", "set-pin", "alice@example.org")
	c.fails(1, "ab12\n", "user", "set-pin", "nobody")

	_, warn, _ := c.run("", "user", "set-level", "alice@example.org", "web-otp")
	if !strings.Contains(warn, "no active token") {
		t.Errorf("set-level gave no warning about the missing token: %q", warn)
	}
	c.fails(2, "", "user", "set-level", "alice@example.org", "paranoid")
	c.fails(1, "", "user", "rename", "alice@example.org", "alice@example.net")

	var shown struct {
		Name   string `json:"name"`
		Level  string `json:"level"`
		PINSet bool   `json:"pin_set"`
	}
	if err := json.Unmarshal([]byte(c.ok("", "user", "show", "alice@example.org", "--json")), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Level != "web-otp" || !shown.PINSet {
		t.Errorf("show = %+v", shown)
	}
	c.ok("", "user", "set-attr", "alice@example.org", "displayName", "Alice Liddell")
	c.fails(2, "", "user", "set-attr", "alice@example.org", "mail", "x@example.org")
	c.fails(2, "", "user", "set-attr", "alice@example.org")
	if out := c.ok("", "user", "show", "alice@example.org"); !strings.Contains(out, "displayname:") || !strings.Contains(out, "Alice Liddell") {
		t.Errorf("show lacks the attribute:\n%s", out)
	}
	c.ok("new pw\n", "user", "reset", "alice@example.org")
	if out := c.ok("new pw\n", "check", "--service", "webmail", "alice@example.org"); out != "accept ok\n" {
		t.Errorf("after reset the new password on webmail: %q", out)
	}
	c.ok("", "user", "rename", "alice@example.org", "alice@example.net")
	var list []struct{ Name string }
	if err := json.Unmarshal([]byte(c.ok("", "user", "list", "--json")), &list); err != nil || len(list) != 1 || list[0].Name != "alice@example.net" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	c.ok("", "user", "delete", "alice@example.net")
	c.fails(1, "", "user", "show", "alice@example.net")
}

func TestTokenCommands(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.ok("pw\n", "user", "add", "alice")
	c.ok("ab12\n", "user", "set-pin", "alice")
	c.ok("", "user", "set-level", "alice", "web-otp")
	qr := filepath.Join(c.dir, "token.png")
	var en struct {
		Serial string `json:"serial"`
		URI    string `json:"uri"`
	}
	out := c.ok("", "token", "enroll", "alice", "--type", "hotp", "--digits", "8", "--qr", qr, "--json")
	if err := json.Unmarshal([]byte(out), &en); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(en.URI)
	if err != nil || u.Host != "hotp" || u.Query().Get("counter") != "0" || u.Query().Get("digits") != "8" {
		t.Fatalf("hotp uri %q (%v): want counter=0 and digits=8", en.URI, err)
	}
	st, err := os.Stat(qr)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("qr file: %v, mode %v", err, st.Mode())
	}
	if f, _ := os.Open(qr); f != nil {
		if _, err := png.Decode(f); err != nil {
			t.Errorf("qr file is not a PNG: %v", err)
		}
		f.Close()
	}
	key := mustBase32(t, u.Query().Get("secret"))
	code, _ := otp.HOTP(key, 0, otp.SHA1, 8)
	c.fails(1, "", "token", "test", "alice", en.Serial, "00000000")
	c.ok("", "token", "test", "alice", en.Serial, code)
	code1, _ := otp.HOTP(key, 1, otp.SHA1, 8)
	if out := c.ok("ab12"+code1+"\n", "check", "--service", "webmail", "alice", "--json"); !strings.Contains(out, `"decision": "accept"`) {
		t.Errorf("check --json: %s", out)
	}
	c.ok("", "token", "describe", en.Serial, "yubikey drawer")
	c.ok("", "token", "disable", en.Serial)
	code2, _ := otp.HOTP(key, 2, otp.SHA1, 8)
	if out, _, code := c.run("ab12"+code2+"\n", "check", "--service", "webmail", "alice"); code != 1 || out != "reject disabled\n" {
		t.Errorf("check with disabled token: %q exit %d", out, code)
	}
	c.ok("", "token", "enable", en.Serial)
	list := c.ok("", "token", "list", "alice")
	if !strings.Contains(list, "yubikey drawer") || !strings.Contains(list, "active") {
		t.Errorf("token list: %s", list)
	}
	c.ok("", "token", "delete", en.Serial)
	c.fails(1, "", "token", "delete", en.Serial)
}

func TestEnrollMOTPReadsSecretAndPINFromStdin(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.ok("pw\n", "user", "add", "alice")
	out := c.ok("e3152afee62599c8\n1234\n", "token", "enroll", "alice", "--type", "motp")
	serial := strings.TrimPrefix(strings.SplitN(out, "\n", 2)[0], "serial: ")
	if !strings.HasPrefix(serial, "MOTP") || strings.Contains(out, "e3152afee62599c8") {
		t.Fatalf("enroll motp printed %q", out)
	}
	code := otp.MOTP(time.Now().Unix()/10, []byte("e3152afee62599c8"), "1234")
	c.ok("", "token", "test", "alice", serial, code)
	c.fails(2, "short\n1234\n", "token", "enroll", "alice", "--type", "motp")
}

func TestUsageAndConfigErrors(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.fails(2, "", "frobnicate")
	c.fails(2, "", "user")
	c.fails(2, "", "user", "show")
	c.fails(2, "pw\n", "check", "alice")
	if out := c.ok("", "config", "check"); !strings.HasSuffix(out, "otpgate.toml: ok\n") {
		t.Errorf("config check: %q", out)
	}
	bad := filepath.Join(c.dir, "bad.toml")
	os.WriteFile(bad, []byte("pin_length = 4\n[store]\ntimeout = 30\nflavour = \"x\"\n"), 0o600)
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"-c", bad, "config", "check"}, strings.NewReader(""), &out, &errOut); code != 1 {
		t.Fatalf("config check of a bad file: exit %d", code)
	}
	for _, want := range []string{bad + ":3: store.timeout:", bad + ":4: store.flavour:"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("config check output lacks %q:\n%s", want, errOut.String())
		}
	}
	if out := c.ok("", "version"); !strings.HasPrefix(out, "otpgate ") {
		t.Errorf("version: %q", out)
	}
	if out := c.ok("", "migrate"); !strings.HasPrefix(out, "schema version ") {
		t.Errorf("migrate: %q", out)
	}
}
