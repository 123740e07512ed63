package verify_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/otp"
)

func TestPolicyModes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("off@example.org", "secret one", "ab12", verify.LevelOff)
	f.user("web@example.org", "secret two", "ab12", verify.LevelWebOTP)
	f.user("only@example.org", "secret three", "ab12", verify.LevelWebOTPOnly)
	for _, u := range []string{"off@example.org", "web@example.org", "only@example.org"} {
		f.token(u, totpToken())
	}
	now := f.clock.Now().Unix()
	tests := []struct {
		name, user, password, service string
		outcome                       verify.Outcome
		reason                        verify.Reason
	}{
		{"accepts the password on webmail at level off", "off@example.org", "secret one", "webmail", verify.Accept, verify.ReasonOK},
		{"refuses PIN plus OTP on webmail at level off", "off@example.org", "ab12" + totpAt(t, now), "webmail", verify.Reject, verify.ReasonBadPassword},
		{"refuses the password on webmail at level web-otp", "web@example.org", "secret two", "webmail", verify.Reject, verify.ReasonBadPIN},
		{"accepts the password on imap at level web-otp", "web@example.org", "secret two", "imap", verify.Accept, verify.ReasonOK},
		{"refuses a wrong password on imap at level web-otp", "web@example.org", "secret tw0", "imap", verify.Reject, verify.ReasonBadPassword},
		{"refuses the password on imap at level web-otp-only", "only@example.org", "secret three", "imap", verify.Reject, verify.ReasonServiceDenied},
		{"accepts PIN plus TOTP on webmail at level web-otp-only", "only@example.org", "ab12" + totpAt(t, now), "webmail", verify.Accept, verify.ReasonOK},
		{"refuses an unknown service", "off@example.org", "secret one", "gopher", verify.Reject, verify.ReasonUnknownService},
		{"refuses an unknown user", "nobody@example.org", "secret one", "imap", verify.Reject, verify.ReasonUnknownUser},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want(t, f.verify(tc.user, tc.password, tc.service), tc.outcome, tc.reason)
		})
	}
}

func TestPINPlusTOTPWindowEdges(t *testing.T) {
	t.Parallel()
	// Step 56666666 covers [1699999980, 1700000010). Skew 1 accepts codes of
	// steps 56666665..56666667.
	tests := []struct {
		name    string
		codeAt  int64 // unix time the code belongs to
		outcome verify.Outcome
		reason  verify.Reason
	}{
		{"accepts the current step's code", 1_700_000_000, verify.Accept, verify.ReasonOK},
		{"accepts the first second of the previous step", 1_699_999_950, verify.Accept, verify.ReasonOK},
		{"accepts the last second of the next step", 1_700_000_039, verify.Accept, verify.ReasonOK},
		{"refuses the last second two steps back", 1_699_999_949, verify.Reject, verify.ReasonBadOTP},
		{"refuses the first second two steps ahead", 1_700_000_040, verify.Reject, verify.ReasonBadOTP},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{})
			f.user("alice", "pw", "ab12", verify.LevelWebOTP)
			f.token("alice", totpToken())
			want(t, f.verify("alice", "ab12"+totpAt(t, tc.codeAt), "webmail"), tc.outcome, tc.reason)
		})
	}
}

func TestReplay(t *testing.T) {
	t.Parallel()
	t.Run("rejects a TOTP code already used", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, fixtureOptions{})
		f.user("alice", "pw", "ab12", verify.LevelWebOTP)
		f.token("alice", totpToken())
		code := "ab12" + totpAt(t, f.clock.Now().Unix())
		want(t, f.verify("alice", code, "webmail"), verify.Accept, verify.ReasonOK)
		want(t, f.verify("alice", code, "webmail"), verify.Reject, verify.ReasonReplay)
		f.clock.Advance(30 * time.Second) // still inside the skew, still used
		want(t, f.verify("alice", code, "webmail"), verify.Reject, verify.ReasonReplay)
	})
	t.Run("rejects an older TOTP code after a newer one was used", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, fixtureOptions{})
		f.user("alice", "pw", "ab12", verify.LevelWebOTP)
		f.token("alice", totpToken())
		now := f.clock.Now().Unix()
		want(t, f.verify("alice", "ab12"+totpAt(t, now), "webmail"), verify.Accept, verify.ReasonOK)
		want(t, f.verify("alice", "ab12"+totpAt(t, now-30), "webmail"), verify.Reject, verify.ReasonReplay)
	})
	t.Run("accepts PIN plus HOTP at counter+3 and then refuses the counters it skipped", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, fixtureOptions{})
		f.user("alice", "pw", "ab12", verify.LevelWebOTP)
		f.token("alice", hotpToken())
		want(t, f.verify("alice", "ab12"+hotpAt(t, 3), "webmail"), verify.Accept, verify.ReasonOK)
		want(t, f.verify("alice", "ab12"+hotpAt(t, 3), "webmail"), verify.Reject, verify.ReasonBadOTP)
		want(t, f.verify("alice", "ab12"+hotpAt(t, 1), "webmail"), verify.Reject, verify.ReasonBadOTP)
		want(t, f.verify("alice", "ab12"+hotpAt(t, 4), "webmail"), verify.Accept, verify.ReasonOK)
	})
	t.Run("refuses an HOTP code one past the window", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, fixtureOptions{})
		f.user("alice", "pw", "ab12", verify.LevelWebOTP)
		f.token("alice", hotpToken())
		want(t, f.verify("alice", "ab12"+hotpAt(t, 10), "webmail"), verify.Reject, verify.ReasonBadOTP)
		want(t, f.verify("alice", "ab12"+hotpAt(t, 9), "webmail"), verify.Accept, verify.ReasonOK)
	})
}

