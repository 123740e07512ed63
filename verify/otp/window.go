package otp

import "math"

// MatchCounter scans the counters from, from+1, ..., from+window-1 (stopping
// at 2^64-1) and returns the first whose code equals code. Every candidate
// is computed and compared in constant time, so the time taken does not
// tell where (or whether) the code matched.
func (g *Generator) MatchCounter(code []byte, from uint64, window int) (uint64, bool) {
	var (
		matched uint64
		found   int
	)
	for i := 0; i < window; i++ {
		c := from + uint64(i)
		if c < from { // wrapped past 2^64-1
			break
		}
		hit := equal(g.Code(c), code)
		if hit && found == 0 {
			matched, found = c, 1
		}
	}
	return matched, found == 1
}

// MatchSequence scans counters from .. from+window-1 for c with code(c) ==
// first and code(c+1) == second (HOTP resynchronisation with two
// consecutive codes) and returns c+1, the counter of the second code.
func (g *Generator) MatchSequence(first, second []byte, from uint64, window int) (uint64, bool) {
	prev := false
	var matched uint64
	found := false
	for i := 0; i <= window; i++ {
		c := from + uint64(i)
		if c < from {
			break
		}
		code := g.Code(c)
		if prev && equal(code, second) && !found {
			matched, found = c, true
		}
		prev = i < window && equal(code, first)
		if c == math.MaxUint64 {
			break
		}
	}
	return matched, found
}

// StepResult says how a time-based code relates to the replay state.
type StepResult int

// Results of MatchSteps.
const (
	NoMatch  StepResult = iota // no step in the window has that code
	Fresh                      // a step later than lastStep matched
	Replayed                   // only steps at or before lastStep matched
)

// MatchSteps scans the time steps center-skew .. center+skew with codeAt and
// compares each to code in constant time. It prefers the latest matching
// step after lastStep (Fresh); if only steps at or before lastStep match it
// returns Replayed with the latest of those.
func MatchSteps(codeAt func(step int64) []byte, code []byte, center int64, skew int, lastStep int64) (int64, StepResult) {
	var (
		fresh, old         int64
		haveFresh, haveOld bool
	)
	for s := center - int64(skew); s <= center+int64(skew); s++ {
		if s < 0 {
			continue
		}
		if !equal(codeAt(s), code) {
			continue
		}
		if s > lastStep {
			fresh, haveFresh = s, true
		} else {
			old, haveOld = s, true
		}
	}
	switch {
	case haveFresh:
		return fresh, Fresh
	case haveOld:
		return old, Replayed
	}
	return 0, NoMatch
}

// TOTPStep returns the RFC 6238 time step T = floor(unix / period) (T0 = 0)
// for a non-negative unix time.
func TOTPStep(unix int64, period int) int64 {
	if unix < 0 || period <= 0 {
		return 0
	}
	return unix / int64(period)
}
