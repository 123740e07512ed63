// Package storetest is the conformance suite every store in backend runs:
// the SQLite store always, MySQL against a local MariaDB. A store passes
// when Run passes; the suite holds the behaviour verify and manage rely on,
// including the compare-and-set races that keep one OTP from logging in
// twice.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// Store is what Run exercises: the operator and engine store plus the
// schema migration every backend has.
type Store interface {
	manage.Store
	// UsersAfter returns at most limit users whose names sort after
	// after, byte-wise, in that order (LDAP searches page with it).
	UsersAfter(ctx context.Context, after string, limit int) ([]verify.User, error)
	// Migrate applies pending schema migrations and returns how many.
	Migrate(ctx context.Context) (applied int, err error)
}

// Run runs the whole suite. open must return a fresh, empty store that has
// NOT been migrated yet (Run migrates it and expects at least one migration
// to apply); open registers the store's cleanup with t.Cleanup. Every
// subtest calls t.Parallel, so open must be safe to call concurrently and
// its stores must not share data.
func Run(t *testing.T, open func(t *testing.T) Store) {
	t.Helper()
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"schema", schemaCases},
		{"users", userCases},
		{"tokens", tokenCases},
		{"attributes", attributeCases},
		{"yubikey", yubikeyCases},
		{"replay", replayCases},
		{"failures", failureCases},
		{"races", raceCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, migrated(t, open))
				})
			}
		})
	}
}

// testCase is one conformance check on a fresh migrated store.
type testCase struct {
	name string
	run  func(t *testing.T, s Store)
}

var schemaCases = []testCase{
	{"migrating an up-to-date store applies nothing", func(t *testing.T, s Store) {
		applied, err := s.Migrate(t.Context())
		if err != nil || applied != 0 {
			t.Fatalf("second Migrate = %d, %v; want 0, nil", applied, err)
		}
	}},
}

// migrated opens a store and migrates it.
func migrated(t *testing.T, open func(t *testing.T) Store) Store {
	t.Helper()
	s := open(t)
	applied, err := s.Migrate(t.Context())
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if applied < 1 {
		t.Fatalf("Migrate on a fresh store applied %d migrations, want at least 1", applied)
	}
	return s
}

// Fixed whole-second times: every store keeps at least second precision,
// so these read back Equal.
var (
	t0 = time.Unix(1_750_000_000, 0).UTC()
	t1 = t0.Add(30 * time.Second)
	t2 = t0.Add(60 * time.Second)
)

// missingID is an id no fresh store allocates.
const missingID int64 = 1 << 40

// mustUser creates a user named name with a password hash and no PIN.
func mustUser(t *testing.T, s Store, name string) verify.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), verify.User{
		Name:         name,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		Level:        verify.LevelWebOTP,
	})
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", name, err)
	}
	return u
}

// newHOTP returns an unsaved enabled HOTP token for userID whose key is
// derived from serial, so tokens mixed up with each other are noticed.
func newHOTP(userID int64, serial string) verify.Token {
	return verify.Token{
		UserID:      userID,
		Serial:      serial,
		Type:        verify.TypeHOTP,
		Description: "phone",
		Pending:     true,
		Enabled:     true,
		Key:         []byte("key of " + serial + "\x00\xff"),
		Digits:      6,
		Algorithm:   "SHA1",
		LastStep:    verify.NoStep,
	}
}

// mustToken saves tok and returns it as the store returned it.
func mustToken(t *testing.T, s Store, tok verify.Token) verify.Token {
	t.Helper()
	created, err := s.CreateToken(t.Context(), tok)
	if err != nil {
		t.Fatalf("CreateToken(%q): %v", tok.Serial, err)
	}
	if created.ID == 0 {
		t.Fatalf("CreateToken(%q) returned ID 0", tok.Serial)
	}
	return created
}

// mustTokenBySerial reads a token back.
func mustTokenBySerial(t *testing.T, s Store, serial string) verify.Token {
	t.Helper()
	tok, err := s.TokenBySerial(t.Context(), serial)
	if err != nil {
		t.Fatalf("TokenBySerial(%q): %v", serial, err)
	}
	return tok
}

