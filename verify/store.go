package verify

import (
	"context"
	"time"
)

// Store is what the engine needs from persistence. Implementations live in
// backend (SQLite, MySQL) and pass backend/storetest.
//
// Every method that changes replay or failure state is a single conditional
// statement; its affected-row count, not a prior read, decides races. Any
// error means "not done" to the engine, which then refuses.
type Store interface {
	// UserByName returns the user or an error wrapping ErrNotFound.
	UserByName(ctx context.Context, name string) (User, error)
	// UserWithTokens returns the user and what Tokens returns for them,
	// read together (the login path's one read), or an error wrapping
	// ErrNotFound.
	UserWithTokens(ctx context.Context, name string) (User, []Token, error)
	// Tokens returns all tokens of the user ordered by ID, secrets unsealed.
	Tokens(ctx context.Context, userID int64) ([]Token, error)
	// AdvanceCounter sets next_counter to matched+1 and last_used to now if
	// and only if next_counter <= matched. It reports whether it did.
	AdvanceCounter(ctx context.Context, tokenID int64, matched uint64, now time.Time) (bool, error)
	// AdvanceStep sets last_step to step and last_used to now if and only if
	// last_step < step. It reports whether it did.
	AdvanceStep(ctx context.Context, tokenID int64, step int64, now time.Time) (bool, error)
	// ClaimOTP sets last_otp to otp and last_used to now if and only if
	// last_otp differs from otp, and reports whether it did (yubicloud
	// tokens: an OTP is passed to the validation servers at most once).
	ClaimOTP(ctx context.Context, tokenID int64, otp string, now time.Time) (bool, error)
	// TokenByPublicID returns the yubikey or yubicloud token with that
	// public id (secrets unsealed) or an error wrapping ErrNotFound.
	TokenByPublicID(ctx context.Context, publicID string) (Token, error)
	// ActivateToken clears the pending flag of the token.
	ActivateToken(ctx context.Context, tokenID int64) error
	// RecordFailure adds one to the user's failure count and sets
	// last_failure to now, atomically (fail_count = fail_count + 1).
	RecordFailure(ctx context.Context, userID int64, now time.Time) error
	// ResetFailures sets the user's failure count to zero.
	ResetFailures(ctx context.Context, userID int64) error
}

// Credentials hashes and checks account passwords and PINs. backend/seal's
// Keyring implements it; the engine never sees a key.
type Credentials interface {
	// HashPassword returns a scheme-prefixed hash (argon2id) of password.
	HashPassword(password Secret) (string, error)
	// CheckPassword reports whether password matches hash, in constant time
	// for a given scheme. Unknown or malformed hashes never match.
	CheckPassword(hash string, password Secret) bool
	// HashPIN returns a keyed hash of pin with a fresh per-user salt.
	HashPIN(pin Secret) ([]byte, error)
	// CheckPIN reports whether pin matches stored (from HashPIN), in
	// constant time. A nil or malformed stored value never matches.
	CheckPIN(stored []byte, pin Secret) bool
}

// CachingStore is a Store that can answer a login's read from memory
// (backend's SQLite store). Its UserWithTokens reads the database and
// refreshes the memory; CachedUserWithTokens answers from memory only. Every change of a user or of their tokens that can change a
// decision, by any process, raises the user's Version; replay state is
// not versioned, the conditional writes guard it.
//
// The engine trusts an answer from memory only through the versioned
// writes: an OTP consumed with AdvanceCounterAt or AdvanceStepAt at the
// Version read proves that what was read was current. Any other decision
// made on an answer from memory is checked against a fresh read and made
// again when the two differ.
type CachingStore interface {
	Store
	// CachedUserWithTokens returns what memory holds of the user and their
	// tokens (ok false: nothing); it never reads the database.
	CachedUserWithTokens(name string) (u User, toks []Token, ok bool)
	// AdvanceCounterAt is AdvanceCounter that also requires the token's
	// user to be at version, in the same statement.
	AdvanceCounterAt(ctx context.Context, tokenID, version int64, matched uint64, now time.Time) (bool, error)
	// AdvanceStepAt is AdvanceStep that also requires the token's user to
	// be at version, in the same statement.
	AdvanceStepAt(ctx context.Context, tokenID, version, step int64, now time.Time) (bool, error)
}
