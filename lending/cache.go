package lending

import (
	"bytes"
	"context"
	"encoding/json"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"procfin/contracts"
	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/platform/postgres"
)

// The read cache keeps, per process, the applications read through the API
// for a short time, with their JSON, so a supplier polling an application
// costs no database round trip.
//
// What it promises:
//   - A change made through this process is seen by every read that starts
//     after the change's commit returned: each write to an application (its
//     row, history, consent or repayment account) drops the application
//     from the cache once its transaction commits (Service.changed).
//   - A read that raced a change never puts what it read into the cache:
//     each change bumps a generation counter of the application's stripe,
//     and a read stores its result only if that counter did not move
//     while it read (see get and put).
//   - A change made through another procfin process is seen within TTL
//     (http.read_cache_ttl in configs, 1 s by default; 0 turns it off).
//   - The cache decides nothing: limits, holds and state transitions always
//     lock and read the database. Service.Application always reads the
//     database; only CachedApplicationJSON uses the cache.
type readCache struct {
	ttl  time.Duration
	max  int
	seed maphash.Seed

	mu      sync.RWMutex
	entries map[string]cachedApplication
	gens    [64]uint64 // per stripe: how many changes were seen

	hits, misses atomic.Uint64
}

type cachedApplication struct {
	app     Application // not to be modified: shared by readers
	body    []byte      // app as the API answers it
	expires time.Time
}

// defaultCacheSize bounds the entries of a process's read cache. An entry
// is an application with its history as JSON, 2-4 KB, so at most about
// 16 MB.
const defaultCacheSize = 4096

func newReadCache(ttl time.Duration, max int) *readCache {
	return &readCache{ttl: ttl, max: max, seed: maphash.MakeSeed(), entries: map[string]cachedApplication{}}
}

func (c *readCache) stripe(id string) int {
	return int(maphash.String(c.seed, id) % uint64(len(c.gens)))
}

// get returns the live entry for id, or the generation of id's stripe to
// hand to put after reading the database.
func (c *readCache) get(id string, now time.Time) (cachedApplication, uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[id]
	if ok && now.Before(e.expires) {
		c.hits.Add(1)
		return e, 0, true
	}
	c.misses.Add(1)
	return cachedApplication{}, c.gens[c.stripe(id)], false
}

// put stores e unless id's stripe changed since gen was taken: then what
// was read may predate the change.
func (c *readCache) put(id string, gen uint64, e cachedApplication) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gens[c.stripe(id)] != gen {
		return
	}
	if len(c.entries) >= c.max {
		if _, replacing := c.entries[id]; !replacing {
			c.evict(e.expires.Add(-c.ttl))
		}
	}
	c.entries[id] = e
}

// evict makes room: it drops the entries expired at now, and if none was,
// an arbitrary eighth of the cache (Go's map order is random).
func (c *readCache) evict(now time.Time) {
	for id, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, id)
		}
	}
	for id := range c.entries {
		if len(c.entries) < c.max-c.max/8 {
			break
		}
		delete(c.entries, id)
	}
}

// drop forgets ids and bumps their stripes, so reads under way do not
// store what they read.
func (c *readCache) drop(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		c.gens[c.stripe(id)]++
		delete(c.entries, id)
	}
}

// changed records that tx writes the applications ids: they leave the read
// cache once tx commits. Every write to an application, its history, its
// consent or its repayment account calls it.
func (s *Service) changed(tx *postgres.Tx, ids ...string) {
	if s.cache == nil || len(ids) == 0 {
		return
	}
	tx.AfterCommit(func() { s.cache.drop(ids...) })
}

// UseReadCache turns on the read cache of CachedApplicationJSON with the
// given TTL; 0 turns it off. Call it before serving.
func (s *Service) UseReadCache(ttl time.Duration) {
	s.cache = nil
	if ttl > 0 {
		s.cache = newReadCache(ttl, defaultCacheSize)
	}
}

// ReadCacheStats are the read cache's figures for operators: reads it
// answered, reads that went to the database, and entries it holds now.
type ReadCacheStats struct {
	Hits, Misses uint64
	Entries      int
}

// ReadCacheStats reports the read cache's figures; all zero when it is off.
func (s *Service) ReadCacheStats() ReadCacheStats {
	c := s.cache
	if c == nil {
		return ReadCacheStats{}
	}
	c.mu.RLock()
	n := len(c.entries)
	c.mu.RUnlock()
	return ReadCacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Entries: n}
}

// CachedApplicationJSON is Application as the API answers it (JSON ending
// in a newline), served from the read cache when this process read it
// less than the cache's TTL ago and saw no change to it since. Scope is
// checked on every call. Without a cache it reads the database.
func (s *Service) CachedApplicationJSON(ctx context.Context, sc Scope, id string) ([]byte, error) {
	if s.cache == nil {
		a, err := s.Application(ctx, sc, id)
		if err != nil {
			return nil, err
		}
		return encodeApplication(a.API())
	}
	// Entries are kept under the id's canonical form, as changes drop them.
	u, ok := ids.Parse(id)
	if !ok {
		return nil, errs.E(errs.NotFound, "no application %s", id)
	}
	id = u.String()
	now := time.Now() // the TTL is wall-clock time, whatever s.now says
	e, gen, ok := s.cache.get(id, now)
	if !ok {
		// Read the whole application, whatever the scope, so the entry
		// serves every caller; the scope is checked below.
		a, err := s.Application(ctx, Scope{}, id)
		if err != nil {
			return nil, err
		}
		body, err := encodeApplication(a.API())
		if err != nil {
			return nil, err
		}
		e = cachedApplication{app: a, body: body, expires: now.Add(s.cache.ttl)}
		s.cache.put(id, gen, e)
	}
	if !sc.allows(e.app) {
		return nil, errs.E(errs.NotFound, "no application %s", id)
	}
	return e.body, nil
}

// encodeApplication encodes a as the API's JSON encoder does (HTML left
// unescaped, a newline at the end).
func encodeApplication(a Application) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		return nil, errs.Wrap(errs.Internal, err, "encode application")
	}
	return buf.Bytes(), nil
}

// API is a as the API answers it: its verification report with each
// check's name, result and reason in English, as the bank receives it,
// but without the reason's code and arguments, which only the pages need
// (they word the reason in the reader's language from the stored report).
// Left in, they would add about 700 bytes to every answer, and take a
// read's answer past the 4 KiB net/http writes in one system call.
// A report that does not read as one is left as it is.
func (a Application) API() Application {
	if len(a.Verification) == 0 {
		return a
	}
	var r contracts.Report
	if err := json.Unmarshal(a.Verification, &r); err != nil {
		return a
	}
	for i := range r.Checks {
		r.Checks[i].Code, r.Checks[i].Args = "", nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return a
	}
	a.Verification = b
	return a
}
