// Package batch owns the queue of group commit: requests add their work to
// a Queue, and a few writers, started when work arrives and gone when the
// queue is empty, each take what is queued (up to MaxBatch items, in the
// order they came) and hand it to Write, which does it in one transaction
// and answers every item. lending's intake and banking's inbox use it; what
// a batch does, and how its items learn their answers, is theirs.
//
// A queue may also linger: a writer that has just written a batch of two
// or more (items are arriving side by side) and finds fewer than Fill
// waiting may wait up to Linger for more. Under load a fuller batch costs
// less per item (its statements, its commit), and the wait costs nothing
// while the processor has other requests to serve; a writer that starts
// on a lone item never waits.
package batch

import (
	"sync"
	"time"
)

// Queue is a group-commit queue of items of type T. Set Writers (at least
// one), MaxBatch (at least one) and Write before the first Add; the zero
// value is not ready.
type Queue[T any] struct {
	Writers  int       // writers at most at once
	MaxBatch int       // items a batch takes at most
	Write    func([]T) // does a batch and answers each of its items; it recovers from its own panics

	// Linger is how long a writer whose last batch had two items or more
	// may wait for Fill items to be queued; zero: it never waits.
	Linger time.Duration
	Fill   int

	mu       sync.Mutex
	items    []T
	running  int
	arrived  chan struct{} // signalled by Add, for a lingering writer
	lingered func()        // tests: called as a writer starts to linger
}

// Add queues it, and starts a writer if fewer than Writers are at work.
func (q *Queue[T]) Add(it T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, it)
	if q.arrived != nil {
		select {
		case q.arrived <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
	if q.running < max(q.Writers, 1) {
		q.running++
		go q.work()
	}
}

// work writes batches until the queue is empty, then ends.
func (q *Queue[T]) work() {
	var timer *time.Timer
	fill := min(q.Fill, max(q.MaxBatch, 1))
	last := 0 // the size of this writer's last batch
	for {
		q.mu.Lock()
		if last > 1 && q.Linger > 0 && len(q.items) > 0 && len(q.items) < fill {
			if timer == nil {
				timer = time.NewTimer(q.Linger)
			} else {
				timer.Reset(q.Linger)
			}
			q.linger(fill, timer)
		}
		n := min(len(q.items), max(q.MaxBatch, 1))
		if n == 0 {
			q.running--
			q.mu.Unlock()
			return
		}
		batch := make([]T, n)
		copy(batch, q.items)
		q.items = append(q.items[:0], q.items[n:]...)
		clear(q.items[len(q.items) : len(q.items)+n]) // let the taken items go
		q.mu.Unlock()
		q.Write(batch)
		last = n
	}
}

// linger waits until fill items are queued or timer fires. It is called
// and returns with q.mu held, and releases it while it waits.
func (q *Queue[T]) linger(fill int, timer *time.Timer) {
	if q.arrived == nil {
		q.arrived = make(chan struct{}, 1)
	}
	arrived := q.arrived
	if q.lingered != nil {
		q.lingered()
	}
	for len(q.items) < fill {
		q.mu.Unlock()
		select {
		case <-arrived:
			q.mu.Lock()
		case <-timer.C:
			q.mu.Lock()
			return
		}
	}
	timer.Stop()
}
