package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/otpgate/otpgate/verify"
)

// sqlStore is what the SQLite and MySQL stores share: the database, the
// prepared hot-path statements, the clock, and every method whose SQL and
// logic are the same on both (the statements are in sqlite_users.go and
// sqlite_tokens.go). The two dialect-specific writes are functions set by
// each store.
type sqlStore struct {
	db  *sql.DB
	now func() time.Time
	// hot runs the login path's statements (hotQueries). The SQLite store
	// gives it a pool of one connection: its page cache then survives
	// our own writes, where a write on one connection of a pool empties
	// the page cache of every other, and in-process writers queue in Go
	// instead of polling SQLite's busy handler. MySQL shares db.
	hot *sql.DB
	// uninterruptible runs statements with a context that cannot be
	// cancelled (after checking it is not done yet): modernc.org/sqlite
	// starts a goroutine per statement to watch a cancellable context,
	// which cost more than a whole indexed read; a local statement is
	// bounded by busy_timeout anyway. SQLite only.
	uninterruptible bool
	// versioned: the users table has the version column (SQLite,
	// migration 0005) and reads fill User.Version.
	versioned bool
	// login serialises the use of hot in Go (SQLite; capacity 1, nil for
	// MySQL): waiting for it respects the caller's deadline, so a stalled
	// login connection still fails requests at store.timeout, although
	// the statements themselves run uncancellable.
	login chan struct{}

	// mustMatch runs a write that must match a row: no match gives
	// verify.ErrNotFound, key violations verify.ErrExists (MySQL also
	// retries deadlocks and lock-wait timeouts). The caller adds the
	// operation to the error.
	mustMatch func(ctx context.Context, query string, args ...any) error
	// writeRepeatable runs a write that is safe to run again after a
	// deadlock (MySQL retries it) and returns the rows it matched. Never
	// for a compare-and-set: those use execOne.
	writeRepeatable func(ctx context.Context, query string, args ...any) (int64, error)
	// tokenScan returns the scan destinations of one row of tokenColumns
	// and the function that then builds the token with its secret
	// unsealed (the stores store next_counter differently).
	tokenScan func() (dest []any, finish func() (verify.Token, error))

	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newSQLStore(db, hot *sql.DB, now func() time.Time) sqlStore {
	return sqlStore{db: db, hot: hot, now: now, stmts: map[string]*sql.Stmt{}}
}

// hotQueries are the statements of a login (verify.Store's methods); they
// run on sqlStore.hot.
var hotQueries = map[string]bool{
	qUserByName: true, qTokensByUser: true, qUserWithTokens: true, qAdvanceCounter: true, qAdvanceStep: true,
	qClaimOTP: true, qTokenByPublicID: true, qActivate: true, qRecordFailure: true,
	qResetFailures: true,
	// SQLite's login cache (sqlite_cache.go)
	qUserWithTokensVersion: true, qUserByNameVersion: true, qAdvanceCounterAtVers: true,
	qAdvanceStepAtVers: true,
}

// nowUnix is the store clock in stored form.
func (s *sqlStore) nowUnix() int64 { return unixTime(s.now()) }

// stmt returns the prepared statement for query, preparing it on first
// use. Preparing lazily lets a store open on a database whose tables
// Migrate has not created yet; a failed prepare is retried on the next
// call. The lock is not held while preparing.
func (s *sqlStore) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	st, ok := s.stmts[query]
	s.mu.Unlock()
	if ok {
		return st, nil
	}
	pool := s.db
	if hotQueries[query] {
		pool = s.hot
	}
	st, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if first, ok := s.stmts[query]; ok { // another caller won the race
		_ = st.Close()
		return first, nil
	}
	s.stmts[query] = st
	return st, nil
}

