package radiussrv

import (
	"container/list"
	"sync"
	"time"
)

// expiringMap is a size-bounded map whose entries live for one fixed TTL.
// Because the TTL is the same for all entries, insertion order is expiry
// order, so a list gives O(1) expiry and eviction of the oldest entry. It is
// not safe for concurrent use; callers hold their own lock.
type expiringMap[K comparable, V any] struct {
	ttl   time.Duration
	max   int
	order *list.List // of *expiringEntry[K, V], oldest first
	items map[K]*list.Element
}

type expiringEntry[K comparable, V any] struct {
	key     K
	value   V
	expires time.Time
}

func newExpiringMap[K comparable, V any](ttl time.Duration, max int) *expiringMap[K, V] {
	return &expiringMap[K, V]{ttl: ttl, max: max, order: list.New(), items: make(map[K]*list.Element)}
}

// put stores value under key until now+ttl, replacing an older value. It
// first drops expired entries and then, while the map is full, the oldest
// live entry; evicted reports how many live entries were dropped.
func (m *expiringMap[K, V]) put(key K, value V, now time.Time) (evicted int) {
	m.delete(key)
	m.expire(now)
	for len(m.items) >= m.max {
		m.delete(m.order.Front().Value.(*expiringEntry[K, V]).key)
		evicted++
	}
	m.items[key] = m.order.PushBack(&expiringEntry[K, V]{key: key, value: value, expires: now.Add(m.ttl)})
	return evicted
}

// get returns the live value under key.
func (m *expiringMap[K, V]) get(key K, now time.Time) (V, bool) {
	el, ok := m.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	e := el.Value.(*expiringEntry[K, V])
	if !now.Before(e.expires) {
		m.delete(key)
		var zero V
		return zero, false
	}
	return e.value, true
}

// take returns the live value under key and removes it (single use).
func (m *expiringMap[K, V]) take(key K, now time.Time) (V, bool) {
	v, ok := m.get(key, now)
	m.delete(key)
	return v, ok
}

func (m *expiringMap[K, V]) delete(key K) {
	if el, ok := m.items[key]; ok {
		m.order.Remove(el)
		delete(m.items, key)
	}
}

// expire drops the entries whose time is up.
func (m *expiringMap[K, V]) expire(now time.Time) {
	for el := m.order.Front(); el != nil; el = m.order.Front() {
		e := el.Value.(*expiringEntry[K, V])
		if now.Before(e.expires) {
			return
		}
		m.delete(e.key)
	}
}

func (m *expiringMap[K, V]) len() int { return len(m.items) }

// rateLimiter lets one event through per interval and counts the rest. It
// runs on the wall clock: it only throttles log lines.
type rateLimiter struct {
	mu         sync.Mutex
	every      time.Duration
	next       time.Time
	suppressed int
}

// allow reports whether an event may be logged now and how many were
// suppressed since the last one that was.
func (l *rateLimiter) allow() (suppressed int, ok bool) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.suppressed++
		return 0, false
	}
	l.next = now.Add(l.every)
	suppressed, l.suppressed = l.suppressed, 0
	return suppressed, true
}
