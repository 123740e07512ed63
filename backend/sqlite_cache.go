package backend

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/otpgate/otpgate/verify"
)

// The SQLite store is a verify.CachingStore.
var _ verify.CachingStore = (*SQLite)(nil)

// DefaultLoginCache is the number of users the SQLite store keeps in its
// login cache when SQLiteOptions.LoginCache is 0.
const DefaultLoginCache = 20_000

// Login cache statements. users.version is kept by the triggers of
// migration 0005; the versioned writes change nothing unless the user's
// version is still the one the caller read.
var qUserWithTokensVersion = `SELECT u.version, ` + prefixed("u", userColumns) + `, ` +
	prefixed("t", tokenColumns) + `
	FROM users u JOIN tokens t ON t.user_id = u.id WHERE u.name = ? ORDER BY t.id`

var qUserByNameVersion = `SELECT version, ` + userColumns + ` FROM users WHERE name = ?`

const (
	qAdvanceCounterAtVers = `UPDATE tokens SET next_counter = ?, last_used = ?
		WHERE id = ? AND next_counter <= ?
		AND (SELECT version FROM users WHERE users.id = tokens.user_id) = ?`
	qAdvanceStepAtVers = `UPDATE tokens SET last_step = ?, last_used = ?
		WHERE id = ? AND last_step < ?
		AND (SELECT version FROM users WHERE users.id = tokens.user_id) = ?`
)

// loginCache holds users with their tokens (secrets unsealed) as the store
// last read them, keyed by exact name. Entries are replaced, never changed
// in place, so a reader's copy stays as read. It is bounded: a full cache
// drops an arbitrary entry (map order) for each one it adds.
type loginCache struct {
	mu      sync.Mutex
	max     int
	byName  map[string]*cachedLogin
	byUser  map[int64]string // user id → name
	byToken map[int64]string // token id → name
}

// cachedLogin is one user with their tokens; user.Version is the version
// they were read at.
type cachedLogin struct {
	user   verify.User
	tokens []verify.Token
}

func newLoginCache(max int) *loginCache {
	return &loginCache{max: max, byName: map[string]*cachedLogin{},
		byUser: map[int64]string{}, byToken: map[int64]string{}}
}

func (c *loginCache) get(name string) (*cachedLogin, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byName[name]
	return e, ok
}

// put stores e under its user's name, replacing what was there.
func (c *loginCache) put(e *cachedLogin) {
	c.mu.Lock()
	defer c.mu.Unlock()
	name := e.user.Name
	if _, ok := c.byName[name]; ok {
		c.dropLocked(name)
	}
	for len(c.byName) >= c.max {
		for victim := range c.byName {
			c.dropLocked(victim)
			break
		}
	}
	c.byName[name] = e
	c.byUser[e.user.ID] = name
	for _, t := range e.tokens {
		c.byToken[t.ID] = name
	}
}

// drop forgets name.
func (c *loginCache) drop(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(name)
}

// dropUser forgets the user with that id.
func (c *loginCache) dropUser(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if name, ok := c.byUser[id]; ok {
		c.dropLocked(name)
	}
}

func (c *loginCache) dropLocked(name string) {
	e, ok := c.byName[name]
	if !ok {
		return
	}
	delete(c.byName, name)
	if c.byUser[e.user.ID] == name {
		delete(c.byUser, e.user.ID)
	}
	for _, t := range e.tokens {
		if c.byToken[t.ID] == name {
			delete(c.byToken, t.ID)
		}
	}
}

// advanced records a replay-state write this store made at version: the
// cached token gets the new state (the newer of the two), so the next
// login's window starts where the database's does. An entry of another
// version is left alone.
func (c *loginCache) advanced(tokenID, version int64, update func(*verify.Token)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byName[c.byToken[tokenID]]
	if !ok || e.user.Version != version {
		return
	}
	next := &cachedLogin{user: e.user, tokens: append([]verify.Token(nil), e.tokens...)}
	for i := range next.tokens {
		if next.tokens[i].ID == tokenID {
			update(&next.tokens[i])
		}
	}
	c.byName[e.user.Name] = next
}

// CachedUserWithTokens returns what the login cache holds for name, if
// anything; it never reads the database (UserWithTokens does, and fills
// the cache). User.Version is the version the answer reflects.
func (s *SQLite) CachedUserWithTokens(name string) (verify.User, []verify.Token, bool) {
	if s.cache == nil {
		return verify.User{}, nil, false
	}
	e, ok := s.cache.get(name)
	if !ok {
		return verify.User{}, nil, false
	}
	return e.user, append([]verify.Token(nil), e.tokens...), true
}

// UserWithTokens reads the user and their tokens from the database, with
// the user's version, and refreshes the login cache with them (a missing
// user leaves it). It does not use the cache.
func (s *SQLite) UserWithTokens(ctx context.Context, name string) (verify.User, []verify.Token, error) {
	u, toks, err := s.sqlStore.UserWithTokens(ctx, name)
	if s.cache != nil {
		if err == nil {
			s.cache.put(&cachedLogin{user: u, tokens: append([]verify.Token(nil), toks...)})
		} else {
			s.cache.drop(name)
		}
	}
	return u, toks, err
}

// AdvanceCounterAt is AdvanceCounter that also requires the token's user to
// be at version, in the same UPDATE, run by the group committer.
func (s *SQLite) AdvanceCounterAt(ctx context.Context, tokenID, version int64, matched uint64, now time.Time) (bool, error) {
	if err := checkCounter(tokenID, matched); err != nil {
		return false, err
	}
	n, err := s.commits.exec(ctx, qAdvanceCounterAtVers, encodeCounter(matched+1), unixTime(now),
		tokenID, encodeCounter(matched), version)
	if err != nil {
		return false, fmt.Errorf("advance counter of token %d: %w", tokenID, err)
	}
	if n == 1 && s.cache != nil {
		s.cache.advanced(tokenID, version, func(t *verify.Token) { t.NextCounter = max(t.NextCounter, matched+1) })
	}
	return n == 1, nil
}

// AdvanceStepAt is AdvanceStep that also requires the token's user to be at
// version, in the same UPDATE, run by the group committer.
func (s *SQLite) AdvanceStepAt(ctx context.Context, tokenID, version, step int64, now time.Time) (bool, error) {
	n, err := s.commits.exec(ctx, qAdvanceStepAtVers, step, unixTime(now), tokenID, step, version)
	if err != nil {
		return false, fmt.Errorf("advance step of token %d: %w", tokenID, err)
	}
	if n == 1 && s.cache != nil {
		s.cache.advanced(tokenID, version, func(t *verify.Token) { t.LastStep = max(t.LastStep, step) })
	}
	return n == 1, nil
}

// RecordFailure is sqlStore.RecordFailure; the user's cache entry is dropped
// (the failure changed their version).
func (s *SQLite) RecordFailure(ctx context.Context, userID int64, now time.Time) error {
	if s.cache != nil {
		defer s.cache.dropUser(userID)
	}
	return s.sqlStore.RecordFailure(ctx, userID, now)
}

// ResetFailures is sqlStore.ResetFailures; the user's cache entry is
// dropped.
func (s *SQLite) ResetFailures(ctx context.Context, userID int64) error {
	if s.cache != nil {
		defer s.cache.dropUser(userID)
	}
	return s.sqlStore.ResetFailures(ctx, userID)
}
