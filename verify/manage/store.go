// Package manage holds the operator operations on users and tokens (add,
// set PIN, enroll, test, resync, ...) with their validation, shared by the
// CLI and the admin API so both behave the same.
package manage

import (
	"context"

	"github.com/otpgate/otpgate/verify"
)

// Store is the persistence manage needs on top of verify.Store.
// backend's stores implement both.
type Store interface {
	verify.Store
	// CreateUser inserts u (ID ignored) and returns it with ID and
	// timestamps set; a taken name gives an error wrapping verify.ErrExists.
	CreateUser(ctx context.Context, u verify.User) (verify.User, error)
	// ListUsers returns all users ordered by name.
	ListUsers(ctx context.Context) ([]verify.User, error)
	UpdatePassword(ctx context.Context, userID int64, hash string) error
	// UpdatePIN stores a PIN hash; nil clears the PIN.
	UpdatePIN(ctx context.Context, userID int64, pinHash []byte) error
	UpdateLevel(ctx context.Context, userID int64, level string) error
	// RenameUser fails with verify.ErrExists when newName is taken.
	RenameUser(ctx context.Context, userID int64, newName string) error
	// DeleteUser deletes the user and all their tokens.
	DeleteUser(ctx context.Context, userID int64) error
	// CreateToken inserts t (ID ignored), sealing Key and DevicePIN with the
	// new ID as associated data, and returns it with ID set; a taken serial
	// gives verify.ErrExists.
	CreateToken(ctx context.Context, t verify.Token) (verify.Token, error)
	// TokenBySerial returns the token (secret unsealed) or verify.ErrNotFound.
	TokenBySerial(ctx context.Context, serial string) (verify.Token, error)
	SetTokenEnabled(ctx context.Context, tokenID int64, enabled bool) error
	DescribeToken(ctx context.Context, tokenID int64, description string) error
	DeleteToken(ctx context.Context, tokenID int64) error
	// UserByID returns the user or verify.ErrNotFound.
	UserByID(ctx context.Context, id int64) (verify.User, error)
	// UserAttributes returns the user's directory attributes, name →
	// values (empty for none).
	UserAttributes(ctx context.Context, userID int64) (map[string][]string, error)
	// SetUserAttribute replaces all values of one attribute (none removes
	// it); a missing user gives verify.ErrNotFound.
	SetUserAttribute(ctx context.Context, userID int64, name string, values []string) error
	// UsersByAttribute returns the users with value among the values of
	// attribute name, ignoring case, ordered by name.
	UsersByAttribute(ctx context.Context, name, value string) ([]verify.User, error)
}
