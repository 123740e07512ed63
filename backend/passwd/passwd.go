// Package passwd checks account password hashes imported from LDAP, Dovecot
// and crypt(3) and writes new ones as argon2id.
//
// Verify reads these schemes, dispatched on the hash's prefix:
//
//	$argon2id$v=19$m=…,t=…,p=…$salt$key   PHC string format (argon2id only)
//	$2a$ / $2b$ / $2y$                    bcrypt
//	$6$[rounds=N$]salt$hash               SHA-512-crypt (Drepper)
//	{SSHA} / {SSHA512}                    LDAP salted SHA-1 / SHA-512
//	{CRYPT}, {SHA512-CRYPT}, {BLF-CRYPT}, {ARGON2ID}
//	                                      LDAP and Dovecot tags wrapping one
//	                                      of the modular-crypt strings above
//
// Hash writes argon2id. Every parser checks lengths and bounds before it
// computes anything, so a hostile or corrupt stored hash yields false instead
// of a panic, a huge allocation or minutes of CPU. Hashes outside these
// limits never match:
//
//	argon2id       v=19 only; m 8×p..1048576 KiB, t 1..20, p 1..64,
//	               salt 8..64 bytes, key 16..64 bytes
//	bcrypt         exactly 60 characters, cost 4..16
//	SHA-512-crypt  rounds clamped to 1000..999999999 as crypt(3) does, but
//	               more than 10,000,000 refused; salt at most 16 characters
//	{SSHA*}        a salt of at least one byte; padding optional
//	any            the hash at most 1024 bytes, the password at most
//	               MaxPasswordLen bytes
package passwd

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
)

// MaxPasswordLen is the longest password, in bytes, that Verify checks and
// Hash accepts. Longer passwords never match: SHA-512-crypt costs grow with
// the square of the password length, and no protocol we serve carries more.
const MaxPasswordLen = 1024

// maxHashLen bounds the stored hash string Verify parses; the longest valid
// one (argon2id with a 64-byte salt and key) is about 220 characters.
const maxHashLen = 1024

// ErrPasswordTooLong is returned by Hash for a password longer than
// MaxPasswordLen bytes.
var ErrPasswordTooLong = fmt.Errorf("passwd: password longer than %d bytes", MaxPasswordLen)

// verifier reports whether password matches hash. hash starts with the
// scheme prefix the verifier is registered under (tags in any letter case).
type verifier func(hash string, password []byte) bool

// verifiers maps a scheme prefix (tags upper-cased) to its verifier. It is
// filled once here and only read afterwards.
var verifiers = map[string]verifier{
	"$argon2id$": verifyArgon2id,
	"$2a$":       verifyBcrypt,
	"$2b$":       verifyBcrypt,
	"$2y$":       verifyBcrypt,
	"$6$":        verifySHA512Crypt,
	"{SSHA}":     verifySSHA1,
	"{SSHA512}":  verifySSHA512,
	// RFC 2307 §5.3: {CRYPT} holds whatever crypt(3) wrote; we accept the
	// modular-crypt schemes we can check.
	"{CRYPT}": wrapped(map[string]verifier{
		"$argon2id$": verifyArgon2id,
		"$2a$":       verifyBcrypt,
		"$2b$":       verifyBcrypt,
		"$2y$":       verifyBcrypt,
		"$6$":        verifySHA512Crypt,
	}),
	// Dovecot's scheme tags for the same strings.
	"{SHA512-CRYPT}": wrapped(map[string]verifier{"$6$": verifySHA512Crypt}),
	"{BLF-CRYPT}": wrapped(map[string]verifier{
		"$2a$": verifyBcrypt,
		"$2b$": verifyBcrypt,
		"$2y$": verifyBcrypt,
	}),
	"{ARGON2ID}": wrapped(map[string]verifier{"$argon2id$": verifyArgon2id}),
}

// Verify reports whether password matches the scheme-prefixed hash. The
// final comparison is constant-time for a given scheme and hash. An unknown
// scheme, a malformed hash, parameters beyond the limits in the package
// documentation, or a password longer than MaxPasswordLen never match.
// Verify never panics and is safe for concurrent use.
func Verify(hash string, password []byte) bool {
	if len(hash) > maxHashLen || len(password) > MaxPasswordLen {
		return false
	}
	v, ok := verifiers[scheme(hash)]
	if !ok {
		return false
	}
	return v(hash, password)
}

// scheme returns the dispatch key of hash: "$id$" for modular-crypt strings,
// the upper-cased "{TAG}" for LDAP and Dovecot tags, or "" when neither.
func scheme(hash string) string {
	switch {
	case strings.HasPrefix(hash, "$"):
		i := strings.IndexByte(hash[1:], '$')
		if i < 0 {
			return ""
		}
		return hash[:i+2]
	case strings.HasPrefix(hash, "{"):
		i := strings.IndexByte(hash, '}')
		if i < 0 || i > 32 {
			return ""
		}
		// LDAP scheme names are case-insensitive (RFC 2307 §5.3).
		return strings.ToUpper(hash[:i+1])
	}
	return ""
}

// wrapped returns a verifier for a tag such as {CRYPT} whose payload is a
// modular-crypt string handled by one of inner.
func wrapped(inner map[string]verifier) verifier {
	return func(hash string, password []byte) bool {
		payload := hash[strings.IndexByte(hash, '}')+1:]
		if !strings.HasPrefix(payload, "$") {
			return false
		}
		v, ok := inner[scheme(payload)]
		if !ok {
			return false
		}
		return v(payload, password)
	}
}

// decodeBase64 decodes s with enc, refusing the line breaks that
// encoding/base64 would otherwise skip.
func decodeBase64(enc *base64.Encoding, s string) ([]byte, bool) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, false
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, false
	}
	return b, true
}

// equal compares two byte slices in constant time for equal lengths.
func equal(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}
