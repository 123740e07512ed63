package verify_test

import (
	"testing"
	"time"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/verifytest"
)

func newPasswordCache(t *testing.T, max int) (*verify.PasswordCache, *countingCredentials, *verifytest.Clock, string) {
	t.Helper()
	f := newFixture(t, fixtureOptions{})
	hash, err := f.keyring.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	inner := &countingCredentials{Credentials: f.keyring}
	clk := verifytest.NewClock(verifytest.Start)
	p, err := verify.NewPasswordCache(inner, time.Minute, max, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return p, inner, clk, hash
}

func TestPasswordCacheSkipsTheHashForARecentMatchOnly(t *testing.T) {
	t.Parallel()
	p, inner, clk, hash := newPasswordCache(t, 10)
	check := func(pw string, want bool, wantChecks int) {
		t.Helper()
		if got := p.CheckPassword(hash, verify.Secret(pw)); got != want || int(inner.passwordChecks.Load()) != wantChecks {
			t.Fatalf("CheckPassword(%q) = %v after %d real checks; want %v after %d", pw, got, inner.passwordChecks.Load(), want, wantChecks)
		}
	}
	check("correct horse", true, 1)
	check("correct horse", true, 1) // remembered
	clk.Advance(59 * time.Second)
	check("correct horse", true, 1)
	clk.Advance(time.Second) // the TTL runs from the real check, not from hits
	check("correct horse", true, 2)
}

func TestPasswordCacheNeverAcceptsAWrongOrChangedPassword(t *testing.T) {
	t.Parallel()
	p, inner, _, hash := newPasswordCache(t, 10)
	for range 3 {
		if p.CheckPassword(hash, "wrong horse") {
			t.Fatal("a wrong password was accepted")
		}
	}
	if inner.passwordChecks.Load() != 3 {
		t.Fatalf("%d real checks for 3 wrong passwords; refusals must not be cached", inner.passwordChecks.Load())
	}
	if !p.CheckPassword(hash, "correct horse") {
		t.Fatal("the right password was refused")
	}
	// A new password means a new stored hash: the old pair does not count.
	f := newFixture(t, fixtureOptions{})
	newHash, err := f.keyring.HashPassword("battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if p.CheckPassword(newHash, "correct horse") {
		t.Fatal("the old password was accepted against the new hash")
	}
}
