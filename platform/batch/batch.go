// Package batch owns the queue of group commit: requests add their work to
// a Queue, and a few writers, started when work arrives and gone when the
// queue is empty, each take what is queued (up to MaxBatch items, in the
// order they came) and hand it to Write, which does it in one transaction
// and answers every item. lending's intake and banking's inbox use it; what
// a batch does, and how its items learn their answers, is theirs.
package batch

import "sync"

// Queue is a group-commit queue of items of type T. Set Writers (at least
// one), MaxBatch (at least one) and Write before the first Add; the zero
// value is not ready.
type Queue[T any] struct {
	Writers  int       // writers at most at once
	MaxBatch int       // items a batch takes at most
	Write    func([]T) // does a batch and answers each of its items; it recovers from its own panics

	mu      sync.Mutex
	items   []T
	running int
}

// Add queues it, and starts a writer if fewer than Writers are at work.
func (q *Queue[T]) Add(it T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, it)
	if q.running < max(q.Writers, 1) {
		q.running++
		go q.work()
	}
}

// work writes batches until the queue is empty, then ends.
func (q *Queue[T]) work() {
	for {
		q.mu.Lock()
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
	}
}
