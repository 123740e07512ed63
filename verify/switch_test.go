package verify_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

func TestSwitchReconfigures(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{brute: verify.BruteForceOptions{MaxFail: 1000, SourceMaxFail: 3, SourceWindow: time.Minute}})
	f.user("alice", "right", "", verify.LevelWebOTPOnly)
	sw := verify.NewSwitch(f.engine)
	from := netip.MustParseAddr("203.0.113.9")
	req := func(pw string) verify.Decision {
		return sw.Verify(context.Background(), verify.Request{User: "alice", Password: verify.Secret(pw), Service: "imap", Client: from})
	}
	want(t, req("right"), verify.Reject, verify.ReasonServiceDenied)
	req("wrong")

	policy := verify.DefaultPolicy()
	policy.Modes[verify.LevelWebOTPOnly]["other"] = verify.ModePassword
	opts := verify.Options{Store: f.store, Credentials: f.keyring, Policy: policy, Now: f.clock.Now,
		BruteForce: verify.BruteForceOptions{MaxFail: 1000, SourceMaxFail: 3, SourceWindow: time.Minute}}
	next, err := f.engine.Reconfigure(opts)
	if err != nil {
		t.Fatal(err)
	}
	sw.Swap(next)
	t.Run("applies the new policy to new requests", func(t *testing.T) {
		want(t, req("right"), verify.Accept, verify.ReasonOK)
	})
	t.Run("keeps the source throttle's counts when its settings are unchanged", func(t *testing.T) {
		req("wrong") // the third failure of this source in the window (two were before the swap)
		want(t, req("right"), verify.Reject, verify.ReasonThrottled)
	})
	t.Run("refuses an invalid configuration", func(t *testing.T) {
		bad := opts
		bad.Policy = verify.Policy{PINLength: 4}
		if _, err := f.engine.Reconfigure(bad); err == nil {
			t.Fatal("Reconfigure accepted a policy without services")
		}
	})
}

func TestManagerFollowsTheSwitch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("alice", "right", "", verify.LevelOff)
	sw := verify.NewSwitch(f.engine)
	m, err := manage.New(manage.Options{Store: f.store, Credentials: f.keyring, Engine: sw, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	policy := verify.DefaultPolicy()
	policy.PINLength = 6
	next, err := f.engine.Reconfigure(verify.Options{Store: f.store, Credentials: f.keyring, Policy: policy, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	sw.Swap(next)
	if _, err := m.SetPIN(context.Background(), "alice", "ab12"); !errors.Is(err, manage.ErrInvalid) {
		t.Fatalf("a 4-character PIN after the reload to pin_length 6: %v, want ErrInvalid", err)
	}
	if cut, err := m.SetPIN(context.Background(), "alice", "ab12cd"); err != nil || cut {
		t.Fatalf("a 6-character PIN after the reload: cut %v, %v", cut, err)
	}
}
