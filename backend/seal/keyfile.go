// Package seal holds otpgate's master key and everything keyed by it: the
// AES-256-GCM sealing of token secrets, the keyed PIN hashes, and (through
// backend/passwd) the account password hashes.
//
// The master key lives in a key file of 64 lowercase hex characters that
// LoadOrCreateKey creates with mode 0600 on first start. New derives one
// independent subkey per purpose from it with HKDF-SHA256, so a database
// stolen without the key file yields neither token secrets nor PINs.
package seal

import (
	"bytes"
	cryptorand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// KeyLen is the length of the master key in bytes; the key file holds it as
// 2×KeyLen lowercase hex characters.
const KeyLen = 32

// LoadOrCreateKey returns the master key stored at path.
//
// When path does not exist, it reads KeyLen bytes from rand (crypto/rand
// when nil), creates the file exclusively with mode 0600, writes the key as
// 64 lowercase hex characters and a newline, syncs file and directory, and
// returns the new key. If another caller creates the file first, its key is
// loaded instead; a caller that reads the file between its creation and the
// end of its write gets an error, never a second key.
//
// When path exists, it must be a regular file whose mode gives group and
// others no access (mode&0o077 == 0) and whose content is exactly 64
// lowercase hex characters with an optional trailing newline; anything else
// is an error naming the path. No error ever contains key material.
func LoadOrCreateKey(path string, rand io.Reader) ([]byte, error) {
	key, err := loadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key, err = createKey(path, rand)
	if errors.Is(err, fs.ErrExist) {
		return loadKey(path) // lost a race with another process creating it
	}
	return key, err
}

// loadKey reads and checks an existing key file. Its mode is checked on the
// open descriptor, so the file checked is the file read.
func loadKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal: open key file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("seal: key file %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("seal: key file %s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("seal: key file %s has mode %04o; it must not be readable or writable by group or others (chmod 600)", path, perm)
	}
	// Read one byte more than a valid file holds, to tell "too long" apart.
	content, err := io.ReadAll(io.LimitReader(f, 2*KeyLen+2))
	if err != nil {
		return nil, fmt.Errorf("seal: read key file %s: %w", path, err)
	}
	defer clear(content)
	return parseKey(path, content)
}

// parseKey decodes the key file's content. Its errors describe the content's
// shape, never its bytes: hex.DecodeString's errors quote the offending
// character, so they are not wrapped.
func parseKey(path string, content []byte) ([]byte, error) {
	text := bytes.TrimSuffix(content, []byte("\n"))
	if len(text) != 2*KeyLen || !isLowerHex(text) {
		return nil, fmt.Errorf("seal: key file %s must hold exactly %d lowercase hex characters and an optional newline", path, 2*KeyLen)
	}
	key := make([]byte, KeyLen)
	if _, err := hex.Decode(key, text); err != nil {
		return nil, fmt.Errorf("seal: key file %s is not valid hex", path)
	}
	return key, nil
}

func isLowerHex(b []byte) bool {
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// createKey makes a new key file at path with O_CREATE|O_EXCL and mode 0600.
// The key is drawn before the file is created, so a failing rand leaves no
// file behind; a failed write removes the file it created.
func createKey(path string, rand io.Reader) ([]byte, error) {
	if rand == nil {
		rand = cryptorand.Reader
	}
	key := make([]byte, KeyLen)
	if _, err := io.ReadFull(rand, key); err != nil {
		return nil, fmt.Errorf("seal: create key file %s: reading random bytes: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("seal: create key file: %w", err)
	}
	content := append(hex.AppendEncode(nil, key), '\n')
	defer clear(content)
	_, errWrite := f.Write(content)
	errSync := f.Sync()
	errClose := f.Close()
	if err := errors.Join(errWrite, errSync, errClose); err != nil {
		if errRemove := os.Remove(path); errRemove != nil {
			err = errors.Join(err, errRemove)
		}
		return nil, fmt.Errorf("seal: write key file %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("seal: create key file %s: sync directory: %w", path, err)
	}
	return key, nil
}

// syncDir makes a file just created in dir survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	errSync := d.Sync()
	return errors.Join(errSync, d.Close())
}