// mustUserByID reads a user back.
func mustUserByID(t *testing.T, s Store, id int64) verify.User {
	t.Helper()
	u, err := s.UserByID(t.Context(), id)
	if err != nil {
		t.Fatalf("UserByID(%d): %v", id, err)
	}
	return u
}

// wantErrIs fails unless err wraps target.
func wantErrIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want one wrapping %v", what, err, target)
	}
}

// fieldCheck is one compared field; got and want are printed on mismatch
// unless secret is set.
type fieldCheck struct {
	name      string
	equal     bool
	got, want any
	secret    bool
}

func reportFields(t *testing.T, what string, checks []fieldCheck) {
	t.Helper()
	for _, c := range checks {
		switch {
		case c.equal:
		case c.secret:
			t.Errorf("%s: %s differs", what, c.name)
		default:
			t.Errorf("%s: %s = %v, want %v", what, c.name, c.got, c.want)
		}
	}
}

// checkUser compares every field of a user.
func checkUser(t *testing.T, got, want verify.User) {
	t.Helper()
	reportFields(t, "user "+want.Name, []fieldCheck{
		{"ID", got.ID == want.ID, got.ID, want.ID, false},
		{"Name", got.Name == want.Name, got.Name, want.Name, false},
		{"PasswordHash", got.PasswordHash == want.PasswordHash, got.PasswordHash, want.PasswordHash, false},
		{"PINHash", bytes.Equal(got.PINHash, want.PINHash) && (got.PINHash == nil) == (want.PINHash == nil),
			got.PINHash, want.PINHash, false},
		{"Level", got.Level == want.Level, got.Level, want.Level, false},
		{"FailCount", got.FailCount == want.FailCount, got.FailCount, want.FailCount, false},
		{"LastFailure", got.LastFailure.Equal(want.LastFailure), got.LastFailure, want.LastFailure, false},
		{"CreatedAt", got.CreatedAt.Equal(want.CreatedAt), got.CreatedAt, want.CreatedAt, false},
		{"UpdatedAt", got.UpdatedAt.Equal(want.UpdatedAt), got.UpdatedAt, want.UpdatedAt, false},
	})
}

// checkToken compares every field of a token; Key and DevicePIN are
// compared but never printed.
func checkToken(t *testing.T, got, want verify.Token) {
	t.Helper()
	reportFields(t, "token "+want.Serial, []fieldCheck{
		{"ID", got.ID == want.ID, got.ID, want.ID, false},
		{"UserID", got.UserID == want.UserID, got.UserID, want.UserID, false},
		{"Serial", got.Serial == want.Serial, got.Serial, want.Serial, false},
		{"Type", got.Type == want.Type, got.Type, want.Type, false},
		{"Description", got.Description == want.Description, got.Description, want.Description, false},
		{"Pending", got.Pending == want.Pending, got.Pending, want.Pending, false},
		{"Enabled", got.Enabled == want.Enabled, got.Enabled, want.Enabled, false},
		{"Key", bytes.Equal(got.Key, want.Key), nil, nil, true},
		{"DevicePIN", got.DevicePIN == want.DevicePIN, nil, nil, true},
		{"PublicID", got.PublicID == want.PublicID, got.PublicID, want.PublicID, false},
		{"PrivateID", bytes.Equal(got.PrivateID, want.PrivateID), nil, nil, true},
		{"Digits", got.Digits == want.Digits, got.Digits, want.Digits, false},
		{"Algorithm", got.Algorithm == want.Algorithm, got.Algorithm, want.Algorithm, false},
		{"Period", got.Period == want.Period, got.Period, want.Period, false},
		{"NextCounter", got.NextCounter == want.NextCounter, got.NextCounter, want.NextCounter, false},
		{"LastStep", got.LastStep == want.LastStep, got.LastStep, want.LastStep, false},
		{"LastUsed", got.LastUsed.Equal(want.LastUsed), got.LastUsed, want.LastUsed, false},
		{"CreatedAt", got.CreatedAt.Equal(want.CreatedAt), got.CreatedAt, want.CreatedAt, false},
	})
}
