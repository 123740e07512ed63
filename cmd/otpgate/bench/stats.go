package bench

import (
	"fmt"
	"io"
	"math/bits"
	"sync/atomic"
	"time"
)

// outcome classifies one request.
type outcome int

const (
	outcomeAccept  outcome = iota // Access-Accept, LDAP result 0
	outcomeReject                 // Access-Reject or -Challenge, LDAP result 49
	outcomeError                  // anything else: bad reply, other result code, network error
	outcomeTimeout                // no answer within Options.Timeout
	numOutcomes
)

// subBits sets the histogram's resolution: 2^subBits buckets per power of
// two, so a recorded latency is off by less than 1/2^subBits (0.8 %).
const subBits = 7

// maxBucketBits bounds the recorded values to 2^maxBucketBits ns (18 min);
// longer latencies count in the last bucket.
const maxBucketBits = 40

// numBuckets covers values below 2^maxBucketBits.
const numBuckets = (maxBucketBits - subBits + 1) << subBits

// histogram is a log-linear latency histogram (as HdrHistogram): exact
// below 2^subBits ns, then 2^subBits equal buckets per power of two. It is
// safe for concurrent use.
type histogram struct {
	counts [numBuckets]atomic.Uint64
}

// bucketOf returns the bucket of a value in nanoseconds.
func bucketOf(v uint64) int {
	const sub = 1 << subBits
	if v < sub {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	i := (shift+1)<<subBits + int(v>>shift) - sub
	return min(i, numBuckets-1)
}

// bucketValue returns the middle of bucket i: the value that represents
// every sample in it.
func bucketValue(i int) uint64 {
	const sub = 1 << subBits
	if i < sub {
		return uint64(i)
	}
	shift := i>>subBits - 1
	low := uint64(i&(sub-1)+sub) << shift
	return low + (uint64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	h.counts[bucketOf(uint64(max(d, 0)))].Add(1)
}

// quantile returns the nearest-rank q-quantile (0 < q <= 1): the smallest
// recorded value with at least ceil(q*n) samples at or below it; 0 when
// nothing was recorded.
func (h *histogram) quantile(q float64) time.Duration {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.999999999)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(bucketValue(i))
		}
	}
	return time.Duration(bucketValue(numBuckets - 1))
}

// Result is what a run measured. Latencies are those of answered requests
// (accepts and rejects), as the client saw them, to within 1 %.
type Result struct {
	Requests int64 // all requests sent
	Accepts  int64
	Rejects  int64 // Access-Reject and Access-Challenge; LDAP result 49
	Errors   int64 // malformed replies, other LDAP result codes, network errors
	Timeouts int64 // no answer within Options.Timeout
	Elapsed  time.Duration
	P50, P99 time.Duration
	Max      time.Duration
	// ClientCPU is the CPU time (user+system) the load generator's
	// process used during the run, 0 where unknown.
	ClientCPU time.Duration
}

// Rate returns requests per second over the run.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Print writes r as one human-readable block.
func (r Result) Print(w io.Writer) error {
	cpu := "n/a"
	if r.ClientCPU > 0 && r.Requests > 0 {
		cpu = fmt.Sprintf("%.1fµs", float64(r.ClientCPU.Microseconds())/float64(r.Requests))
	}
	_, err := fmt.Fprintf(w, "requests %d in %.2fs: %.1f req/s\n"+
		"accepts %d  rejects %d  errors %d  timeouts %d\n"+
		"latency p50 %s  p99 %s  max %s\n"+
		"load generator cpu per request %s\n",
		r.Requests, r.Elapsed.Seconds(), r.Rate(), r.Accepts, r.Rejects, r.Errors, r.Timeouts,
		round(r.P50), round(r.P99), round(r.Max), cpu)
	return err
}

// round shortens a latency for printing.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// tally collects a run's outcomes and latencies from all workers.
type tally struct {
	counts [numOutcomes]atomic.Int64
	max    atomic.Int64
	hist   histogram
}

func (t *tally) add(o outcome, d time.Duration) {
	t.counts[o].Add(1)
	if o != outcomeAccept && o != outcomeReject {
		return
	}
	t.hist.record(d)
	for {
		m := t.max.Load()
		if int64(d) <= m || t.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// result summarises the tally of a run that took elapsed.
func (t *tally) result(elapsed time.Duration) Result {
	r := Result{Accepts: t.counts[outcomeAccept].Load(), Rejects: t.counts[outcomeReject].Load(),
		Errors: t.counts[outcomeError].Load(), Timeouts: t.counts[outcomeTimeout].Load(),
		Elapsed: elapsed, P50: t.hist.quantile(0.50), P99: t.hist.quantile(0.99),
		Max: time.Duration(t.max.Load())}
	r.Requests = r.Accepts + r.Rejects + r.Errors + r.Timeouts
	return r
}
