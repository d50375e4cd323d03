// Package waitfor lets a test wait until what another goroutine or process
// does has happened, by polling a condition, instead of sleeping for a time
// guessed to be long enough. It is for tests only.
package waitfor

import (
	"testing"
	"time"
)

// Within polls cond until it holds or within has passed, and reports
// whether it held. It tries at once, then after 1 ms, doubling the pause up
// to 100 ms.
func Within(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	pause := time.Millisecond
	for {
		if cond() {
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
		time.Sleep(min(pause, time.Until(deadline)))
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// True polls cond as Within does and fails tb, naming what it waited for,
// unless cond holds within the time given.
func True(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !Within(within, cond) {
		tb.Fatalf("waited %v for %s", within, what)
	}
}
