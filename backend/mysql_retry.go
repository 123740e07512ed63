package backend

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/go-sql-driver/mysql"
)

// retryPolicy re-runs an operation that failed with a deadlock (1213) or a
// lock-wait timeout (1205). InnoDB rolls back the statement (after a
// deadlock, the whole transaction) that got either error, so running it
// again cannot apply it twice. Any other error, a nil error, or the last
// attempt ends the loop.
//
// It is used on the user and token writes, RecordFailure, ResetFailures
// and CreateToken's transaction, never on AdvanceCounter or AdvanceStep:
// a compare-and-set whose outcome is in doubt must refuse.
type retryPolicy struct {
	// attempts is the total number of tries, at least 1.
	attempts int
	// wait sleeps before try number retry+1 (retry counts from 1) and
	// returns early with ctx's error when ctx ends.
	wait func(ctx context.Context, retry int) error
}

// defaultRetryPolicy tries three times with jittered back-off of about
// 5–10 ms, then 10–20 ms.
var defaultRetryPolicy = retryPolicy{attempts: 3, wait: jitteredWait(5 * time.Millisecond)}

// do runs op until it succeeds, fails with a non-transient error, or has
// been tried p.attempts times, and returns op's last error. When ctx ends
// during a back-off, the transient error is returned as it was.
func (p retryPolicy) do(ctx context.Context, op func() error) error {
	for try := 1; ; try++ {
		err := op()
		if err == nil || try >= p.attempts || !isTransientMySQLErr(err) {
			return err
		}
		if p.wait(ctx, try) != nil {
			return err
		}
	}
}

// isTransientMySQLErr reports whether err is a deadlock or a lock-wait
// timeout reported by the server.
func isTransientMySQLErr(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	return me.Number == mysqlErrDeadlock || me.Number == mysqlErrLockWaitTimeout
}

// jitteredWait returns a wait function sleeping base·2^(retry-1) plus a
// random amount up to that again, so competing callers spread out.
func jitteredWait(base time.Duration) func(ctx context.Context, retry int) error {
	return func(ctx context.Context, retry int) error {
		d := base << (retry - 1)
		d += rand.N(d + 1)
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return nil
		}
	}
}
