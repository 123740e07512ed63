package httpsrv

import (
	"cmp"
	"maps"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// BuildInfo identifies the running binary in otpgate_build_info.
type BuildInfo struct {
	Version   string // release version, e.g. "1.2.0" or "devel"
	Revision  string // VCS revision
	GoVersion string // toolchain; runtime.Version() when empty
}

// requestBuckets spans 50µs (a cached RADIUS duplicate) to 5s (a slow
// YubiCloud round trip or a lockout delay), roughly 1-2.5-5 per decade.
var requestBuckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5,
}

// storeBuckets spans 50µs (an SQLite page-cache hit) to 5s (a MySQL
// fail-over).
var storeBuckets = requestBuckets

// maxCachedSeries bounds the per-Metrics caches of resolved label
// children. Past it, observations still count but resolve their labels on
// every call (slower, allocating). It is far above any sane configuration
// (protocols × services × outcomes × reasons).
const maxCachedSeries = 4096

// Metrics owns otpgate's Prometheus registry and the instruments the
// listeners and the store report to. It uses a private registry (never the
// global one), so several instances can coexist, e.g. in parallel tests.
// All methods are safe for concurrent use. The Observe methods of a nil
// *Metrics do nothing, so code under test may run without metrics.
//
// Label values passed to the Observe methods must come from a small,
// bounded set (protocol and service names from the configuration,
// Outcome.String(), Reason values, store operation names): every distinct
// combination is a time series kept until the process exits.
type Metrics struct {
	reg *prometheus.Registry

	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	storeDur  *prometheus.HistogramVec
	storeErrs *prometheus.CounterVec

	decisions childCache[decisionKey, decisionSeries]
	stores    childCache[string, storeSeries]

	radius *radiusCollector
	ldap   *ldapCollector
}

type decisionKey struct{ proto, service, outcome, reason string }

type decisionSeries struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

type storeSeries struct {
	latency prometheus.Observer
	errors  prometheus.Counter
}

// NewMetrics returns a Metrics with every otpgate metric registered, plus
// the standard go_* and process_* collectors and otpgate_build_info.
func NewMetrics(build BuildInfo) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otpgate_requests_total",
			Help: "Authentication decisions by protocol, service, decision and reason.",
		}, []string{"proto", "service", "decision", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "otpgate_request_duration_seconds",
			Help:    "Time from a request's arrival to its decision, by protocol.",
			Buckets: requestBuckets,
		}, []string{"proto"}),
		storeDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "otpgate_store_query_duration_seconds",
			Help:    "Duration of store operations, by operation.",
			Buckets: storeBuckets,
		}, []string{"op"}),
		storeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otpgate_store_errors_total",
			Help: "Store operations that returned an error, by operation.",
		}, []string{"op"}),
		radius: newRadiusCollector(),
		ldap:   newLDAPCollector(),
	}
	m.reg.MustRegister(m.requests, m.latency, m.storeDur, m.storeErrs, m.radius, m.ldap,
		buildInfoCollector(build),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func buildInfoCollector(b BuildInfo) prometheus.Collector {
	if b.GoVersion == "" {
		b.GoVersion = runtime.Version()
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "otpgate_build_info",
		Help: "Always 1; the labels identify the running build.",
		ConstLabels: prometheus.Labels{
			"version": b.Version, "revision": b.Revision, "goversion": b.GoVersion,
		},
	})
	g.Set(1)
	return g
}

// Registry returns the private registry, for registering further
// collectors (e.g. of a feature mounted with Server.Handle).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) handler(errLog promhttp.Logger) http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            errLog,
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// ObserveDecision counts one decision in otpgate_requests_total and its
// latency in otpgate_request_duration_seconds. outcome is
// verify.Outcome.String() and reason a verify.Reason; proto is a
// verify.Protocol. After the first call for a label combination it takes
// a lock-free map lookup and does not allocate.
func (m *Metrics) ObserveDecision(proto, service string, outcome, reason string, latency time.Duration) {
	if m == nil {
		return
	}
	k := decisionKey{proto: proto, service: service, outcome: outcome, reason: reason}
	s := m.decisions.get(k, m.newDecisionSeries)
	s.count.Inc()
	s.latency.Observe(latency.Seconds())
}

func (m *Metrics) newDecisionSeries(k decisionKey) decisionSeries {
	return decisionSeries{
		count:   m.requests.WithLabelValues(k.proto, k.service, k.outcome, k.reason),
		latency: m.latency.WithLabelValues(k.proto),
	}
}

// ObserveStore records one store operation op (e.g. "user_by_name",
// "advance_counter") that took d; a non-nil err also counts in
// otpgate_store_errors_total. The error series of op exists, at 0, from
// the first observation on, so rate() works before the first failure.
func (m *Metrics) ObserveStore(op string, d time.Duration, err error) {
	if m == nil {
		return
	}
	s := m.stores.get(op, m.newStoreSeries)
	s.latency.Observe(d.Seconds())
	if err != nil {
		s.errors.Inc()
	}
}

func (m *Metrics) newStoreSeries(op string) storeSeries {
	return storeSeries{
		latency: m.storeDur.WithLabelValues(op),
		errors:  m.storeErrs.WithLabelValues(op),
	}
}

// childCache maps label values to resolved metric children. Reads load an
// immutable map through an atomic pointer (no lock, no allocation);
// misses copy the map under a mutex. Label sets are small and stable, so
// copies happen a handful of times after start.
type childCache[K comparable, V any] struct {
	m     atomic.Pointer[map[K]V]
	mu    sync.Mutex
	limit int // entries cached at most; 0 means maxCachedSeries
}

// get returns the cached value for k, creating it with create on a miss.
// Once the cache is full, misses call create every time without caching.
func (c *childCache[K, V]) get(k K, create func(K) V) V {
	if p := c.m.Load(); p != nil {
		if v, ok := (*p)[k]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
		if len(*old) >= cmp.Or(c.limit, maxCachedSeries) {
			return create(k)
		}
	}
	next := map[K]V{}
	if old != nil {
		next = maps.Clone(*old)
	}
	v := create(k)
	next[k] = v
	c.m.Store(&next)
	return v
}