func TestConcurrentUseOfOneCodeAcceptsOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		tok   verify.Token
		mysql bool
		code  func(f *fixture) string
	}{
		{"accepts one TOTP code exactly once among 50 goroutines", totpToken(), false, func(f *fixture) string { return totpAt(f.t, f.clock.Now().Unix()) }},
		{"accepts one HOTP code exactly once among 50 goroutines", hotpToken(), false, func(f *fixture) string { return hotpAt(f.t, 2) }},
		{"accepts one TOTP code exactly once among 50 goroutines on MariaDB", totpToken(), true, func(f *fixture) string { return totpAt(f.t, f.clock.Now().Unix()) }},
		{"accepts one HOTP code exactly once among 50 goroutines on MariaDB", hotpToken(), true, func(f *fixture) string { return hotpAt(f.t, 2) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{brute: verify.BruteForceOptions{MaxFail: 1000}, mysql: tc.mysql})
			f.user("alice", "pw", "ab12", verify.LevelWebOTP)
			f.token("alice", tc.tok)
			pw := "ab12" + tc.code(f)
			var accepts, replays, other atomic.Int32
			var wg sync.WaitGroup
			for range 50 {
				wg.Go(func() {
					d := f.verify("alice", pw, "webmail")
					switch {
					case d.Outcome == verify.Accept:
						accepts.Add(1)
					case d.Reason == verify.ReasonReplay || d.Reason == verify.ReasonBadOTP:
						replays.Add(1)
					default:
						other.Add(1)
						t.Errorf("unexpected decision %v/%s", d.Outcome, d.Reason)
					}
				})
			}
			wg.Wait()
			if accepts.Load() != 1 || replays.Load() != 49 {
				t.Fatalf("accepts = %d, replays = %d, other = %d; want 1, 49, 0", accepts.Load(), replays.Load(), other.Load())
			}
		})
	}
}

func TestMOTP(t *testing.T) {
	t.Parallel()
	// Vector hex16-pin1234-1700000000: secret e3152afee62599c8, PIN 1234 → ac896a.
	secret, devicePIN := []byte("e3152afee62599c8"), verify.Secret("1234")
	tests := []struct {
		name    string
		offset  time.Duration // clock offset from 1700000000
		code    string
		outcome verify.Outcome
		reason  verify.Reason
	}{
		{"accepts the vector's code at its own time", 0, "ac896a", verify.Accept, verify.ReasonOK},
		{"accepts the code in upper case", 0, "AC896A", verify.Accept, verify.ReasonOK},
		{"accepts the code 180 seconds later", 189 * time.Second, "ac896a", verify.Accept, verify.ReasonOK},
		{"refuses the code 190 seconds later", 190 * time.Second, "ac896a", verify.Reject, verify.ReasonBadOTP},
		{"accepts the code 180 seconds early", -180 * time.Second, "ac896a", verify.Accept, verify.ReasonOK},
		{"refuses the code 181 seconds early", -181 * time.Second, "ac896a", verify.Reject, verify.ReasonBadOTP},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{tokens: verify.TokenOptions{MOTPSkew: 180 * time.Second}})
			f.user("alice", "pw", "ab12", verify.LevelWebOTP)
			f.token("alice", verify.Token{Type: verify.TypeMOTP, Key: secret, DevicePIN: devicePIN, Digits: 6, Period: 10})
			f.clock.Set(time.Unix(1_700_000_000, 0).Add(tc.offset))
			want(t, f.verify("alice", "ab12"+tc.code, "webmail"), tc.outcome, tc.reason)
		})
	}
}

