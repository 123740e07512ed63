package verifytest_test

import (
	"context"
	"testing"
	"time"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/otp"
	"github.com/otpgate/otpgate/verify/verifytest"
)

func TestEnvLogsInWithPINPlusTOTP(t *testing.T) {
	t.Parallel()
	env := verifytest.New(t, verifytest.Options{})
	env.User(t, "alice", "pw", "ab12", verify.LevelWebOTP)
	key := []byte("12345678901234567890")
	env.Token(t, "alice", verify.Token{Type: verify.TypeTOTP, Key: key, Digits: 6, Algorithm: "SHA1", Period: 30})
	env.Clock.Advance(30 * time.Second)
	code, _ := otp.HOTP(key, uint64(env.Clock.Now().Unix()/30), otp.SHA1, 6)
	d := env.Engine.Verify(context.Background(), verify.Request{User: "alice", Password: verify.Secret("ab12" + code), Service: "webmail"})
	if d.Outcome != verify.Accept {
		t.Fatalf("decision %v/%s", d.Outcome, d.Reason)
	}
}
