package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/otpgate/otpgate/verify"
)

// The MySQL store runs the same user statements as the SQLite store
// (qUserByName and friends in sqlite_users.go): the SQL is portable, and
// clientFoundRows makes the affected-row counts mean the same.

// UserByName returns the user named exactly name (byte-wise comparison:
// users.name is VARBINARY) or an error wrapping verify.ErrNotFound. One
// indexed query.
func (s *MySQL) UserByName(ctx context.Context, name string) (verify.User, error) {
	return s.queryUser(ctx, "user by name", qUserByName, name)
}

// UserByID returns the user or an error wrapping verify.ErrNotFound.
func (s *MySQL) UserByID(ctx context.Context, id int64) (verify.User, error) {
	return s.queryUser(ctx, "user by id", qUserByID, id)
}

func (s *MySQL) queryUser(ctx context.Context, op, query string, arg any) (verify.User, error) {
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
func (s *MySQL) CreateUser(ctx context.Context, u verify.User) (verify.User, error) {
	if u.Level == "" {
		u.Level = verify.LevelOff
	}
	now := fromUnix(s.nowUnix())
	u.CreatedAt, u.UpdatedAt = now, now
	if len(u.PINHash) == 0 {
		u.PINHash = nil
	}
	var res sql.Result
	err := s.retry.do(ctx, func() (err error) {
		res, err = s.db.ExecContext(ctx, qInsertUser, u.Name, u.PasswordHash, pinArg(u.PINHash),
			u.Level, u.FailCount, unixTime(u.LastFailure), unixTime(now), unixTime(now))
		return err
	})
	if err != nil {
		return verify.User{}, fmt.Errorf("create user %q: %w", u.Name, mapMySQLErr(err))
	}
	if u.ID, err = res.LastInsertId(); err != nil {
		return verify.User{}, fmt.Errorf("create user %q: %w", u.Name, err)
	}
	u.LastFailure = fromUnix(unixTime(u.LastFailure))
	return u, nil
}

// ListUsers returns all users ordered by name (byte-wise).
func (s *MySQL) ListUsers(ctx context.Context) ([]verify.User, error) {
	users, err := queryUsers(ctx, s.db, qListUsers)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// UpdatePassword stores a new password hash; a missing user wraps
// verify.ErrNotFound.
func (s *MySQL) UpdatePassword(ctx context.Context, userID int64, hash string) error {
	if err := s.execMustMatch(ctx, qUpdatePassword, hash, s.nowUnix(), userID); err != nil {
		return fmt.Errorf("update password of user %d: %w", userID, err)
	}
	return nil
}

// UpdatePIN stores a PIN hash; nil (or empty) clears the PIN. A missing user
// wraps verify.ErrNotFound.
func (s *MySQL) UpdatePIN(ctx context.Context, userID int64, pinHash []byte) error {
	if err := s.execMustMatch(ctx, qUpdatePIN, pinArg(pinHash), s.nowUnix(), userID); err != nil {
		return fmt.Errorf("update PIN of user %d: %w", userID, err)
	}
	return nil
}

// UpdateLevel stores the user's security level as given (manage
// validates it). A missing user wraps verify.ErrNotFound.
func (s *MySQL) UpdateLevel(ctx context.Context, userID int64, level string) error {
	if err := s.execMustMatch(ctx, qUpdateLevel, level, s.nowUnix(), userID); err != nil {
		return fmt.Errorf("update level of user %d: %w", userID, err)
	}
	return nil
}

// RenameUser renames the user; a taken newName wraps verify.ErrExists and a
// missing user verify.ErrNotFound.
func (s *MySQL) RenameUser(ctx context.Context, userID int64, newName string) error {
	if err := s.execMustMatch(ctx, qRenameUser, newName, s.nowUnix(), userID); err != nil {
		return fmt.Errorf("rename user %d to %q: %w", userID, newName, err)
	}
	return nil
}

// DeleteUser deletes the user and, by ON DELETE CASCADE, all their tokens.
// A missing user wraps verify.ErrNotFound.
func (s *MySQL) DeleteUser(ctx context.Context, userID int64) error {
	if err := s.execMustMatch(ctx, qDeleteUser, userID); err != nil {
		return fmt.Errorf("delete user %d: %w", userID, err)
	}
	return nil
}

// RecordFailure adds one to the user's failure count and sets last_failure
// to now in one statement, retried on deadlock or lock-wait timeout (which
// roll the statement back, so no failure is counted twice). A missing user
// wraps verify.ErrNotFound.
func (s *MySQL) RecordFailure(ctx context.Context, userID int64, now time.Time) error {
	if err := s.execMustMatch(ctx, qRecordFailure, unixTime(now), userID); err != nil {
		return fmt.Errorf("record failure of user %d: %w", userID, err)
	}
	return nil
}

// ResetFailures sets the user's failure count to zero, writing only when it
// is not zero already. last_failure is kept. As on SQLite, a missing user
// is not reported: ResetFailures returns nil for it.
func (s *MySQL) ResetFailures(ctx context.Context, userID int64) error {
	if _, err := s.execRetried(ctx, qResetFailures, userID); err != nil {
		return fmt.Errorf("reset failures of user %d: %w", userID, err)
	}
	return nil
}