func TestPasswordPlusOTP(t *testing.T) {
	t.Parallel()
	policy := verify.DefaultPolicy()
	policy.Services["vpn"] = "vpn"
	for _, lvl := range []string{verify.LevelOff, verify.LevelWebOTP, verify.LevelWebOTPOnly} {
		policy.Modes[lvl]["vpn"] = verify.ModePasswordOTP
	}
	f := newFixture(t, fixtureOptions{policy: &policy})
	f.user("alice", "correct horse 12345678", "ab12", verify.LevelWebOTP)
	f.token("alice", totpToken())
	eight := totpToken()
	eight.Digits, eight.Serial = 8, "TOTP8"
	f.token("alice", eight)
	now := f.clock.Now().Unix()
	code8, _ := otp.HOTP(rfcKey, uint64(now/30), otp.SHA1, 8)
	code6 := totpAt(t, now)

	want(t, f.verify("alice", "correct horse 12345678", "vpn"), verify.Reject, verify.ReasonBadOTP)
	want(t, f.verify("alice", "wrong horse 12345678"+code6, "vpn"), verify.Reject, verify.ReasonBadPassword)
	d := f.verify("alice", "correct horse 12345678"+code8, "vpn")
	want(t, d, verify.Accept, verify.ReasonOK)
	if d.TokenSerial != "TOTP8" {
		t.Errorf("matched token %q, want TOTP8", d.TokenSerial)
	}
	f.clock.Advance(30 * time.Second)
	want(t, f.verify("alice", "correct horse 12345678"+totpAt(t, now+30), "vpn"), verify.Accept, verify.ReasonOK)
}

func TestTokenStates(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("none", "pw", "ab12", verify.LevelWebOTP)
	f.user("pending", "pw", "ab12", verify.LevelWebOTP)
	f.user("disabled", "pw", "ab12", verify.LevelWebOTP)
	f.user("nopin", "pw", "", verify.LevelWebOTP)
	p := totpToken()
	p.Pending = true
	f.token("pending", p)
	d := f.token("disabled", totpToken())
	if err := f.store.SetTokenEnabled(context.Background(), d.ID, false); err != nil {
		t.Fatal(err)
	}
	f.token("nopin", totpToken())
	code := "ab12" + totpAt(t, f.clock.Now().Unix())
	t.Run("refuses a user without tokens", func(t *testing.T) { want(t, f.verify("none", code, "webmail"), verify.Reject, verify.ReasonNoToken) })
	t.Run("refuses a user whose only token is pending", func(t *testing.T) { want(t, f.verify("pending", code, "webmail"), verify.Reject, verify.ReasonNoToken) })
	t.Run("refuses a user whose only token is disabled", func(t *testing.T) {
		want(t, f.verify("disabled", code, "webmail"), verify.Reject, verify.ReasonDisabled)
	})
	t.Run("refuses a user without a PIN", func(t *testing.T) { want(t, f.verify("nopin", code, "webmail"), verify.Reject, verify.ReasonBadPIN) })
	t.Run("refuses a wrong PIN with a right code", func(t *testing.T) {
		f.user("wrongpin", "pw", "ab12", verify.LevelWebOTP)
		f.token("wrongpin", totpToken())
		want(t, f.verify("wrongpin", "ab13"+totpAt(t, f.clock.Now().Unix()), "webmail"), verify.Reject, verify.ReasonBadPIN)
		// The code was not consumed by the failed attempt.
		want(t, f.verify("wrongpin", "ab12"+totpAt(t, f.clock.Now().Unix()), "webmail"), verify.Accept, verify.ReasonOK)
	})
	t.Run("refuses a PIN alone", func(t *testing.T) {
		want(t, f.verify("wrongpin", "ab12", "webmail"), verify.Reject, verify.ReasonBadOTP)
	})
}

