package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/otpgate/otpgate/backend/passwd"
	"github.com/otpgate/otpgate/verify"
)

// HKDF-SHA256 info strings, one per subkey. Changing one changes every value
// made with that subkey; add a new string (v2) rather than edit one.
const (
	infoTokenSeal = "otpgate token seal v1"
	infoPIN       = "otpgate pin v1"
)

// Layouts of the values a Keyring writes. The leading version byte lets a
// later format sit beside this one in the database.
const (
	sealVersion = 0x01
	nonceLen    = 12 // the standard GCM nonce

	pinVersion  = 0x01
	pinSaltLen  = 16
	pinHashLen  = 1 + pinSaltLen + sha256.Size
	pinSaltFrom = 1
	pinMACFrom  = 1 + pinSaltLen
)

// ErrInvalidSealed is wrapped by every Open error: the input is too short,
// has an unknown version byte, or fails authentication (other key, other
// associated data, or altered bytes).
var ErrInvalidSealed = errors.New("invalid sealed data")

// Options tunes a Keyring.
type Options struct {
	// Argon2 is the cost of new password hashes. The zero value means
	// passwd.DefaultArgon2; other values must pass Argon2Params.Validate.
	Argon2 passwd.Argon2Params
	// Rand supplies nonces and salts; nil means crypto/rand.Reader. It must
	// be safe for concurrent use when the Keyring is used concurrently.
	Rand io.Reader
}

// Keyring seals token secrets and hashes PINs and passwords under subkeys
// derived from the master key. It holds no copy of the master key, is
// immutable after New, and is safe for concurrent use.
type Keyring struct {
	aead   cipher.AEAD // AES-256-GCM under the token-seal subkey
	pinKey []byte      // HMAC-SHA256 key for PIN hashes
	argon2 passwd.Argon2Params
	rand   io.Reader
}

// Keyring is the engine's verify.Credentials.
var _ verify.Credentials = (*Keyring)(nil)

// New derives the Keyring's subkeys from master, which must be KeyLen bytes
// (as LoadOrCreateKey returns). master is not retained or modified.
func New(master []byte, opts Options) (*Keyring, error) {
	if len(master) != KeyLen {
		return nil, fmt.Errorf("seal: new keyring: master key must be %d bytes, got %d", KeyLen, len(master))
	}
	params := opts.Argon2
	if params == (passwd.Argon2Params{}) {
		params = passwd.DefaultArgon2
	}
	if err := params.Validate(); err != nil {
		return nil, fmt.Errorf("seal: new keyring: %w", err)
	}
	sealKey, err := hkdf.Key(sha256.New, master, nil, infoTokenSeal, 32)
	if err != nil {
		return nil, fmt.Errorf("seal: new keyring: derive seal key: %w", err)
	}
	defer clear(sealKey)
	pinKey, err := hkdf.Key(sha256.New, master, nil, infoPIN, 32)
	if err != nil {
		return nil, fmt.Errorf("seal: new keyring: derive pin key: %w", err)
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, fmt.Errorf("seal: new keyring: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: new keyring: %w", err)
	}
	rand := opts.Rand
	if rand == nil {
		rand = cryptorand.Reader
	}
	return &Keyring{aead: aead, pinKey: pinKey, argon2: params, rand: rand}, nil
}

// Seal encrypts plaintext with AES-256-GCM under a fresh random 12-byte
// nonce and binds it to ad, which Open must be given again (the store passes
// the token's database id). The result is 0x01 || nonce || ciphertext || tag,
// 29 bytes longer than plaintext. It fails only when Rand fails.
func (k *Keyring) Seal(plaintext, ad []byte) ([]byte, error) {
	var nonce [nonceLen]byte
	if _, err := io.ReadFull(k.rand, nonce[:]); err != nil {
		return nil, fmt.Errorf("seal: seal: reading nonce: %w", err)
	}
	out := make([]byte, 0, 1+nonceLen+len(plaintext)+k.aead.Overhead())
	out = append(out, sealVersion)
	out = append(out, nonce[:]...)
	return k.aead.Seal(out, nonce[:], plaintext, ad), nil
}

// Open returns the plaintext of a value made by Seal with this key and the
// same ad. Any other input (short, unknown version, other key, other ad,
// altered bytes) yields an error wrapping ErrInvalidSealed and no plaintext.
func (k *Keyring) Open(sealed, ad []byte) ([]byte, error) {
	if len(sealed) < 1+nonceLen+k.aead.Overhead() {
		return nil, fmt.Errorf("seal: open: %w: %d bytes is too short", ErrInvalidSealed, len(sealed))
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("seal: open: %w: unknown version %d", ErrInvalidSealed, sealed[0])
	}
	plaintext, err := k.aead.Open(nil, sealed[1:1+nonceLen], sealed[1+nonceLen:], ad)
	if err != nil {
		return nil, fmt.Errorf("seal: open: %w: authentication failed", ErrInvalidSealed)
	}
	return plaintext, nil
}

// HashPassword returns an argon2id hash of password with the Keyring's
// Argon2 parameters, in the PHC string format passwd.Hash writes. The
// password hash is not keyed: it verifies without the master key.
func (k *Keyring) HashPassword(password verify.Secret) (string, error) {
	hash, err := passwd.Hash([]byte(password.Reveal()), k.argon2, k.rand)
	if err != nil {
		return "", fmt.Errorf("seal: hash password: %w", err)
	}
	return hash, nil
}

// CheckPassword reports whether password matches hash, in any scheme
// passwd.Verify reads. Unknown or malformed hashes never match.
func (k *Keyring) CheckPassword(hash string, password verify.Secret) bool {
	return passwd.Verify(hash, []byte(password.Reveal()))
}

// HashPIN returns 0x01 || salt || HMAC-SHA256(pinKey, salt || pin), 49
// bytes, with a fresh 16-byte salt from Rand. It fails only when Rand fails.
func (k *Keyring) HashPIN(pin verify.Secret) ([]byte, error) {
	out := make([]byte, pinMACFrom, pinHashLen)
	out[0] = pinVersion
	if _, err := io.ReadFull(k.rand, out[pinSaltFrom:pinMACFrom]); err != nil {
		return nil, fmt.Errorf("seal: hash pin: reading salt: %w", err)
	}
	return k.pinMAC(out, out[pinSaltFrom:pinMACFrom], pin), nil
}

// CheckPIN reports whether pin matches stored, a value from HashPIN under
// the same master key. The MAC is compared in constant time; nil, short,
// long or unknown-version values never match.
func (k *Keyring) CheckPIN(stored []byte, pin verify.Secret) bool {
	if len(stored) != pinHashLen || stored[0] != pinVersion {
		return false
	}
	var sum [sha256.Size]byte
	return hmac.Equal(k.pinMAC(sum[:0], stored[pinSaltFrom:pinMACFrom], pin), stored[pinMACFrom:])
}

// pinMAC appends HMAC-SHA256(pinKey, salt || pin) to dst. The salt has a
// fixed length, so the concatenation is unambiguous.
func (k *Keyring) pinMAC(dst, salt []byte, pin verify.Secret) []byte {
	mac := hmac.New(sha256.New, k.pinKey)
	mac.Write(salt)
	_, _ = io.WriteString(mac, pin.Reveal())
	return mac.Sum(dst)
}
