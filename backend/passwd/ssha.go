package passwd

import (
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"strings"
)

// verifySSHA1 checks {SSHA}base64(SHA1(password || salt) || salt), as written
// by OpenLDAP's slappasswd and Dovecot.
func verifySSHA1(stored string, password []byte) bool {
	return verifySalted(stored, len("{SSHA}"), sha1.New, sha1.Size, password)
}

// verifySSHA512 checks {SSHA512}base64(SHA512(password || salt) || salt), as
// written by OpenLDAP's pw-sha2 module and Dovecot.
func verifySSHA512(stored string, password []byte) bool {
	return verifySalted(stored, len("{SSHA512}"), sha512.New, sha512.Size, password)
}

// verifySalted checks the LDAP salted-digest layout shared by {SSHA} and
// {SSHA512}: after the tag, base64 of a digest of size bytes followed by a
// salt of at least one byte. Padding is optional.
func verifySalted(stored string, tagLen int, newHash func() hash.Hash, size int, password []byte) bool {
	payload := stored[tagLen:]
	enc := base64.StdEncoding
	if !strings.HasSuffix(payload, "=") && len(payload)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	raw, ok := decodeBase64(enc, payload)
	if !ok || len(raw) <= size {
		return false
	}
	digest, salt := raw[:size], raw[size:]
	h := newHash()
	h.Write(password)
	h.Write(salt)
	return equal(h.Sum(nil), digest)
}
