package passwd

import (
	cryptorand "crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Limits on argon2id parameters, for hashes we write and hashes we read. They
// keep a hostile stored hash from making one Verify allocate more than 1 GiB
// or run for minutes.
const (
	argon2MaxMemory  = 1 << 20 // KiB, i.e. 1 GiB
	argon2MaxTime    = 20
	argon2MaxThreads = 64
	argon2MinSalt    = 8 // RFC 9106 §3.1: salt of at least 8 bytes
	argon2MaxSalt    = 64
	argon2MinKey     = 16
	argon2MaxKey     = 64

	argon2SaltLen = 16 // what Hash writes
	argon2KeyLen  = 32 // what Hash writes
)

// Argon2Params are the argon2id cost parameters Hash writes into a new hash.
type Argon2Params struct {
	Time    uint32 // passes over memory, 1..20
	Memory  uint32 // KiB, 8×Threads..1048576
	Threads uint8  // lanes, 1..64
}

// DefaultArgon2 is the OWASP-recommended minimum for argon2id (19 MiB, two
// passes, one lane). Treat it as a constant.
var DefaultArgon2 = Argon2Params{Time: 2, Memory: 19456, Threads: 1}

// Validate reports whether p lies within the limits Verify accepts, so that
// every hash Hash writes can be checked again: Time 1..20, Threads 1..64 and
// Memory from 8×Threads to 1048576 KiB (1 GiB).
func (p Argon2Params) Validate() error {
	switch {
	case p.Time < 1 || p.Time > argon2MaxTime:
		return fmt.Errorf("passwd: argon2 time %d outside 1..%d", p.Time, argon2MaxTime)
	case p.Threads < 1 || p.Threads > argon2MaxThreads:
		return fmt.Errorf("passwd: argon2 threads %d outside 1..%d", p.Threads, argon2MaxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > argon2MaxMemory:
		return fmt.Errorf("passwd: argon2 memory %d KiB outside %d..%d", p.Memory, 8*uint32(p.Threads), argon2MaxMemory)
	}
	return nil
}

// Hash returns the argon2id hash of password under p, with a 16-byte salt
// read from rand (crypto/rand when nil) and a 32-byte key, in PHC string
// format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>, both base64 standard
// alphabet without padding. It fails when p is invalid (see Validate), when
// password is longer than MaxPasswordLen, or when rand fails.
func Hash(password []byte, p Argon2Params, rand io.Reader) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	if len(password) > MaxPasswordLen {
		return "", ErrPasswordTooLong
	}
	if rand == nil {
		rand = cryptorand.Reader
	}
	salt := make([]byte, argon2SaltLen)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return "", fmt.Errorf("passwd: hash: reading salt: %w", err)
	}
	key := argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, argon2KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(key)), nil
}

// argon2Hash is a parsed $argon2id$ PHC string.
type argon2Hash struct {
	params    Argon2Params
	salt, key []byte
}

// verifyArgon2id checks a $argon2id$v=19$m=M,t=T,p=P$salt$key string.
func verifyArgon2id(hash string, password []byte) bool {
	h, ok := parseArgon2id(hash)
	if !ok {
		return false
	}
	key := argon2.IDKey(password, h.salt, h.params.Time, h.params.Memory, h.params.Threads, uint32(len(h.key)))
	return equal(key, h.key)
}

// parseArgon2id parses and bounds-checks a PHC argon2id string. Only version
// 19 (0x13, the one golang.org/x/crypto/argon2 computes) is accepted, and the
// parameters must appear as m, t, p in that order with no keyid or data.
func parseArgon2id(hash string) (argon2Hash, bool) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" {
		return argon2Hash{}, false
	}
	params, ok := parseArgon2Params(parts[3])
	if !ok || params.Validate() != nil {
		return argon2Hash{}, false
	}
	salt, ok := decodeBase64(base64.RawStdEncoding, parts[4])
	if !ok || len(salt) < argon2MinSalt || len(salt) > argon2MaxSalt {
		return argon2Hash{}, false
	}
	key, ok := decodeBase64(base64.RawStdEncoding, parts[5])
	if !ok || len(key) < argon2MinKey || len(key) > argon2MaxKey {
		return argon2Hash{}, false
	}
	return argon2Hash{params: params, salt: salt, key: key}, true
}

// parseArgon2Params parses "m=M,t=T,p=P". Values beyond the limits are
// rejected later by Validate; here they only need to fit their types.
func parseArgon2Params(s string) (Argon2Params, bool) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return Argon2Params{}, false
	}
	m, okM := phcDecimal(fields[0], "m=", 32)
	t, okT := phcDecimal(fields[1], "t=", 32)
	p, okP := phcDecimal(fields[2], "p=", 8)
	if !okM || !okT || !okP {
		return Argon2Params{}, false
	}
	return Argon2Params{Time: uint32(t), Memory: uint32(m), Threads: uint8(p)}, true
}

// phcDecimal parses name followed by a decimal that fits in bits bits. The PHC
// string format forbids signs and leading zeros.
func phcDecimal(field, name string, bits int) (uint64, bool) {
	digits, ok := strings.CutPrefix(field, name)
	if !ok || digits == "" || len(digits) > 10 || (digits[0] == '0' && len(digits) > 1) {
		return 0, false
	}
	for i := range len(digits) {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, bits)
	return n, err == nil
}
