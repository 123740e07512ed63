package verify

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"time"
)

// PasswordCache is Credentials whose CheckPassword remembers for a while
// that a password matched a stored hash, so that a mail client logging in
// again and again with the same password does not cost an argon2id hash
// (tens of milliseconds of CPU) each time. It is off unless configured
// ([passwords] cache_ttl): the entries are HMAC-SHA256 values of stored
// hash and password under a key that lives only in this process's memory,
// so whoever can read that memory can test password guesses against them
// at HMAC speed, not argon2id speed, for as long as they last.
//
// Only matches are remembered, and only until their TTL passes from the
// moment the hash was checked (not renewed by hits). A changed password
// changes the stored hash and so misses. Refusals always run the real
// check.
type PasswordCache struct {
	Credentials
	ttl  time.Duration
	max  int
	now  func() time.Time
	key  [32]byte
	mu   sync.Mutex
	seen map[[sha256.Size]byte]time.Time // HMAC(key, hash, password) → expiry
}

// NewPasswordCache wraps c. ttl and max (entries) must be positive; nil now
// means time.Now.
func NewPasswordCache(c Credentials, ttl time.Duration, max int, now func() time.Time) (*PasswordCache, error) {
	if c == nil || ttl <= 0 || max <= 0 {
		return nil, fmt.Errorf("verify: password cache: need credentials, a positive TTL and size")
	}
	if now == nil {
		now = time.Now
	}
	p := &PasswordCache{Credentials: c, ttl: ttl, max: max, now: now, seen: map[[sha256.Size]byte]time.Time{}}
	if _, err := rand.Read(p.key[:]); err != nil {
		return nil, fmt.Errorf("verify: password cache key: %w", err)
	}
	return p, nil
}

// CheckPassword reports whether password matches hash: from the cache when
// the same pair matched less than the TTL ago, else by the wrapped check.
func (p *PasswordCache) CheckPassword(hash string, password Secret) bool {
	id := p.mac(hash, password)
	now := p.now()
	p.mu.Lock()
	exp, ok := p.seen[id]
	if ok && now.Before(exp) {
		p.mu.Unlock()
		return true
	}
	p.mu.Unlock()
	if !p.Credentials.CheckPassword(hash, password) {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.seen) >= p.max {
		p.pruneLocked(now)
	}
	p.seen[id] = now.Add(p.ttl)
	return true
}

// pruneLocked drops the expired entries, or, when none is, an arbitrary
// eighth of them (so that a full cache is not scanned on every insert).
func (p *PasswordCache) pruneLocked(now time.Time) {
	n := len(p.seen)
	for id, exp := range p.seen {
		if !now.Before(exp) {
			delete(p.seen, id)
		}
	}
	for id := range p.seen {
		if len(p.seen) < n-n/8 {
			return
		}
		delete(p.seen, id)
	}
}

// mac is HMAC-SHA256 under the process key of the length-prefixed hash and
// the password.
func (p *PasswordCache) mac(hash string, password Secret) [sha256.Size]byte {
	m := hmac.New(sha256.New, p.key[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(hash)))
	m.Write(n[:])
	m.Write([]byte(hash))
	m.Write([]byte(password.Reveal()))
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}
