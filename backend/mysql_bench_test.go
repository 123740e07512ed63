package backend

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otpgate/otpgate/verify"
)

// BenchmarkMySQLLoginRead is the engine's read path for one login on
// MariaDB: the user by name, then their tokens (two, unsealed). Each call
// is one round trip of a prepared statement.
func BenchmarkMySQLLoginRead(b *testing.B) {
	s, _ := benchMySQLStore(b)
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

// BenchmarkMySQLLoginReadParallel is the read path under concurrent logins.
func BenchmarkMySQLLoginReadParallel(b *testing.B) {
	s, _ := benchMySQLStore(b)
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

// BenchmarkMySQLAdvanceStep is the replay guard's write on every TOTP
// accept (each iteration a later step, so each one writes and commits).
func BenchmarkMySQLAdvanceStep(b *testing.B) {
	s, tok := benchMySQLStore(b)
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

// BenchmarkMySQLAdvanceStepParallel is the replay guard's write under
// concurrent logins of one user: writers queue on the token's row lock. A
// later step may lose to an earlier one here; only errors fail.
func BenchmarkMySQLAdvanceStepParallel(b *testing.B) {
	s, tok := benchMySQLStore(b)
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

// benchMySQLStore returns a migrated store on a fresh database with user
// alice holding a TOTP and an HOTP token, among 1000 other users; it
// returns the TOTP token.
func benchMySQLStore(b *testing.B) (*MySQL, verify.Token) {
	b.Helper()
	s := migratedTestMySQL(b, newGCMSealer(b))
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
	// Other users, so lookups go through the index; one statement.
	values := make([]string, 1000)
	for i := range values {
		values[i] = "('user" + strconv.Itoa(i) + "', 'x')"
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO users (name, password_hash) VALUES `+
		strings.Join(values, ", ")); err != nil {
		b.Fatal(err)
	}
	return s, totp
}
