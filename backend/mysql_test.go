package backend

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/otpgate/otpgate/backend/storetest"
	"github.com/otpgate/otpgate/verify"
)

// Test server selection. The tests create one database per store on the
// server named by mysqlTestDSNEnv and drop it afterwards; without a server
// they skip, unless mysqlRequireEnv is "1" (CI), which makes them fail.
const (
	mysqlTestDSNEnv     = "OTPGATE_TEST_MYSQL_DSN"
	mysqlRequireEnv     = "OTPGATE_REQUIRE_MYSQL"
	mysqlDefaultTestDSN = "root@tcp(127.0.0.1:3306)/test"
)

// mysqlTestServer is the reachable test server: its admin pool (used to
// create and drop databases and to inspect raw rows) and its parsed DSN.
type mysqlTestServer struct {
	admin *sql.DB
	cfg   *mysql.Config
}

// connectTestServer is run once per test binary; the admin pool lives as
// long as the process.
var connectTestServer = sync.OnceValues(func() (*mysqlTestServer, error) {
	dsn := os.Getenv(mysqlTestDSNEnv)
	if dsn == "" {
		dsn = mysqlDefaultTestDSN
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg.Timeout = 2 * time.Second
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	admin := sql.OpenDB(connector)
	admin.SetMaxOpenConns(4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		_ = admin.Close()
		return nil, err
	}
	return &mysqlTestServer{admin: admin, cfg: cfg}, nil
})

// requireMySQL returns the test server or skips loudly (fails when
// OTPGATE_REQUIRE_MYSQL=1).
func requireMySQL(t testing.TB) *mysqlTestServer {
	t.Helper()
	srv, err := connectTestServer()
	if err == nil {
		return srv
	}
	msg := "NO MYSQL/MARIADB SERVER: MySQL store tests NOT RUN (set " + mysqlTestDSNEnv +
		", default " + mysqlDefaultTestDSN + "): " + err.Error()
	if os.Getenv(mysqlRequireEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return nil
}

// createDatabase creates a fresh, empty database with a random name and
// drops it when t ends.
func (srv *mysqlTestServer) createDatabase(t testing.TB) string {
	t.Helper()
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		t.Fatal(err)
	}
	name := "otpgate_t_" + hex.EncodeToString(suffix[:])
	if _, err := srv.admin.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := srv.admin.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return name
}

// options returns store options for database on the test server; addr,
// when not empty, replaces the server address (for the outage proxy).
func (srv *mysqlTestServer) options(t testing.TB, database, addr string, sealer Sealer) MySQLOptions {
	t.Helper()
	if addr == "" {
		addr = srv.cfg.Addr
	}
	opts := MySQLOptions{
		User: srv.cfg.User, Password: srv.cfg.Passwd, Database: database, TLS: srv.cfg.TLS,
		MaxOpenConns: 8, Sealer: sealer,
		Now: func() time.Time { return time.Unix(1_700_000_000, 0) },
	}
	if srv.cfg.Net == "unix" {
		opts.Host = addr
		return opts
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	opts.Host = host
	if opts.Port, err = strconv.Atoi(port); err != nil {
		t.Fatal(err)
	}
	return opts
}

// openStore opens an unmigrated store with opts and closes it when t ends.
func openStore(t testing.TB, opts MySQLOptions) *MySQL {
	t.Helper()
	s, err := OpenMySQL(context.Background(), opts)
	if err != nil {
		t.Fatalf("OpenMySQL: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// openTestMySQL opens an unmigrated store on a fresh database of its own.
func openTestMySQL(t testing.TB, sealer Sealer) *MySQL {
	t.Helper()
	srv := requireMySQL(t)
	return openStore(t, srv.options(t, srv.createDatabase(t), "", sealer))
}

// migratedTestMySQL opens and migrates a store on a fresh database.
func migratedTestMySQL(t testing.TB, sealer Sealer) *MySQL {
	t.Helper()
	s := openTestMySQL(t, sealer)
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestMySQLConformance(t *testing.T) {
	t.Parallel()
	requireMySQL(t)
	sealer := newGCMSealer(t)
	storetest.Run(t, func(t *testing.T) storetest.Store { return openTestMySQL(t, sealer) })
}

func TestMySQLMigrate(t *testing.T) {
	t.Parallel()
	requireMySQL(t)
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"applies every migration once and nothing the second time", testMySQLMigrateTwice},
		{"applies each migration once when two stores migrate one database at once", testMySQLMigrateConcurrently},
		{"refuses a database with a newer schema version", testMySQLMigrateNewerSchema},
		{"completes migrations a crash left applied but unrecorded", testMySQLMigrateRerun},
		{"defaults next_counter to counter 0 in an unsigned column", testMySQLNextCounterColumn},
		{"creates InnoDB tables only", testMySQLEngines},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t)
		})
	}
}

func testMySQLMigrateTwice(t *testing.T) {
	s := openTestMySQL(t, newGCMSealer(t))
	ctx := t.Context()
	if v, err := s.SchemaVersion(ctx); err != nil || v != 0 {
		t.Fatalf("SchemaVersion before Migrate = %d, %v; want 0, nil", v, err)
	}
	for i, want := range []int{len(mysqlMigrations), 0, 0} {
		applied, err := s.Migrate(ctx)
		if err != nil || applied != want {
			t.Fatalf("Migrate #%d = %d, %v; want %d, nil", i+1, applied, err, want)
		}
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != len(mysqlMigrations) {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, len(mysqlMigrations))
	}
}

func testMySQLMigrateConcurrently(t *testing.T) {
	srv := requireMySQL(t)
	database := srv.createDatabase(t)
	var stores [2]*MySQL
	for i := range stores {
		stores[i] = openStore(t, srv.options(t, database, "", newGCMSealer(t)))
	}
	var applied [2]int
	var errs [2]error
	var start, done sync.WaitGroup
	start.Add(1)
	for i, s := range stores {
		done.Go(func() {
			start.Wait()
			applied[i], errs[i] = s.Migrate(t.Context())
		})
	}
	start.Done()
	done.Wait()
	if errs[0] != nil || errs[1] != nil || applied[0]+applied[1] != len(mysqlMigrations) {
		t.Fatalf("concurrent Migrate = %v, %v; want %d applied in total and no error",
			applied, errs, len(mysqlMigrations))
	}
	var rows int
	if err := stores[0].db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(mysqlMigrations) {
		t.Errorf("schema_migrations has %d rows, want %d", rows, len(mysqlMigrations))
	}
}

func testMySQLMigrateNewerSchema(t *testing.T) {
	s := migratedTestMySQL(t, newGCMSealer(t))
	ctx := t.Context()
	newer := len(mysqlMigrations) + 1
	if _, err := s.db.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, newer); err != nil {
		t.Fatal(err)
	}
	applied, err := s.Migrate(ctx)
	if !errors.Is(err, ErrSchemaTooNew) || applied != 0 {
		t.Fatalf("Migrate = %d, %v; want 0 and ErrSchemaTooNew", applied, err)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != newer {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, newer)
	}
}

