// Package otp holds the pure one-time-password algorithms: HOTP (RFC 4226),
// TOTP (RFC 6238) and Mobile-OTP, plus window scans that report which
// counter or time step matched so the caller can record it.
//
// The generators work on raw key bytes with crypto/hmac instead of
// github.com/pquerna/otp's base32 strings: the library decodes base32 on
// every call and cannot report the matched counter (library-findings §3).
// Tests cross-check every generator against pquerna/otp and the vectors.
package otp

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
)

// Algorithm is the HMAC hash of an HOTP/TOTP token.
type Algorithm string

// Algorithms allowed by RFC 6238.
const (
	SHA1   Algorithm = "SHA1"
	SHA256 Algorithm = "SHA256"
	SHA512 Algorithm = "SHA512"
)

func (a Algorithm) hash() (func() hash.Hash, error) {
	switch a {
	case SHA1, "":
		return sha1.New, nil
	case SHA256:
		return sha256.New, nil
	case SHA512:
		return sha512.New, nil
	}
	return nil, fmt.Errorf("otp: unknown algorithm %q", string(a))
}

var pow10 = [...]uint32{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000}

// Generator computes HOTP codes for one key. It is not safe for concurrent
// use; make one per request.
type Generator struct {
	mac    hash.Hash
	digits int
	msg    [8]byte
	sum    []byte
	code   [10]byte
}

// NewGenerator returns a Generator for key, algorithm and digits (6..9...
// RFC 4226 allows 6 to 8; 9 still fits in 31 bits and is accepted).
func NewGenerator(key []byte, alg Algorithm, digits int) (*Generator, error) {
	h, err := alg.hash()
	if err != nil {
		return nil, err
	}
	if digits < 6 || digits > 9 {
		return nil, fmt.Errorf("otp: digits must be 6 to 9, not %d", digits)
	}
	return &Generator{mac: hmac.New(h, key), digits: digits, sum: make([]byte, 0, sha512.Size)}, nil
}

// Code returns the zero-padded code for counter. The returned slice is
// overwritten by the next call.
func (g *Generator) Code(counter uint64) []byte {
	binary.BigEndian.PutUint64(g.msg[:], counter)
	g.mac.Reset()
	g.mac.Write(g.msg[:])
	g.sum = g.mac.Sum(g.sum[:0])
	// RFC 4226 §5.3: dynamic truncation.
	off := g.sum[len(g.sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(g.sum[off:off+4]) & 0x7fffffff
	v := bin % pow10[g.digits]
	for i := g.digits - 1; i >= 0; i-- {
		g.code[i] = byte('0' + v%10)
		v /= 10
	}
	return g.code[:g.digits]
}

// HOTP returns the code for key at counter (convenience for enrollment and
// tests).
func HOTP(key []byte, counter uint64, alg Algorithm, digits int) (string, error) {
	g, err := NewGenerator(key, alg, digits)
	if err != nil {
		return "", err
	}
	return string(g.Code(counter)), nil
}

// MOTP returns the Mobile-OTP code: the first 6 lower-case hex digits of
// md5(decimal(step) || secret || pin), step = unix time / 10. The secret is
// hashed as stored (the typed string), not hex-decoded.
func MOTP(step int64, secret []byte, pin string) string {
	h := md5.New()
	var buf [20]byte
	h.Write(strconv.AppendInt(buf[:0], step, 10))
	h.Write(secret)
	h.Write([]byte(pin))
	var sum [md5.Size]byte
	h.Sum(sum[:0])
	var out [6]byte
	hex.Encode(out[:], sum[:3])
	return string(out[:])
}

// equal compares two codes in constant time (for equal lengths).
func equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
