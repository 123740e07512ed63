package verify_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/otpgate/otpgate/verify"
)

// FuzzCombinedPassword feeds arbitrary password fields through every mode:
// the engine must not panic, must not call the store unavailable, and may
// accept only the real password or the real PIN plus a valid code.
func FuzzCombinedPassword(f *testing.F) {
	policy := verify.DefaultPolicy()
	policy.Services["vpn"] = "vpn"
	for _, lvl := range []string{verify.LevelOff, verify.LevelWebOTP, verify.LevelWebOTPOnly} {
		policy.Modes[lvl]["vpn"] = verify.ModePasswordOTP
	}
	fx := newFixture(f, fixtureOptions{policy: &policy, brute: verify.BruteForceOptions{MaxFail: 1 << 30}})
	fx.user("alice", "correct horse", "ab12", verify.LevelWebOTP)
	fx.token("alice", totpToken())
	fx.token("alice", verify.Token{Type: verify.TypeMOTP, Key: []byte("e3152afee62599c8"), DevicePIN: "1234", Digits: 6, Period: 10})
	for _, seed := range []string{"", "ab12", "ab12123456", "correct horse", "correct horse123456", "\x00\xff", "ab12ABCDEF", "ab1"} {
		f.Add(seed, uint8(0), uint8(0))
	}
	services := []string{"webmail", "imap", "vpn", "nosuch"}
	stages := []verify.Stage{verify.StageFull, verify.StageChallengeable, verify.StageOTP}
	f.Fuzz(func(t *testing.T, pw string, svc, stage uint8) {
		d := fx.engine.Verify(context.Background(), verify.Request{User: "alice", Password: verify.Secret(pw),
			Service: services[int(svc)%len(services)], Stage: stages[int(stage)%len(stages)]})
		if d.Outcome == verify.Unavailable {
			t.Fatalf("unavailable for %q: %s", pw, d.Reason)
		}
		if d.Outcome == verify.Accept && pw != "correct horse" {
			t.Fatalf("accepted %q (%s)", pw, d.Reason) // a random valid code is a 1e-6 event per try
		}
	})
}

// countingCredentials counts password checks of the real keyring.
type countingCredentials struct {
	verify.Credentials
	passwordChecks atomic.Int32
}

func (c *countingCredentials) CheckPassword(hash string, pw verify.Secret) bool {
	c.passwordChecks.Add(1)
	return c.Credentials.CheckPassword(hash, pw)
}

// TestUnknownUserCostsAPasswordCheck guards the timing equaliser: refusing
// an unknown name (or a reject-mode service) runs one full password hash,
// like refusing a wrong password of a real user does.
func TestUnknownUserCostsAPasswordCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("only", "pw", "ab12", verify.LevelWebOTPOnly)
	counting := &countingCredentials{Credentials: f.keyring}
	engine, err := verify.New(verify.Options{Store: f.store, Credentials: counting, Policy: verify.DefaultPolicy(), Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, user, service string
		reason              verify.Reason
	}{
		{"runs a password check for an unknown user", "nobody", "imap", verify.ReasonUnknownUser},
		{"runs a password check for a service the level denies", "only", "imap", verify.ReasonServiceDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := counting.passwordChecks.Load()
			d := engine.Verify(context.Background(), verify.Request{User: tc.user, Password: "guess", Service: tc.service})
			want(t, d, verify.Reject, tc.reason)
			if n := counting.passwordChecks.Load() - before; n != 1 {
				t.Fatalf("%d password checks, want 1", n)
			}
		})
	}
}
