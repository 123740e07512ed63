package integration

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

const radiusConfig = `
[radius]
listen = ["127.0.0.1:0"]
`

// radclient sends one request with FreeRADIUS's radclient and returns its
// output. Message-Authenticator = 0x00 makes radclient compute one, and
// radclient checks the one in our reply.
func radclient(t *testing.T, tool, addr, kind, secret string, attrs ...string) string {
	t.Helper()
	cmd := exec.Command(tool, "-x", "-r", "1", "-t", "3", addr, kind, secret)
	cmd.Stdin = strings.NewReader(strings.Join(append(attrs, "Message-Authenticator = 0x00"), "\n") + "\n")
	out, _ := cmd.CombinedOutput() // exit status says little; the output says what came back
	return string(out)
}

// TestRadclient: PAP accept with PIN+TOTP, reject of the replayed code,
// Status-Server, and radclient's own Message-Authenticator check on our
// replies, against "otpgate serve" on the built-in RADIUS client.
func TestRadclient(t *testing.T) {
	t.Parallel()
	oathtool := requireTool(t, "oathtool")
	rc := requireTool(t, "radclient")
	in := newInstance(t)
	in.mustRun("correct horse\n", "user", "add", "alice")
	in.mustRun("ab12\n", "user", "set-pin", "alice")
	in.mustRun("", "user", "set-level", "alice", "web-otp")
	out := in.mustRun("", "token", "enroll", "alice", "--type", "totp")
	serial, secret := field(t, out, "serial"), uriSecret(t, field(t, out, "uri"))
	now := time.Now()
	in.mustRun("", "token", "test", "alice", serial, oathTOTP(t, oathtool, secret, now))
	srv := in.serve(radiusConfig)
	addr := srv.addrs["radius"]
	if addr == "" {
		t.Fatalf("no radius address in the log: %v", srv.addrs)
	}

	pw := "ab12" + oathTOTP(t, oathtool, secret, now.Add(30*time.Second))
	got := radclient(t, rc, addr, "auth", "testing123", `User-Name = "alice"`, `User-Password = "`+pw+`"`)
	if !strings.Contains(got, "Received Access-Accept") {
		t.Fatalf("PIN+TOTP: radclient said:\n%s", got)
	}
	if strings.Contains(got, "invalid Message-Authenticator") {
		t.Fatalf("radclient rejected our Message-Authenticator:\n%s", got)
	}
	got = radclient(t, rc, addr, "auth", "testing123", `User-Name = "alice"`, `User-Password = "`+pw+`"`)
	if !strings.Contains(got, "Received Access-Reject") {
		t.Fatalf("replayed code: radclient said:\n%s", got)
	}
	got = radclient(t, rc, addr, "status", "testing123")
	if !strings.Contains(got, "Received Access-Accept") {
		t.Fatalf("Status-Server: radclient said:\n%s", got)
	}
	got = radclient(t, rc, addr, "auth", "wrong-secret", `User-Name = "alice"`, `User-Password = "correct horse"`)
	if strings.Contains(got, "Received Access") {
		t.Fatalf("a request with the wrong secret was answered:\n%s", got)
	}
}
