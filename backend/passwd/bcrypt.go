package passwd

import "golang.org/x/crypto/bcrypt"

// Limits on stored bcrypt hashes. bcrypt allows cost 4..31, but each step
// doubles the work: cost 16 takes seconds, cost 31 days, so a hostile stored
// hash above bcryptMaxCost never matches.
const (
	bcryptLen     = 60 // "$2b$" + 2-digit cost + "$" + 22 salt + 31 hash
	bcryptMinCost = bcrypt.MinCost
	bcryptMaxCost = 16
)

// bcryptAlphabet is bcrypt's base64 alphabet (not the crypt(3) one).
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// verifyBcrypt checks a $2a$, $2b$ or $2y$ string. The three minor versions
// compute the same function for passwords shorter than 256 bytes: $2y$ is
// crypt_blowfish's name for the fixed algorithm and $2b$ OpenBSD's, so the
// string is checked as $2b$. Like every bcrypt, only the first 72 bytes of
// the password count.
func verifyBcrypt(hash string, password []byte) bool {
	if len(hash) != bcryptLen || hash[6] != '$' {
		return false
	}
	if !isDigit(hash[4]) || !isDigit(hash[5]) {
		return false
	}
	cost := int(hash[4]-'0')*10 + int(hash[5]-'0')
	if cost < bcryptMinCost || cost > bcryptMaxCost {
		return false
	}
	for i := 7; i < len(hash); i++ {
		if !inAlphabet(bcryptAlphabet, hash[i]) {
			return false
		}
	}
	// CompareHashAndPassword compares in constant time (crypto/subtle).
	return bcrypt.CompareHashAndPassword([]byte("$2b$"+hash[4:]), password) == nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// inAlphabet reports whether c is one of the characters of alphabet.
func inAlphabet(alphabet string, c byte) bool {
	for i := range len(alphabet) {
		if alphabet[i] == c {
			return true
		}
	}
	return false
}
