package backend

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otpgate/otpgate/backend/storetest"
)

// gcmSealer is a real AES-256-GCM Sealer for tests: nonce || ciphertext.
type gcmSealer struct{ aead cipher.AEAD }

func newGCMSealer(t testing.TB) *gcmSealer {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return &gcmSealer{aead: aead}
}

func (g *gcmSealer) Seal(plaintext, ad []byte) ([]byte, error) {
	nonce := make([]byte, g.aead.NonceSize(), g.aead.NonceSize()+len(plaintext)+g.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return g.aead.Seal(nonce, nonce, plaintext, ad), nil
}

func (g *gcmSealer) Open(sealed, ad []byte) ([]byte, error) {
	n := g.aead.NonceSize()
	if len(sealed) < n+g.aead.Overhead() {
		return nil, errors.New("sealed value too short")
	}
	return g.aead.Open(nil, sealed[:n], sealed[n:], ad)
}

// failingSealer refuses to seal.
type failingSealer struct{ Sealer }

func (failingSealer) Seal([]byte, []byte) ([]byte, error) { return nil, errors.New("no key") }

// openTestSQLite opens a fresh, unmigrated store in t.TempDir().
func openTestSQLite(t testing.TB, sealer Sealer) *SQLite {
	t.Helper()
	s, err := OpenSQLite(context.Background(), SQLiteOptions{
		Path:   filepath.Join(t.TempDir(), "otpgate.db"),
		Sealer: sealer,
		Now:    func() time.Time { return time.Unix(1_700_000_000, 0) },
	})
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// migratedTestSQLite opens and migrates a fresh store.
func migratedTestSQLite(t testing.TB, sealer Sealer) *SQLite {
	t.Helper()
	s := openTestSQLite(t, sealer)
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestSQLiteConformance(t *testing.T) {
	t.Parallel()
	sealer := newGCMSealer(t)
	storetest.Run(t, func(t *testing.T) storetest.Store { return openTestSQLite(t, sealer) })
}

func TestSQLiteMigrate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"applies every migration once and nothing the second time", testMigrateTwice},
		{"applies each migration once when two stores migrate one file at once", testMigrateConcurrently},
		{"refuses a database with a newer schema version", testMigrateNewerSchema},
		{"defaults next_counter to the encoding of counter 0", testNextCounterDefault},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t)
		})
	}
}

func testMigrateTwice(t *testing.T) {
	s := openTestSQLite(t, newGCMSealer(t))
	ctx := t.Context()
	if v, err := s.SchemaVersion(ctx); err != nil || v != 0 {
		t.Fatalf("SchemaVersion before Migrate = %d, %v; want 0, nil", v, err)
	}
	for i, want := range []int{len(sqliteMigrations), 0} {
		applied, err := s.Migrate(ctx)
		if err != nil || applied != want {
			t.Fatalf("Migrate #%d = %d, %v; want %d, nil", i+1, applied, err, want)
		}
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != len(sqliteMigrations) {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, len(sqliteMigrations))
	}
}

func testMigrateConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	var stores [2]*SQLite
	for i := range stores {
		s, err := OpenSQLite(t.Context(), SQLiteOptions{Path: path, Sealer: newGCMSealer(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	var applied [2]int
	var errs [2]error
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() { applied[i], errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || applied[0]+applied[1] != len(sqliteMigrations) {
		t.Fatalf("concurrent Migrate = %v, %v; want %d applied in total and no error",
			applied, errs, len(sqliteMigrations))
	}
}

func testMigrateNewerSchema(t *testing.T) {
	s := migratedTestSQLite(t, newGCMSealer(t))
	ctx := t.Context()
	newer := len(sqliteMigrations) + 1
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

func testNextCounterDefault(t *testing.T) {
	s := migratedTestSQLite(t, newGCMSealer(t))
	ctx := t.Context()
	_, err := s.db.ExecContext(ctx, `INSERT INTO users (id, name, password_hash) VALUES (1, 'a', 'x');
		INSERT INTO tokens (id, user_id, serial, type, pending, enabled, sealed_secret)
		VALUES (1, 1, 'S', 'hotp', 0, 1, x'00')`)
	if err != nil {
		t.Fatal(err)
	}
	var typ string
	var v int64
	err = s.db.QueryRowContext(ctx, `SELECT typeof(next_counter), next_counter FROM tokens`).Scan(&typ, &v)
	if err != nil || typ != "integer" || decodeCounter(v) != 0 {
		t.Fatalf("default next_counter = %s %d, %v; want integer %d", typ, v, err, encodeCounter(0))
	}
}

func TestSQLiteConnectionSettings(t *testing.T) {
	t.Parallel()
	s := migratedTestSQLite(t, newGCMSealer(t))
	ctx := t.Context()
	// Hold one connection busy so the pragmas are read on a second one too.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	pragmas := []struct{ name, want string }{
		{"journal_mode", "wal"},
		{"busy_timeout", "5000"},
		{"synchronous", "1"}, // NORMAL
		{"foreign_keys", "1"},
	}
	for _, p := range pragmas {
		var viaDB, viaTx string
		if err := s.db.QueryRowContext(ctx, "PRAGMA "+p.name).Scan(&viaDB); err != nil {
			t.Fatalf("PRAGMA %s: %v", p.name, err)
		}
		if err := tx.QueryRowContext(ctx, "PRAGMA "+p.name).Scan(&viaTx); err != nil {
			t.Fatalf("PRAGMA %s in tx: %v", p.name, err)
		}
		if viaDB != p.want || viaTx != p.want {
			t.Errorf("PRAGMA %s = %q and %q, want %q", p.name, viaDB, viaTx, p.want)
		}
	}
}

// dbPath returns the main database file of s.
func (s *SQLite) dbPath(t testing.TB) string {
	t.Helper()
	var seq int
	var name, file string
	if err := s.db.QueryRow(`SELECT seq, name, file FROM pragma_database_list WHERE name = 'main'`).
		Scan(&seq, &name, &file); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestOpenSQLite(t *testing.T) {
	t.Parallel()
	t.Run("takes the path literally, URI characters included", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		name := "a b?_pragma=journal_mode(DELETE)&mode=ro#x%41é.db"
		s, err := OpenSQLite(t.Context(), SQLiteOptions{Path: filepath.Join(dir, name), Sealer: newGCMSealer(t)})
		if err != nil {
			t.Fatalf("OpenSQLite: %v", err)
		}
		defer s.Close()
		if _, err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		var mode string
		if err := s.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("journal_mode = %q, %v; want wal", mode, err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		allowed := map[string]bool{name: true, name + "-wal": true, name + "-shm": true}
		found := false
		for _, e := range entries {
			found = found || e.Name() == name
			if !allowed[e.Name()] {
				t.Errorf("unexpected file %q next to the database", e.Name())
			}
		}
		if !found {
			t.Errorf("database not at the literal path %q", name)
		}
	})
	t.Run("makes a relative path absolute", func(t *testing.T) {
		dsn, err := sqliteDSN("rel/otp.db")
		wd, _ := os.Getwd()
		if err != nil || !strings.HasPrefix(dsn, "file://"+escapeURIPath(filepath.ToSlash(wd))+"/rel/otp.db?") {
			t.Errorf("sqliteDSN(rel/otp.db) = %q, %v", dsn, err)
		}
	})
	t.Run("rejects options without a usable path or a sealer", func(t *testing.T) {
		t.Parallel()
		for _, opts := range []SQLiteOptions{
			{Sealer: newGCMSealer(t)},
			{Path: filepath.Join(t.TempDir(), "x.db")},
			{Path: filepath.Join(t.TempDir(), "x\x00.db"), Sealer: newGCMSealer(t)},
		} {
			if s, err := OpenSQLite(t.Context(), opts); err == nil {
				s.Close()
				t.Errorf("OpenSQLite(%+v) succeeded", opts)
			}
		}
	})
	t.Run("reports an unreachable file", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "missing-dir", "x.db")
		if s, err := OpenSQLite(t.Context(), SQLiteOptions{Path: path, Sealer: newGCMSealer(t)}); err == nil {
			s.Close()
			t.Fatal("OpenSQLite in a missing directory succeeded")
		}
	})
	t.Run("pings an open store", func(t *testing.T) {
		t.Parallel()
		s := openTestSQLite(t, newGCMSealer(t))
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
}

func TestCounterEncodingKeepsOrder(t *testing.T) {
	t.Parallel()
	counters := []uint64{0, 1, 2, 1<<32 - 1, 1 << 32, 1<<63 - 2, 1<<63 - 1, 1 << 63, 1<<63 + 1,
		1<<64 - 2, 1<<64 - 1}
	for i, c := range counters {
		if got := decodeCounter(encodeCounter(c)); got != c {
			t.Errorf("decodeCounter(encodeCounter(%d)) = %d", c, got)
		}
		if i > 0 && encodeCounter(counters[i-1]) >= encodeCounter(c) {
			t.Errorf("encodeCounter(%d) >= encodeCounter(%d)", counters[i-1], c)
		}
	}
}

func TestSQLiteCreatesAPrivateDatabaseFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "otpgate.db")
	s, err := OpenSQLite(t.Context(), SQLiteOptions{Path: path, Sealer: newGCMSealer(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group and others", filepath.Base(f), st.Mode().Perm())
		}
	}
}
