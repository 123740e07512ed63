package backend

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/otpgate/otpgate/verify"
)

// Directory attributes: extra values stored per user (displayName,
// mailAlternateAddress, ...) that the LDAP listener publishes. Both stores
// run these same statements; names are stored as given by the caller
// (manage lower-cases them), values byte-exact, plus a lower-cased copy
// (folded) that UsersByAttribute matches, as LDAP's caseIgnoreMatch does.
const (
	qUserAttributes   = `SELECT name, value FROM user_attributes WHERE user_id = ? ORDER BY name, value`
	qDeleteAttribute  = `DELETE FROM user_attributes WHERE user_id = ? AND name = ?`
	qInsertAttribute  = `INSERT INTO user_attributes (user_id, name, value, folded) VALUES (?, ?, ?, ?)`
	qUserExists       = `SELECT 1 FROM users WHERE id = ?`
	qUsersByAttribute = `SELECT ` + userColumns + ` FROM users WHERE id IN
		(SELECT user_id FROM user_attributes WHERE name = ? AND folded = ?) ORDER BY name`
)

// queryUsers runs a query returning userColumns rows.
func queryUsers(ctx context.Context, db *sql.DB, query string, args ...any) ([]verify.User, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var users []verify.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, rows.Err()
}

// userAttributes returns the user's attributes, name → values in order;
// an empty map for a user without any (or a missing user).
func userAttributes(ctx context.Context, db *sql.DB, userID int64) (map[string][]string, error) {
	rows, err := db.QueryContext(ctx, qUserAttributes, userID)
	if err != nil {
		return nil, fmt.Errorf("attributes of user %d: %w", userID, err)
	}
	defer rows.Close()
	attrs := map[string][]string{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, fmt.Errorf("attributes of user %d: %w", userID, err)
		}
		attrs[name] = append(attrs[name], value)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("attributes of user %d: %w", userID, err)
	}
	return attrs, nil
}

// setUserAttribute replaces all values of one attribute in one
// transaction; no values removes it. A missing user wraps
// verify.ErrNotFound. Duplicate values are stored once.
func setUserAttribute(ctx context.Context, db *sql.DB, userID int64, name string, values []string) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var one int
	if err = tx.QueryRowContext(ctx, qUserExists, userID).Scan(&one); err == sql.ErrNoRows {
		return verify.ErrNotFound
	} else if err != nil {
		return err
	}
	if _, err = tx.ExecContext(ctx, qDeleteAttribute, userID, name); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, v := range values {
		if seen[v] {
			continue
		}
		seen[v] = true
		if _, err = tx.ExecContext(ctx, qInsertAttribute, userID, name, v, strings.ToLower(v)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// UserAttributes returns the user's directory attributes (name → values).
func (s *SQLite) UserAttributes(ctx context.Context, userID int64) (map[string][]string, error) {
	return userAttributes(ctx, s.db, userID)
}

// SetUserAttribute replaces the values of one attribute; none removes it.
// A missing user wraps verify.ErrNotFound.
func (s *SQLite) SetUserAttribute(ctx context.Context, userID int64, name string, values []string) error {
	if err := setUserAttribute(ctx, s.db, userID, name, values); err != nil {
		return fmt.Errorf("set attribute %q of user %d: %w", name, userID, mapSQLiteErr(err))
	}
	return nil
}

// UsersByAttribute returns the users having value among the values of
// attribute name, ignoring case (lower-cased comparison), ordered by name.
func (s *SQLite) UsersByAttribute(ctx context.Context, name, value string) ([]verify.User, error) {
	users, err := queryUsers(ctx, s.db, qUsersByAttribute, name, strings.ToLower(value))
	if err != nil {
		return nil, fmt.Errorf("users by attribute %q: %w", name, err)
	}
	return users, nil
}

// UserAttributes returns the user's directory attributes (name → values).
func (s *MySQL) UserAttributes(ctx context.Context, userID int64) (map[string][]string, error) {
	return userAttributes(ctx, s.db, userID)
}

// SetUserAttribute replaces the values of one attribute; none removes it.
// A missing user wraps verify.ErrNotFound. Deadlocks are retried.
func (s *MySQL) SetUserAttribute(ctx context.Context, userID int64, name string, values []string) error {
	err := s.retry.do(ctx, func() error { return setUserAttribute(ctx, s.db, userID, name, values) })
	if err != nil {
		return fmt.Errorf("set attribute %q of user %d: %w", name, userID, mapMySQLErr(err))
	}
	return nil
}

// UsersByAttribute returns the users having value among the values of
// attribute name, ignoring case (lower-cased comparison), ordered by name.
func (s *MySQL) UsersByAttribute(ctx context.Context, name, value string) ([]verify.User, error) {
	users, err := queryUsers(ctx, s.db, qUsersByAttribute, name, strings.ToLower(value))
	if err != nil {
		return nil, fmt.Errorf("users by attribute %q: %w", name, err)
	}
	return users, nil
}
