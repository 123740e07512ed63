package backend

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

//go:embed migrations/mysql/*.sql
var mysqlMigrationFS embed.FS

// mysqlMigration is one embedded MySQL schema step, split into statements
// (the driver runs one statement per call; multiStatements stays off).
type mysqlMigration struct {
	migration
	statements []string
}

// mysqlMigrations are the embedded MySQL migrations in version order,
// parsed once; the same naming rules as for SQLite apply.
var mysqlMigrations = mustLoadMySQLMigrations()

func mustLoadMySQLMigrations() []mysqlMigration {
	ms := mustLoadMigrations(mysqlMigrationFS, "migrations/mysql")
	out := make([]mysqlMigration, len(ms))
	for i, m := range ms {
		stmts, err := splitStatements(m.sql)
		if err != nil {
			panic(fmt.Sprintf("load migrations: %s: %v", m.name, err))
		}
		out[i] = mysqlMigration{migration: m, statements: stmts}
	}
	return out
}

// splitStatements splits a migration file into statements: lines whose
// trimmed text starts with "--" are dropped, and a statement ends with a
// line ending in ';'. Text after the last ';' is an error.
func splitStatements(text string) ([]string, error) {
	var stmts []string
	var cur strings.Builder
	for line := range strings.Lines(text) {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			stmt := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")
			stmts = append(stmts, stmt)
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		return nil, fmt.Errorf("statement without a terminating ';' at the end")
	}
	if len(stmts) == 0 {
		return nil, fmt.Errorf("no statements")
	}
	return stmts, nil
}

// mysqlMigrateLockWait is how long Migrate waits for another instance's
// migration run to finish (GET_LOCK timeout, in seconds).
const mysqlMigrateLockWait = 30

// mysqlMigrationsTable is created before anything else.
const mysqlMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INT    NOT NULL PRIMARY KEY,
	applied_at BIGINT NOT NULL
) ENGINE = InnoDB`

// Migrate brings the schema up to the newest embedded version and returns
// how many migrations it applied (0 when the database was already current).
//
// MySQL commits DDL implicitly, so migrations cannot run in transactions.
// Instead the whole run holds a named lock (GET_LOCK, scoped to the
// database, waiting at most 30 s) on one connection: when several
// instances start at once, one migrates and the others then find the
// schema current. Every migration is idempotent, so a run cut short is
// completed by the next one. A database whose version is newer than the
// newest embedded one is refused with an error wrapping ErrSchemaTooNew,
// before any write. Migrate uses its own connection without the read and
// write timeouts (long DDL must not be cut); ctx bounds it.
func (s *MySQL) Migrate(ctx context.Context) (applied int, err error) {
	db := sql.OpenDB(s.migrateConn)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close()
	unlock, err := lockMigrations(ctx, conn, s.database)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	defer unlock()
	if _, err := conn.ExecContext(ctx, mysqlMigrationsTable); err != nil {
		return 0, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	current, err := mysqlSchemaVersion(ctx, conn)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	if latest := len(mysqlMigrations); current > latest {
		return 0, fmt.Errorf("migrate: database at version %d, program knows up to %d: %w",
			current, latest, ErrSchemaTooNew)
	}
	for _, m := range mysqlMigrations[current:] {
		if err := s.applyMySQLMigration(ctx, conn, m); err != nil {
			return applied, err
		}
		applied++
	}
	return applied, nil
}

// applyMySQLMigration runs m's statements and records its version. The
// caller holds the migration lock.
func (s *MySQL) applyMySQLMigration(ctx context.Context, conn *sql.Conn, m mysqlMigration) error {
	for i, stmt := range m.statements {
		if _, err := conn.ExecContext(ctx, stmt); err != nil && !alreadyApplied(err) {
			return fmt.Errorf("migrate %s: statement %d: %w", m.name, i+1, err)
		}
	}
	_, err := conn.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		m.version, s.nowUnix())
	if err != nil {
		return fmt.Errorf("migrate %s: record version: %w", m.name, err)
	}
	return nil
}

// lockMigrations takes the migration lock of database on conn and returns
// the function releasing it. The lock is also released when conn closes.
func lockMigrations(ctx context.Context, conn *sql.Conn, database string) (unlock func(), err error) {
	name := migrationLockName(database)
	var got sql.NullInt64
	err = conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, ?)`, name, mysqlMigrateLockWait).Scan(&got)
	switch {
	case err != nil:
		return nil, fmt.Errorf("take lock %s: %w", name, err)
	case !got.Valid:
		return nil, fmt.Errorf("take lock %s: server reported an error", name)
	case got.Int64 != 1:
		return nil, fmt.Errorf("take lock %s: another instance held it for %d s", name, mysqlMigrateLockWait)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(ctx, `DO RELEASE_LOCK(?)`, name)
	}, nil
}

// migrationLockName is the GET_LOCK name for migrating database. Names are
// server-wide and at most 64 characters, so a long database name is
// replaced by a hash of it.
func migrationLockName(database string) string {
	name := "otpgate_migrate." + database
	if len(name) > 64 {
		sum := sha256.Sum256([]byte(database))
		name = "otpgate_migrate." + hex.EncodeToString(sum[:16])
	}
	return name
}

// SchemaVersion returns the highest applied migration version, 0 for a
// database never migrated (no schema_migrations table).
func (s *MySQL) SchemaVersion(ctx context.Context) (int, error) {
	v, err := mysqlSchemaVersion(ctx, s.db)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// querier is *sql.DB or *sql.Conn.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func mysqlSchemaVersion(ctx context.Context, q querier) (int, error) {
	var exists int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = DATABASE() AND table_name = 'schema_migrations'`).Scan(&exists)
	if err != nil {
		return 0, err
	}
	if exists == 0 {
		return 0, nil
	}
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, err
	}
	return int(v.Int64), nil
}

// alreadyApplied reports the errors a schema statement gives when an
// earlier, interrupted run of the same migration already made its change
// (MySQL commits DDL one statement at a time): table exists (1050),
// duplicate column (1060), duplicate key name (1061). This keeps
// migrations re-runnable on MySQL 8, which lacks MariaDB's
// ADD COLUMN IF NOT EXISTS and CREATE INDEX IF NOT EXISTS.
func alreadyApplied(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	return me.Number == 1050 || me.Number == 1060 || me.Number == 1061
}