func TestBruteForceBackoff(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{brute: verify.BruteForceOptions{MaxFail: 3, Backoff: 30 * time.Second, MaxBackoff: 100 * time.Second}})
	f.user("alice", "right", "", verify.LevelOff)
	for range 3 {
		want(t, f.verify("alice", "wrong", "imap"), verify.Reject, verify.ReasonBadPassword)
	}
	t.Log("after max_fail failures the right password is refused without checking")
	want(t, f.verify("alice", "right", "imap"), verify.Reject, verify.ReasonLocked)
	f.clock.Advance(29 * time.Second)
	want(t, f.verify("alice", "right", "imap"), verify.Reject, verify.ReasonLocked)
	f.clock.Advance(time.Second)
	want(t, f.verify("alice", "wrong", "imap"), verify.Reject, verify.ReasonBadPassword)
	t.Log("the next back-off is doubled")
	f.clock.Advance(59 * time.Second)
	want(t, f.verify("alice", "right", "imap"), verify.Reject, verify.ReasonLocked)
	f.clock.Advance(time.Second)
	want(t, f.verify("alice", "wrong", "imap"), verify.Reject, verify.ReasonBadPassword)
	t.Log("and capped at max_backoff")
	f.clock.Advance(100 * time.Second)
	want(t, f.verify("alice", "right", "imap"), verify.Accept, verify.ReasonOK)
	u, err := f.store.UserByName(context.Background(), "alice")
	if err != nil || u.FailCount != 0 {
		t.Fatalf("after success fail_count = %d, %v; want 0", u.FailCount, err)
	}
}

func TestUnlockEndsBackoff(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{brute: verify.BruteForceOptions{MaxFail: 2}})
	f.user("alice", "right", "", verify.LevelOff)
	f.verify("alice", "wrong", "imap")
	f.verify("alice", "wrong", "imap")
	want(t, f.verify("alice", "right", "imap"), verify.Reject, verify.ReasonLocked)
	if err := f.manager.Unlock(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	want(t, f.verify("alice", "right", "imap"), verify.Accept, verify.ReasonOK)
}

func TestSourceThrottle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{brute: verify.BruteForceOptions{
		MaxFail: 1000, SourceMaxFail: 5, SourceWindow: time.Minute,
		SourceExempt: []netipPrefix{mustPrefix("10.0.0.0/8")}}})
	f.user("alice", "right", "", verify.LevelOff)
	for i := range 5 {
		want(t, f.verifyFrom("user"+string(rune('a'+i)), "guess", "imap", "203.0.113.7"), verify.Reject, verify.ReasonUnknownUser)
	}
	t.Run("throttles a source that sprayed five failures", func(t *testing.T) {
		want(t, f.verifyFrom("alice", "right", "imap", "203.0.113.7"), verify.Reject, verify.ReasonThrottled)
	})
	t.Run("does not throttle other sources", func(t *testing.T) {
		want(t, f.verifyFrom("alice", "right", "imap", "203.0.113.8"), verify.Accept, verify.ReasonOK)
	})
	t.Run("throttles a whole IPv6 /64", func(t *testing.T) {
		for range 5 {
			f.verifyFrom("nobody", "guess", "imap", "2001:db8:1:2::1")
		}
		want(t, f.verifyFrom("alice", "right", "imap", "2001:db8:1:2::ffff"), verify.Reject, verify.ReasonThrottled)
	})
	t.Run("never throttles an exempt network", func(t *testing.T) {
		for range 10 {
			f.verifyFrom("nobody", "guess", "imap", "10.1.2.3")
		}
		want(t, f.verifyFrom("alice", "right", "imap", "10.1.2.3"), verify.Accept, verify.ReasonOK)
	})
	t.Run("lifts the throttle after the window", func(t *testing.T) {
		f.clock.Advance(time.Minute)
		want(t, f.verifyFrom("alice", "right", "imap", "203.0.113.7"), verify.Accept, verify.ReasonOK)
	})
}

func TestStoreOutageNeverAccepts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("alice", "right", "", verify.LevelOff)
	f.store.Close()
	want(t, f.verify("alice", "right", "imap"), verify.Unavailable, verify.ReasonStoreError)
	if !strings.Contains(f.logs.String(), "user lookup failed") {
		t.Errorf("the outage was not logged: %s", f.logs.String())
	}
}

func TestTestTokenActivatesPendingToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("alice", "pw", "ab12", verify.LevelWebOTP)
	p := totpToken()
	p.Pending = true
	tok := f.token("alice", p)
	ctx := context.Background()
	tr := verify.TokenRequest{User: "alice", Serial: tok.Serial, Protocol: verify.ProtoCLI}
	want(t, f.manager.TestToken(ctx, tr, "000000"), verify.Reject, verify.ReasonBadOTP)
	code := verify.Secret(totpAt(t, f.clock.Now().Unix()))
	want(t, f.manager.TestToken(ctx, tr, code), verify.Accept, verify.ReasonOK)
	want(t, f.manager.TestToken(ctx, tr, code), verify.Reject, verify.ReasonReplay)
	f.clock.Advance(30 * time.Second)
	want(t, f.verify("alice", "ab12"+totpAt(t, f.clock.Now().Unix()), "webmail"), verify.Accept, verify.ReasonOK)
}

