package storetest

import (
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otpgate/otpgate/verify"
)

var replayCases = []testCase{
	{"advances the HOTP counter past the matched value and refuses replays", testAdvanceCounter},
	{"orders HOTP counters correctly over the whole uint64 range", testCounterRange},
	{"advances the time step only forwards", testAdvanceStep},
	{"reports false when advancing a missing token", testAdvanceMissing},
}

var failureCases = []testCase{
	{"counts failures and resets them", testFailures},
}

var raceCases = []testCase{
	{"lets exactly one of 50 concurrent AdvanceStep calls win", testStepRace},
	{"lets exactly one of 50 concurrent AdvanceCounter calls win", testCounterRace},
	{"counts all of 50 concurrent failures", testFailureRace},
}

func testAdvanceCounter(t *testing.T, s Store) {
	u := mustUser(t, s, "alice")
	tok := mustToken(t, s, newHOTP(u.ID, "H1"))
	steps := []struct {
		matched  uint64
		wantOK   bool
		wantNext uint64
	}{
		{matched: 0, wantOK: true, wantNext: 1},     // the first counter
		{matched: 0, wantOK: false, wantNext: 1},    // replay
		{matched: 3, wantOK: true, wantNext: 4},     // skip ahead
		{matched: 2, wantOK: false, wantNext: 4},    // older counter
		{matched: 3, wantOK: false, wantNext: 4},    // replay of the last one
		{matched: 4, wantOK: true, wantNext: 5},     // exactly next
		{matched: 104, wantOK: true, wantNext: 105}, // far ahead (resync)
	}
	for i, st := range steps {
		now := t0.Add(time.Duration(i) * time.Second)
		ok, err := s.AdvanceCounter(t.Context(), tok.ID, st.matched, now)
		if err != nil || ok != st.wantOK {
			t.Fatalf("step %d: AdvanceCounter(%d) = %v, %v; want %v, nil", i, st.matched, ok, err, st.wantOK)
		}
		if st.wantOK {
			tok.LastUsed = now
		}
		tok.NextCounter = st.wantNext
		checkToken(t, mustTokenBySerial(t, s, "H1"), tok)
	}
}

func testCounterRange(t *testing.T, s Store) {
	u := mustUser(t, s, "alice")
	const half = uint64(1) << 63
	cases := []struct {
		name            string
		next, matched   uint64
		wantOK          bool
		wantNextOnMatch uint64
	}{
		{"crosses from 2^63-1 to 2^63", half - 1, half - 1, true, half},
		{"refuses 2^63-1 when next is 2^63", half, half - 1, false, 0},
		{"accepts 2^63 when next is 2^63", half, half, true, half + 1},
		{"accepts a jump from 3 to 2^63+5", 3, half + 5, true, half + 6},
		{"refuses 5 when next is 2^64-2", math.MaxUint64 - 1, 5, false, 0},
		{"refuses 2^63-1 when next is 2^64-2", math.MaxUint64 - 1, half - 1, false, 0},
		{"reaches 2^64-1", math.MaxUint64 - 1, math.MaxUint64 - 1, true, math.MaxUint64},
		{"refuses 2^64-2 when next is 2^64-1", math.MaxUint64, math.MaxUint64 - 1, false, 0},
		{"never advances past 2^64-1", math.MaxUint64, math.MaxUint64, false, 0},
		{"never wraps from 2^64-1 to 0", 0, math.MaxUint64, false, 0},
	}
	for i, c := range cases {
		tok := newHOTP(u.ID, "R"+string(rune('a'+i)))
		tok.NextCounter = c.next
		tok = mustToken(t, s, tok)
		if got := mustTokenBySerial(t, s, tok.Serial); got.NextCounter != c.next {
			t.Errorf("%s: stored NextCounter %d, want %d", c.name, got.NextCounter, c.next)
		}
		ok, err := s.AdvanceCounter(t.Context(), tok.ID, c.matched, t1)
		if ok != c.wantOK || (c.wantOK && err != nil) {
			t.Errorf("%s: AdvanceCounter = %v, %v; want %v", c.name, ok, err, c.wantOK)
		}
		want := c.next
		if c.wantOK {
			want = c.wantNextOnMatch
		}
		if got := mustTokenBySerial(t, s, tok.Serial); got.NextCounter != want {
			t.Errorf("%s: NextCounter = %d, want %d", c.name, got.NextCounter, want)
		}
	}
}

