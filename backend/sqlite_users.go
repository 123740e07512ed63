package backend

import (
	"context"
	"fmt"
	"strings"

	"github.com/otpgate/otpgate/verify"
)

const userColumns = `id, name, password_hash, pin_hash, level, fail_count,
	last_failure, created_at, updated_at`

// User statements. Those run through SQLite.stmt are prepared once per
// store; inserts and listings run unprepared.
const (
	qUserByName     = `SELECT ` + userColumns + ` FROM users WHERE name = ?`
	qRecordFailure  = `UPDATE users SET fail_count = fail_count + 1, last_failure = ? WHERE id = ?`
	qResetFailures  = `UPDATE users SET fail_count = 0 WHERE id = ? AND fail_count <> 0`
	qUserByID       = `SELECT ` + userColumns + ` FROM users WHERE id = ?`
	qUpdatePassword = `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`
	qUpdatePIN      = `UPDATE users SET pin_hash = ?, updated_at = ? WHERE id = ?`
	qUpdateLevel    = `UPDATE users SET level = ?, updated_at = ? WHERE id = ?`
	qRenameUser     = `UPDATE users SET name = ?, updated_at = ? WHERE id = ?`
	qDeleteUser     = `DELETE FROM users WHERE id = ?`
	qInsertUser     = `INSERT INTO users (name, password_hash, pin_hash, level, fail_count,
		last_failure, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qListUsers = `SELECT ` + userColumns + ` FROM users ORDER BY name`
	// qUsersAfter is one page of the listing, by the unique name index.
	qUsersAfter = `SELECT ` + userColumns + ` FROM users WHERE name > ? ORDER BY name LIMIT ?`
)

// prefixed qualifies each column of a column list with table alias a.
func prefixed(a, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = a + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// scanUser reads one row of userColumns.
func scanUser(r rowScanner) (verify.User, error) {
	dest, finish := userScan()
	if err := r.Scan(dest...); err != nil {
		return verify.User{}, err
	}
	return finish(), nil
}

// userScan returns the scan destinations of one row of userColumns and the
// function that then builds the user.
func userScan() ([]any, func() verify.User) {
	var (
		u                                 verify.User
		pin                               []byte
		lastFailure, createdAt, updatedAt int64
	)
	dest := []any{&u.ID, &u.Name, &u.PasswordHash, &pin, &u.Level, &u.FailCount,
		&lastFailure, &createdAt, &updatedAt}
	return dest, func() verify.User {
		if len(pin) > 0 {
			u.PINHash = pin
		}
		u.LastFailure = fromUnix(lastFailure)
		u.CreatedAt = fromUnix(createdAt)
		u.UpdatedAt = fromUnix(updatedAt)
		return u
	}
}

// pinArg stores an empty or nil PIN hash as NULL.
func pinArg(pin []byte) any {
	if len(pin) == 0 {
		return nil
	}
	return pin
}

// CreateUser inserts u (its ID is ignored; an empty Level becomes
// verify.LevelOff; FailCount and LastFailure are stored as given) and
// returns it with ID, CreatedAt and UpdatedAt set to the store's clock,
// truncated to whole seconds as stored. A taken name gives an error
// wrapping verify.ErrExists.
func (s *SQLite) CreateUser(ctx context.Context, u verify.User) (verify.User, error) {
	if u.Level == "" {
		u.Level = verify.LevelOff
	}
	now := fromUnix(unixTime(s.now()))
	u.CreatedAt, u.UpdatedAt = now, now
	if len(u.PINHash) == 0 {
		u.PINHash = nil
	}
	res, err := s.db.ExecContext(ctx, qInsertUser, u.Name, u.PasswordHash, pinArg(u.PINHash),
		u.Level, u.FailCount, unixTime(u.LastFailure), unixTime(now), unixTime(now))
	if err != nil {
		return verify.User{}, fmt.Errorf("create user %q: %w", u.Name, mapSQLiteErr(err))
	}
	if u.ID, err = res.LastInsertId(); err != nil {
		return verify.User{}, fmt.Errorf("create user %q: %w", u.Name, err)
	}
	u.LastFailure = fromUnix(unixTime(u.LastFailure))
	return u, nil
}
