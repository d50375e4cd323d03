package batch_test

import (
	"fmt"
	"sync"
	"testing"

	"procfin/platform/batch"
)

// TestQueueWritesEachItemOnceInBatches: items added from many goroutines
// are each written once, in batches of at most MaxBatch, by at most
// Writers writers at once; with one writer, in the order each goroutine
// added them (the inbox's shards rely on it).
func TestQueueWritesEachItemOnceInBatches(t *testing.T) {
	t.Parallel()
	for _, writers := range []int{1, 2} {
		t.Run(fmt.Sprintf("Writers%d", writers), func(t *testing.T) { testQueue(t, writers) })
	}
}

func testQueue(t *testing.T, writers int) {
	type item struct {
		from, n int
		done    chan struct{}
	}
	var (
		mu        sync.Mutex
		seen      = map[[2]int]int{}
		last      = map[int]int{}
		busy      int
		maxBusy   int
		oversize  bool
		unordered bool
	)
	q := &batch.Queue[*item]{Writers: writers, MaxBatch: 16}
	q.Write = func(b []*item) {
		mu.Lock()
		busy++
		maxBusy = max(maxBusy, busy)
		oversize = oversize || len(b) > 16 || len(b) == 0
		for _, it := range b {
			seen[[2]int{it.from, it.n}]++
			if prev, ok := last[it.from]; ok && prev > it.n {
				unordered = true
			}
			last[it.from] = it.n
		}
		mu.Unlock()
		mu.Lock()
		busy--
		mu.Unlock()
		for _, it := range b {
			close(it.done)
		}
	}
	const goroutines, each = 20, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range each {
				it := &item{from: g, n: n, done: make(chan struct{})}
				q.Add(it)
				if n%3 == 0 { // some wait for their answer, some do not
					<-it.done
				}
			}
		}()
	}
	wg.Wait()
	for { // the last items may still be in a writer's hands
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n == goroutines*each {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("item %v written %d times", k, c)
		}
	}
	if oversize || (writers == 1 && unordered) || maxBusy > writers {
		t.Fatalf("batches over 16 or empty: %v; out of order: %v; writers at once: %d (want at most %d)", oversize, unordered, maxBusy, writers)
	}
}
