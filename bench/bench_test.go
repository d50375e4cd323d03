package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"procfin/contracts"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestPercentile(t *testing.T) {
	t.Parallel()
	var hundred []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		hundred = append(hundred, ms(i))
	}
	cases := []struct {
		name    string
		samples []time.Duration
		want    Latency
	}{
		{"None", nil, Latency{}},
		{"One", []time.Duration{ms(7)}, Latency{P50: 7, P90: 7, P99: 7, Max: 7}},
		{"Two", []time.Duration{ms(3), ms(1)}, Latency{P50: 1, P90: 3, P99: 3, Max: 3}},
		{"Hundred", hundred, Latency{P50: 50, P90: 90, P99: 99, Max: 100}},
		{"Ten", []time.Duration{ms(10), ms(1), ms(2), ms(3), ms(4), ms(5), ms(6), ms(7), ms(8), ms(9)},
			Latency{P50: 5, P90: 9, P99: 10, Max: 10}},
		{"Microseconds", []time.Duration{1500 * time.Microsecond, 250*time.Microsecond + 400},
			Latency{P50: 0.25, P90: 1.5, P99: 1.5, Max: 1.5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := summarize(tc.samples); got != tc.want {
				t.Fatalf("summarize = %+v, want %+v", got, tc.want)
			}
		})
	}
	// Nearest rank on 1000 samples: p99 is the 990th.
	var thousand []time.Duration
	for i := 1; i <= 1000; i++ {
		thousand = append(thousand, time.Duration(i)*time.Microsecond)
	}
	if got := percentile(thousand, 99); got != 990*time.Microsecond {
		t.Fatalf("p99 of 1..1000 µs = %s", got)
	}
	if got := percentile(thousand, 100); got != 1000*time.Microsecond {
		t.Fatalf("p100 = %s", got)
	}
}

func TestThroughputAndReport(t *testing.T) {
	t.Parallel()
	if got := throughput(1234, 2*time.Second); got != 617 {
		t.Fatalf("throughput = %v", got)
	}
	if got := throughput(10, 0); got != 0 {
		t.Fatalf("throughput over no time = %v", got)
	}
	l := newErrorLog()
	for _, k := range []string{"a", "b", "a", "c", "d", "e", "f", "a"} {
		l.add(errors.New(k))
	}
	r := (&loadResult{elapsed: 4 * time.Second, samples: []time.Duration{ms(2), ms(1)},
		requests: 10, errors: 8, successes: 2, errorLog: l}).report("read", "GET /x", "http://h", 3)
	if r.ThroughputPerS != 0.5 || r.DurationS != 4 || r.Requests != 10 || r.Errors != 8 {
		t.Fatalf("report %+v", r)
	}
	want := []ErrorCount{{"transport: a", 3, "a"}, {"transport: b", 1, "b"}, {"transport: c", 1, "c"},
		{"transport: d", 1, "d"}, {"transport: e", 1, "e"}}
	if fmt.Sprint(r.FirstErrors) != fmt.Sprint(want) {
		t.Fatalf("first errors %v, want %v", r.FirstErrors, want)
	}
	text := r.Text()
	for _, s := range []string{"0.5 successful requests/s", "p50 1.000", "3 × transport: a", "10 (8 errors)"} {
		if !strings.Contains(text, s) {
			t.Fatalf("text report lacks %q:\n%s", s, text)
		}
	}
}

func TestErrorKind(t *testing.T) {
	t.Parallel()
	if k := errorKind(&HTTPError{Method: "POST", Path: "/p", Status: 422, Type: "verification_failed", Detail: "x"}); k != "422 verification_failed" {
		t.Fatal(k)
	}
	if k := errorKind(&HTTPError{Status: 502}); k != "502" {
		t.Fatal(k)
	}
	if k := errorKind(errors.New("connection refused")); k != "transport: connection refused" {
		t.Fatal(k)
	}
}

