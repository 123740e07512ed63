package main

import (
	"strings"
	"testing"
)

// Vectors yubiotp-random-0000 and -ffff of testdata/vectors/yubikey.json:
// one key, session counters 0 and 1.
const (
	ykAESKey    = "c4c5c6c7c8c9cacbcccdcecfd0d1d2d3"
	ykPublicID  = "ccccccbcgujh"
	ykPrivateID = "112233445566"
	ykOTP0      = "ccccccbcgujhhdicrndrdbglcigjjuiefhejgukrdcfk"
	ykOTP1      = "ccccccbcgujhlbvbenbjdurgvijkjnrgbhbujdhunkit"
)

func TestAddYubiKeyTestAndLogIn(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.ok("pw\n", "user", "add", "alice")
	c.ok("ab12\n", "user", "set-pin", "alice")
	c.ok("", "user", "set-level", "alice", "web-otp")
	c.fails(2, "nothex\n", "token", "add-yubikey", "alice", "--public-id", ykPublicID, "--private-id", ykPrivateID)
	c.fails(2, ykAESKey+"\n", "token", "add-yubikey", "alice", "--public-id", "CCCCCCBCGUJH", "--private-id", ykPrivateID)
	out := c.ok(ykAESKey+"\n", "token", "add-yubikey", "alice", "--public-id", ykPublicID, "--private-id", ykPrivateID,
		"--description", "desk key")
	serial := strings.TrimPrefix(strings.SplitN(out, "\n", 2)[0], "serial: ")
	if !strings.HasPrefix(serial, "YUBIKEY") || strings.Contains(out, ykAESKey) {
		t.Fatalf("add-yubikey printed %q", out)
	}
	c.fails(1, ykAESKey+"\n", "token", "add-yubikey", "alice", "--public-id", ykPublicID, "--private-id", ykPrivateID)
	c.ok("", "token", "test", "alice", serial, ykOTP0)
	if out := c.ok("ab12"+ykOTP1+"\n", "check", "--service", "webmail", "alice"); out != "accept ok\n" {
		t.Fatalf("PIN+YubiKey: %q", out)
	}
	if out, _, code := c.run("ab12"+ykOTP0+"\n", "check", "--service", "webmail", "alice"); code != 1 || out != "reject replay\n" {
		t.Fatalf("an older OTP: %q, exit %d", out, code)
	}
}

func TestAddRemoteYubiKeyTakesThePublicIDFromAnOTP(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.ok("pw\n", "user", "add", "alice")
	c.fails(2, "ccccccbcgujh\n", "token", "add-yubikey", "alice", "--remote")
	out := c.ok(ykOTP0+"\n", "token", "add-yubikey", "alice", "--remote", "--json")
	if !strings.Contains(out, `"type": "yubicloud"`) || !strings.Contains(out, `"state": "pending"`) {
		t.Fatalf("add-yubikey --remote: %s", out)
	}
}
