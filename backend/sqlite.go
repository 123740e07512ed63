package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// The SQLite store implements both store interfaces.
var (
	_ verify.Store = (*SQLite)(nil)
	_ manage.Store = (*SQLite)(nil)
)

// sqliteMaxConns caps the pool of everything but the login path (listings,
// operator changes). WAL lets readers run beside the one writer; more
// connections than this only cost page-cache memory.
const sqliteMaxConns = 16

// SQLiteOptions configures OpenSQLite.
type SQLiteOptions struct {
	// Path is the database file; it is created when absent. It is taken
	// literally as a file name (made absolute and percent-encoded into the
	// URI, so it cannot carry URI parameters); it must not contain NUL.
	Path string
	// Sealer seals and opens token secrets. Required.
	Sealer Sealer
	// Now stamps created_at and updated_at. nil means time.Now.
	Now func() time.Time
	// LoginCache is how many users (with their tokens) the login cache
	// keeps: 0 means DefaultLoginCache, a negative number no cache.
	LoginCache int
}

// SQLite is the embedded store: one database file in WAL mode, safe for
// concurrent use by many goroutines and by several processes on one host.
type SQLite struct {
	sqlStore
	sealer Sealer
	path   string
	cache  *loginCache // nil: no login cache
	// commits runs the versioned replay-state writes (sqlite_commit.go).
	commits *groupCommitter
}

// OpenSQLite opens (creating when absent) the database at opts.Path with
// WAL journaling, synchronous=NORMAL, foreign keys on, a 5 s busy timeout
// and BEGIN IMMEDIATE transactions, and checks that it can be read and is
// in WAL mode. It does not migrate: call Migrate before using the store.
//
// OpenSQLite turns on sqlite.StrictPragmas for the whole process, so no
// DSN opened by this process afterwards can smuggle extra statements into
// a _pragma value.
func OpenSQLite(ctx context.Context, opts SQLiteOptions) (*SQLite, error) {
	if opts.Path == "" || strings.IndexByte(opts.Path, 0) >= 0 {
		return nil, errors.New("open sqlite: empty path or NUL byte in path")
	}
	if opts.Sealer == nil {
		return nil, errors.New("open sqlite: no sealer")
	}
	dsn, err := sqliteDSN(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	if err := createPrivate(opts.Path); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	sqlite.StrictPragmas(true)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", opts.Path, err)
	}
	db.SetMaxOpenConns(sqliteMaxConns)
	db.SetMaxIdleConns(sqliteMaxConns)
	if err := checkWAL(ctx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", opts.Path, err)
	}
	// The login path's own connection (see sqlStore.hot). Measured with
	// integration/bench: 200 → 147 µs of server CPU per RADIUS PIN+HOTP
	// login and half the p99 at concurrency 32, against the shared pool.
	hot, err := sql.Open("sqlite", dsn)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", opts.Path, err)
	}
	hot.SetMaxOpenConns(1)
	hot.SetMaxIdleConns(1)
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &SQLite{sqlStore: newSQLStore(db, hot, now), sealer: opts.Sealer, path: opts.Path}
	s.uninterruptible, s.versioned = true, true
	s.login = make(chan struct{}, 1)
	s.commits = newGroupCommitter(s)
	switch {
	case opts.LoginCache == 0:
		s.cache = newLoginCache(DefaultLoginCache)
	case opts.LoginCache > 0:
		s.cache = newLoginCache(opts.LoginCache)
	}
	s.mustMatch, s.writeRepeatable, s.tokenScan = s.execMustMatch, s.execOne, s.tokenScanner
	return s, nil
}

// createPrivate creates an absent database file with mode 0600: it holds
// password hashes and sealed secrets, and SQLite gives its -wal and -shm
// files the database file's mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// checkWAL connects and checks that the database really is in WAL mode:
// SQLite silently keeps the old journal mode where WAL is impossible (some
// network file systems), and without WAL readers would block the writer.
func checkWAL(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, need wal (is the file on a local file system?)", mode)
	}
	return nil
}

// sqliteDSN returns the modernc.org/sqlite DSN for the file at path. The
// path is made absolute and every byte outside [A-Za-z0-9/._~-] is
// percent-encoded (SQLite decodes %HH in URI paths), so '?', '#', '&' and
// '%' in a file name stay part of the name.
func sqliteDSN(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("path %q: %w", path, err)
	}
	abs = filepath.ToSlash(abs)
	if !strings.HasPrefix(abs, "/") { // Windows: C:/x → /C:/x
		abs = "/" + abs
	}
	return "file://" + escapeURIPath(abs) +
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate", nil
}

// escapeURIPath percent-encodes every byte of p except unreserved URI
// characters and '/'.
func escapeURIPath(p string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '/', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// Close closes the prepared statements and the database. The store must not
// be used afterwards.
func (s *SQLite) Close() error {
	s.commits.shutdown()
	s.closeStatements()
	err := errors.Join(s.hot.Close(), s.db.Close())
	if err != nil {
		return fmt.Errorf("close sqlite: %w", err)
	}
	return nil
}

// Ping checks that the database can be reached and read on the login
// path's connection (so it also fails while logins wait for it).
func (s *SQLite) Ping(ctx context.Context) error {
	var one int
	if err := s.hot.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

// execMustMatch runs a write that must match a row: no match returns
// verify.ErrNotFound, and constraint violations are mapped by mapSQLiteErr.
// The caller adds the operation to the error.
func (s *SQLite) execMustMatch(ctx context.Context, query string, args ...any) error {
	n, err := s.execOne(ctx, query, args...)
	if err != nil {
		return mapSQLiteErr(err)
	}
	if n == 0 {
		return verify.ErrNotFound
	}
	return nil
}

// mapSQLiteErr turns a unique-key violation into verify.ErrExists and a
// foreign-key violation into verify.ErrNotFound (the referenced row is
// missing); the caller adds which name or id. Other errors pass through.
func mapSQLiteErr(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return verify.ErrExists
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return verify.ErrNotFound
	}
	return err
}

// unixTime converts a time to the stored unix seconds; the zero time is 0.
func unixTime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// fromUnix converts stored unix seconds back; 0 is the zero time.
func fromUnix(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// encodeCounter maps a uint64 HOTP counter onto int64 so that the order of
// the stored values equals the order of the counters: flip the top bit and
// keep the bits. 0 → math.MinInt64, 1<<63 → 0, 1<<64-1 → math.MaxInt64.
func encodeCounter(c uint64) int64 { return int64(c ^ 1<<63) }

// decodeCounter inverts encodeCounter.
func decodeCounter(v int64) uint64 { return uint64(v) ^ 1<<63 }

// boolInt stores a bool as 0 or 1.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
