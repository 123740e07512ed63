package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
)

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// scanUser reads one row of userColumns.
func scanUser(r rowScanner) (verify.User, error) {
	var (
		u                                 verify.User
		pin                               []byte
		lastFailure, createdAt, updatedAt int64
	)
	err := r.Scan(&u.ID, &u.Name, &u.PasswordHash, &pin, &u.Level, &u.FailCount,
		&lastFailure, &createdAt, &updatedAt)
	if err != nil {
		return verify.User{}, err
	}
	if len(pin) > 0 {
		u.PINHash = pin
	}
	u.LastFailure = fromUnix(lastFailure)
	u.CreatedAt = fromUnix(createdAt)
	u.UpdatedAt = fromUnix(updatedAt)
	return u, nil
}

// pinArg stores an empty or nil PIN hash as NULL.
func pinArg(pin []byte) any {
	if len(pin) == 0 {
		return nil
	}
	return pin
}

// UserByName returns the user named exactly name (byte-wise comparison) or
// an error wrapping verify.ErrNotFound. One indexed query.
func (s *SQLite) UserByName(ctx context.Context, name string) (verify.User, error) {
	return s.queryUser(ctx, "user by name", qUserByName, name)
}

// UserByID returns the user or an error wrapping verify.ErrNotFound.
func (s *SQLite) UserByID(ctx context.Context, id int64) (verify.User, error) {
	return s.queryUser(ctx, "user by id", qUserByID, id)
}

func (s *SQLite) queryUser(ctx context.Context, op, query string, arg any) (verify.User, error) {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return verify.User{}, fmt.Errorf("%s: %w", op, err)
	}
	u, err := scanUser(st.QueryRowContext(ctx, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return verify.User{}, fmt.Errorf("%s: %w", op, verify.ErrNotFound)
	}
	if err != nil {
		return verify.User{}, fmt.Errorf("%s: %w", op, err)
	}
	return u, nil
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

// ListUsers returns all users ordered by name (byte-wise).
func (s *SQLite) ListUsers(ctx context.Context) ([]verify.User, error) {
	users, err := queryUsers(ctx, s.db, qListUsers)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// UpdatePassword stores a new password hash; a missing user wraps
// verify.ErrNotFound.
func (s *SQLite) UpdatePassword(ctx context.Context, userID int64, hash string) error {
	if err := s.execMustMatch(ctx, qUpdatePassword, hash, s.nowUnix(), userID); err != nil {
		return fmt.Errorf("update password of user %d: %w", userID, err)
	}
	return nil
}

// UpdatePIN stores a PIN hash; nil (or empty) clears the PIN. A missing user
// wraps verify.ErrNotFound.
func (s *SQLite) UpdatePIN(ctx context.Context, userID int64, pinHash []byte) error {
	if err := s.execMustMatch(ctx, qUpdatePIN, pinArg(pinHash), s.nowUnix(), userID); err != nil {
		return fmt.Errorf("update PIN of user %d: %w", userID, err)
	}
	return nil
}

// UpdateLevel stores the user's security level as given (manage
// validates it). A missing user wraps verify.ErrNotFound.
func (s *SQLite) UpdateLevel(ctx context.Context, userID int64, level string) error {
	if err := s.execMustMatch(ctx, qUpdateLevel, level, s.nowUnix(), userID); err != nil {
		return fmt.Errorf("update level of user %d: %w", userID, err)
	}
	return nil
}

// RenameUser renames the user; a taken newName wraps verify.ErrExists and a
// missing user verify.ErrNotFound.
func (s *SQLite) RenameUser(ctx context.Context, userID int64, newName string) error {
	if err := s.execMustMatch(ctx, qRenameUser, newName, s.nowUnix(), userID); err != nil {
		return fmt.Errorf("rename user %d to %q: %w", userID, newName, err)
	}
	return nil
}

// DeleteUser deletes the user and, by ON DELETE CASCADE, all their tokens.
// A missing user wraps verify.ErrNotFound.
func (s *SQLite) DeleteUser(ctx context.Context, userID int64) error {
	if err := s.execMustMatch(ctx, qDeleteUser, userID); err != nil {
		return fmt.Errorf("delete user %d: %w", userID, err)
	}
	return nil
}

// RecordFailure adds one to the user's failure count and sets last_failure
// to now in one statement. A missing user wraps verify.ErrNotFound.
func (s *SQLite) RecordFailure(ctx context.Context, userID int64, now time.Time) error {
	if err := s.execMustMatch(ctx, qRecordFailure, unixTime(now), userID); err != nil {
		return fmt.Errorf("record failure of user %d: %w", userID, err)
	}
	return nil
}

// ResetFailures sets the user's failure count to zero, writing only when it
// is not zero already, so a successful login of a user without failures
// costs no write. last_failure is kept. Because the statement matches no row
// both for a missing user and for a count already at zero, a missing user
// is not reported: ResetFailures returns nil for it.
func (s *SQLite) ResetFailures(ctx context.Context, userID int64) error {
	if _, err := s.execOne(ctx, qResetFailures, userID); err != nil {
		return fmt.Errorf("reset failures of user %d: %w", userID, err)
	}
	return nil
}

// nowUnix is the store clock in stored form.
func (s *SQLite) nowUnix() int64 { return unixTime(s.now()) }