func TestResync(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{tokens: verify.TokenOptions{HOTPWindow: 10, ResyncWindow: 100, TOTPSkew: 1}})
	f.user("alice", "pw", "ab12", verify.LevelWebOTP)
	tok := f.token("alice", hotpToken())
	ctx := context.Background()
	want(t, f.verify("alice", "ab12"+hotpAt(t, 50), "webmail"), verify.Reject, verify.ReasonBadOTP)
	d, err := f.manager.Resync(ctx, tok.Serial, verify.Secret(hotpAt(t, 50)), verify.Secret(hotpAt(t, 52)), verify.ProtoCLI)
	if err != nil {
		t.Fatal(err)
	}
	want(t, d, verify.Reject, verify.ReasonBadOTP)
	d, _ = f.manager.Resync(ctx, tok.Serial, verify.Secret(hotpAt(t, 50)), verify.Secret(hotpAt(t, 51)), verify.ProtoCLI)
	want(t, d, verify.Accept, verify.ReasonOK)
	want(t, f.verify("alice", "ab12"+hotpAt(t, 51), "webmail"), verify.Reject, verify.ReasonBadOTP)
	want(t, f.verify("alice", "ab12"+hotpAt(t, 52), "webmail"), verify.Accept, verify.ReasonOK)
}

func TestAuditLogNeverHoldsSecrets(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{brute: verify.BruteForceOptions{MaxFail: 2}})
	const password, pin = "Tr0ub4dor&3-secret", "Zq9x"
	f.user("alice", password, pin, verify.LevelWebOTP)
	f.token("alice", totpToken())
	code := totpAt(t, f.clock.Now().Unix())
	f.verify("alice", pin+code, "webmail")
	f.verify("alice", pin+code, "webmail")
	f.verify("alice", password, "imap")
	f.verify("alice", password+"x", "imap")
	f.verify("alice", "x"+pin+code, "webmail")
	f.verify("nobody", password, "imap")
	f.verify("alice", password, "nosuchservice")
	audit := f.audit.String()
	for _, secret := range []string{password, pin, code, pin + code} {
		if strings.Contains(audit, secret) || strings.Contains(f.logs.String(), secret) {
			t.Fatalf("a log holds the secret %q", secret)
		}
	}
	lines := strings.Split(strings.TrimSpace(audit), "\n")
	if len(lines) != 7 {
		t.Fatalf("%d audit records for 7 attempts", len(lines))
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"time", "proto", "service", "user", "client", "decision", "reason", "token", "latency_ms"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("audit record lacks %q: %s", k, lines[0])
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	s := verify.Secret("hunter2")
	for _, got := range []string{s.String(), sprintf("%v %s %q %x %#v %+v", s, s, s, s, s, s)} {
		if strings.Contains(got, "hunter2") || strings.Contains(got, "68756e746572") {
			t.Fatalf("printed %q", got)
		}
	}
	b, _ := json.Marshal(struct{ P verify.Secret }{s})
	if strings.Contains(string(b), "hunter2") {
		t.Fatalf("json %s", b)
	}
}

func TestObserversSeeDecisionsAndStoreCalls(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("alice", "right", "", verify.LevelOff)
	var mu sync.Mutex
	var decisions, storeOps []string
	engine, err := verify.New(verify.Options{Store: f.store, Credentials: f.keyring, Policy: verify.DefaultPolicy(), Now: f.clock.Now,
		Observe: func(op string, proto verify.Protocol, service string, dec verify.Decision, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			decisions = append(decisions, op+" "+string(proto)+" "+service+" "+dec.Outcome.String()+" "+string(dec.Reason))
		},
		StoreObserver: func(op string, _ time.Duration, err error) {
			mu.Lock()
			defer mu.Unlock()
			storeOps = append(storeOps, op+" "+sprintf("%v", err != nil))
		}})
	if err != nil {
		t.Fatal(err)
	}
	engine.Verify(context.Background(), verify.Request{User: "alice", Password: "right", Service: "imap", Protocol: verify.ProtoLDAP})
	engine.Verify(context.Background(), verify.Request{User: "nobody", Password: "x", Service: "imap", Protocol: verify.ProtoLDAP})
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"verify ldap imap accept ok", "verify ldap imap reject unknown-user"}; !slices.Equal(decisions, want) {
		t.Errorf("decisions = %q, want %q", decisions, want)
	}
	if want := []string{"user_with_tokens false", "user_with_tokens false"}; !slices.Equal(storeOps, want) {
		t.Errorf("store ops = %q, want %q (a missing user is no store error)", storeOps, want)
	}
}
