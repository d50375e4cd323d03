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
	max       int
	lru       *list.List // of *limiterEntry, most recently used at the front
	byKey     map[string]*list.Element
}

type limiterEntry struct {
	key  string
	lim  *rate.Limiter
	last time.Time
}

func newLimiterSet(perMinute, max int) *limiterSet {
	return &limiterSet{
		perMinute: perMinute,
		max:       max,
		lru:       list.New(),
		byKey:     make(map[string]*list.Element),
	}
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
	s.evictIdle(now)
	var e *limiterEntry
	if el, found := s.byKey[key]; found {
		e = el.Value.(*limiterEntry)
		s.lru.MoveToFront(el)
	} else {
		if s.lru.Len() >= s.max {
			oldest := s.lru.Back()
			s.lru.Remove(oldest)
			delete(s.byKey, oldest.Value.(*limiterEntry).key)
		}
		e = &limiterEntry{key: key, lim: rate.NewLimiter(rate.Limit(float64(s.perMinute)/60), s.perMinute)}
		s.byKey[key] = s.lru.PushFront(e)
	}
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

// evictIdle drops entries, oldest first, unused for idleAfter.
func (s *limiterSet) evictIdle(now time.Time) {
	for el := s.lru.Back(); el != nil; el = s.lru.Back() {
		e := el.Value.(*limiterEntry)
		if now.Sub(e.last) < idleAfter {
			return
		}
		s.lru.Remove(el)
		delete(s.byKey, e.key)
	}
}

func (s *limiterSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
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
	mu    sync.Mutex
	free  int
	max   int
	lru   *list.List // of *backoffEntry, most recently used at the front
	byKey map[string]*list.Element
}

type backoffEntry struct {
	key      string
	failures int
	next     time.Time // no attempt before
}

func newBackoffSet(free, max int) *backoffSet {
	return &backoffSet{free: free, max: max, lru: list.New(), byKey: make(map[string]*list.Element)}
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
	b.evictIdle(now)
	var e *backoffEntry
	if el, found := b.byKey[key]; found {
		e = el.Value.(*backoffEntry)
		b.lru.MoveToFront(el)
	} else {
		if b.lru.Len() >= b.max {
			oldest := b.lru.Back()
			b.lru.Remove(oldest)
			delete(b.byKey, oldest.Value.(*backoffEntry).key)
		}
		e = &backoffEntry{key: key}
		b.byKey[key] = b.lru.PushFront(e)
	}
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
	if el, found := b.byKey[key]; found {
		b.lru.Remove(el)
		delete(b.byKey, key)
	}
}

// evictIdle drops entries, least recently used first, whose back-off ended
// maxBackoff ago.
func (b *backoffSet) evictIdle(now time.Time) {
	for el := b.lru.Back(); el != nil; el = b.lru.Back() {
		e := el.Value.(*backoffEntry)
		if now.Sub(e.next) < maxBackoff {
			return
		}
		b.lru.Remove(el)
		delete(b.byKey, e.key)
	}
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
