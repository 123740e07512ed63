package verify

import (
	"net/netip"
	"sync"
	"time"
)

// maxTrackedSources bounds the memory of the source throttle.
const maxTrackedSources = 100000

// sourceThrottle counts failures per client address (IPv6 per /64, since
// one host usually owns a whole /64) in fixed windows. It lives in memory:
// per instance, which is enough to slow spraying from one address.
type sourceThrottle struct {
	max    int
	window time.Duration
	exempt []netip.Prefix

	mu      sync.Mutex
	sources map[netip.Addr]*sourceWindow
}

type sourceWindow struct {
	start time.Time
	fails int
}

func newSourceThrottle(max int, window time.Duration, exempt []netip.Prefix) *sourceThrottle {
	return &sourceThrottle{max: max, window: window, exempt: exempt, sources: make(map[netip.Addr]*sourceWindow)}
}

// key maps addr to the throttled unit, or reports false when addr is not
// throttled at all (zero address, exempt network, throttle off).
func (s *sourceThrottle) key(addr netip.Addr) (netip.Addr, bool) {
	if s.max <= 0 || !addr.IsValid() {
		return netip.Addr{}, false
	}
	addr = addr.Unmap()
	for _, p := range s.exempt {
		if p.Contains(addr) {
			return netip.Addr{}, false
		}
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.Addr(), true
	}
	return addr, true
}

// blocked reports whether addr has used up its failures in this window.
func (s *sourceThrottle) blocked(addr netip.Addr, now time.Time) bool {
	k, ok := s.key(addr)
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.sources[k]
	return w != nil && now.Sub(w.start) < s.window && w.fails >= s.max
}

// fail counts one failure from addr.
func (s *sourceThrottle) fail(addr netip.Addr, now time.Time) {
	k, ok := s.key(addr)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.sources[k]
	if w == nil || now.Sub(w.start) >= s.window {
		if w == nil && len(s.sources) >= maxTrackedSources {
			s.sweep(now)
			if len(s.sources) >= maxTrackedSources {
				return // full of live entries: stop tracking new sources
			}
		}
		s.sources[k] = &sourceWindow{start: now, fails: 1}
		return
	}
	w.fails++
}

func (s *sourceThrottle) sweep(now time.Time) {
	for k, w := range s.sources {
		if now.Sub(w.start) >= s.window {
			delete(s.sources, k)
		}
	}
}
