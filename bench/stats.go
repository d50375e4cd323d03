package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Latency is a latency summary in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// ErrorCount is one kind of error ("422 verification_failed", "transport:
// connection refused"), how often it happened, and the first one of the
// kind in full (its detail and field errors).
type ErrorCount struct {
	Error   string `json:"error"`
	Count   int64  `json:"count"`
	Example string `json:"example"`
}

// Report is the outcome of a run. Requests counts every completed request,
// errors included; ThroughputPerS counts only the successful ones; the
// latency percentiles are over every completed request.
type Report struct {
	Scenario       string       `json:"scenario"`
	Route          string       `json:"route"`
	Target         string       `json:"target"`
	Clients        int          `json:"clients"`
	Requests       int64        `json:"requests"`
	Errors         int64        `json:"errors"`
	DurationS      float64      `json:"duration_s"`
	ThroughputPerS float64      `json:"throughput_per_s"`
	LatencyMS      Latency      `json:"latency_ms"`
	FirstErrors    []ErrorCount `json:"first_errors"`
}

// maxErrorKinds is how many distinct errors a report names.
const maxErrorKinds = 5

// percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of sorted:
// the smallest sample with at least p% of the samples at or below it. It
// is 0 for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

// summarize sorts samples in place and summarises them.
func summarize(samples []time.Duration) Latency {
	slices.Sort(samples)
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 } // to the µs
	l := Latency{
		P50: ms(percentile(samples, 50)),
		P90: ms(percentile(samples, 90)),
		P99: ms(percentile(samples, 99)),
	}
	if len(samples) > 0 {
		l.Max = ms(samples[len(samples)-1])
	}
	return l
}

// throughput is successes per second of elapsed, rounded to 0.1.
func throughput(successes int64, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return math.Round(float64(successes)/elapsed.Seconds()*10) / 10
}

// Text is the report for a terminal.
func (r *Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario    %s: %s at %s\n", r.Scenario, r.Route, r.Target)
	fmt.Fprintf(&b, "clients     %d\n", r.Clients)
	fmt.Fprintf(&b, "duration    %.2f s\n", r.DurationS)
	fmt.Fprintf(&b, "requests    %d (%d errors)\n", r.Requests, r.Errors)
	fmt.Fprintf(&b, "throughput  %.1f successful requests/s\n", r.ThroughputPerS)
	fmt.Fprintf(&b, "latency ms  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n",
		r.LatencyMS.P50, r.LatencyMS.P90, r.LatencyMS.P99, r.LatencyMS.Max)
	if len(r.FirstErrors) > 0 {
		fmt.Fprintf(&b, "errors      (first %d kinds)\n", len(r.FirstErrors))
		for _, e := range r.FirstErrors {
			fmt.Fprintf(&b, "  %8d × %s\n", e.Count, e.Error)
			if e.Example != "" {
				fmt.Fprintf(&b, "             e.g. %s\n", e.Example)
			}
		}
	}
	return b.String()
}
