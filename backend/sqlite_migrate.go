package backend

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// ErrSchemaTooNew is wrapped by Migrate (and by nothing else) when the
// database records a schema version this program does not know: it was
// migrated by a newer otpgate, and this one must not write to it.
var ErrSchemaTooNew = errors.New("database schema is newer than this program")

//go:embed migrations/sqlite/*.sql
var sqliteMigrationFS embed.FS

// migration is one embedded schema step.
type migration struct {
	version int
	name    string // file name, for errors
	sql     string
}

// sqliteMigrations are the embedded SQLite migrations in version order,
// parsed once. Files are named NNNN_description.sql; versions start at 1
// and have no gaps.
var sqliteMigrations = mustLoadMigrations(sqliteMigrationFS, "migrations/sqlite")

// mustLoadMigrations reads and checks the embedded migrations; a bad file
// set is a build mistake, so it panics (at init, caught by every test).
func mustLoadMigrations(fsys fs.FS, dir string) []migration {
	ms, err := loadMigrations(fsys, dir)
	if err != nil {
		panic(err)
	}
	return ms
}

func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("load migrations: %s: name must be NNNN_description.sql", e.Name())
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("load migrations: %w", err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("load migrations: %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// Migrate brings the schema up to the newest embedded version, one
// transaction per migration, and returns how many it applied (0 when the
// database was already current). It is safe to run concurrently from
// several processes: each step re-checks its version inside its
// transaction. A database whose version is newer than the newest embedded
// one is refused with an error wrapping ErrSchemaTooNew, before any write.
func (s *SQLite) Migrate(ctx context.Context) (applied int, err error) {
	const bootstrap = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`
	if _, err := s.db.ExecContext(ctx, bootstrap); err != nil {
		return 0, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	current, err := s.SchemaVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	if latest := len(sqliteMigrations); current > latest {
		return 0, fmt.Errorf("migrate: database at version %d, program knows up to %d: %w",
			current, latest, ErrSchemaTooNew)
	}
	for _, m := range sqliteMigrations[current:] {
		did, err := s.applyMigration(ctx, m)
		if err != nil {
			return applied, err
		}
		if did {
			applied++
		}
	}
	return applied, nil
}

// applyMigration runs m in its own (immediate, hence exclusive-writer)
// transaction unless another process recorded it first.
func (s *SQLite) applyMigration(ctx context.Context, m migration) (applied bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate %s: begin: %w", m.name, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var n int
	err = tx.QueryRowContext(ctx,
		`SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.name, err)
	}
	if n > 0 {
		return false, tx.Rollback()
	}
	if _, err = tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.name, err)
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		m.version, unixTime(s.now()))
	if err != nil {
		return false, fmt.Errorf("migrate %s: record version: %w", m.name, err)
	}
	if err = tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate %s: commit: %w", m.name, err)
	}
	return true, nil
}

// SchemaVersion returns the highest applied migration version, 0 for a
// database never migrated (no schema_migrations table).
func (s *SQLite) SchemaVersion(ctx context.Context) (int, error) {
	var exists int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema
		WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&exists)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	if exists == 0 {
		return 0, nil
	}
	var v sql.NullInt64
	err = s.db.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return int(v.Int64), nil
}
