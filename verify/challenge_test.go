package verify_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/otpgate/otpgate/verify"
)

func (f *fixture) verifyStage(user, password, service string, stage verify.Stage) verify.Decision {
	return f.engine.Verify(context.Background(), verify.Request{User: user, Password: verify.Secret(password),
		Service: service, Protocol: verify.ProtoRADIUS, Client: netip.MustParseAddr("192.0.2.10"), Stage: stage})
}

func TestChallengeStages(t *testing.T) {
	t.Parallel()
	policy := verify.DefaultPolicy()
	policy.Services["vpn"] = "vpn"
	for _, lvl := range []string{verify.LevelOff, verify.LevelWebOTP, verify.LevelWebOTPOnly} {
		policy.Modes[lvl]["vpn"] = verify.ModePasswordOTP
	}
	f := newFixture(t, fixtureOptions{policy: &policy})
	f.user("alice", "correct horse", "ab12", verify.LevelWebOTP)
	f.user("nobody-token", "pw", "ab12", verify.LevelWebOTP)
	f.token("alice", totpToken())
	now := f.clock.Now().Unix()
	ch := verify.StageChallengeable

	t.Run("challenges a right PIN alone", func(t *testing.T) {
		want(t, f.verifyStage("alice", "ab12", "webmail", ch), verify.Challenge, verify.ReasonChallenge)
	})
	t.Run("refuses a wrong PIN alone without a challenge", func(t *testing.T) {
		want(t, f.verifyStage("alice", "ab13", "webmail", ch), verify.Reject, verify.ReasonBadPIN)
	})
	t.Run("refuses a right PIN alone when challenges are off", func(t *testing.T) {
		want(t, f.verifyStage("alice", "ab12", "webmail", verify.StageFull), verify.Reject, verify.ReasonBadOTP)
	})
	t.Run("does not challenge a user without a token", func(t *testing.T) {
		want(t, f.verifyStage("nobody-token", "ab12", "webmail", ch), verify.Reject, verify.ReasonNoToken)
	})
	t.Run("still accepts PIN plus OTP in one go", func(t *testing.T) {
		want(t, f.verifyStage("alice", "ab12"+totpAt(t, now-30), "webmail", ch), verify.Accept, verify.ReasonOK)
	})
	t.Run("accepts the OTP alone as the second step", func(t *testing.T) {
		want(t, f.verifyStage("alice", totpAt(t, now), "webmail", verify.StageOTP), verify.Accept, verify.ReasonOK)
	})
	t.Run("refuses a replayed OTP as the second step", func(t *testing.T) {
		want(t, f.verifyStage("alice", totpAt(t, now), "webmail", verify.StageOTP), verify.Reject, verify.ReasonReplay)
	})
	t.Run("refuses an OTP-only step on a password service", func(t *testing.T) {
		want(t, f.verifyStage("alice", totpAt(t, now+30), "imap", verify.StageOTP), verify.Reject, verify.ReasonServiceDenied)
	})
	t.Run("challenges the password alone in password+otp mode", func(t *testing.T) {
		want(t, f.verifyStage("alice", "correct horse", "vpn", ch), verify.Challenge, verify.ReasonChallenge)
	})
	t.Run("refuses a wrong password alone in password+otp mode", func(t *testing.T) {
		want(t, f.verifyStage("alice", "correct h0rse", "vpn", ch), verify.Reject, verify.ReasonBadPassword)
	})
	t.Run("accepts password plus OTP in one go with challenges on", func(t *testing.T) {
		want(t, f.verifyStage("alice", "correct horse"+totpAt(t, now+30), "vpn", ch), verify.Accept, verify.ReasonOK)
	})
}
