package httpsrv

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otpgate/otpgate/radiussrv"
	"github.com/otpgate/otpgate/verify"
)

func TestDecisionMetrics(t *testing.T) {
	t.Parallel()
	m := NewMetrics(BuildInfo{})
	for range 3 {
		m.ObserveDecision(string(verify.ProtoRADIUS), "vpn", verify.Accept.String(), string(verify.ReasonOK), 2*time.Millisecond)
	}
	m.ObserveDecision(string(verify.ProtoLDAP), "webmail", verify.Reject.String(), string(verify.ReasonBadOTP), 3*time.Second)
	fams := scrape(t, m)

	tests := []struct {
		name   string
		family string
		labels []string
		want   float64
	}{
		{"counts each accepted RADIUS decision under its labels", "otpgate_requests_total",
			[]string{"proto", "radius", "service", "vpn", "decision", "accept", "reason", "ok"}, 3},
		{"counts a rejected LDAP bind with its reason", "otpgate_requests_total",
			[]string{"proto", "ldap", "service", "webmail", "decision", "reject", "reason", "bad-otp"}, 1},
		{"observes RADIUS latency per protocol", "otpgate_request_duration_seconds",
			[]string{"proto", "radius"}, 3},
		{"observes LDAP latency per protocol", "otpgate_request_duration_seconds",
			[]string{"proto", "ldap"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := sample(fams, tt.family, tt.labels...)
			if !ok || got != tt.want {
				t.Errorf("%s%v = %v (present %v), want %v", tt.family, tt.labels, got, ok, tt.want)
			}
		})
	}
	t.Run("puts a 3 s decision in the 5 s bucket but not the 2.5 s one", func(t *testing.T) {
		h := fams["otpgate_request_duration_seconds"]
		for _, s := range h.GetMetric() {
			if !hasLabels(s, []string{"proto", "ldap"}) {
				continue
			}
			for _, b := range s.GetHistogram().GetBucket() {
				want := uint64(0)
				if b.GetUpperBound() >= 5 {
					want = 1
				}
				if b.GetCumulativeCount() != want {
					t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
				}
			}
		}
	})
}

func TestStoreMetrics(t *testing.T) {
	t.Parallel()
	m := NewMetrics(BuildInfo{})
	m.ObserveStore("user_by_name", time.Millisecond, nil)
	m.ObserveStore("user_by_name", time.Millisecond, errors.New("connection refused"))
	m.ObserveStore("advance_counter", time.Millisecond, nil)
	fams := scrape(t, m)

	tests := []struct {
		name   string
		family string
		labels []string
		want   float64
	}{
		{"observes every store operation's duration", "otpgate_store_query_duration_seconds", []string{"op", "user_by_name"}, 2},
		{"counts a failed store operation", "otpgate_store_errors_total", []string{"op", "user_by_name"}, 1},
		{"exports a zero error count for an operation that never failed", "otpgate_store_errors_total", []string{"op", "advance_counter"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := sample(fams, tt.family, tt.labels...)
			if !ok || got != tt.want {
				t.Errorf("%s%v = %v (present %v), want %v", tt.family, tt.labels, got, ok, tt.want)
			}
		})
	}
}

func TestBuildInfo(t *testing.T) {
	t.Parallel()
	t.Run("exports the build's labels with value 1", func(t *testing.T) {
		t.Parallel()
		fams := scrape(t, NewMetrics(BuildInfo{Version: "1.2.3", Revision: "abc123", GoVersion: "go1.26.8"}))
		got, ok := sample(fams, "otpgate_build_info", "version", "1.2.3", "revision", "abc123", "goversion", "go1.26.8")
		if !ok || got != 1 {
			t.Errorf("otpgate_build_info = %v (present %v), want 1", got, ok)
		}
	})
	t.Run("fills in the running Go version when none is given", func(t *testing.T) {
		t.Parallel()
		fams := scrape(t, NewMetrics(BuildInfo{Version: "devel"}))
		if _, ok := sample(fams, "otpgate_build_info", "goversion", runtime.Version()); !ok {
			t.Errorf("no otpgate_build_info with goversion %q", runtime.Version())
		}
	})
	t.Run("exports the standard Go runtime metrics", func(t *testing.T) {
		t.Parallel()
		if _, ok := scrape(t, NewMetrics(BuildInfo{}))["go_goroutines"]; !ok {
			t.Error("no go_goroutines")
		}
	})
}

func TestRadiusCollector(t *testing.T) {
	t.Parallel()
	t.Run("omits RADIUS metrics while no source is set", func(t *testing.T) {
		t.Parallel()
		if f, ok := scrape(t, NewMetrics(BuildInfo{}))["otpgate_radius_dropped_total"]; ok {
			t.Errorf("unexpected family %v", f)
		}
	})
	t.Run("reads the source at every scrape", func(t *testing.T) {
		t.Parallel()
		m := NewMetrics(BuildInfo{})
		var drops atomic.Uint64
		m.SetRadiusStats(func() radiussrv.Stats { return radiussrv.Stats{DroppedOverload: drops.Load()} })
		for _, want := range []uint64{0, 7} {
			drops.Store(want)
			got, _ := sample(scrape(t, m), "otpgate_radius_dropped_total", "cause", "overload")
			if got != float64(want) {
				t.Errorf("overload drops = %v, want %d", got, want)
			}
		}
	})
	t.Run("sums the sources of several listeners field by field", func(t *testing.T) {
		t.Parallel()
		m := NewMetrics(BuildInfo{})
		m.SetRadiusStats(fullRadiusStats(1), fullRadiusStats(10))
		fams := scrape(t, m)
		checks := radiusChecks()
		for i, c := range checks {
			want := float64(11 * (i + 1))
			if got, ok := sample(fams, c.family, c.labels...); !ok || got != want {
				t.Errorf("%s%v = %v (present %v), want %v", c.family, c.labels, got, ok, want)
			}
		}
	})
}

