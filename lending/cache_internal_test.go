package lending

import (
	"testing"
	"time"
)

// TestReadCacheRefusesWhatARaceRead: a read that took its generation before
// a change and stores after it must not be kept, whatever the order of the
// change's drop and the store.
func TestReadCacheRefusesWhatARaceRead(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := newReadCache(time.Hour, 8)
	old := cachedApplication{app: Application{ID: "a", Status: Submitted}, body: []byte("old"), expires: now.Add(time.Hour)}

	_, gen, ok := c.get("a", now)
	if ok {
		t.Fatal("an empty cache answered")
	}
	c.drop("a") // the change commits while the read is under way
	c.put("a", gen, old)
	if _, _, ok := c.get("a", now); ok {
		t.Fatal("the cache kept what a read begun before a change read")
	}

	_, gen, _ = c.get("a", now)
	c.put("a", gen, old)
	if e, _, ok := c.get("a", now); !ok || string(e.body) != "old" {
		t.Fatal("an undisturbed read was not kept")
	}
	c.drop("a")
	if _, _, ok := c.get("a", now); ok {
		t.Fatal("drop left the entry")
	}
	if _, _, ok := c.get("a", now.Add(2*time.Hour)); ok {
		t.Fatal("an expired entry answered")
	}
}

// TestReadCacheStaysBounded: a full cache makes room and never holds more
// than its bound.
func TestReadCacheStaysBounded(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := newReadCache(time.Hour, 64)
	for i := 0; i < 1000; i++ {
		id := string(rune('a'+i%26)) + time.Duration(i).String()
		_, gen, _ := c.get(id, now)
		c.put(id, gen, cachedApplication{expires: now.Add(time.Hour)})
		if len(c.entries) > 64 {
			t.Fatalf("%d entries, bound 64", len(c.entries))
		}
	}
	if len(c.entries) < 48 {
		t.Fatalf("%d entries after filling: eviction dropped too much", len(c.entries))
	}
}