func TestParseArgs(t *testing.T) {
	t.Parallel()
	c, err := ParseArgs([]string{"--scenario", "read", "--target", "http://127.0.0.1:18080/"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Target != "http://127.0.0.1:18080" || c.Clients != 1 || c.Duration != 10*time.Second || c.Count != 0 ||
		c.AdminUser != "admin" || c.AdminPassword != "procfin-demo-admin" || c.JSON {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = ParseArgs(strings.Fields("--scenario intake --clients 32 --duration 1m --count 500 --warmup 2s --json --admin-user root --admin-password secret-1234"))
	if err != nil || c.Clients != 32 || c.Duration != time.Minute || c.Count != 500 || c.Warmup != 2*time.Second ||
		!c.JSON || c.AdminUser != "root" || c.AdminPassword != "secret-1234" {
		t.Fatalf("%+v %v", c, err)
	}
	bad := []struct{ args, want string }{
		{"--scenario writes", `unknown scenario "writes": one of events, intake, read, read-db, roundtrip`},
		{"--clients 4", "--scenario is required: one of events, intake, read, read-db, roundtrip"},
		{"--scenario read --clients 0", "--clients must be at least 1"},
		{"--scenario read --clients -3", "--clients must be at least 1"},
		{"--scenario read --duration 11m", "--duration must be at most 10m0s"},
		{"--scenario read --duration 0s", "--duration must be positive"},
		{"--scenario read --count -1", "--count must not be negative"},
		{"--scenario read --target localhost:8080", "--target must be an absolute http(s) URL"},
		{"--scenario read --clients many", "invalid value"},
		{"--scenario read extra", `unexpected argument "extra"`},
	}
	for _, tc := range bad {
		_, err := ParseArgs(strings.Fields(tc.args))
		var u *UsageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want a usage error with %q", tc.args, err, tc.want)
		}
	}
	// Help is the caller's to print, from Flags; Run prints nothing.
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"--help"}, &out); !errors.Is(err, flag.ErrHelp) || out.Len() != 0 {
		t.Fatalf("help: %v %q", err, out.String())
	}
	if f := Flags(new(Config)).Lookup("scenario"); f == nil || !strings.Contains(f.Usage, "read-db") {
		t.Fatalf("--scenario: %+v", f)
	}
}

func TestUSCCs(t *testing.T) {
	t.Parallel()
	g := newUSCCGen()
	seen := map[string]bool{}
	for range 200 {
		u, err := g.next()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := contracts.ParseUSCC(u); err != nil || seen[u] || len(u) != 18 {
			t.Fatalf("%s: %v (seen %v)", u, err, seen[u])
		}
		seen[u] = true
	}
}

func TestAnchorJSON(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := Run(context.Background(), strings.Fields("--scenario anchor --clients 2 --duration 1s --json"), &out)
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("not pure JSON: %v\n%s", err, out.String())
	}
	lat, _ := rep["latency_ms"].(map[string]any)
	tp, _ := rep["throughput_per_s"].(float64)
	if rep["scenario"] != "anchor" || rep["clients"] != 2.0 || tp <= 0 || rep["errors"] != 0.0 ||
		rep["requests"].(float64) < 1 || lat["p50"].(float64) <= 0 || lat["max"].(float64) < lat["p99"].(float64) {
		t.Fatalf("report %s", out.String())
	}
	if d := rep["duration_s"].(float64); d < 1 || d > 2 {
		t.Fatalf("duration_s %v", d)
	}
}

func TestCountStopsTheRun(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := Run(context.Background(), strings.Fields("--scenario anchor --clients 3 --duration 5s --count 50"), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "requests    50 (0 errors)") || !strings.Contains(out.String(), "setup: minimal Gin server") {
		t.Fatalf("text report:\n%s", out.String())
	}
}

// TestRoutesMissing: against a server without the lending and banking
// routes, the scenarios that need them say so.
func TestRoutesMissing(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(404)
		w.Write([]byte(`{"type":"not_found","title":"Not found","status":404}`))
	}))
	defer srv.Close()
	cases := map[string]string{
		"events":    "scenario events needs the banking routes (POST /v1/bank-events)",
		"roundtrip": "scenario roundtrip needs the banking routes (POST /v1/bank-events)",
		"intake":    "scenario intake needs the lending routes (POST /v1/credit-applications)",
	}
	for name, want := range cases {
		cfg, err := ParseArgs([]string{"--scenario", name, "--target", srv.URL, "--duration", "1s"})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Execute(context.Background(), cfg, nil)
		if rep != nil || err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
}

// TestErrorsAreCounted: a target answering problems is measured, and its
// errors reported by status and type.
func TestErrorsAreCounted(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(503)
		w.Write([]byte(`{"type":"unavailable","status":503,"detail":"down","errors":[{"field":"f","code":"c","message":"m"}]}`))
	}))
	defer srv.Close()
	env := newEnv(Config{Target: srv.URL, Clients: 2}, nil)
	sc := &anchor{env: env} // its Do against a server that fails
	res := load(context.Background(), sc, loadSpec{clients: 2, duration: time.Second, count: 20})
	rep := res.report("x", "GET /ok", srv.URL, 2)
	if rep.Requests != 20 || rep.Errors != 20 || rep.ThroughputPerS != 0 ||
		len(rep.FirstErrors) != 1 || rep.FirstErrors[0] != (ErrorCount{"503 unavailable", 20, "GET /ok: 503 unavailable: down; f: m (c)"}) {
		t.Fatalf("%+v", rep)
	}
}