// begin prepares the run of query: it takes the login connection for a
// login statement (see login), waiting at most until ctx is done, and
// returns the context to run the statement with (see uninterruptible) and
// the function that ends the statement's use of the connection; call it
// after the statement's rows are closed.
func (s *sqlStore) begin(ctx context.Context, query string) (context.Context, func(), error) {
	if !s.uninterruptible {
		return ctx, func() {}, nil
	}
	release := func() {}
	if s.login != nil && hotQueries[query] {
		select {
		case s.login <- struct{}{}:
			release = func() { <-s.login }
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	if err := ctx.Err(); err != nil {
		release()
		return nil, nil, err
	}
	return context.WithoutCancel(ctx), release, nil
}

// execOne runs a prepared write once and returns the number of rows it
// matched (SQLite counts matched rows; MySQL does with clientFoundRows).
func (s *sqlStore) execOne(ctx context.Context, query string, args ...any) (int64, error) {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return 0, err
	}
	ctx, release, err := s.begin(ctx, query)
	if err != nil {
		return 0, err
	}
	defer release()
	return s.execStmt(ctx, st, args...)
}

// execStmt runs a prepared write and returns the rows it matched.
func (s *sqlStore) execStmt(ctx context.Context, st *sql.Stmt, args ...any) (int64, error) {
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// scanToken reads one row of tokenColumns into a token, secret unsealed.
func (s *sqlStore) scanToken(r rowScanner) (verify.Token, error) {
	dest, finish := s.tokenScan()
	if err := r.Scan(dest...); err != nil {
		return verify.Token{}, err
	}
	return finish()
}

// closeStatements closes every prepared statement (before the database).
func (s *sqlStore) closeStatements() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for q, st := range s.stmts {
		_ = st.Close()
		delete(s.stmts, q)
	}
}

// UserByName returns the user named exactly name (byte-wise comparison) or
// an error wrapping verify.ErrNotFound. One indexed query.
func (s *sqlStore) UserByName(ctx context.Context, name string) (verify.User, error) {
	return s.queryUser(ctx, "user by name", qUserByName, name)
}

// UserWithTokens returns the user named exactly name and all their tokens
// ordered by ID, secrets unsealed, from one snapshot, or an error wrapping
// verify.ErrNotFound. One indexed join; a user without tokens (or a name
// without a user) costs a second query for the user alone. A versioned
// store (SQLite) also reads users.version into User.Version.
func (s *sqlStore) UserWithTokens(ctx context.Context, name string) (verify.User, []verify.Token, error) {
	join, alone := qUserWithTokens, qUserByName
	if s.versioned {
		join, alone = qUserWithTokensVersion, qUserByNameVersion
	}
	u, tokens, err := s.joinUserTokens(ctx, join, name)
	if err != nil || tokens != nil {
		return u, tokens, err
	}
	var version int64
	udest, user := s.versionedUserScan(&version)
	err = s.queryRow(ctx, alone, udest, name)
	if errors.Is(err, sql.ErrNoRows) {
		return verify.User{}, nil, fmt.Errorf("user with tokens: %w", verify.ErrNotFound)
	}
	if err != nil {
		return verify.User{}, nil, fmt.Errorf("user with tokens: %w", err)
	}
	return user(), nil, nil
}

// joinUserTokens runs the joined read; no tokens means no row.
func (s *sqlStore) joinUserTokens(ctx context.Context, join, name string) (verify.User, []verify.Token, error) {
	st, err := s.stmt(ctx, join)
	if err != nil {
		return verify.User{}, nil, fmt.Errorf("user with tokens: %w", err)
	}
	ctx, release, err := s.begin(ctx, join)
	if err != nil {
		return verify.User{}, nil, fmt.Errorf("user with tokens: %w", err)
	}
	defer release()
	rows, err := st.QueryContext(ctx, name)
	if err != nil {
		return verify.User{}, nil, fmt.Errorf("user with tokens: %w", err)
	}
	defer rows.Close()
	var (
		u       verify.User
		version int64
		tokens  []verify.Token
	)
	for rows.Next() {
		udest, user := s.versionedUserScan(&version)
		tdest, token := s.tokenScan()
		if err := rows.Scan(append(udest, tdest...)...); err != nil {
			return verify.User{}, nil, fmt.Errorf("user with tokens: %w", err)
		}
		if tokens == nil {
			u = user()
		}
		t, err := token()
		if err != nil {
			return verify.User{}, nil, fmt.Errorf("user with tokens: %w", err)
		}
		tokens = append(tokens, t)
	}
	if err := rows.Err(); err != nil {
		return verify.User{}, nil, fmt.Errorf("user with tokens: %w", err)
	}
	return u, tokens, nil
}

// queryRow runs a prepared one-row query into dest (sql.ErrNoRows when
// there is no row).
func (s *sqlStore) queryRow(ctx context.Context, query string, dest []any, args ...any) error {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return err
	}
	ctx, release, err := s.begin(ctx, query)
	if err != nil {
		return err
	}
	defer release()
	return st.QueryRowContext(ctx, args...).Scan(dest...)
}

// versionedUserScan is userScan with users.version first for a versioned
// store; the user it builds carries the version.
func (s *sqlStore) versionedUserScan(version *int64) ([]any, func() verify.User) {
	dest, user := userScan()
	if !s.versioned {
		return dest, user
	}
	return append([]any{version}, dest...), func() verify.User {
		u := user()
		u.Version = *version
		return u
	}
}

