package backend

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/otpgate/otpgate/verify"
)

// Sealer encrypts and authenticates token secrets. backend/seal's keyring
// implements it with AES-256-GCM under the master key.
//
// Seal returns a self-contained blob (nonce included) binding plaintext to
// ad; Open returns the plaintext only if sealed was produced by Seal with the
// same key and the same ad, and an error otherwise. Neither may put
// plaintext or key bytes into its error. Both must be safe for concurrent
// use.
type Sealer interface {
	Seal(plaintext, ad []byte) ([]byte, error)
	Open(sealed, ad []byte) ([]byte, error)
}

// TokenAD returns the associated data a token's secret is sealed with: the
// token's id as decimal ASCII with no sign for positive ids, no padding and
// no prefix, exactly strconv.AppendInt(nil, id, 10) (id 42 → "42"). Every
// store uses this encoding so a sealed blob is portable between backends
// together with its id, and useless in any other row.
func TokenAD(tokenID int64) []byte {
	return strconv.AppendInt(nil, tokenID, 10)
}

// secretFormatV1 is the first byte of a version-1 secret plaintext.
const secretFormatV1 = 1

// errBadSecret is returned for an unsealed plaintext that does not parse; it
// names no byte of the input.
var errBadSecret = errors.New("malformed secret plaintext")

// encodeSecret builds the plaintext that is sealed for a token:
//
//	version (1 byte, = 1)
//	len(Key) (uint32, big endian) | Key
//	len(DevicePIN) (uint32, big endian) | DevicePIN
//
// Both fields may be empty. The caller should clear the result after
// sealing it.
func encodeSecret(key []byte, devicePIN verify.Secret) ([]byte, error) {
	pin := devicePIN.Reveal()
	if uint64(len(key)) > 1<<32-1 || uint64(len(pin)) > 1<<32-1 {
		return nil, errors.New("encode secret: field too long")
	}
	buf := make([]byte, 0, 1+4+len(key)+4+len(pin))
	buf = append(buf, secretFormatV1)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(key)))
	buf = append(buf, key...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(pin)))
	buf = append(buf, pin...)
	return buf, nil
}

// decodeSecret parses a plaintext from encodeSecret. The returned key is a
// fresh copy, so the caller may clear plaintext afterwards. An empty key
// comes back as an empty, non-nil slice. Trailing bytes are an error.
func decodeSecret(plaintext []byte) (key []byte, devicePIN verify.Secret, err error) {
	if len(plaintext) == 0 || plaintext[0] != secretFormatV1 {
		return nil, "", fmt.Errorf("decode secret: unknown format: %w", errBadSecret)
	}
	rest := plaintext[1:]
	keyField, rest, ok := cutField(rest)
	if !ok {
		return nil, "", fmt.Errorf("decode secret: key field: %w", errBadSecret)
	}
	pinField, rest, ok := cutField(rest)
	if !ok || len(rest) != 0 {
		return nil, "", fmt.Errorf("decode secret: device PIN field: %w", errBadSecret)
	}
	return append([]byte{}, keyField...), verify.Secret(pinField), nil
}

// cutField splits a uint32-length-prefixed field off the front of b.
func cutField(b []byte) (field, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := binary.BigEndian.Uint32(b)
	b = b[4:]
	if uint64(n) > uint64(len(b)) {
		return nil, nil, false
	}
	return b[:n], b[n:], true
}

// secondSecret is the token's second sealed field: the device PIN of an
// mOTP token, the private id of a yubikey token, empty otherwise.
func secondSecret(t *verify.Token) verify.Secret {
	if t.Type == verify.TypeYubiKey {
		return verify.Secret(t.PrivateID)
	}
	return t.DevicePIN
}

// sealToken seals t's Key and second secret for t.ID.
func sealToken(s Sealer, t *verify.Token) ([]byte, error) {
	plaintext, err := encodeSecret(t.Key, secondSecret(t))
	if err != nil {
		return nil, err
	}
	defer clear(plaintext)
	sealed, err := s.Seal(plaintext, TokenAD(t.ID))
	if err != nil {
		return nil, fmt.Errorf("seal secret of token %d: %w", t.ID, err)
	}
	return sealed, nil
}

// openToken opens a blob from sealToken for t.ID and sets t's Key and
// second secret (by t.Type, which must be set). Any failure, an empty blob
// included, is an error: a token never silently gets an empty key.
func openToken(s Sealer, t *verify.Token, sealed []byte) error {
	if len(sealed) == 0 {
		return fmt.Errorf("open secret of token %d: no sealed secret stored", t.ID)
	}
	plaintext, err := s.Open(sealed, TokenAD(t.ID))
	if err != nil {
		return fmt.Errorf("open secret of token %d: %w", t.ID, err)
	}
	defer clear(plaintext)
	key, second, err := decodeSecret(plaintext)
	if err != nil {
		return fmt.Errorf("open secret of token %d: %w", t.ID, err)
	}
	t.Key = key
	if t.Type == verify.TypeYubiKey {
		t.PrivateID = []byte(second.Reveal())
	} else {
		t.DevicePIN = second
	}
	return nil
}
