package auth

import (
	"container/list"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"procfin/platform/errs"
)

// maxLimiterEntries bounds each in-memory limiter map.
const maxLimiterEntries = 10000

// maxLimiterKeyLen bounds the length of a limiter key kept in memory.
const maxLimiterKeyLen = 128

// limiterSet is a bounded set of token buckets, one per key (a username or
// a remote address), refilled at perMinute per minute with burst perMinute.
// An entry idle for a full refill period is indistinguishable from a new
// one, so it is dropped; when the set is full of busy entries, the least
// recently used one is dropped.
type limiterSet struct {
	mu        sync.Mutex
	perMinute int
	entries   boundedLRU[limiterEntry]
}

type limiterEntry struct {
	lim  *rate.Limiter
	last time.Time
}

func newLimiterSet(perMinute, max int) *limiterSet {
	return &limiterSet{perMinute: perMinute, entries: newBoundedLRU[limiterEntry](max)}
}

// idleAfter is how long until an unused bucket is full again.
const idleAfter = time.Minute

// allow takes one token for key at now, or reports how long until one is
// available.
func (s *limiterSet) allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if len(key) > maxLimiterKeyLen {
		key = key[:maxLimiterKeyLen]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries.evict(func(e *limiterEntry) bool { return now.Sub(e.last) >= idleAfter })
	e := s.entries.touch(key, func() *limiterEntry {
		return &limiterEntry{lim: rate.NewLimiter(rate.Limit(float64(s.perMinute)/60), s.perMinute)}
	})
	e.last = now
	r := e.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Minute
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (s *limiterSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries.lru.Len()
}

// Back-off of one username from one address.
const (
	firstBackoff = time.Second
	maxBackoff   = 15 * time.Minute
)

// backoffSet throttles logins of one username from one address: free
// failed attempts pass at once; after that each attempt must wait for the
// back-off, which doubles with every failure (1 s, 2 s, 4 s, … up to
// 15 min). A success forgets the failures. An attempt counts as a failure
// from the moment it starts until it succeeds, so concurrent attempts
// cannot slip past the count. It is bounded like limiterSet; an entry
// whose back-off ended maxBackoff ago is dropped.
type backoffSet struct {
	mu      sync.Mutex
	free    int
	entries boundedLRU[backoffEntry]
}

type backoffEntry struct {
	failures int
	next     time.Time // no attempt before
}

func newBackoffSet(free, max int) *backoffSet {
	return &backoffSet{free: free, entries: newBoundedLRU[backoffEntry](max)}
}

// backoffKey is the key of username from address.
func backoffKey(username, addr string) string {
	const half = maxLimiterKeyLen / 2
	if len(username) > half {
		username = username[:half]
	}
	if len(addr) > half {
		addr = addr[:half]
	}
	return username + "\x00" + addr
}

// attempt starts an attempt for key at now, or reports how long until one
// may start.
func (b *backoffSet) attempt(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// An entry whose back-off ended maxBackoff ago is as good as new.
	b.entries.evict(func(e *backoffEntry) bool { return now.Sub(e.next) >= maxBackoff })
	e := b.entries.touch(key, func() *backoffEntry { return &backoffEntry{} })
	if now.Before(e.next) {
		return false, e.next.Sub(now)
	}
	e.failures++
	e.next = now
	if over := e.failures - b.free; over >= 0 {
		d := maxBackoff
		if over < 20 {
			d = min(firstBackoff<<over, maxBackoff)
		}
		e.next = now.Add(d)
	}
	return true, 0
}

// succeeded forgets key's failures.
func (b *backoffSet) succeeded(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.entries.remove(key)
}

// rateLimited is the error for too many login attempts. Extra carries
// retry_after (whole seconds, at least 1) for the Retry-After header.
func rateLimited(retryAfter time.Duration) error {
	secs := int(math.Ceil(retryAfter.Seconds()))
	if secs < 1 {
		secs = 1
	}
	e := errs.E(errs.RateLimited, "too many login attempts; try again later")
	e.Extra = map[string]any{"retry_after": secs}
	return e
}

// boundedLRU holds at most max entries by key, the most recently used
// first: when it is full, a new key drops the least recently used one. It
// is not safe for concurrent use (its owner holds a lock).
type boundedLRU[V any] struct {
	max   int
	lru   *list.List // of *lruItem[V], most recently used at the front
	byKey map[string]*list.Element
}

type lruItem[V any] struct {
	key string
	v   *V
}

func newBoundedLRU[V any](max int) boundedLRU[V] {
	return boundedLRU[V]{max: max, lru: list.New(), byKey: make(map[string]*list.Element)}
}

// touch returns key's entry, made by create when there is none, as the most
// recently used.
func (c *boundedLRU[V]) touch(key string, create func() *V) *V {
	if el, found := c.byKey[key]; found {
		c.lru.MoveToFront(el)
		return el.Value.(*lruItem[V]).v
	}
	if c.lru.Len() >= c.max {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.byKey, oldest.Value.(*lruItem[V]).key)
	}
	it := &lruItem[V]{key: key, v: create()}
	c.byKey[key] = c.lru.PushFront(it)
	return it.v
}

// evict drops entries, least recently used first, while stale says so.
func (c *boundedLRU[V]) evict(stale func(*V) bool) {
	for el := c.lru.Back(); el != nil; el = c.lru.Back() {
		it := el.Value.(*lruItem[V])
		if !stale(it.v) {
			return
		}
		c.lru.Remove(el)
		delete(c.byKey, it.key)
	}
}

// remove drops key's entry.
func (c *boundedLRU[V]) remove(key string) {
	if el, found := c.byKey[key]; found {
		c.lru.Remove(el)
		delete(c.byKey, key)
	}
}
