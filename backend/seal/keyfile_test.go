package seal

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

// testKeyHex is a valid key file body used where the key's value matters
// only to check that it never appears in an error.
const testKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func writeKeyFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "otpgate.key")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // not subject to umask
		t.Fatal(err)
	}
	return path
}

func TestLoadOrCreateKeyCreatesAnAbsentFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "otpgate.key")
	random := bytes.Repeat([]byte{0xab}, KeyLen)

	key, err := LoadOrCreateKey(path, bytes.NewReader(random))
	if err != nil {
		t.Fatalf("LoadOrCreateKey: %v", err)
	}
	if !bytes.Equal(key, random) {
		t.Errorf("new key = %x, want the %d bytes read from rand", key, KeyLen)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("new key file mode = %04o, want 0600", perm)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat("ab", KeyLen) + "\n"; string(content) != want {
		t.Errorf("key file holds %q, want %q", content, want)
	}

	again, err := LoadOrCreateKey(path, iotest.ErrReader(errors.New("rand must not be read")))
	if err != nil {
		t.Fatalf("reloading: %v", err)
	}
	if !bytes.Equal(again, key) {
		t.Errorf("reloaded key differs from the created one")
	}
}

func TestLoadOrCreateKeyNeverMakesTwoKeys(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "otpgate.key")
	const callers = 8
	keys := make([][]byte, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { keys[i], errs[i] = LoadOrCreateKey(path, nil) })
	}
	wg.Wait()
	var first []byte
	for i := range callers {
		if errs[i] != nil {
			continue // read the file while its creator was still writing it
		}
		if first == nil {
			first = keys[i]
		} else if !bytes.Equal(keys[i], first) {
			t.Fatalf("two callers got different keys")
		}
	}
	if first == nil {
		t.Fatalf("no caller got a key: %v", errors.Join(errs...))
	}
}

func TestLoadOrCreateKeyUsesCryptoRandWhenNil(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, errA := LoadOrCreateKey(filepath.Join(dir, "a.key"), nil)
	b, errB := LoadOrCreateKey(filepath.Join(dir, "b.key"), nil)
	if errA != nil || errB != nil {
		t.Fatalf("LoadOrCreateKey: %v, %v", errA, errB)
	}
	if len(a) != KeyLen || bytes.Equal(a, b) {
		t.Errorf("keys %x and %x: want two different %d-byte keys", a, b, KeyLen)
	}
}

func TestLoadOrCreateKeyLoadsValidFiles(t *testing.T) {
	t.Parallel()
	want, _ := hex.DecodeString(testKeyHex)
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
	}{
		{name: "loads a key with a trailing newline", content: testKeyHex + "\n", mode: 0o600},
		{name: "loads a key without a trailing newline", content: testKeyHex, mode: 0o600},
		{name: "loads a read-only key file", content: testKeyHex + "\n", mode: 0o400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := writeKeyFile(t, tc.content, tc.mode)
			got, err := LoadOrCreateKey(path, iotest.ErrReader(errors.New("rand must not be read")))
			if err != nil {
				t.Fatalf("LoadOrCreateKey: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("key = %x, want %x", got, want)
			}
		})
	}
}

func TestLoadOrCreateKeyRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		content  string
		mode     os.FileMode
		wantText []string
	}{
		{
			name:     "refuses a key file readable by everyone",
			content:  testKeyHex + "\n",
			mode:     0o644,
			wantText: []string{"otpgate.key", "mode 0644", "chmod 600"},
		},
		{
			name:     "refuses a key file readable by the group",
			content:  testKeyHex + "\n",
			mode:     0o640,
			wantText: []string{"otpgate.key", "mode 0640", "chmod 600"},
		},
		{
			name:     "refuses a key file writable by others",
			content:  testKeyHex + "\n",
			mode:     0o602,
			wantText: []string{"mode 0602"},
		},
		{name: "refuses an empty key file", content: "", mode: 0o600, wantText: []string{"otpgate.key", "64 lowercase hex"}},
		{name: "refuses a newline alone", content: "\n", mode: 0o600},
		{name: "refuses 63 hex characters", content: testKeyHex[:63] + "\n", mode: 0o600},
		{name: "refuses 65 hex characters", content: testKeyHex + "0\n", mode: 0o600},
		{name: "refuses upper-case hex", content: strings.ToUpper(testKeyHex) + "\n", mode: 0o600},
		{name: "refuses a non-hex character", content: testKeyHex[:63] + "g\n", mode: 0o600},
		{name: "refuses a CRLF line end", content: testKeyHex + "\r\n", mode: 0o600},
		{name: "refuses two newlines", content: testKeyHex + "\n\n", mode: 0o600},
		{name: "refuses leading white space", content: " " + testKeyHex, mode: 0o600},
		{name: "refuses a second line", content: testKeyHex + "\n" + testKeyHex + "\n", mode: 0o600},
		{name: "refuses raw key bytes", content: strings.Repeat("\x07", KeyLen), mode: 0o600},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := writeKeyFile(t, tc.content, tc.mode)
			key, err := LoadOrCreateKey(path, iotest.ErrReader(errors.New("rand must not be read")))
			if err == nil {
				t.Fatalf("LoadOrCreateKey returned key %x, want an error", key)
			}
			msg := err.Error()
			for _, want := range tc.wantText {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
			assertNoKeyMaterial(t, msg, tc.content)
		})
	}
}

// assertNoKeyMaterial fails when msg quotes the key file's content, whole or
// in part, as hex text.
func assertNoKeyMaterial(t *testing.T, msg, content string) {
	t.Helper()
	lower := strings.ToLower(msg)
	for _, word := range []string{testKeyHex[:16], testKeyHex[48:], strings.TrimSpace(content)} {
		if len(word) >= 8 && strings.Contains(lower, strings.ToLower(word[:8])) {
			t.Errorf("error %q contains key material", msg)
		}
	}
}

func TestLoadOrCreateKeyFailsCleanly(t *testing.T) {
	t.Parallel()
	t.Run("refuses a directory", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if _, err := LoadOrCreateKey(dir, nil); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("LoadOrCreateKey(dir) error = %v, want one saying it is not a regular file", err)
		}
	})
	t.Run("reports a missing directory", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "missing", "otpgate.key")
		if _, err := LoadOrCreateKey(path, nil); err == nil {
			t.Error("LoadOrCreateKey succeeded in a missing directory")
		}
	})
	t.Run("leaves no file when rand fails", func(t *testing.T) {
		t.Parallel()
		errRand := errors.New("no entropy")
		path := filepath.Join(t.TempDir(), "otpgate.key")
		if _, err := LoadOrCreateKey(path, iotest.ErrReader(errRand)); !errors.Is(err, errRand) {
			t.Errorf("error = %v, want one wrapping %v", err, errRand)
		}
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("key file exists after a failed creation (Lstat: %v)", err)
		}
	})
	t.Run("leaves no file when rand is short", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "otpgate.key")
		if _, err := LoadOrCreateKey(path, bytes.NewReader(make([]byte, KeyLen-1))); err == nil {
			t.Error("LoadOrCreateKey succeeded with 31 random bytes")
		}
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("key file exists after a failed creation (Lstat: %v)", err)
		}
	})
}
