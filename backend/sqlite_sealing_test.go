package backend

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otpgate/otpgate/verify"
)

// sealTestKey is a distinctive key that must never appear in the database
// file or in an error text.
var sealTestKey = []byte("\x00K3Y-m4terial-that-must-not-leak\xff")

const sealTestPIN = "9876"

func TestSQLiteSealing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"keeps key and device PIN out of the database file in clear", testNoClearSecret},
		{"refuses to open a sealed secret moved to another token", testMovedSecret},
		{"refuses to open secrets under another master key", testOtherMasterKey},
		{"leaves no token behind when sealing fails", testFailedSeal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t)
		})
	}
}

// sealingStore returns a migrated store with user alice.
func sealingStore(t *testing.T, sealer Sealer) (*SQLite, verify.User) {
	t.Helper()
	s := migratedTestSQLite(t, sealer)
	u, err := s.CreateUser(t.Context(), verify.User{Name: "alice", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	return s, u
}

// createSealTestToken saves an mOTP token holding sealTestKey and
// sealTestPIN.
func createSealTestToken(t *testing.T, s *SQLite, userID int64, serial string) verify.Token {
	t.Helper()
	tok, err := s.CreateToken(t.Context(), verify.Token{UserID: userID, Serial: serial,
		Type: verify.TypeMOTP, Key: sealTestKey, DevicePIN: sealTestPIN, Enabled: true,
		LastStep: verify.NoStep})
	if err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	return tok
}

func testNoClearSecret(t *testing.T) {
	s, u := sealingStore(t, newGCMSealer(t))
	tok := createSealTestToken(t, s, u.ID, "M1")
	var raw []byte
	if err := s.db.QueryRowContext(t.Context(),
		`SELECT sealed_secret FROM tokens WHERE id = ?`, tok.ID).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if len(raw) == 0 || bytes.Contains(raw, sealTestKey) || bytes.Contains(raw, []byte(sealTestPIN)) {
		t.Fatalf("sealed_secret (%d bytes) is empty or holds the secret in clear", len(raw))
	}
	path := s.dbPath(t)
	for _, file := range []string{path, path + "-wal"} {
		content, err := os.ReadFile(file)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if bytes.Contains(content, sealTestKey) {
			t.Errorf("%s holds the key in clear", filepath.Base(file))
		}
	}
}

func testMovedSecret(t *testing.T) {
	s, u := sealingStore(t, newGCMSealer(t))
	from := createSealTestToken(t, s, u.ID, "M1")
	to := createSealTestToken(t, s, u.ID, "M2")
	if _, err := s.db.ExecContext(t.Context(), `UPDATE tokens SET sealed_secret =
		(SELECT sealed_secret FROM tokens WHERE id = ?) WHERE id = ?`, from.ID, to.ID); err != nil {
		t.Fatal(err)
	}
	toks, err := s.Tokens(t.Context(), u.ID)
	if err == nil || toks != nil {
		t.Fatalf("Tokens = %d tokens, %v; want an error", len(toks), err)
	}
	if strings.Contains(err.Error(), string(sealTestKey)) || strings.Contains(err.Error(), sealTestPIN) {
		t.Errorf("error text holds the secret: %v", err)
	}
	if _, err := s.TokenBySerial(t.Context(), "M2"); err == nil || errors.Is(err, verify.ErrNotFound) {
		t.Errorf("TokenBySerial(M2) error = %v, want a non-not-found error", err)
	}
	if got, err := s.TokenBySerial(t.Context(), "M1"); err != nil || !bytes.Equal(got.Key, sealTestKey) {
		t.Errorf("TokenBySerial(M1) = %v; want the original key back", err)
	}
}

func testOtherMasterKey(t *testing.T) {
	s, u := sealingStore(t, newGCMSealer(t))
	createSealTestToken(t, s, u.ID, "M1")
	s.sealer = newGCMSealer(t)
	if _, err := s.Tokens(t.Context(), u.ID); err == nil {
		t.Fatal("Tokens under another key succeeded")
	}
}

func testFailedSeal(t *testing.T) {
	s, u := sealingStore(t, failingSealer{newGCMSealer(t)})
	_, err := s.CreateToken(t.Context(), verify.Token{UserID: u.ID, Serial: "M1",
		Type: verify.TypeTOTP, Key: sealTestKey})
	if err == nil {
		t.Fatal("CreateToken with a failing sealer succeeded")
	}
	var n int
	if err := s.db.QueryRowContext(t.Context(), `SELECT count(*) FROM tokens`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("tokens after the failed create: %d, %v; want 0", n, err)
	}
}