// testMySQLMigrateRerun forgets that every migration after 0001 ran (as a
// crash between a DDL statement and the version insert would) and runs
// them again: their statements meet existing columns, indexes and tables.
func testMySQLMigrateRerun(t *testing.T) {
	s := migratedTestMySQL(t, newGCMSealer(t))
	ctx := t.Context()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version > 1`); err != nil {
		t.Fatal(err)
	}
	applied, err := s.Migrate(ctx)
	if err != nil || applied != len(mysqlMigrations)-1 {
		t.Fatalf("Migrate = %d, %v; want %d, nil", applied, err, len(mysqlMigrations)-1)
	}
}

func testMySQLNextCounterColumn(t *testing.T) {
	s := migratedTestMySQL(t, newGCMSealer(t))
	ctx := t.Context()
	for _, q := range []string{
		`INSERT INTO users (id, name, password_hash) VALUES (1, 'a', 'x')`,
		`INSERT INTO tokens (id, user_id, serial, type, description, pending, enabled, sealed_secret)
			VALUES (1, 1, 'S', 'hotp', '', 0, 1, x'00')`,
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var next uint64
	var lastStep int64
	if err := s.db.QueryRowContext(ctx, `SELECT next_counter, last_step FROM tokens`).Scan(&next, &lastStep); err != nil {
		t.Fatal(err)
	}
	if next != 0 || lastStep != verify.NoStep {
		t.Errorf("defaults next_counter %d, last_step %d; want 0, %d", next, lastStep, verify.NoStep)
	}
	var colType string
	err := s.db.QueryRowContext(ctx, `SELECT column_type FROM information_schema.columns
		WHERE table_schema = DATABASE() AND table_name = 'tokens' AND column_name = 'next_counter'`).Scan(&colType)
	if err != nil || !strings.Contains(colType, "unsigned") {
		t.Errorf("next_counter column type %q, %v; want an unsigned bigint", colType, err)
	}
}

func testMySQLEngines(t *testing.T) {
	s := migratedTestMySQL(t, newGCMSealer(t))
	rows, err := s.db.QueryContext(t.Context(), `SELECT table_name, engine FROM information_schema.tables
		WHERE table_schema = DATABASE()`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var table, engine string
		if err := rows.Scan(&table, &engine); err != nil {
			t.Fatal(err)
		}
		n++
		if engine != "InnoDB" {
			t.Errorf("table %s uses engine %s, want InnoDB", table, engine)
		}
	}
	if err := rows.Err(); err != nil || n != 4 {
		t.Errorf("found %d tables, %v; want 4 (users, tokens, user_attributes, schema_migrations)", n, err)
	}
}

func TestMySQLStoresOnlySealedSecrets(t *testing.T) {
	t.Parallel()
	s := migratedTestMySQL(t, newGCMSealer(t))
	ctx := t.Context()
	u, err := s.CreateUser(ctx, verify.User{Name: "alice", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("KEY-MARKER-0123456789")
	tok, err := s.CreateToken(ctx, verify.Token{UserID: u.ID, Serial: "M1", Type: verify.TypeMOTP,
		Key: key, DevicePIN: "PIN-MARKER-4711", Enabled: true, LastStep: verify.NoStep})
	if err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	if err := s.db.QueryRowContext(ctx, `SELECT sealed_secret FROM tokens WHERE id = ?`, tok.ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if len(sealed) == 0 || bytes.Contains(sealed, key) || bytes.Contains(sealed, []byte("PIN-MARKER")) {
		t.Errorf("sealed_secret (%d bytes) is empty or contains the key or device PIN", len(sealed))
	}
	// A blob moved to another row does not open there.
	other, err := s.CreateToken(ctx, verify.Token{UserID: u.ID, Serial: "M2", Type: verify.TypeTOTP,
		Key: []byte("other"), Enabled: true, LastStep: verify.NoStep})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE tokens SET sealed_secret = ? WHERE id = ?`, sealed, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenBySerial(ctx, "M2"); err == nil {
		t.Error("TokenBySerial opened a secret sealed for another token")
	}
}

