package passwd

import (
	"crypto/sha512"
	"strconv"
	"strings"
)

// SHA-512-crypt limits from Ulrich Drepper's "Unix crypt using SHA-256 and
// SHA-512" (the spec glibc and libxcrypt implement), plus our own ceiling on
// rounds so that a hostile stored hash cannot pin a core for minutes.
const (
	shaCryptDefaultRounds = 5000      // spec: rounds when "rounds=" is absent
	shaCryptMinRounds     = 1000      // spec: smaller values are raised to this
	shaCryptMaxRounds     = 999999999 // spec: larger values are lowered to this
	shaCryptVerifyRounds  = 10_000_000
	shaCryptMaxSalt       = 16 // spec: salt is at most 16 characters
	sha512CryptHashLen    = 86 // 64 bytes in the crypt base64 alphabet
)

// cryptAlphabet is the crypt(3) base64 alphabet.
const cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// verifySHA512Crypt checks a $6$[rounds=N$]salt$hash string. rounds is
// clamped to 1000..999999999 as the spec says, but strings asking for more
// than 10,000,000 rounds never match; the salt holds at most 16 characters.
func verifySHA512Crypt(hash string, password []byte) bool {
	rounds, salt, sum, ok := parseSHA512Crypt(hash)
	if !ok {
		return false
	}
	got := encodeSHA512Crypt(sha512CryptSum(password, []byte(salt), rounds))
	return equal([]byte(got), []byte(sum))
}

// parseSHA512Crypt splits $6$[rounds=N$]salt$hash and returns the clamped
// rounds, the salt and the encoded hash.
func parseSHA512Crypt(hash string) (rounds int, salt, sum string, ok bool) {
	rest := strings.TrimPrefix(hash, "$6$")
	rounds = shaCryptDefaultRounds
	if after, found := strings.CutPrefix(rest, "rounds="); found {
		digits, tail, found := strings.Cut(after, "$")
		if !found {
			return 0, "", "", false
		}
		n, ok := parseRounds(digits)
		if !ok {
			return 0, "", "", false
		}
		rounds, rest = n, tail
	}
	if rounds > shaCryptVerifyRounds {
		return 0, "", "", false
	}
	salt, sum, found := strings.Cut(rest, "$")
	if !found || len(salt) > shaCryptMaxSalt || len(sum) != sha512CryptHashLen {
		return 0, "", "", false
	}
	for i := range len(sum) {
		if !inAlphabet(cryptAlphabet, sum[i]) {
			return 0, "", "", false
		}
	}
	return rounds, salt, sum, true
}

// parseRounds parses the decimal after "rounds=" and clamps it to the spec's
// 1000..999999999.
func parseRounds(digits string) (int, bool) {
	if digits == "" || len(digits) > 10 {
		return 0, false
	}
	for i := range len(digits) {
		if !isDigit(digits[i]) {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return int(min(max(n, shaCryptMinRounds), shaCryptMaxRounds)), true
}

// sha512CryptSum computes the 64-byte SHA-512-crypt digest, following the
// numbered steps of Drepper's spec. salt is at most 16 bytes.
func sha512CryptSum(password, salt []byte, rounds int) []byte {
	// Steps 4–8: digest B = SHA512(password || salt || password).
	h := sha512.New()
	h.Write(password)
	h.Write(salt)
	h.Write(password)
	digestB := h.Sum(nil)

	// Steps 1–3, 9–12: digest A.
	h.Reset()
	h.Write(password)
	h.Write(salt)
	n := len(password)
	for ; n > sha512.Size; n -= sha512.Size {
		h.Write(digestB)
	}
	h.Write(digestB[:n])
	// Step 11: for each bit of len(password), low to high: 1 adds B, 0 adds
	// the password.
	for n := len(password); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(digestB)
		} else {
			h.Write(password)
		}
	}
	digestA := h.Sum(nil)

	// Steps 13–16: sequence P, the password-length prefix of the repeated
	// SHA512(password repeated len(password) times).
	h.Reset()
	for range len(password) {
		h.Write(password)
	}
	seqP := repeatTo(h.Sum(nil), len(password))

	// Steps 17–20: sequence S, from SHA512(salt repeated 16+A[0] times).
	h.Reset()
	for range 16 + int(digestA[0]) {
		h.Write(salt)
	}
	seqS := repeatTo(h.Sum(nil), len(salt))

	// Step 21: the rounds.
	c := digestA
	for i := range rounds {
		h.Reset()
		if i&1 != 0 {
			h.Write(seqP)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(seqS)
		}
		if i%7 != 0 {
			h.Write(seqP)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(seqP)
		}
		c = h.Sum(c[:0])
	}
	return c
}

// repeatTo returns n bytes made of block repeated.
func repeatTo(block []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, block[:min(len(block), n-len(out))]...)
	}
	return out
}

// encodeSHA512Crypt encodes a 64-byte digest as the spec's step 22 does:
// 21 groups of three bytes taken in a fixed shuffled order, then the last
// byte, each group written as 24-bit little-endian 6-bit digits.
func encodeSHA512Crypt(sum []byte) string {
	out := make([]byte, 0, sha512CryptHashLen)
	for i := range 21 {
		// Group i uses bytes i, i+21 and i+42, rotated by i mod 3:
		// (0,21,42), (22,43,1), (44,2,23), (3,24,45), …
		a, b, c := i, i+21, i+42
		switch i % 3 {
		case 1:
			a, b, c = i+21, i+42, i
		case 2:
			a, b, c = i+42, i, i+21
		}
		out = appendCrypt64(out, sum[a], sum[b], sum[c], 4)
	}
	out = appendCrypt64(out, 0, 0, sum[63], 2)
	return string(out)
}

// appendCrypt64 is the spec's b64_from_24bit: n characters of the 24-bit
// value b2<<16 | b1<<8 | b0, least significant 6 bits first.
func appendCrypt64(dst []byte, b2, b1, b0 byte, n int) []byte {
	w := uint32(b2)<<16 | uint32(b1)<<8 | uint32(b0)
	for range n {
		dst = append(dst, cryptAlphabet[w&0x3f])
		w >>= 6
	}
	return dst
}
