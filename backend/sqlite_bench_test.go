package backend

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otpgate/otpgate/verify"
)

// BenchmarkSQLiteLoginRead is the engine's read path for one login: the
// user by name, then their tokens (two, unsealed).
func BenchmarkSQLiteLoginRead(b *testing.B) {
	s, _ := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		u, err := s.UserByName(ctx, "alice")
		if err != nil {
			b.Fatal(err)
		}
		if toks, err := s.Tokens(ctx, u.ID); err != nil || len(toks) != 2 {
			b.Fatal(len(toks), err)
		}
	}
}

// BenchmarkSQLiteLoginReadParallel is the read path under concurrent logins.
func BenchmarkSQLiteLoginReadParallel(b *testing.B) {
	s, _ := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			u, err := s.UserByName(ctx, "alice")
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := s.Tokens(ctx, u.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSQLiteAdvanceStep is the replay guard's write on every TOTP
// accept (each iteration a later step, so each one writes).
func BenchmarkSQLiteAdvanceStep(b *testing.B) {
	s, tok := benchStore(b)
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	b.ReportAllocs()
	step := int64(0)
	for b.Loop() {
		step++
		if ok, err := s.AdvanceStep(ctx, tok.ID, step, now); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkSQLiteAdvanceStepParallel is the replay guard's write under
// concurrent logins of one user: writers contend for SQLite's one write
// lock. A later step may lose to an earlier one here; only errors fail.
func BenchmarkSQLiteAdvanceStepParallel(b *testing.B) {
	s, tok := benchStore(b)
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	var step atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.AdvanceStep(ctx, tok.ID, step.Add(1), now); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchStore returns a migrated store with user alice holding a TOTP and an
// HOTP token; it returns the TOTP token.
func benchStore(b *testing.B) (*SQLite, verify.Token) {
	b.Helper()
	s := migratedTestSQLite(b, newGCMSealer(b))
	ctx := context.Background()
	u, err := s.CreateUser(ctx, verify.User{Name: "alice", PasswordHash: "$argon2id$x", PINHash: []byte("pin")})
	if err != nil {
		b.Fatal(err)
	}
	totp, err := s.CreateToken(ctx, verify.Token{UserID: u.ID, Serial: "T1", Type: verify.TypeTOTP,
		Key: make([]byte, 20), Digits: 6, Algorithm: "SHA1", Period: 30, Enabled: true, LastStep: verify.NoStep})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.CreateToken(ctx, verify.Token{UserID: u.ID, Serial: "H1", Type: verify.TypeHOTP,
		Key: make([]byte, 20), Digits: 6, Algorithm: "SHA1", Enabled: true, LastStep: verify.NoStep}); err != nil {
		b.Fatal(err)
	}
	for i := range 1000 { // other users, so lookups go through the index
		if _, err := s.CreateUser(ctx, verify.User{Name: "user" + strconv.Itoa(i), PasswordHash: "x"}); err != nil {
			b.Fatal(err)
		}
	}
	return s, totp
}
