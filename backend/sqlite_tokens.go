package backend

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/otpgate/otpgate/verify"
)

const tokenColumns = `id, user_id, serial, type, description, pending, enabled,
	sealed_secret, digits, algorithm, period, next_counter, last_step,
	last_used, created_at, public_id`

// Token statements; all but the insert run prepared through SQLite.stmt.
// The sealed secret is written by a second statement once the id is known.
const (
	qTokensByUser   = `SELECT ` + tokenColumns + ` FROM tokens WHERE user_id = ? ORDER BY id`
	qTokenBySerial  = `SELECT ` + tokenColumns + ` FROM tokens WHERE serial = ?`
	qAdvanceCounter = `UPDATE tokens SET next_counter = ?, last_used = ?
		WHERE id = ? AND next_counter <= ?`
	qAdvanceStep = `UPDATE tokens SET last_step = ?, last_used = ? WHERE id = ? AND last_step < ?`
	qClaimOTP    = `UPDATE tokens SET last_otp = ?, last_used = ? WHERE id = ? AND last_otp <> ?`
	// public_id <> '' keeps the partial index usable and other types out.
	qTokenByPublicID = `SELECT ` + tokenColumns + ` FROM tokens WHERE public_id = ? AND public_id <> ''`
	qActivate        = `UPDATE tokens SET pending = 0 WHERE id = ?`
	qSetEnabled      = `UPDATE tokens SET enabled = ? WHERE id = ?`
	qDescribe        = `UPDATE tokens SET description = ? WHERE id = ?`
	qDeleteToken     = `DELETE FROM tokens WHERE id = ?`
	qInsertToken     = `INSERT INTO tokens (user_id, serial, type, description, pending, enabled,
		sealed_secret, digits, algorithm, period, next_counter, last_step, last_used, created_at, public_id)
		VALUES (?, ?, ?, ?, ?, ?, x'', ?, ?, ?, ?, ?, ?, ?, ?)`
	qSealToken = `UPDATE tokens SET sealed_secret = ? WHERE id = ?`
)

// qUserWithTokens is the login's one read: the user and each of their
// tokens, one row per token (none for a user without tokens).
var qUserWithTokens = `SELECT ` + prefixed("u", userColumns) + `, ` + prefixed("t", tokenColumns) + `
	FROM users u JOIN tokens t ON t.user_id = u.id WHERE u.name = ? ORDER BY t.id`

// tokenScanner returns the scan destinations of one row of tokenColumns and
// the function that then builds the token and opens its sealed secret. A
// secret that does not open is an error, never an empty key.
func (s *SQLite) tokenScanner() ([]any, func() (verify.Token, error)) {
	var (
		t                              verify.Token
		typ                            string
		pending, enabled               int64
		sealed                         []byte
		nextCounter, lastUsed, created int64
	)
	dest := []any{&t.ID, &t.UserID, &t.Serial, &typ, &t.Description, &pending, &enabled,
		&sealed, &t.Digits, &t.Algorithm, &t.Period, &nextCounter, &t.LastStep,
		&lastUsed, &created, &t.PublicID}
	return dest, func() (verify.Token, error) {
		t.Type = verify.TokenType(typ)
		t.Pending, t.Enabled = pending != 0, enabled != 0
		t.NextCounter = decodeCounter(nextCounter)
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
// its sealed secret or not at all. A taken serial wraps verify.ErrExists, a
// missing user verify.ErrNotFound.
func (s *SQLite) CreateToken(ctx context.Context, t verify.Token) (created verify.Token, err error) {
	t.CreatedAt = fromUnix(s.nowUnix())
	t.LastUsed = fromUnix(unixTime(t.LastUsed))
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return verify.Token{}, fmt.Errorf("create token %q: begin: %w", t.Serial, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	res, err := tx.ExecContext(ctx, qInsertToken, t.UserID, t.Serial, string(t.Type),
		t.Description, boolInt(t.Pending), boolInt(t.Enabled), t.Digits, t.Algorithm,
		t.Period, encodeCounter(t.NextCounter), t.LastStep, unixTime(t.LastUsed),
		unixTime(t.CreatedAt), t.PublicID)
	if err != nil {
		return verify.Token{}, createTokenErr(t, mapSQLiteErr(err))
	}
	if t.ID, err = res.LastInsertId(); err != nil {
		return verify.Token{}, fmt.Errorf("create token %q: %w", t.Serial, err)
	}
	sealed, err := sealToken(s.sealer, &t)
	if err != nil {
		return verify.Token{}, fmt.Errorf("create token %q: %w", t.Serial, err)
	}
	if _, err = tx.ExecContext(ctx, qSealToken, sealed, t.ID); err != nil {
		return verify.Token{}, fmt.Errorf("create token %q: store secret: %w", t.Serial, err)
	}
	if err = tx.Commit(); err != nil {
		return verify.Token{}, fmt.Errorf("create token %q: commit: %w", t.Serial, err)
	}
	return t, nil
}

// createTokenErr names what a mapped insert error means.
func createTokenErr(t verify.Token, err error) error {
	switch {
	case errors.Is(err, verify.ErrExists):
		return fmt.Errorf("create token: serial %q: %w", t.Serial, err)
	case errors.Is(err, verify.ErrNotFound):
		return fmt.Errorf("create token %q: user %d: %w", t.Serial, t.UserID, err)
	}
	return fmt.Errorf("create token %q: %w", t.Serial, err)
}

// AdvanceCounter sets next_counter to matched+1 and last_used to now if and
// only if next_counter <= matched, in one conditional UPDATE, and reports
// whether it did; a missing token reports false. The comparison runs on
// the order-preserving encoding (see encodeCounter), so it is correct over
// the whole uint64 range. matched = 2^64-1 has no successor and is refused
// with an error (storing a wrapped 0 would reopen every counter).
func (s *SQLite) AdvanceCounter(ctx context.Context, tokenID int64, matched uint64, now time.Time) (bool, error) {
	if err := checkCounter(tokenID, matched); err != nil {
		return false, err
	}
	n, err := s.execOne(ctx, qAdvanceCounter, encodeCounter(matched+1), unixTime(now),
		tokenID, encodeCounter(matched))
	if err != nil {
		return false, fmt.Errorf("advance counter of token %d: %w", tokenID, err)
	}
	return n == 1, nil
}

// checkCounter refuses to advance past the last counter: matched =
// 2^64-1 has no successor (storing a wrapped 0 would reopen every code).
func checkCounter(tokenID int64, matched uint64) error {
	if matched == math.MaxUint64 {
		return fmt.Errorf("advance counter of token %d: counter exhausted", tokenID)
	}
	return nil
}
