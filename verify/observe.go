package verify

import (
	"context"
	"time"
)

// observedStore times every store call for metrics.
type observedStore struct {
	Store
	observe func(op string, d time.Duration, err error)
}

func (s observedStore) done(op string, start time.Time, err error) {
	s.observe(op, time.Since(start), err)
}

func (s observedStore) UserByName(ctx context.Context, name string) (User, error) {
	start := time.Now()
	u, err := s.Store.UserByName(ctx, name)
	if err != nil && isNotFound(err) {
		s.done("user_by_name", start, nil)
	} else {
		s.done("user_by_name", start, err)
	}
	return u, err
}

func (s observedStore) UserWithTokens(ctx context.Context, name string) (User, []Token, error) {
	start := time.Now()
	u, t, err := s.Store.UserWithTokens(ctx, name)
	if err != nil && isNotFound(err) {
		s.done("user_with_tokens", start, nil)
	} else {
		s.done("user_with_tokens", start, err)
	}
	return u, t, err
}

func (s observedStore) Tokens(ctx context.Context, userID int64) ([]Token, error) {
	start := time.Now()
	t, err := s.Store.Tokens(ctx, userID)
	s.done("tokens", start, err)
	return t, err
}

func (s observedStore) AdvanceCounter(ctx context.Context, id int64, matched uint64, now time.Time) (bool, error) {
	start := time.Now()
	ok, err := s.Store.AdvanceCounter(ctx, id, matched, now)
	s.done("advance_counter", start, err)
	return ok, err
}

func (s observedStore) AdvanceStep(ctx context.Context, id int64, step int64, now time.Time) (bool, error) {
	start := time.Now()
	ok, err := s.Store.AdvanceStep(ctx, id, step, now)
	s.done("advance_step", start, err)
	return ok, err
}

func (s observedStore) ClaimOTP(ctx context.Context, id int64, otp string, now time.Time) (bool, error) {
	start := time.Now()
	ok, err := s.Store.ClaimOTP(ctx, id, otp, now)
	s.done("claim_otp", start, err)
	return ok, err
}

func (s observedStore) RecordFailure(ctx context.Context, userID int64, now time.Time) error {
	start := time.Now()
	err := s.Store.RecordFailure(ctx, userID, now)
	s.done("record_failure", start, err)
	return err
}

func (s observedStore) ResetFailures(ctx context.Context, userID int64) error {
	start := time.Now()
	err := s.Store.ResetFailures(ctx, userID)
	s.done("reset_failures", start, err)
	return err
}
