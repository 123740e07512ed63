package verify

import (
	"context"
	"slices"
	"sync/atomic"
	"time"
)

// Switch holds the current Engine and lets a config reload replace it
// atomically: every request runs wholly on the engine it started with, so
// in-flight requests finish on the old configuration. Listeners take a
// *Switch where they would take an *Engine.
type Switch struct{ cur atomic.Pointer[Engine] }

// NewSwitch returns a Switch serving e.
func NewSwitch(e *Engine) *Switch {
	s := &Switch{}
	s.cur.Store(e)
	return s
}

// Engine returns the current engine.
func (s *Switch) Engine() *Engine { return s.cur.Load() }

// Swap makes e the engine for new requests.
func (s *Switch) Swap(e *Engine) { s.cur.Store(e) }

// Verify runs req on the current engine.
func (s *Switch) Verify(ctx context.Context, req Request) Decision {
	return s.cur.Load().Verify(ctx, req)
}

// CheckYubiKeyOTP runs the validation-server check on the current engine.
func (s *Switch) CheckYubiKeyOTP(ctx context.Context, code, client string) YubiKeyStatus {
	return s.cur.Load().CheckYubiKeyOTP(ctx, code, client)
}

// TestToken runs a token test on the current engine.
func (s *Switch) TestToken(ctx context.Context, tr TokenRequest, code Secret) Decision {
	return s.cur.Load().TestToken(ctx, tr, code)
}

// Resync runs an HOTP resynchronisation on the current engine.
func (s *Switch) Resync(ctx context.Context, tr TokenRequest, first, second Secret) Decision {
	return s.cur.Load().Resync(ctx, tr, first, second)
}

// LockedUntil reports u's back-off end under the current engine's limits.
func (s *Switch) LockedUntil(u User) time.Time { return s.cur.Load().LockedUntil(u) }

// Policy returns the current engine's policy.
func (s *Switch) Policy() Policy { return s.cur.Load().Policy() }

// Reconfigure builds an engine from opts that keeps e's per-source throttle
// state when the throttle settings did not change, so a reload does not
// forgive a source its recent failures.
func (e *Engine) Reconfigure(opts Options) (*Engine, error) {
	n, err := New(opts)
	if err != nil {
		return nil, err
	}
	if n.throttle.max == e.throttle.max && n.throttle.window == e.throttle.window && slices.Equal(n.throttle.exempt, e.throttle.exempt) {
		n.throttle = e.throttle
	}
	return n, nil
}
