package verify_test

import (
	"context"
	"testing"
	"time"

	"github.com/otpgate/otpgate/backend"
	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// The SQLite store answers a login from its cache (backend/sqlite_cache.go),
// so every engine test on SQLite runs with it (TestReplay covers replays
// from the cache). These tests change a cached user from a second store on
// the same file, as the otpgate CLI does beside a running server, and check
// that no login is decided on what the cache still holds.

// elsewhere opens a second store on the fixture's database file and
// returns an operator's manager over it.
func (f *fixture) elsewhere() (*backend.SQLite, *manage.Manager) {
	f.t.Helper()
	st, err := backend.OpenSQLite(context.Background(), backend.SQLiteOptions{
		Path: f.dbPath, Sealer: f.keyring, Now: f.clock.Now, LoginCache: -1})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { st.Close() })
	m, err := manage.New(manage.Options{Store: st, Credentials: f.keyring, Engine: f.engine, Now: f.clock.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	return st, m
}

// cachedHOTPUser makes alice (PIN ab12, HOTP token) and logs her in once
// with counter 0, so that the server's cache holds her.
func cachedHOTPUser(t *testing.T) (*fixture, *backend.SQLite, *manage.Manager) {
	t.Helper()
	f := newFixture(t, fixtureOptions{})
	f.user("alice", "pw", "ab12", verify.LevelWebOTP)
	f.token("alice", hotpToken())
	want(t, f.verify("alice", "ab12"+hotpAt(t, 0), "webmail"), verify.Accept, verify.ReasonOK)
	st, m := f.elsewhere()
	return f, st, m
}

func TestCachedLoginRefusesATokenDisabledElsewhere(t *testing.T) {
	t.Parallel()
	f, _, m := cachedHOTPUser(t)
	if err := m.SetTokenEnabled(context.Background(), "hotp-alice", false); err != nil {
		t.Fatal(err)
	}
	want(t, f.verify("alice", "ab12"+hotpAt(t, 1), "webmail"), verify.Reject, verify.ReasonDisabled)
}

func TestCachedLoginRefusesATokenDeletedElsewhere(t *testing.T) {
	t.Parallel()
	f, _, m := cachedHOTPUser(t)
	if err := m.DeleteToken(context.Background(), "hotp-alice"); err != nil {
		t.Fatal(err)
	}
	want(t, f.verify("alice", "ab12"+hotpAt(t, 1), "webmail"), verify.Reject, verify.ReasonNoToken)
}

func TestCachedLoginRefusesTheOldPINAfterAChangeElsewhere(t *testing.T) {
	t.Parallel()
	f, _, m := cachedHOTPUser(t)
	if _, err := m.SetPIN(context.Background(), "alice", "cd34"); err != nil {
		t.Fatal(err)
	}
	want(t, f.verify("alice", "ab12"+hotpAt(t, 1), "webmail"), verify.Reject, verify.ReasonBadPIN)
	want(t, f.verify("alice", "cd34"+hotpAt(t, 2), "webmail"), verify.Accept, verify.ReasonOK)
}

func TestCachedLoginRefusesTheOldPasswordAfterAChangeElsewhere(t *testing.T) {
	t.Parallel()
	f, _, m := cachedHOTPUser(t)
	// web-otp: imap takes the account password, with no OTP to consume.
	want(t, f.verify("alice", "pw", "imap"), verify.Accept, verify.ReasonOK)
	if err := m.SetPassword(context.Background(), "alice", "new password"); err != nil {
		t.Fatal(err)
	}
	want(t, f.verify("alice", "pw", "imap"), verify.Reject, verify.ReasonBadPassword)
	want(t, f.verify("alice", "new password", "imap"), verify.Accept, verify.ReasonOK)
}

func TestCachedLoginFollowsALevelChangeElsewhere(t *testing.T) {
	t.Parallel()
	f, _, m := cachedHOTPUser(t)
	want(t, f.verify("alice", "pw", "imap"), verify.Accept, verify.ReasonOK) // cached at web-otp
	if _, err := m.SetLevel(context.Background(), "alice", verify.LevelWebOTPOnly); err != nil {
		t.Fatal(err)
	}
	// web-otp-only: imap is refused, however right the password.
	d := f.verify("alice", "pw", "imap")
	if d.Outcome != verify.Reject || d.Mode != verify.ModeReject {
		t.Fatalf("decision %v/%s in mode %s; want a reject in mode %s", d.Outcome, d.Reason, d.Mode, verify.ModeReject)
	}
}

func TestCachedLoginRefusesAUserRenamedOrDeletedElsewhere(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("bob", "pw", "", verify.LevelOff) // only level off can be renamed
	want(t, f.verify("bob", "pw", "imap"), verify.Accept, verify.ReasonOK)
	_, m := f.elsewhere()
	if err := m.RenameUser(context.Background(), "bob", "robert"); err != nil {
		t.Fatal(err)
	}
	want(t, f.verify("bob", "pw", "imap"), verify.Reject, verify.ReasonUnknownUser)
	want(t, f.verify("robert", "pw", "imap"), verify.Accept, verify.ReasonOK)
	if err := m.DeleteUser(context.Background(), "robert"); err != nil {
		t.Fatal(err)
	}
	want(t, f.verify("robert", "pw", "imap"), verify.Reject, verify.ReasonUnknownUser)
}

func TestCachedLoginHonoursABackOffRecordedElsewhere(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{brute: verify.BruteForceOptions{MaxFail: 3}})
	f.user("alice", "pw", "ab12", verify.LevelWebOTP)
	f.token("alice", hotpToken())
	want(t, f.verify("alice", "ab12"+hotpAt(t, 0), "webmail"), verify.Accept, verify.ReasonOK)
	st, _ := f.elsewhere()
	u, err := st.UserByName(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // three failures counted by another instance
		if err := st.RecordFailure(context.Background(), u.ID, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	want(t, f.verify("alice", "ab12"+hotpAt(t, 1), "webmail"), verify.Reject, verify.ReasonLocked)
}

func TestCachedLoginFollowsACounterAdvancedElsewhere(t *testing.T) {
	t.Parallel()
	f, st, _ := cachedHOTPUser(t)
	tok, err := st.TokenBySerial(context.Background(), "hotp-alice")
	if err != nil {
		t.Fatal(err)
	}
	// Another instance accepted counters up to 29: next is 30, beyond the
	// cached window (1..10).
	if ok, err := st.AdvanceCounter(context.Background(), tok.ID, 29, f.clock.Now()); !ok || err != nil {
		t.Fatal(ok, err)
	}
	// An HOTP code behind the counter is outside the window: bad-otp, as
	// without the cache.
	want(t, f.verify("alice", "ab12"+hotpAt(t, 5), "webmail"), verify.Reject, verify.ReasonBadOTP)
	want(t, f.verify("alice", "ab12"+hotpAt(t, 30), "webmail"), verify.Accept, verify.ReasonOK)
	want(t, f.verify("alice", "ab12"+hotpAt(t, 30), "webmail"), verify.Reject, verify.ReasonBadOTP)
}

func TestCachedLoginRefusesAReplayOfAStepUsedElsewhere(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.user("alice", "pw", "ab12", verify.LevelWebOTP)
	tok := f.token("alice", totpToken())
	want(t, f.verify("alice", "ab12"+totpAt(t, f.clock.Now().Unix()), "webmail"), verify.Accept, verify.ReasonOK)
	f.clock.Advance(30 * time.Second)
	step := f.clock.Now().Unix() / 30
	st, _ := f.elsewhere()
	if ok, err := st.AdvanceStep(context.Background(), tok.ID, step, f.clock.Now()); !ok || err != nil {
		t.Fatal(ok, err) // another instance took this step's code
	}
	want(t, f.verify("alice", "ab12"+totpAt(t, f.clock.Now().Unix()), "webmail"), verify.Reject, verify.ReasonReplay)
}

// The store deadline is per call: a password check slower than the whole
// deadline (argon2id queued on a busy host) must not make the store calls
// after it fail. Before, the deadline covered the request, so the failure
// of a wrong password went unrecorded (no back-off for an attacker who
// keeps the CPUs busy) and a cached password login came out unavailable.
func TestSlowPasswordCheckKeepsTheStoreCallsAfterIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{storeTimeout: 20 * time.Millisecond, slowCheck: 60 * time.Millisecond})
	f.user("bob", "pw", "", verify.LevelOff)
	want(t, f.verify("bob", "pw", "imap"), verify.Accept, verify.ReasonOK)
	want(t, f.verify("bob", "pw", "imap"), verify.Accept, verify.ReasonOK) // from the cache, confirmed after the check
	want(t, f.verify("bob", "wrong", "imap"), verify.Reject, verify.ReasonBadPassword)
	u, err := f.store.UserByName(context.Background(), "bob")
	if err != nil || u.FailCount != 1 {
		t.Fatalf("fail count %d, %v; want the failure recorded", u.FailCount, err)
	}
}