// UserByID returns the user or an error wrapping verify.ErrNotFound.
func (s *sqlStore) UserByID(ctx context.Context, id int64) (verify.User, error) {
	return s.queryUser(ctx, "user by id", qUserByID, id)
}

func (s *sqlStore) queryUser(ctx context.Context, op, query string, arg any) (verify.User, error) {
	dest, user := userScan()
	err := s.queryRow(ctx, query, dest, arg)
	if errors.Is(err, sql.ErrNoRows) {
		return verify.User{}, fmt.Errorf("%s: %w", op, verify.ErrNotFound)
	}
	if err != nil {
		return verify.User{}, fmt.Errorf("%s: %w", op, err)
	}
	return user(), nil
}

// UpdatePassword stores a new password hash; a missing user wraps
// verify.ErrNotFound.
func (s *sqlStore) UpdatePassword(ctx context.Context, userID int64, hash string) error {
	if err := s.mustMatch(ctx, qUpdatePassword, hash, s.nowUnix(), userID); err != nil {
		return fmt.Errorf("update password of user %d: %w", userID, err)
	}
	return nil
}

// UpdatePIN stores a PIN hash; nil (or empty) clears the PIN. A missing user
// wraps verify.ErrNotFound.
func (s *sqlStore) UpdatePIN(ctx context.Context, userID int64, pinHash []byte) error {
	if err := s.mustMatch(ctx, qUpdatePIN, pinArg(pinHash), s.nowUnix(), userID); err != nil {
		return fmt.Errorf("update PIN of user %d: %w", userID, err)
	}
	return nil
}

// UpdateLevel stores the user's security level as given (manage
// validates it). A missing user wraps verify.ErrNotFound.
func (s *sqlStore) UpdateLevel(ctx context.Context, userID int64, level string) error {
	if err := s.mustMatch(ctx, qUpdateLevel, level, s.nowUnix(), userID); err != nil {
		return fmt.Errorf("update level of user %d: %w", userID, err)
	}
	return nil
}

// RenameUser renames the user; a taken newName wraps verify.ErrExists and a
// missing user verify.ErrNotFound.
func (s *sqlStore) RenameUser(ctx context.Context, userID int64, newName string) error {
	if err := s.mustMatch(ctx, qRenameUser, newName, s.nowUnix(), userID); err != nil {
		return fmt.Errorf("rename user %d to %q: %w", userID, newName, err)
	}
	return nil
}

// DeleteUser deletes the user and, by ON DELETE CASCADE, all their tokens.
// A missing user wraps verify.ErrNotFound.
func (s *sqlStore) DeleteUser(ctx context.Context, userID int64) error {
	if err := s.mustMatch(ctx, qDeleteUser, userID); err != nil {
		return fmt.Errorf("delete user %d: %w", userID, err)
	}
	return nil
}

// RecordFailure adds one to the user's failure count and sets last_failure
// to now in one statement (on MySQL retried on deadlock or lock-wait
// timeout, which roll it back, so no failure counts twice). A missing user
// wraps verify.ErrNotFound.
func (s *sqlStore) RecordFailure(ctx context.Context, userID int64, now time.Time) error {
	if err := s.mustMatch(ctx, qRecordFailure, unixTime(now), userID); err != nil {
		return fmt.Errorf("record failure of user %d: %w", userID, err)
	}
	return nil
}

// ResetFailures sets the user's failure count to zero, writing only when it
// is not zero already, so a successful login of a user without failures
// costs no write. last_failure is kept. Because the statement matches no row
// both for a missing user and for a count already at zero, a missing user
// is not reported: ResetFailures returns nil for it.
func (s *sqlStore) ResetFailures(ctx context.Context, userID int64) error {
	if _, err := s.writeRepeatable(ctx, qResetFailures, userID); err != nil {
		return fmt.Errorf("reset failures of user %d: %w", userID, err)
	}
	return nil
}

// UsersAfter returns at most limit users whose names sort after after
// (byte-wise), in that order: one page of ListUsers, for walking a large
// store in bounded memory ("" starts at the beginning).
func (s *sqlStore) UsersAfter(ctx context.Context, after string, limit int) ([]verify.User, error) {
	users, err := queryUsers(ctx, s.db, qUsersAfter, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list users after %q: %w", after, err)
	}
	return users, nil
}

