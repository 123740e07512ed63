package backend

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/otpgate/otpgate/verify"
)

// Many concurrent versioned writes go through the group committer in
// shared transactions: one code still gives one accept, and writes to
// different tokens all land.
func TestGroupCommitKeepsEachConditionalWrite(t *testing.T) {
	t.Parallel()
	s, u, tok := cacheFixture(t)
	ctx, now := context.Background(), time.Unix(1_700_000_000, 0)
	var others []verify.Token
	for i := range 20 {
		o, err := s.CreateToken(ctx, verify.Token{UserID: u.ID, Serial: fmt.Sprintf("O%d", i), Type: verify.TypeHOTP,
			Enabled: true, Key: []byte("k"), Digits: 6, Algorithm: "SHA1", LastStep: verify.NoStep})
		if err != nil {
			t.Fatal(err)
		}
		others = append(others, o)
	}
	v := version(t, s)
	var (
		wg                 sync.WaitGroup
		mu                 sync.Mutex
		sameWins, distinct int
		errs               []error
	)
	for range 50 { // the same counter of one token, 50 times at once
		wg.Go(func() {
			ok, err := s.AdvanceCounterAt(ctx, tok.ID, v, 7, now)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				sameWins++
			}
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	for _, o := range others { // and one write to each other token
		wg.Go(func() {
			ok, err := s.AdvanceCounterAt(ctx, o.ID, v, 3, now)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				distinct++
			}
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 || sameWins != 1 || distinct != len(others) {
		t.Fatalf("one counter: %d wins (want 1); distinct tokens: %d of %d; errors %v", sameWins, distinct, len(others), errs)
	}
	for _, o := range append(others, tok) {
		got, err := s.TokenBySerial(ctx, o.Serial)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]uint64{true: 8, false: 4}[o.ID == tok.ID]; got.NextCounter != want {
			t.Errorf("token %s: next counter %d, want %d", o.Serial, got.NextCounter, want)
		}
	}
}

func TestGroupCommitAfterCloseFails(t *testing.T) {
	t.Parallel()
	s, _, tok := cacheFixture(t)
	v := version(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := s.AdvanceCounterAt(context.Background(), tok.ID, v, 0, time.Now())
	if !errors.Is(err, errStoreClosed) {
		t.Fatalf("err = %v, want errStoreClosed", err)
	}
}

// A failing write fails its whole transaction, and no write of it lands.
func TestGroupCommitFailsTheWholeTransaction(t *testing.T) {
	t.Parallel()
	s, _, tok := cacheFixture(t)
	v := version(t, s)
	now := time.Unix(1_700_000_000, 0)
	good := &commitReq{query: qAdvanceCounterAtVers,
		args: []any{encodeCounter(6), now.Unix(), tok.ID, encodeCounter(5), v}, done: make(chan struct{})}
	// Prepares, then violates CHECK (pending IN (0, 1)) when run.
	bad := &commitReq{query: `UPDATE tokens SET pending = 5 WHERE id = ?`, args: []any{tok.ID}, done: make(chan struct{})}
	s.commits.commit([]*commitReq{good, bad})
	if good.err == nil || bad.err == nil {
		t.Fatalf("errors %v, %v; want both to fail", good.err, bad.err)
	}
	got, err := s.TokenBySerial(context.Background(), tok.Serial)
	if err != nil || got.NextCounter != 0 {
		t.Fatalf("next counter %d, %v; want 0 (rolled back)", got.NextCounter, err)
	}
}

// In one transaction each UPDATE decides by its own condition, seeing the
// ones before it.
func TestGroupCommitDecidesEachWriteInOrder(t *testing.T) {
	t.Parallel()
	s, u, tok := cacheFixture(t)
	other, err := s.CreateToken(context.Background(), verify.Token{UserID: u.ID, Serial: "T9", Type: verify.TypeHOTP,
		Enabled: true, Key: []byte("k"), Digits: 6, Algorithm: "SHA1", LastStep: verify.NoStep})
	if err != nil {
		t.Fatal(err)
	}
	v := version(t, s)
	now := time.Unix(1_700_000_000, 0)
	advance := func(id int64, matched uint64, version int64) *commitReq {
		return &commitReq{query: qAdvanceCounterAtVers, done: make(chan struct{}),
			args: []any{encodeCounter(matched + 1), now.Unix(), id, encodeCounter(matched), version}}
	}
	batch := []*commitReq{
		advance(tok.ID, 2, v),     // wins
		advance(tok.ID, 2, v),     // the same code again: replay
		advance(tok.ID, 1, v),     // behind the new counter
		advance(other.ID, 0, v),   // another token
		advance(other.ID, 5, v-1), // a stale version
	}
	s.commits.commit(batch)
	for i, want := range []int64{1, 0, 0, 1, 0} {
		if batch[i].err != nil || batch[i].n != want {
			t.Errorf("write %d: %d rows, %v; want %d", i, batch[i].n, batch[i].err, want)
		}
	}
}

// A stalled login connection (here: held by the test) fails the login
// path's calls at their deadline instead of queueing them without end, and
// a write whose caller gave up is never made.
func TestLoginConnectionWaitEndsAtTheDeadline(t *testing.T) {
	t.Parallel()
	s, _, tok := cacheFixture(t)
	v := version(t, s)
	now := time.Unix(1_700_000_000, 0)
	s.login <- struct{}{} // the login connection is busy
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	if _, err := s.UserByName(short(), "alice"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("UserByName: %v, want the deadline", err)
	}
	if _, _, err := s.UserWithTokens(short(), "alice"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("UserWithTokens: %v, want the deadline", err)
	}
	if _, err := s.AdvanceCounterAt(short(), tok.ID, v, 5, now); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AdvanceCounterAt: %v, want the deadline", err)
	}
	<-s.login // the connection is free again
	// Had the abandoned write (counter 5) been made, this one would match
	// nothing.
	if ok, err := s.AdvanceCounterAt(context.Background(), tok.ID, v, 0, now); !ok || err != nil {
		t.Fatalf("AdvanceCounterAt(0) = %v, %v; want true (the abandoned write never ran)", ok, err)
	}
}
