package integration

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"layeh.com/radius"
)

const (
	ykKey       = "c4c5c6c7c8c9cacbcccdcecfd0d1d2d3"
	ykPrivateID = "112233445566"
	ykPublicID  = "vvccccfiluij"
)

// ykOTP makes a YubiKey OTP with ykgenerate (libyubikey) for use counter
// 1 and session counter use.
func ykOTP(t *testing.T, tool string, use int) string {
	t.Helper()
	out, err := exec.Command(tool, ykKey, ykPrivateID, "0001", "c0a8", "00", fmt.Sprintf("%02x", use)).Output()
	if err != nil {
		t.Fatalf("ykgenerate: %v", err)
	}
	return ykPublicID + strings.TrimSpace(string(out))
}

// perlValidate asks otpgate's validation endpoint with the Debian Perl
// client Auth::Yubikey_WebClient and returns its status ("OK", "ERR_...").
// The nonce is ours: the module's own, hmac_sha1_hex(time, rand()), repeats
// between processes started within a second (seen here), which the server
// rightly answers with REPLAYED_REQUEST.
func perlValidate(t *testing.T, url, id string, key []byte, otp string) string {
	t.Helper()
	nonce := make([]byte, 16)
	rand.Read(nonce)
	script := `use Auth::Yubikey_WebClient; my $c = Auth::Yubikey_WebClient->new({id => $ARGV[0], api => $ARGV[1], url => $ARGV[2], nonce => $ARGV[4]}); print $c->otp($ARGV[3]);`
	out, err := exec.Command("perl", "-e", script, id, base64.StdEncoding.EncodeToString(key), url, otp, hex.EncodeToString(nonce)).CombinedOutput()
	if err != nil {
		t.Fatalf("perl client: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestYubiKeyEndToEnd: a local YubiKey (OTPs from ykgenerate) logs in over
// RADIUS and LDAP with a PIN; otpgate's validation endpoint answers the
// independent Perl client and shares replay state with logins; a second
// otpgate validates a yubicloud token against the first.
func TestYubiKeyEndToEnd(t *testing.T) {
	t.Parallel()
	ykgenerate, ldapwhoami := requireTool(t, "ykgenerate"), requireTool(t, "ldapwhoami")
	requirePerlModule(t, "Auth::Yubikey_WebClient")
	a := newInstance(t)
	a.mustRun("correct horse\n", "user", "add", "alice")
	a.mustRun("ab12\n", "user", "set-pin", "alice")
	a.mustRun("", "user", "set-level", "alice", "web-otp")
	out := a.mustRun(ykKey+"\n", "token", "add-yubikey", "alice", "--public-id", ykPublicID, "--private-id", ykPrivateID)
	a.mustRun("", "token", "test", "alice", field(t, out, "serial"), ykOTP(t, ykgenerate, 0))
	apiKey := []byte("otpgate test api key")
	keyFile := filepath.Join(a.dir, "client-7.key")
	os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(apiKey)+"\n"), 0o600)
	srvA := a.serve(fmt.Sprintf("[radius]\nlisten = [\"127.0.0.1:0\"]\n[ldap]\nlisten = [\"127.0.0.1:0\"]\n"+
		"[yubikey.server]\nenabled = true\n[[yubikey.server.clients]]\nid = \"7\"\napi_key_file = %q\n", keyFile))

	if got := exchange(t, srvA.addrs["radius"], "alice", "ab12"+ykOTP(t, ykgenerate, 1)); got != radius.CodeAccessAccept {
		t.Fatalf("PIN+YubiKey over RADIUS: %v", got)
	}
	bind := exec.Command(ldapwhoami, "-x", "-H", "ldap://"+srvA.addrs["ldap"], "-D", "uid=alice,ou=people,dc=example,dc=org",
		"-w", "ab12"+ykOTP(t, ykgenerate, 2))
	if out, err := bind.CombinedOutput(); err != nil || !strings.Contains(string(out), "dn:uid=alice") {
		t.Fatalf("PIN+YubiKey over LDAP: %v\n%s", err, out)
	}
	endpoint := "http://" + srvA.addrs["http"] + "/wsapi/2.0/verify"
	fresh := ykOTP(t, ykgenerate, 3)
	if got := perlValidate(t, endpoint, "7", apiKey, fresh); got != "OK" {
		t.Fatalf("Perl client, fresh OTP: %s", got)
	}
	if got := perlValidate(t, endpoint, "7", apiKey, fresh); got != "ERR_REPLAYED_OTP" {
		t.Fatalf("Perl client, same OTP again: %s", got)
	}
	if got := perlValidate(t, endpoint, "7", apiKey, ykOTP(t, ykgenerate, 1)); got != "ERR_REPLAYED_OTP" {
		t.Fatalf("Perl client, OTP used over RADIUS: %s", got)
	}
	if got := perlValidate(t, endpoint, "7", []byte("not the key"), ykOTP(t, ykgenerate, 4)); got != "ERR_BAD_SIGNATURE" {
		t.Fatalf("Perl client with a wrong key: %s", got)
	}

	t.Log("a second otpgate validates a yubicloud token against the first")
	b := newInstance(t)
	b.mustRun("pw\n", "user", "add", "bob")
	b.mustRun("cd34\n", "user", "set-pin", "bob")
	b.mustRun("", "user", "set-level", "bob", "web-otp")
	out = b.mustRun(ykOTP(t, ykgenerate, 5)+"\n", "token", "add-yubikey", "bob", "--remote")
	bKeyFile := filepath.Join(b.dir, "api.key")
	os.WriteFile(bKeyFile, []byte(base64.StdEncoding.EncodeToString(apiKey)+"\n"), 0o600)
	remote := fmt.Sprintf("[yubikey.validation]\nurls = [%q]\nclient_id = \"7\"\napi_key_file = %q\n", endpoint, bKeyFile)
	b.mustRunWith(remote, "", "token", "test", "bob", field(t, out, "serial"), ykOTP(t, ykgenerate, 6))
	srvB := b.serve("[radius]\nlisten = [\"127.0.0.1:0\"]\n[ldap]\nlisten = [\"127.0.0.1:0\"]\n" + remote)
	pw := "cd34" + ykOTP(t, ykgenerate, 7)
	if got := exchange(t, srvB.addrs["radius"], "bob", pw); got != radius.CodeAccessAccept {
		t.Fatalf("PIN+yubicloud over RADIUS: %v", got)
	}
	if got := exchange(t, srvB.addrs["radius"], "bob", pw); got != radius.CodeAccessReject {
		t.Fatalf("the same yubicloud OTP again: %v", got)
	}
	bind = exec.Command(ldapwhoami, "-x", "-H", "ldap://"+srvB.addrs["ldap"], "-D", "bob", "-w", "cd34"+ykOTP(t, ykgenerate, 8))
	if out, err := bind.CombinedOutput(); err != nil || !strings.Contains(string(out), "dn:uid=bob") {
		t.Fatalf("PIN+yubicloud over LDAP: %v\n%s", err, out)
	}
}

func requirePerlModule(t *testing.T, module string) {
	t.Helper()
	requireTool(t, "perl")
	if exec.Command("perl", "-M"+module, "-e", "1").Run() == nil {
		return
	}
	if os.Getenv("OTPGATE_REQUIRE_TOOLS") == "1" {
		t.Fatalf("Perl module %s is required (OTPGATE_REQUIRE_TOOLS=1)", module)
	}
	t.Skipf("SKIPPED: Perl module %s is not installed", module)
}