// ListUsers returns all users ordered by name (byte-wise).
func (s *sqlStore) ListUsers(ctx context.Context) ([]verify.User, error) {
	users, err := queryUsers(ctx, s.db, qListUsers)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// AdvanceStep sets last_step to step and last_used to now if and only if
// last_step < step, in one conditional UPDATE, and reports whether it did;
// a missing token reports false.
func (s *sqlStore) AdvanceStep(ctx context.Context, tokenID int64, step int64, now time.Time) (bool, error) {
	n, err := s.execOne(ctx, qAdvanceStep, step, unixTime(now), tokenID, step)
	if err != nil {
		return false, fmt.Errorf("advance step of token %d: %w", tokenID, err)
	}
	return n == 1, nil
}

// ClaimOTP sets last_otp to otp if it differs, in one conditional UPDATE,
// and reports whether it did; never retried (an uncertain claim refuses).
func (s *sqlStore) ClaimOTP(ctx context.Context, tokenID int64, otp string, now time.Time) (bool, error) {
	n, err := s.execOne(ctx, qClaimOTP, otp, unixTime(now), tokenID, otp)
	if err != nil {
		return false, fmt.Errorf("claim otp of token %d: %w", tokenID, err)
	}
	return n == 1, nil
}

// ActivateToken clears the pending flag; a missing token wraps
// verify.ErrNotFound. Activating an active token is not an error.
func (s *sqlStore) ActivateToken(ctx context.Context, tokenID int64) error {
	if err := s.mustMatch(ctx, qActivate, tokenID); err != nil {
		return fmt.Errorf("activate token %d: %w", tokenID, err)
	}
	return nil
}

// SetTokenEnabled enables or disables the token; a missing token wraps
// verify.ErrNotFound.
func (s *sqlStore) SetTokenEnabled(ctx context.Context, tokenID int64, enabled bool) error {
	if err := s.mustMatch(ctx, qSetEnabled, boolInt(enabled), tokenID); err != nil {
		return fmt.Errorf("set enabled of token %d: %w", tokenID, err)
	}
	return nil
}

// DescribeToken replaces the token's description; a missing token wraps
// verify.ErrNotFound.
func (s *sqlStore) DescribeToken(ctx context.Context, tokenID int64, description string) error {
	if err := s.mustMatch(ctx, qDescribe, description, tokenID); err != nil {
		return fmt.Errorf("describe token %d: %w", tokenID, err)
	}
	return nil
}

// DeleteToken deletes the token; a missing token wraps verify.ErrNotFound.
func (s *sqlStore) DeleteToken(ctx context.Context, tokenID int64) error {
	if err := s.mustMatch(ctx, qDeleteToken, tokenID); err != nil {
		return fmt.Errorf("delete token %d: %w", tokenID, err)
	}
	return nil
}

// Tokens returns all tokens of the user ordered by ID with Key and
// DevicePIN unsealed; none (and no error) for a user without tokens or a
// missing user. One indexed query. If any token's secret fails to open, the
// whole call fails.
func (s *sqlStore) Tokens(ctx context.Context, userID int64) ([]verify.Token, error) {
	st, err := s.stmt(ctx, qTokensByUser)
	if err != nil {
		return nil, fmt.Errorf("tokens of user %d: %w", userID, err)
	}
	ctx, release, err := s.begin(ctx, qTokensByUser)
	if err != nil {
		return nil, fmt.Errorf("tokens of user %d: %w", userID, err)
	}
	defer release()
	rows, err := st.QueryContext(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("tokens of user %d: %w", userID, err)
	}
	defer rows.Close()
	var tokens []verify.Token
	for rows.Next() {
		t, err := s.scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("tokens of user %d: %w", userID, err)
		}
		tokens = append(tokens, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tokens of user %d: %w", userID, err)
	}
	return tokens, nil
}

// TokenBySerial returns the token with its secret unsealed, or an error
// wrapping verify.ErrNotFound.
func (s *sqlStore) TokenBySerial(ctx context.Context, serial string) (verify.Token, error) {
	return s.tokenBy(ctx, qTokenBySerial, serial)
}

// TokenByPublicID returns the yubikey or yubicloud token with that public
// id, secret unsealed, or an error wrapping verify.ErrNotFound.
func (s *sqlStore) TokenByPublicID(ctx context.Context, publicID string) (verify.Token, error) {
	return s.tokenBy(ctx, qTokenByPublicID, publicID)
}

// tokenBy runs a query for one token by a unique key.
func (s *sqlStore) tokenBy(ctx context.Context, query, key string) (verify.Token, error) {
	dest, finish := s.tokenScan()
	err := s.queryRow(ctx, query, dest, key)
	var t verify.Token
	if err == nil {
		t, err = finish()
	}
	if errors.Is(err, sql.ErrNoRows) {
		return verify.Token{}, fmt.Errorf("token %q: %w", key, verify.ErrNotFound)
	}
	if err != nil {
		return verify.Token{}, fmt.Errorf("token %q: %w", key, err)
	}
	return t, nil
}
