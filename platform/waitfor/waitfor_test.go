package waitfor

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// A condition another goroutine makes true is seen; one that never holds
// is given up on after the time given, and the test fails naming it.
func TestWithin(t *testing.T) {
	t.Parallel()
	var set atomic.Bool
	go func() { time.Sleep(20 * time.Millisecond); set.Store(true) }() // the other party takes its time
	if !Within(5*time.Second, set.Load) {
		t.Fatal("a condition that came true was not seen")
	}
	tries := 0
	if Within(30*time.Millisecond, func() bool { tries++; return false }) {
		t.Fatal("a condition that never held was reported")
	}
	if tries < 2 {
		t.Fatalf("%d tries in 30 ms, want it polled", tries)
	}

	var ft fakeTB
	done := make(chan struct{})
	go func() { defer close(done); True(&ft, 10*time.Millisecond, "the moon", func() bool { return false }) }()
	<-done
	if ft.failed != "waited 10ms for the moon" {
		t.Fatalf("failure %q", ft.failed)
	}
}

// fakeTB records how True fails a test; its Fatalf ends the goroutine, as
// testing's does.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