func TestMySQLComparesNamesByteWise(t *testing.T) {
	t.Parallel()
	s := migratedTestMySQL(t, newGCMSealer(t))
	ctx := t.Context()
	names := []string{"alice", "alice ", "Alice", "alicé", "alice\x00"}
	ids := map[string]int64{}
	for _, name := range names {
		u, err := s.CreateUser(ctx, verify.User{Name: name, PasswordHash: "x"})
		if err != nil {
			t.Fatalf("CreateUser(%q): %v (names must be distinct byte-wise)", name, err)
		}
		ids[name] = u.ID
	}
	for _, name := range names {
		got, err := s.UserByName(ctx, name)
		if err != nil || got.ID != ids[name] || got.Name != name {
			t.Errorf("UserByName(%q) = id %d name %q, %v; want id %d", name, got.ID, got.Name, err, ids[name])
		}
	}
	users, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Alice", "alice", "alice\x00", "alice ", "alicé"} // byte order
	for i, u := range users {
		if i >= len(want) || u.Name != want[i] {
			t.Fatalf("ListUsers order: position %d is %q, want %q", i, u.Name, want)
		}
	}
}

func TestMySQLConnectionSettings(t *testing.T) {
	t.Parallel()
	s := migratedTestMySQL(t, newGCMSealer(t))
	var sqlMode, charset string
	err := s.db.QueryRowContext(t.Context(),
		`SELECT @@SESSION.sql_mode, @@SESSION.character_set_connection`).Scan(&sqlMode, &charset)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"STRICT_ALL_TABLES", "STRICT_TRANS_TABLES", "NO_ENGINE_SUBSTITUTION"} {
		if !strings.Contains(sqlMode, mode) {
			t.Errorf("sql_mode %q lacks %s", sqlMode, mode)
		}
	}
	if charset != "utf8mb4" {
		t.Errorf("character_set_connection = %q, want utf8mb4", charset)
	}
	// Strict mode: too long a name is an error, not silently truncated.
	_, err = s.CreateUser(t.Context(), verify.User{Name: strings.Repeat("n", 256), PasswordHash: "x"})
	if err == nil {
		t.Error("CreateUser with a 256-byte name succeeded; want an error (no truncation)")
	}
}

func TestMySQLLeavesNoTokenWhenSealingFails(t *testing.T) {
	t.Parallel()
	s := migratedTestMySQL(t, failingSealer{newGCMSealer(t)})
	ctx := t.Context()
	u, err := s.CreateUser(ctx, verify.User{Name: "alice", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateToken(ctx, verify.Token{UserID: u.ID, Serial: "M1", Type: verify.TypeTOTP,
		Key: []byte("KEY-MARKER"), LastStep: verify.NoStep})
	if err == nil || strings.Contains(err.Error(), "KEY-MARKER") {
		t.Fatalf("CreateToken with a failing sealer = %v; want an error without the key", err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM tokens`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("tokens after the failed create: %d, %v; want 0", n, err)
	}
}
