package radiussrv

import (
	"crypto/subtle"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"
)

// cacheKey identifies one request as RFC 5080 §2.2.2 suggests: source
// address and port, Identifier and Request Authenticator. A NAS retransmits
// the identical datagram, so all three match; a new request reusing the
// Identifier has a new authenticator.
type cacheKey struct {
	src  netip.AddrPort
	id   byte
	auth [16]byte
}

// cacheStatus is the result of replyCache.begin.
type cacheStatus int

const (
	cacheMiss cacheStatus = iota // the caller now owns the request and must call finish
	cacheHit                     // a reply was cached; resend it
	cacheBusy                    // the same request is being processed; drop this copy
)

// replyCache remembers the encoded reply of every answered request for a
// while, and which requests are being processed, so that a retransmit never
// reaches the engine twice (a second OTP check would refuse the user's own
// retransmit as a replay).
type replyCache struct {
	mu       sync.Mutex
	replies  *expiringMap[cacheKey, []byte]
	inFlight map[cacheKey]struct{} // bounded by MaxInFlight on the socket path
}

func newReplyCache(ttl time.Duration, size int) *replyCache {
	return &replyCache{replies: newExpiringMap[cacheKey, []byte](ttl, size), inFlight: map[cacheKey]struct{}{}}
}

// begin looks k up. On cacheMiss the request is marked in flight and the
// caller must call finish exactly once.
func (c *replyCache) begin(k cacheKey, now time.Time) ([]byte, cacheStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if reply, ok := c.replies.get(k, now); ok {
		return reply, cacheHit
	}
	if _, busy := c.inFlight[k]; busy {
		return nil, cacheBusy
	}
	c.inFlight[k] = struct{}{}
	return nil, cacheMiss
}

// finish ends the in-flight mark of k and caches reply unless it is nil
// (no reply was sent, so a retransmit should be processed afresh).
func (c *replyCache) finish(k cacheKey, reply []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inFlight, k)
	if reply != nil {
		c.replies.put(k, reply, now)
	}
}

// stateLen is the length of a State value: 128 random bits.
const stateLen = 16

// challengeBinding is what a State value was issued for. A State answers
// only the challenge of the same user, client and service.
type challengeBinding struct {
	user, client, service string
}

// stateTable holds the outstanding Access-Challenge State values (RFC 2865
// §4.4, §5.24). Each is random, single use and expires.
type stateTable struct {
	mu     sync.Mutex
	rand   io.Reader
	states *expiringMap[[stateLen]byte, challengeBinding]
}

func newStateTable(ttl time.Duration, size int, rand io.Reader) *stateTable {
	return &stateTable{rand: rand, states: newExpiringMap[[stateLen]byte, challengeBinding](ttl, size)}
}

// issue returns a fresh State bound to b. When the table is full the oldest
// outstanding challenge is forgotten (evicted reports it).
func (t *stateTable) issue(b challengeBinding, now time.Time) (state []byte, evicted int, err error) {
	var key [stateLen]byte
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := io.ReadFull(t.rand, key[:]); err != nil {
		return nil, 0, fmt.Errorf("radiussrv: state: %w", err)
	}
	if _, taken := t.states.get(key, now); taken {
		return nil, 0, fmt.Errorf("radiussrv: state: random source repeats itself")
	}
	evicted = t.states.put(key, b, now)
	return key[:], evicted, nil
}

// redeem consumes state and reports whether it was outstanding, unexpired
// and bound to b. A State is removed on first use even when it does not
// match, so it can never be tried twice.
func (t *stateTable) redeem(state []byte, b challengeBinding, now time.Time) bool {
	if len(state) != stateLen {
		return false
	}
	t.mu.Lock()
	bound, ok := t.states.take([stateLen]byte(state), now)
	t.mu.Unlock()
	if !ok {
		return false
	}
	same := subtle.ConstantTimeCompare([]byte(bound.user), []byte(b.user)) &
		subtle.ConstantTimeCompare([]byte(bound.client), []byte(b.client)) &
		subtle.ConstantTimeCompare([]byte(bound.service), []byte(b.service))
	return same == 1
}
