package backend

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/go-sql-driver/mysql"
)

func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	deadlock := &mysql.MySQLError{Number: mysqlErrDeadlock, Message: "Deadlock found"}
	lockWait := &mysql.MySQLError{Number: mysqlErrLockWaitTimeout, Message: "Lock wait timeout"}
	duplicate := &mysql.MySQLError{Number: mysqlErrDuplicateKey, Message: "Duplicate entry"}
	broken := errors.New("invalid connection")
	cases := []struct {
		name      string
		errs      []error // returned by successive calls; nil after the end
		wantCalls int
		wantErr   error
	}{
		{"runs a succeeding operation once", nil, 1, nil},
		{"retries a deadlock and returns the later success", []error{deadlock}, 2, nil},
		{"retries a wrapped lock-wait timeout", []error{wrapErr(lockWait), deadlock}, 3, nil},
		{"gives up after three attempts with the last error", []error{deadlock, lockWait, deadlock, nil}, 3, deadlock},
		{"does not retry a duplicate key", []error{duplicate}, 1, duplicate},
		{"does not retry a broken connection", []error{broken}, 1, broken},
		{"stops at a non-transient error after a retry", []error{deadlock, broken}, 2, broken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var waits []int
			p := retryPolicy{attempts: 3, wait: func(_ context.Context, retry int) error {
				waits = append(waits, retry)
				return nil
			}}
			calls := 0
			err := p.do(t.Context(), func() error {
				calls++
				if calls <= len(c.errs) {
					return c.errs[calls-1]
				}
				return nil
			})
			if calls != c.wantCalls || !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
				t.Fatalf("do = %v after %d calls; want %v after %d", err, calls, c.wantErr, c.wantCalls)
			}
			if len(waits) != calls-1 {
				t.Errorf("waited %d times (%v) for %d calls, want one wait between calls", len(waits), waits, calls)
			}
			for i, r := range waits {
				if r != i+1 {
					t.Errorf("wait #%d got retry number %d", i+1, r)
				}
			}
		})
	}
}

func TestRetryPolicyStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	deadlock := &mysql.MySQLError{Number: mysqlErrDeadlock}
	calls := 0
	err := defaultRetryPolicy.do(ctx, func() error { calls++; return deadlock })
	if calls != 1 || !errors.Is(err, deadlock) {
		t.Fatalf("do with an ended context = %v after %d calls; want the deadlock after 1", err, calls)
	}
}

func TestJitteredWaitSleepsWithinBounds(t *testing.T) {
	t.Parallel()
	wait := jitteredWait(0) // zero base: must not sleep or panic
	if err := wait(t.Context(), 1); err != nil {
		t.Fatalf("wait: %v", err)
	}
}

// wrapErr wraps err the way the store's methods do.
func wrapErr(err error) error { return fmt.Errorf("record failure of user 1: %w", err) }
