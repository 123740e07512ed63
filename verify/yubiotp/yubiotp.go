// Package yubiotp decodes and checks Yubico OTPs locally: modhex, the AES-128
// token block, its CRC-16 and the private id. It does no I/O and keeps no
// state; the replay guard (Fields.Counter must strictly grow) belongs to the
// caller, which stores the last counter atomically.
//
// An OTP is a modhex public id (otpgate's tokens use 12 characters = 6 bytes,
// DefaultPublicIDLen; the format allows 0 to 32 characters) followed by 32
// modhex characters, the AES-128-ECB encryption of
//
//	private id [6] | use counter u16 LE | timestamp low u16 LE, high u8 |
//	session counter u8 | random u16 LE | CRC-16 u16 LE
//
// Case policy: only lower-case modhex is accepted. A YubiKey types lower case
// unless Shift or Caps Lock is active on the host, so upper-case input is a
// typing accident or a crafted string; folding it would widen what an
// attacker may submit and would make the OTP's accepted spellings depend on
// our code rather than on the key. Dvorak-typed OTPs ("jxe.uidchtnbpygk") are
// rejected for the same reason. The user simply touches the key again. The
// yubikey-val reference server folds both; we deliberately do not.
package yubiotp

import (
	"crypto/aes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// Sizes of the OTP parts.
const (
	// DefaultPublicIDLen is the public id length, in modhex characters, of
	// every token otpgate enrolls (6 bytes).
	DefaultPublicIDLen = 12
	// MaxPublicIDLen is the longest public id the format allows (16 bytes).
	MaxPublicIDLen = 32
	// TokenLen is the length in modhex characters of the encrypted block.
	TokenLen = 32
	// KeySize is the AES-128 key size in bytes.
	KeySize = 16
	// PrivateIDSize is the size of the private (secret) id in bytes.
	PrivateIDSize = 6
)

// Errors callers branch on; every error returned wraps exactly one of them.
var (
	// ErrBadLength: the OTP does not have the public id length plus 32
	// characters, or a length argument is out of range.
	ErrBadLength = errors.New("bad length")
	// ErrInvalidModhex: a character is not lower-case modhex.
	ErrInvalidModhex = errors.New("invalid modhex")
	// ErrCRC: the decrypted block fails the CRC-16 check (wrong key or a
	// corrupted OTP).
	ErrCRC = errors.New("crc mismatch")
	// ErrKeySize: the AES key is not 16 bytes.
	ErrKeySize = errors.New("aes key must be 16 bytes")
	// ErrPublicIDMismatch: the OTP's public id is not the registered one.
	ErrPublicIDMismatch = errors.New("public id mismatch")
	// ErrPrivateIDMismatch: the decrypted private id is not the registered one.
	ErrPrivateIDMismatch = errors.New("private id mismatch")
)

// crcResidue is what ISO 13239 CRC-16 yields over a block whose last two
// bytes hold the complemented CRC of the rest, stored little-endian.
const crcResidue = 0xf0b8

// capsLockFlag marks an OTP triggered through the caps-lock trigger; it is
// not part of the counter.
const capsLockFlag = 0x8000

// Split checks the OTP's shape and cuts it into the public id (modhex, as
// typed) and the 16-byte encrypted token. otp must be exactly publicIDLen+32
// lower-case modhex characters; publicIDLen must be even and within
// 0..MaxPublicIDLen (pass DefaultPublicIDLen for otpgate's tokens).
// Length is checked before the alphabet. Errors wrap ErrBadLength or
// ErrInvalidModhex and never contain the OTP.
func Split(otp string, publicIDLen int) (publicID string, token [16]byte, err error) {
	if publicIDLen < 0 || publicIDLen > MaxPublicIDLen || publicIDLen%2 != 0 {
		return "", token, fmt.Errorf("yubiotp: split: public id length %d: %w", publicIDLen, ErrBadLength)
	}
	if len(otp) != publicIDLen+TokenLen {
		return "", token, fmt.Errorf("yubiotp: split: otp has %d characters, want %d: %w",
			len(otp), publicIDLen+TokenLen, ErrBadLength)
	}
	if !isModhex(otp) {
		return "", token, fmt.Errorf("yubiotp: split: %w", ErrInvalidModhex)
	}
	if err := decodeInto(token[:], otp[publicIDLen:]); err != nil {
		return "", token, fmt.Errorf("yubiotp: split: %w", err)
	}
	return otp[:publicIDLen], token, nil
}

// Fields is the decrypted content of a token whose CRC checked out.
type Fields struct {
	PrivateID [PrivateIDSize]byte
	// UseCounter is the non-volatile counter with the caps-lock flag
	// masked off (raw & 0x7fff).
	UseCounter uint16
	// CapsLock reports the flag bit 0x8000 of the raw use counter.
	CapsLock bool
	// Timestamp is the 24-bit, 8 Hz timer (high << 16 | low).
	Timestamp uint32
	// SessionCounter counts OTPs since power-up.
	SessionCounter uint8
	Random         uint16
}

// Counter returns UseCounter<<8 | SessionCounter, one number that strictly
// grows from one OTP of a key to the next (the key bumps the use counter at
// power-up and when the session counter wraps). Accept an OTP only if its
// Counter is greater than the last accepted one.
func (f Fields) Counter() uint32 {
	return uint32(f.UseCounter)<<8 | uint32(f.SessionCounter)
}

// Decrypt decrypts token with the 16-byte aesKey (AES-128, one ECB block)
// and checks the CRC-16. On any error the returned Fields are zero, so no
// half-trusted data escapes. Errors wrap ErrKeySize or ErrCRC.
func Decrypt(aesKey []byte, token [16]byte) (Fields, error) {
	if len(aesKey) != KeySize {
		return Fields{}, fmt.Errorf("yubiotp: decrypt: %w", ErrKeySize)
	}
	block, err := aes.NewCipher(aesKey)
	if err != nil {
		return Fields{}, fmt.Errorf("yubiotp: decrypt: %w", err)
	}
	var plain [16]byte
	block.Decrypt(plain[:], token[:])
	if crc16(plain[:]) != crcResidue {
		return Fields{}, fmt.Errorf("yubiotp: decrypt: %w", ErrCRC)
	}
	return parseFields(&plain), nil
}

// parseFields reads the little-endian fields of a decrypted block.
func parseFields(plain *[16]byte) Fields {
	var f Fields
	copy(f.PrivateID[:], plain[0:6])
	raw := binary.LittleEndian.Uint16(plain[6:8])
	f.UseCounter = raw &^ capsLockFlag
	f.CapsLock = raw&capsLockFlag != 0
	f.Timestamp = uint32(plain[10])<<16 | uint32(binary.LittleEndian.Uint16(plain[8:10]))
	f.SessionCounter = plain[11]
	f.Random = binary.LittleEndian.Uint16(plain[12:14])
	return f
}

// crc16 is the ISO 13239 CRC-16 (reflected polynomial 0x8408, initial value
// 0xffff, no final complement) that YubiKeys use.
func crc16(b []byte) uint16 {
	crc := uint16(0xffff)
	for _, v := range b {
		crc ^= uint16(v)
		for range 8 {
			lsb := crc & 1
			crc >>= 1
			if lsb != 0 {
				crc ^= 0x8408
			}
		}
	}
	return crc
}

// CheckPrivateID reports, in constant time, whether f's private id equals
// want. A want of the wrong length never matches.
func CheckPrivateID(f Fields, want []byte) bool {
	return subtle.ConstantTimeCompare(f.PrivateID[:], want) == 1
}

// Key is what a verifier stores for one YubiKey slot.
type Key struct {
	// PublicID is the registered public id in lower-case modhex; its length
	// fixes the accepted OTP length (DefaultPublicIDLen for otpgate tokens).
	PublicID string
	// PrivateID is the 6-byte private id.
	PrivateID []byte
	// AESKey is the 16-byte AES key. It is a secret: never log it.
	AESKey []byte
}

// Check runs the whole local validation in the order Yubico recommends:
// length and alphabet, public id, decryption and CRC, private id. On success
// it returns the fields; the caller must still check that Counter() grows.
// Errors wrap ErrBadLength, ErrInvalidModhex, ErrPublicIDMismatch,
// ErrKeySize, ErrCRC or ErrPrivateIDMismatch.
func Check(otp string, key Key) (Fields, error) {
	publicID, token, err := Split(otp, len(key.PublicID))
	if err != nil {
		return Fields{}, err
	}
	if subtle.ConstantTimeCompare([]byte(publicID), []byte(key.PublicID)) != 1 {
		return Fields{}, fmt.Errorf("yubiotp: check: %w", ErrPublicIDMismatch)
	}
	f, err := Decrypt(key.AESKey, token)
	if err != nil {
		return Fields{}, err
	}
	if !CheckPrivateID(f, key.PrivateID) {
		return Fields{}, fmt.Errorf("yubiotp: check: %w", ErrPrivateIDMismatch)
	}
	return f, nil
}
