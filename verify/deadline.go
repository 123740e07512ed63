package verify

import (
	"context"
	"time"
)

// deadlineStore gives every store call its own deadline
// (Options.StoreTimeout, "the deadline of a single request to the store").
// A deadline for the whole request would run out during a slow step that
// is not the store's (an argon2id hash queued behind others under load)
// and then fail the store call after it: the replay-state write of a
// password+OTP login, the confirmation of a cached password login, or the
// failure count of a wrong password, which an attacker who keeps the CPUs
// busy could otherwise keep from being recorded.
type deadlineStore struct {
	Store
	timeout time.Duration
}

func (s deadlineStore) UserByName(ctx context.Context, name string) (User, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.UserByName(ctx, name)
}

func (s deadlineStore) UserWithTokens(ctx context.Context, name string) (User, []Token, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.UserWithTokens(ctx, name)
}

func (s deadlineStore) Tokens(ctx context.Context, userID int64) ([]Token, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.Tokens(ctx, userID)
}

func (s deadlineStore) AdvanceCounter(ctx context.Context, id int64, matched uint64, now time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.AdvanceCounter(ctx, id, matched, now)
}

func (s deadlineStore) AdvanceStep(ctx context.Context, id int64, step int64, now time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.AdvanceStep(ctx, id, step, now)
}

func (s deadlineStore) ClaimOTP(ctx context.Context, id int64, otp string, now time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.ClaimOTP(ctx, id, otp, now)
}

func (s deadlineStore) TokenByPublicID(ctx context.Context, publicID string) (Token, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.TokenByPublicID(ctx, publicID)
}

func (s deadlineStore) ActivateToken(ctx context.Context, id int64) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.ActivateToken(ctx, id)
}

func (s deadlineStore) RecordFailure(ctx context.Context, userID int64, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.RecordFailure(ctx, userID, now)
}

func (s deadlineStore) ResetFailures(ctx context.Context, userID int64) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.ResetFailures(ctx, userID)
}

// cacheOps are the CachingStore methods the engine calls beside Store's.
type cacheOps interface {
	CachedUserWithTokens(name string) (User, []Token, bool)
	AdvanceCounterAt(ctx context.Context, tokenID, version int64, matched uint64, now time.Time) (bool, error)
	AdvanceStepAt(ctx context.Context, tokenID, version, step int64, now time.Time) (bool, error)
}

// deadlineCache is deadlineStore for the cacheOps.
type deadlineCache struct {
	c       cacheOps
	timeout time.Duration
}

func (s deadlineCache) CachedUserWithTokens(name string) (User, []Token, bool) {
	return s.c.CachedUserWithTokens(name) // memory only: no deadline
}

func (s deadlineCache) AdvanceCounterAt(ctx context.Context, tokenID, version int64, matched uint64, now time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.c.AdvanceCounterAt(ctx, tokenID, version, matched, now)
}

func (s deadlineCache) AdvanceStepAt(ctx context.Context, tokenID, version, step int64, now time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.c.AdvanceStepAt(ctx, tokenID, version, step, now)
}
