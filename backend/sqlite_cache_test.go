package backend

import (
	"context"
	"testing"
	"time"

	"github.com/otpgate/otpgate/verify"
)

// cacheFixture is a migrated store with alice (one HOTP token).
func cacheFixture(t *testing.T) (*SQLite, verify.User, verify.Token) {
	t.Helper()
	s := migratedTestSQLite(t, newGCMSealer(t))
	ctx := context.Background()
	u, err := s.CreateUser(ctx, verify.User{Name: "alice", PasswordHash: "x", Level: verify.LevelWebOTP})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.CreateToken(ctx, verify.Token{UserID: u.ID, Serial: "T1", Type: verify.TypeHOTP,
		Enabled: true, Key: []byte("12345678901234567890"), Digits: 6, Algorithm: "SHA1", LastStep: verify.NoStep})
	if err != nil {
		t.Fatal(err)
	}
	return s, u, tok
}

// version reads alice's version from the database.
func version(t *testing.T, s *SQLite) int64 {
	t.Helper()
	u, _, err := s.UserWithTokens(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	return u.Version
}

func TestUserVersionRisesWithEveryChangeThatCanChangeADecision(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	cases := []struct {
		name   string
		change func(ctx context.Context, s *SQLite, u verify.User, tok verify.Token) error
		rises  bool
	}{
		{"password", func(ctx context.Context, s *SQLite, u verify.User, _ verify.Token) error {
			return s.UpdatePassword(ctx, u.ID, "y")
		}, true},
		{"PIN", func(ctx context.Context, s *SQLite, u verify.User, _ verify.Token) error {
			return s.UpdatePIN(ctx, u.ID, []byte("pin hash"))
		}, true},
		{"level", func(ctx context.Context, s *SQLite, u verify.User, _ verify.Token) error {
			return s.UpdateLevel(ctx, u.ID, verify.LevelOff)
		}, true},
		{"name", func(ctx context.Context, s *SQLite, u verify.User, _ verify.Token) error {
			if err := s.RenameUser(ctx, u.ID, "alicia"); err != nil {
				return err
			}
			return s.RenameUser(ctx, u.ID, "alice")
		}, true},
		{"a failure", func(ctx context.Context, s *SQLite, u verify.User, _ verify.Token) error {
			return s.RecordFailure(ctx, u.ID, now)
		}, true},
		{"a token added", func(ctx context.Context, s *SQLite, u verify.User, _ verify.Token) error {
			_, err := s.CreateToken(ctx, verify.Token{UserID: u.ID, Serial: "T2", Type: verify.TypeTOTP,
				Enabled: true, Key: []byte("k"), Digits: 6, Algorithm: "SHA1", Period: 30, LastStep: verify.NoStep})
			return err
		}, true},
		{"a token disabled", func(ctx context.Context, s *SQLite, _ verify.User, tok verify.Token) error {
			return s.SetTokenEnabled(ctx, tok.ID, false)
		}, true},
		{"a token activated", func(ctx context.Context, s *SQLite, _ verify.User, tok verify.Token) error {
			return s.ActivateToken(ctx, tok.ID)
		}, true},
		{"a token deleted", func(ctx context.Context, s *SQLite, _ verify.User, tok verify.Token) error {
			return s.DeleteToken(ctx, tok.ID)
		}, true},
		// Replay state is guarded by the conditional writes themselves.
		{"the counter advanced", func(ctx context.Context, s *SQLite, _ verify.User, tok verify.Token) error {
			_, err := s.AdvanceCounter(ctx, tok.ID, 3, now)
			return err
		}, false},
		{"the step advanced", func(ctx context.Context, s *SQLite, _ verify.User, tok verify.Token) error {
			_, err := s.AdvanceStep(ctx, tok.ID, 3, now)
			return err
		}, false},
		{"an OTP claimed", func(ctx context.Context, s *SQLite, _ verify.User, tok verify.Token) error {
			_, err := s.ClaimOTP(ctx, tok.ID, "cccccc", now)
			return err
		}, false},
		{"a description", func(ctx context.Context, s *SQLite, _ verify.User, tok verify.Token) error {
			return s.DescribeToken(ctx, tok.ID, "phone")
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, u, tok := cacheFixture(t)
			before := version(t, s)
			if err := tc.change(context.Background(), s, u, tok); err != nil {
				t.Fatal(err)
			}
			if after := version(t, s); (after > before) != tc.rises {
				t.Fatalf("version %d → %d; want it to rise: %v", before, after, tc.rises)
			}
		})
	}
}

func TestVersionedWritesRefuseAStaleVersion(t *testing.T) {
	t.Parallel()
	s, u, tok := cacheFixture(t)
	ctx, now := context.Background(), time.Unix(1_700_000_000, 0)
	stale := version(t, s)
	if err := s.UpdatePIN(ctx, u.ID, []byte("new pin hash")); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.AdvanceCounterAt(ctx, tok.ID, stale, 0, now); ok || err != nil {
		t.Fatalf("AdvanceCounterAt(stale) = %v, %v; want false, nil", ok, err)
	}
	if ok, err := s.AdvanceStepAt(ctx, tok.ID, stale, 5, now); ok || err != nil {
		t.Fatalf("AdvanceStepAt(stale) = %v, %v; want false, nil", ok, err)
	}
	current := version(t, s)
	if ok, err := s.AdvanceCounterAt(ctx, tok.ID, current, 0, now); !ok || err != nil {
		t.Fatalf("AdvanceCounterAt(current) = %v, %v; want true, nil", ok, err)
	}
	if ok, err := s.AdvanceCounterAt(ctx, tok.ID, current, 0, now); ok || err != nil {
		t.Fatalf("AdvanceCounterAt(current) again = %v, %v; want false (replay), nil", ok, err)
	}
}

func TestLoginCacheAnswersUntilRefreshed(t *testing.T) {
	t.Parallel()
	s, u, tok := cacheFixture(t)
	ctx, now := context.Background(), time.Unix(1_700_000_000, 0)
	if _, _, cached := s.CachedUserWithTokens("alice"); cached {
		t.Fatal("the cache answers before any read")
	}
	if _, _, err := s.UserWithTokens(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	first, toks, cached := s.CachedUserWithTokens("alice")
	if !cached || len(toks) != 1 {
		t.Fatalf("after a read: cached %v, %d tokens; want the cache", cached, len(toks))
	}
	// A versioned write of this store moves the cached replay state.
	if ok, err := s.AdvanceCounterAt(ctx, tok.ID, first.Version, 4, now); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, toks, _ := s.CachedUserWithTokens("alice"); toks[0].NextCounter != 5 {
		t.Fatalf("cached next counter %d, want 5", toks[0].NextCounter)
	}
	// A change the cache cannot see (another process) shows in the version
	// of a fresh read, which also refreshes the cache.
	other, err := OpenSQLite(ctx, SQLiteOptions{Path: s.path, Sealer: s.sealer, LoginCache: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.UpdateLevel(ctx, u.ID, verify.LevelOff); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := s.CachedUserWithTokens("alice"); c.Level != verify.LevelWebOTP {
		t.Fatalf("cached level %q; want the stale web-otp until refreshed", c.Level)
	}
	fresh, _, err := s.UserWithTokens(ctx, "alice")
	if err != nil || fresh.Level != verify.LevelOff || fresh.Version <= first.Version {
		t.Fatalf("fresh read: level %q version %d (was %d), %v", fresh.Level, fresh.Version, first.Version, err)
	}
	if c, _, cached := s.CachedUserWithTokens("alice"); !cached || c.Version != fresh.Version {
		t.Fatalf("after refresh: cached %v version %d; want %d", cached, c.Version, fresh.Version)
	}
}

func TestLoginCacheIsBounded(t *testing.T) {
	t.Parallel()
	c := newLoginCache(2)
	for id, name := range []string{"a", "b", "c", "d"} {
		c.put(&cachedLogin{user: verify.User{ID: int64(id), Name: name},
			tokens: []verify.Token{{ID: int64(100 + id)}}})
	}
	if len(c.byName) != 2 || len(c.byUser) != 2 || len(c.byToken) != 2 {
		t.Fatalf("cache holds %d users, %d ids, %d tokens; want 2 each", len(c.byName), len(c.byUser), len(c.byToken))
	}
	if _, ok := c.get("d"); !ok {
		t.Fatal("the newest entry was dropped")
	}
}

func TestLoginCacheCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	s, _, _ := cacheFixture(t)
	off, err := OpenSQLite(context.Background(), SQLiteOptions{Path: s.path, Sealer: s.sealer, LoginCache: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	for range 2 {
		if _, _, err := off.UserWithTokens(context.Background(), "alice"); err != nil {
			t.Fatal(err)
		}
		if _, _, cached := off.CachedUserWithTokens("alice"); cached {
			t.Fatal("a store without a cache answered from one")
		}
	}
}