func testAdvanceStep(t *testing.T, s Store) {
	u := mustUser(t, s, "alice")
	tok := newHOTP(u.ID, "T1")
	tok.Type, tok.Period = verify.TypeTOTP, 30
	tok = mustToken(t, s, tok)
	steps := []struct {
		step   int64
		wantOK bool
	}{
		{0, true}, // NoStep (-1) < 0
		{0, false},
		{58_333_334, true},
		{58_333_333, false},
		{58_333_334, false},
		{58_333_335, true},
		{math.MaxInt64, true},
		{math.MaxInt64, false},
	}
	for i, st := range steps {
		now := t0.Add(time.Duration(i) * time.Second)
		ok, err := s.AdvanceStep(t.Context(), tok.ID, st.step, now)
		if err != nil || ok != st.wantOK {
			t.Fatalf("step %d: AdvanceStep(%d) = %v, %v; want %v, nil", i, st.step, ok, err, st.wantOK)
		}
		if st.wantOK {
			tok.LastStep, tok.LastUsed = st.step, now
		}
		checkToken(t, mustTokenBySerial(t, s, "T1"), tok)
	}
}

func testAdvanceMissing(t *testing.T, s Store) {
	ok, err := s.AdvanceStep(t.Context(), missingID, 5, t0)
	if ok || err != nil {
		t.Errorf("AdvanceStep(missing) = %v, %v; want false, nil", ok, err)
	}
	ok, err = s.AdvanceCounter(t.Context(), missingID, 5, t0)
	if ok || err != nil {
		t.Errorf("AdvanceCounter(missing) = %v, %v; want false, nil", ok, err)
	}
}

func testFailures(t *testing.T, s Store) {
	ctx := t.Context()
	u := mustUser(t, s, "alice")
	for i, now := range []time.Time{t0, t1, t2} {
		if err := s.RecordFailure(ctx, u.ID, now); err != nil {
			t.Fatalf("RecordFailure %d: %v", i, err)
		}
	}
	if got := mustUserByID(t, s, u.ID); got.FailCount != 3 || !got.LastFailure.Equal(t2) {
		t.Fatalf("after 3 failures: FailCount %d, LastFailure %v; want 3, %v", got.FailCount, got.LastFailure, t2)
	}
	for i := range 2 { // the second reset finds nothing to do
		if err := s.ResetFailures(ctx, u.ID); err != nil {
			t.Fatalf("ResetFailures %d: %v", i, err)
		}
		if got := mustUserByID(t, s, u.ID); got.FailCount != 0 || !got.LastFailure.Equal(t2) {
			t.Fatalf("after reset: FailCount %d, LastFailure %v; want 0, %v (kept)", got.FailCount, got.LastFailure, t2)
		}
	}
	if err := s.RecordFailure(ctx, u.ID, t1); err != nil {
		t.Fatalf("RecordFailure after reset: %v", err)
	}
	if got := mustUserByID(t, s, u.ID); got.FailCount != 1 {
		t.Errorf("after reset and one failure: FailCount %d, want 1", got.FailCount)
	}
}

// raceN is how many goroutines each race test starts.
const raceN = 50

// race runs call in raceN goroutines released together and returns how many
// reported true and the errors.
func race(call func() (bool, error)) (wins int, errs []error) {
	var (
		start sync.WaitGroup
		done  sync.WaitGroup
		won   atomic.Int64
		mu    sync.Mutex
	)
	start.Add(1)
	for range raceN {
		done.Go(func() {
			start.Wait()
			ok, err := call()
			if ok {
				won.Add(1)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	start.Done()
	done.Wait()
	return int(won.Load()), errs
}

func testStepRace(t *testing.T, s Store) {
	u := mustUser(t, s, "alice")
	tok := mustToken(t, s, newHOTP(u.ID, "T1"))
	wins, errs := race(func() (bool, error) { return s.AdvanceStep(t.Context(), tok.ID, 1000, t1) })
	if wins != 1 || len(errs) != 0 {
		t.Fatalf("%d concurrent AdvanceStep: %d won, errors %v; want exactly 1 win and no error", raceN, wins, errs)
	}
	if got := mustTokenBySerial(t, s, "T1"); got.LastStep != 1000 {
		t.Errorf("LastStep = %d, want 1000", got.LastStep)
	}
}

func testCounterRace(t *testing.T, s Store) {
	u := mustUser(t, s, "alice")
	tok := mustToken(t, s, newHOTP(u.ID, "H1"))
	wins, errs := race(func() (bool, error) { return s.AdvanceCounter(t.Context(), tok.ID, 9, t1) })
	if wins != 1 || len(errs) != 0 {
		t.Fatalf("%d concurrent AdvanceCounter: %d won, errors %v; want exactly 1 win and no error", raceN, wins, errs)
	}
	if got := mustTokenBySerial(t, s, "H1"); got.NextCounter != 10 {
		t.Errorf("NextCounter = %d, want 10", got.NextCounter)
	}
}

func testFailureRace(t *testing.T, s Store) {
	u := mustUser(t, s, "alice")
	_, errs := race(func() (bool, error) { return false, s.RecordFailure(t.Context(), u.ID, t1) })
	if len(errs) != 0 {
		t.Fatalf("%d concurrent RecordFailure: errors %v", raceN, errs)
	}
	if got := mustUserByID(t, s, u.ID); got.FailCount != raceN {
		t.Errorf("FailCount = %d, want %d", got.FailCount, raceN)
	}
}
