package backend

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/otpgate/otpgate/verify"
)

// The MySQL store runs the same token statements as the SQLite store
// (sqlite_tokens.go); only next_counter differs in representation: it is a
// BIGINT UNSIGNED holding the counter itself, passed and scanned as uint64.

// tokenScanner returns the scan destinations of one row of tokenColumns and
// the function that then builds the token and opens its sealed secret. A
// secret that does not open is an error, never an empty key.
func (s *MySQL) tokenScanner() ([]any, func() (verify.Token, error)) {
	var (
		t                 verify.Token
		typ               string
		pending, enabled  int64
		sealed            []byte
		lastUsed, created int64
	)
	dest := []any{&t.ID, &t.UserID, &t.Serial, &typ, &t.Description, &pending, &enabled,
		&sealed, &t.Digits, &t.Algorithm, &t.Period, &t.NextCounter, &t.LastStep,
		&lastUsed, &created, &t.PublicID}
	return dest, func() (verify.Token, error) {
		t.Type = verify.TokenType(typ)
		t.Pending, t.Enabled = pending != 0, enabled != 0
		t.LastUsed, t.CreatedAt = fromUnix(lastUsed), fromUnix(created)
		if err := openToken(s.sealer, &t, sealed); err != nil {
			return verify.Token{}, err
		}
		return t, nil
	}
}

// CreateToken inserts t (its ID is ignored; CreatedAt is set to the store's
// clock in whole seconds; the replay state NextCounter, LastStep and
// LastUsed is stored as given) and seals Key and DevicePIN with the new id
// as associated data, all in one transaction: either the token exists with
// its sealed secret or not at all. The transaction is retried as a whole on
// deadlock or lock-wait timeout. A taken serial wraps verify.ErrExists, a
// missing user verify.ErrNotFound.
func (s *MySQL) CreateToken(ctx context.Context, t verify.Token) (verify.Token, error) {
	t.CreatedAt = fromUnix(s.nowUnix())
	t.LastUsed = fromUnix(unixTime(t.LastUsed))
	var id int64
	err := s.retry.do(ctx, func() (err error) {
		id, err = s.insertToken(ctx, t)
		return err
	})
	if err != nil {
		return verify.Token{}, err
	}
	t.ID = id
	return t, nil
}

// insertToken is one attempt of CreateToken's transaction; it returns the
// new id. Errors carry the operation and the driver error (for retry).
func (s *MySQL) insertToken(ctx context.Context, t verify.Token) (id int64, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("create token %q: begin: %w", t.Serial, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	res, err := tx.ExecContext(ctx, qInsertToken, t.UserID, t.Serial, string(t.Type),
		t.Description, boolInt(t.Pending), boolInt(t.Enabled), t.Digits, t.Algorithm,
		t.Period, t.NextCounter, t.LastStep, unixTime(t.LastUsed), unixTime(t.CreatedAt), t.PublicID)
	if err != nil {
		return 0, createTokenErr(t, mapMySQLErr(err))
	}
	if id, err = res.LastInsertId(); err != nil {
		return 0, fmt.Errorf("create token %q: %w", t.Serial, err)
	}
	t.ID = id
	sealed, err := sealToken(s.sealer, &t)
	if err != nil {
		return 0, fmt.Errorf("create token %q: %w", t.Serial, err)
	}
	if _, err = tx.ExecContext(ctx, qSealToken, sealed, id); err != nil {
		return 0, fmt.Errorf("create token %q: store secret: %w", t.Serial, err)
	}
	if err = tx.Commit(); err != nil {
		return 0, fmt.Errorf("create token %q: commit: %w", t.Serial, err)
	}
	return id, nil
}

// AdvanceCounter sets next_counter to matched+1 and last_used to now if and
// only if next_counter <= matched, in one conditional UPDATE, and reports
// whether it did; a missing token reports false. matched = 2^64-1 has no
// successor and is refused with an error. It is never retried: any error
// (a timeout included, after which the UPDATE may still have run) is
// returned with false, and the engine refuses.
func (s *MySQL) AdvanceCounter(ctx context.Context, tokenID int64, matched uint64, now time.Time) (bool, error) {
	if matched == math.MaxUint64 {
		return false, fmt.Errorf("advance counter of token %d: counter exhausted", tokenID)
	}
	n, err := s.execOne(ctx, qAdvanceCounter, matched+1, unixTime(now), tokenID, matched)
	if err != nil {
		return false, fmt.Errorf("advance counter of token %d: %w", tokenID, err)
	}
	return n == 1, nil
}