// fullRadiusStats returns a source whose every field is distinct:
// field i (in radiusChecks order) holds scale*(i+1).
func fullRadiusStats(scale uint64) func() radiussrv.Stats {
	return func() radiussrv.Stats {
		return radiussrv.Stats{
			DroppedUnknownClient: 1 * scale, DroppedBadAuthenticator: 2 * scale, DroppedMissingMA: 3 * scale,
			DroppedProxyStateNoMA: 4 * scale, DroppedMalformed: 5 * scale, DroppedOverload: 6 * scale,
			DroppedPanic: 7 * scale, DroppedInFlight: 8 * scale, DroppedUnavailable: 9 * scale,
			DuplicatesFromCache: 10 * scale, ChallengesIssued: 11 * scale, StateRejects: 12 * scale,
			RepliesAccept: 13 * scale, RepliesReject: 14 * scale, RepliesChallenge: 15 * scale,
			StatusServerReplies: 16 * scale,
		}
	}
}

type seriesRef struct {
	family string
	labels []string
}

// radiusChecks names the series of each radiussrv.Stats field, in the
// order fullRadiusStats fills them.
func radiusChecks() []seriesRef {
	var out []seriesRef
	for _, cause := range radiusDropCauses {
		out = append(out, seriesRef{"otpgate_radius_dropped_total", []string{"cause", cause}})
	}
	return append(out,
		seriesRef{"otpgate_radius_duplicates_total", nil},
		seriesRef{"otpgate_radius_challenges_total", nil},
		seriesRef{"otpgate_radius_state_rejects_total", nil},
		seriesRef{"otpgate_radius_replies_total", []string{"code", "access_accept"}},
		seriesRef{"otpgate_radius_replies_total", []string{"code", "access_reject"}},
		seriesRef{"otpgate_radius_replies_total", []string{"code", "access_challenge"}},
		seriesRef{"otpgate_radius_replies_total", []string{"code", "status_server_accept"}},
	)
}

func TestLDAPCollector(t *testing.T) {
	t.Parallel()
	t.Run("omits LDAP metrics while no source is set", func(t *testing.T) {
		t.Parallel()
		if _, ok := scrape(t, NewMetrics(BuildInfo{}))["otpgate_ldap_connections_open"]; ok {
			t.Error("unexpected otpgate_ldap_connections_open")
		}
	})
	t.Run("reads open and rejected connections at every scrape", func(t *testing.T) {
		t.Parallel()
		m := NewMetrics(BuildInfo{})
		var open atomic.Int64
		m.SetLDAPStats(
			func() LDAPStats { return LDAPStats{ConnsOpen: int(open.Load()), ConnsRejected: 2} },
			func() LDAPStats { return LDAPStats{ConnsOpen: 1, ConnsRejected: 3} },
		)
		for _, n := range []int64{4, 0} {
			open.Store(n)
			fams := scrape(t, m)
			if got, _ := sample(fams, "otpgate_ldap_connections_open"); got != float64(n+1) {
				t.Errorf("open = %v, want %d", got, n+1)
			}
			if got, _ := sample(fams, "otpgate_ldap_connections_rejected_total"); got != 5 {
				t.Errorf("rejected = %v, want 5", got)
			}
		}
	})
}

// Not parallel: testing.AllocsPerRun refuses to run during parallel tests.
func TestObserveDecisionDoesNotAllocate(t *testing.T) {
	m := NewMetrics(BuildInfo{})
	observe := func() { m.ObserveDecision("radius", "vpn", "accept", "ok", time.Millisecond) }
	observe()
	if n := testing.AllocsPerRun(100, observe); n != 0 {
		t.Errorf("ObserveDecision allocates %v times per call, want 0", n)
	}
	store := func() { m.ObserveStore("user_by_name", time.Millisecond, nil) }
	store()
	if n := testing.AllocsPerRun(100, store); n != 0 {
		t.Errorf("ObserveStore allocates %v times per call, want 0", n)
	}
}

func TestNilMetricsDiscardObservations(t *testing.T) {
	t.Parallel()
	var m *Metrics
	m.ObserveDecision("radius", "vpn", "accept", "ok", time.Millisecond)
	m.ObserveStore("user_by_name", time.Millisecond, errors.New("down"))
}

func TestSeriesCacheKeepsCountingPastItsBound(t *testing.T) {
	t.Parallel()
	m := NewMetrics(BuildInfo{})
	m.stores.limit = 8
	for i := range 20 {
		m.ObserveStore(fmt.Sprintf("op%d", i), time.Microsecond, nil)
	}
	m.ObserveStore("past-bound", time.Microsecond, errors.New("x"))
	m.ObserveStore("past-bound", time.Microsecond, errors.New("x"))
	fams := gather(t, m)
	got, ok := sample(fams, "otpgate_store_errors_total", "op", "past-bound")
	if !ok || got != 2 {
		t.Errorf("errors{op=past-bound} = %v (present %v), want 2", got, ok)
	}
	if n := len(fams["otpgate_store_query_duration_seconds"].GetMetric()); n != 21 {
		t.Errorf("%d duration series, want 21", n)
	}
	if n := len(*m.stores.m.Load()); n != 8 {
		t.Errorf("cache holds %d entries, want its limit 8", n)
	}
}

func BenchmarkObserveDecision(b *testing.B) {
	m := NewMetrics(BuildInfo{})
	reasons := []string{"ok", "bad-otp", "bad-pin", "replay"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.ObserveDecision("radius", "vpn", "reject", reasons[i%len(reasons)], 3*time.Millisecond)
			i++
		}
	})
}
