package batch_test

import (
	"slices"
	"testing"
	"time"

	"procfin/platform/batch"
)

// lingerQueue is a queue of ints that lingers an hour for fill items; each
// batch is sent on batches and waits for gate before it returns.
func lingerQueue(fill int) (q *batch.Queue[int], batches chan []int, gate chan struct{}, lingering chan struct{}) {
	batches, gate, lingering = make(chan []int, 16), make(chan struct{}), make(chan struct{}, 16)
	q = &batch.Queue[int]{Writers: 1, MaxBatch: 16, Linger: time.Hour, Fill: fill}
	q.Write = func(b []int) {
		batches <- slices.Clone(b)
		<-gate
	}
	batch.OnLinger(q, func() { lingering <- struct{}{} })
	return q, batches, gate, lingering
}

// next is the next batch written; a writer that never writes fails the
// test (after a minute: a liveness bound, not a measure of speed).
func next(t *testing.T, batches chan []int) []int {
	t.Helper()
	select {
	case b := <-batches:
		return b
	case <-time.After(time.Minute):
		t.Fatal("no batch was written")
		return nil
	}
}

func TestLoneItemNeverLingers(t *testing.T) {
	t.Parallel()
	q, batches, gate, lingering := lingerQueue(8)
	defer close(gate)
	for i := range 3 { // a writer starts on each: the queue was empty
		q.Add(i)
		if b := next(t, batches); !slices.Equal(b, []int{i}) {
			t.Fatalf("batch %v, want [%d]", b, i)
		}
		gate <- struct{}{}
	}
	// A writer that wrote a batch of one goes on without waiting.
	q.Add(10)
	next(t, batches)
	q.Add(11)
	gate <- struct{}{}
	if b := next(t, batches); !slices.Equal(b, []int{11}) {
		t.Fatalf("batch %v, want [11]", b)
	}
	gate <- struct{}{}
	if len(lingering) != 0 {
		t.Fatal("a writer lingered after batches of one")
	}
}

func TestWriterLingersAfterFullerBatch(t *testing.T) {
	t.Parallel()
	q, batches, gate, lingering := lingerQueue(3)
	defer close(gate)
	q.Add(1)
	if b := next(t, batches); !slices.Equal(b, []int{1}) {
		t.Fatalf("batch %v, want [1]", b)
	}
	q.Add(2) // queued while the writer is busy
	q.Add(3)
	gate <- struct{}{}
	if b := next(t, batches); !slices.Equal(b, []int{2, 3}) {
		t.Fatalf("batch %v, want [2 3]", b)
	}
	q.Add(4)
	gate <- struct{}{} // the writer finds one item after a batch of two: it lingers
	select {
	case <-lingering:
	case b := <-batches:
		t.Fatalf("batch %v written without lingering", b)
	}
	q.Add(5)
	select {
	case b := <-batches:
		t.Fatalf("batch %v written with fewer than Fill items while lingering", b)
	default:
	}
	q.Add(6)
	if b := next(t, batches); !slices.Equal(b, []int{4, 5, 6}) {
		t.Fatalf("batch %v, want [4 5 6]", b)
	}
	gate <- struct{}{}
}

func TestLingerEnds(t *testing.T) {
	t.Parallel()
	batches, gate := make(chan []int, 16), make(chan struct{})
	defer close(gate)
	q := &batch.Queue[int]{Writers: 1, MaxBatch: 16, Linger: time.Millisecond, Fill: 8}
	q.Write = func(b []int) {
		batches <- slices.Clone(b)
		<-gate
	}
	q.Add(1)
	next(t, batches)
	q.Add(2)
	q.Add(3)
	gate <- struct{}{}
	next(t, batches)
	q.Add(4)
	gate <- struct{}{} // lingers for 8, gets 1: written when the millisecond is up
	if b := next(t, batches); !slices.Equal(b, []int{4}) {
		t.Fatalf("batch %v, want [4]", b)
	}
	gate <- struct{}{}
}
