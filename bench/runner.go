package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// loadSpec bounds one load phase: it ends at duration, after count requests
// (when count > 0), or when ctx ends, whichever comes first. A request
// started before the end is waited for and counted.
type loadSpec struct {
	clients  int
	duration time.Duration
	count    int64
	progress io.Writer // nil: no progress lines
}

// loadResult is what a load phase measured.
type loadResult struct {
	elapsed   time.Duration
	samples   []time.Duration // every completed request's latency
	errors    int64
	errorLog  *errorLog
	requests  int64
	successes int64
}

// errorLog counts errors by kind, remembering the order kinds first came.
type errorLog struct {
	mu      sync.Mutex
	order   []string
	count   map[string]int64
	example map[string]string
}

func newErrorLog() *errorLog {
	return &errorLog{count: map[string]int64{}, example: map[string]string{}}
}

func (l *errorLog) add(err error) {
	kind := errorKind(err)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, seen := l.count[kind]; !seen {
		l.order = append(l.order, kind)
		l.example[kind] = err.Error()
	}
	l.count[kind]++
}

func (l *errorLog) first(n int) []ErrorCount {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []ErrorCount{}
	for _, k := range l.order {
		if len(out) == n {
			break
		}
		out = append(out, ErrorCount{Error: k, Count: l.count[k], Example: l.example[k]})
	}
	return out
}

// load runs spec.clients workers calling sc.Do until the phase ends.
func load(ctx context.Context, sc Scenario, spec loadSpec) *loadResult {
	var (
		issued, done, failed atomic.Int64
		wg                   sync.WaitGroup
		log                  = newErrorLog()
		perWorker            = make([][]time.Duration, spec.clients)
	)
	start := time.Now()
	deadline := start.Add(spec.duration)
	for w := range spec.clients {
		wg.Go(func() {
			samples := make([]time.Duration, 0, 1024)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if spec.count > 0 && issued.Add(1) > spec.count {
					break
				}
				t0 := time.Now()
				err := sc.Do(ctx, w)
				lat := time.Since(t0)
				if err != nil && ctx.Err() != nil {
					break // cut short by the caller: not the server's doing
				}
				samples = append(samples, lat)
				done.Add(1)
				if err != nil {
					failed.Add(1)
					log.add(err)
				}
			}
			perWorker[w] = samples
		})
	}
	stopProgress := make(chan struct{})
	var progressDone sync.WaitGroup
	if spec.progress != nil {
		progressDone.Go(func() {
			t := time.NewTicker(ProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-stopProgress:
					return
				case now := <-t.C:
					el := now.Sub(start)
					n := done.Load()
					fmt.Fprintf(spec.progress, "progress: %3.0f s  %d requests  %.1f/s  %d errors\n",
						el.Seconds(), n, float64(n)/el.Seconds(), failed.Load())
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopProgress)
	progressDone.Wait()

	total := 0
	for _, s := range perWorker {
		total += len(s)
	}
	all := make([]time.Duration, 0, total)
	for _, s := range perWorker {
		all = append(all, s...)
	}
	return &loadResult{
		elapsed: elapsed, samples: all, errors: failed.Load(), errorLog: log,
		requests: done.Load(), successes: done.Load() - failed.Load(),
	}
}

func (r *loadResult) report(scenario, route, target string, clients int) *Report {
	return &Report{
		Scenario:       scenario,
		Route:          route,
		Target:         target,
		Clients:        clients,
		Requests:       r.requests,
		Errors:         r.errors,
		DurationS:      float64(r.elapsed.Milliseconds()) / 1000,
		ThroughputPerS: throughput(r.successes, r.elapsed),
		LatencyMS:      summarize(r.samples),
		FirstErrors:    r.errorLog.first(maxErrorKinds),
	}
}
