package httpsrv

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/otpgate/otpgate/radiussrv"
)

// LDAPStats is what the LDAP listener reports at scrape time.
type LDAPStats struct {
	ConnsOpen     int    // connections currently admitted
	ConnsRejected uint64 // connections refused by MaxConns/MaxConnsPerIP since start; only grows
}

// SetRadiusStats sets the sources of the otpgate_radius_* metrics,
// replacing earlier ones. Each scrape calls every source once and
// exports the field-wise sum, so pass one source per RADIUS listener (or
// one that sums them itself). With no source the metrics are absent from
// the exposition. Sources must be safe for concurrent use and fast; they
// run on the scrape's goroutine.
func (m *Metrics) SetRadiusStats(sources ...func() radiussrv.Stats) {
	m.radius.set(sources)
}

// SetLDAPStats sets the sources of the otpgate_ldap_* metrics, replacing
// earlier ones; several sources are summed, no source hides the metrics,
// as for SetRadiusStats.
func (m *Metrics) SetLDAPStats(sources ...func() LDAPStats) {
	m.ldap.set(sources)
}

// sourceList is a replaceable list of scrape-time callbacks.
type sourceList[T any] struct {
	mu  sync.Mutex
	fns []func() T
}

func (l *sourceList[T]) set(fns []func() T) {
	var kept []func() T
	for _, f := range fns {
		if f != nil {
			kept = append(kept, f)
		}
	}
	l.mu.Lock()
	l.fns = kept
	l.mu.Unlock()
}

func (l *sourceList[T]) get() []func() T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fns
}

// radiusDropCauses are the cause label values of
// otpgate_radius_dropped_total, in the order of radiusDrops.
var radiusDropCauses = [...]string{
	"unknown_client", "bad_authenticator", "missing_message_authenticator",
	"proxy_state_without_ma", "malformed", "overload", "panic", "in_flight",
	"unavailable",
}

func radiusDrops(s *radiussrv.Stats) [len(radiusDropCauses)]uint64 {
	return [...]uint64{
		s.DroppedUnknownClient, s.DroppedBadAuthenticator, s.DroppedMissingMA,
		s.DroppedProxyStateNoMA, s.DroppedMalformed, s.DroppedOverload,
		s.DroppedPanic, s.DroppedInFlight, s.DroppedUnavailable,
	}
}

// radiusCollector exports radiussrv.Stats read at scrape time.
type radiusCollector struct {
	sources      sourceList[radiussrv.Stats]
	dropped      *prometheus.Desc
	duplicates   *prometheus.Desc
	challenges   *prometheus.Desc
	stateRejects *prometheus.Desc
	replies      *prometheus.Desc
}

func newRadiusCollector() *radiusCollector {
	return &radiusCollector{
		dropped: prometheus.NewDesc("otpgate_radius_dropped_total",
			"RADIUS datagrams dropped without a reply, by cause.", []string{"cause"}, nil),
		duplicates: prometheus.NewDesc("otpgate_radius_duplicates_total",
			"RADIUS retransmits answered from the reply cache.", nil, nil),
		challenges: prometheus.NewDesc("otpgate_radius_challenges_total",
			"RADIUS Access-Challenges issued with a fresh State.", nil, nil),
		stateRejects: prometheus.NewDesc("otpgate_radius_state_rejects_total",
			"RADIUS Access-Requests refused for an unknown, expired, reused or foreign State.", nil, nil),
		replies: prometheus.NewDesc("otpgate_radius_replies_total",
			"RADIUS replies sent, by code (cached resends excluded).", []string{"code"}, nil),
	}
}

func (c *radiusCollector) set(fns []func() radiussrv.Stats) { c.sources.set(fns) }

// Describe implements prometheus.Collector.
func (c *radiusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.dropped
	ch <- c.duplicates
	ch <- c.challenges
	ch <- c.stateRejects
	ch <- c.replies
}

// Collect implements prometheus.Collector.
func (c *radiusCollector) Collect(ch chan<- prometheus.Metric) {
	fns := c.sources.get()
	if len(fns) == 0 {
		return
	}
	var sum radiussrv.Stats
	for _, f := range fns {
		addRadiusStats(&sum, f())
	}
	for i, v := range radiusDrops(&sum) {
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(v), radiusDropCauses[i])
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.duplicates, sum.DuplicatesFromCache)
	counter(c.challenges, sum.ChallengesIssued)
	counter(c.stateRejects, sum.StateRejects)
	counter(c.replies, sum.RepliesAccept, "access_accept")
	counter(c.replies, sum.RepliesReject, "access_reject")
	counter(c.replies, sum.RepliesChallenge, "access_challenge")
	counter(c.replies, sum.StatusServerReplies, "status_server_accept")
}

// addRadiusStats adds s to sum field by field.
func addRadiusStats(sum *radiussrv.Stats, s radiussrv.Stats) {
	sum.DroppedUnknownClient += s.DroppedUnknownClient
	sum.DroppedBadAuthenticator += s.DroppedBadAuthenticator
	sum.DroppedMissingMA += s.DroppedMissingMA
	sum.DroppedProxyStateNoMA += s.DroppedProxyStateNoMA
	sum.DroppedMalformed += s.DroppedMalformed
	sum.DroppedOverload += s.DroppedOverload
	sum.DroppedPanic += s.DroppedPanic
	sum.DroppedInFlight += s.DroppedInFlight
	sum.DroppedUnavailable += s.DroppedUnavailable
	sum.DuplicatesFromCache += s.DuplicatesFromCache
	sum.ChallengesIssued += s.ChallengesIssued
	sum.StateRejects += s.StateRejects
	sum.RepliesAccept += s.RepliesAccept
	sum.RepliesReject += s.RepliesReject
	sum.RepliesChallenge += s.RepliesChallenge
	sum.StatusServerReplies += s.StatusServerReplies
}

// ldapCollector exports LDAPStats read at scrape time.
type ldapCollector struct {
	sources  sourceList[LDAPStats]
	open     *prometheus.Desc
	rejected *prometheus.Desc
}

func newLDAPCollector() *ldapCollector {
	return &ldapCollector{
		open: prometheus.NewDesc("otpgate_ldap_connections_open",
			"LDAP connections currently open.", nil, nil),
		rejected: prometheus.NewDesc("otpgate_ldap_connections_rejected_total",
			"LDAP connections refused by the connection caps.", nil, nil),
	}
}

func (c *ldapCollector) set(fns []func() LDAPStats) { c.sources.set(fns) }

// Describe implements prometheus.Collector.
func (c *ldapCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.rejected
}

// Collect implements prometheus.Collector.
func (c *ldapCollector) Collect(ch chan<- prometheus.Metric) {
	fns := c.sources.get()
	if len(fns) == 0 {
		return
	}
	var sum LDAPStats
	for _, f := range fns {
		s := f()
		sum.ConnsOpen += s.ConnsOpen
		sum.ConnsRejected += s.ConnsRejected
	}
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(sum.ConnsOpen))
	ch <- prometheus.MustNewConstMetric(c.rejected, prometheus.CounterValue, float64(sum.ConnsRejected))
}
