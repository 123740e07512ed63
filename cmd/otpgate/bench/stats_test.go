package bench

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestHistogramBucketsKeepOnePercent(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		v := rng.Uint64N(1 << 38)
		got := bucketValue(bucketOf(v))
		if diff := float64(got) - float64(v); diff > float64(v)/100 || -diff > float64(v)/100 {
			t.Fatalf("value %d comes back as %d", v, got)
		}
	}
	for v := range uint64(1 << subBits) {
		if got := bucketValue(bucketOf(v)); got != v {
			t.Fatalf("small value %d comes back as %d, want exact", v, got)
		}
	}
	if got := bucketOf(1 << 62); got != numBuckets-1 {
		t.Fatalf("huge value in bucket %d, want the last (%d)", got, numBuckets-1)
	}
}

func TestQuantiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		samples  []time.Duration
		p50, p99 time.Duration
	}{
		{name: "returns zero without samples"},
		{name: "returns the only sample for both", samples: []time.Duration{42}, p50: 42, p99: 42},
		{name: "takes the nearest rank of 1..100", samples: seq(1, 100), p50: 50, p99: 99},
		{name: "takes the nearest rank of 1..101", samples: seq(1, 101), p50: 51, p99: 100},
		{name: "sees a slow tail in p99 only", samples: append(seq(1, 98), 120, 121), p50: 50, p99: 120},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h histogram
			for _, s := range tt.samples {
				h.record(s)
			}
			if got := h.quantile(0.5); got != tt.p50 {
				t.Errorf("p50 = %v, want %v", got, tt.p50)
			}
			if got := h.quantile(0.99); got != tt.p99 {
				t.Errorf("p99 = %v, want %v", got, tt.p99)
			}
		})
	}
}

func seq(from, to int) []time.Duration {
	var s []time.Duration
	for i := from; i <= to; i++ {
		s = append(s, time.Duration(i))
	}
	return s
}

func TestQuantileOfMillisecondsWithinOnePercent(t *testing.T) {
	t.Parallel()
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(c.q)
		if d := got - c.want; d > c.want/100 || -d > c.want/100 {
			t.Errorf("quantile %v = %v, want %v within 1%%", c.q, got, c.want)
		}
	}
}

func TestTallyCountsOutcomesAndTimesAnsweredRequestsOnly(t *testing.T) {
	t.Parallel()
	var tl tally
	tl.add(outcomeAccept, 10*time.Microsecond)
	tl.add(outcomeAccept, 20*time.Microsecond)
	tl.add(outcomeReject, 30*time.Microsecond)
	tl.add(outcomeError, time.Hour)
	tl.add(outcomeTimeout, time.Hour)
	r := tl.result(2 * time.Second)
	want := Result{Requests: 5, Accepts: 2, Rejects: 1, Errors: 1, Timeouts: 1, Elapsed: 2 * time.Second}
	if r.Requests != want.Requests || r.Accepts != want.Accepts || r.Rejects != want.Rejects ||
		r.Errors != want.Errors || r.Timeouts != want.Timeouts {
		t.Fatalf("counts %+v, want %+v", r, want)
	}
	if r.Max != 30*time.Microsecond {
		t.Errorf("max %v, want 30µs (errors and timeouts are not timed)", r.Max)
	}
	if r.Rate() != 2.5 {
		t.Errorf("rate %v, want 2.5", r.Rate())
	}
	var out bytes.Buffer
	if err := r.Print(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"2.5 req/s", "accepts 2  rejects 1  errors 1  timeouts 1", "p99 "} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, out.String())
		}
	}
}

func TestBudgetHandsOutExactlyN(t *testing.T) {
	t.Parallel()
	b := newBudget(3)
	n := 0
	for b.take() {
		n++
	}
	if n != 3 {
		t.Fatalf("took %d, want 3", n)
	}
}
