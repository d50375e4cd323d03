package handlers

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

var metricsReaders atomic.Int64

// metrics scrapes /metrics on the main address as an administrator.
func (e *env) metrics() string {
	e.t.Helper()
	_, admin := e.user(fmt.Sprintf("metrics-reader-%d", metricsReaders.Add(1)), "admin", "")
	r := e.do("GET", "/metrics", admin, nil)
	if r.status != http.StatusOK {
		e.t.Fatalf("/metrics as an administrator: %d %s", r.status, r.body)
	}
	return string(r.body)
}

// TestMetricsLabelsBounded: made-up methods, unknown paths and web pages
// add no series; every such request is counted under one label value.
func TestMetricsLabelsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	series := func(body string) int { // label sets of the request counter
		return strings.Count(body, "\nprocfin_http_requests_total{")
	}
	e.do("FOO0", "/healthz", "", nil)
	e.do("BAR0", "/v1/nope/0", "", nil)
	e.do("GET", "/no/such/page/0", "", nil)
	e.metrics() // the scrape's own series
	before := series(e.metrics())
	for i := 1; i <= 40; i++ {
		e.do(fmt.Sprintf("FOO%d", i), "/healthz", "", nil)
		e.do(fmt.Sprintf("BAR%d", i), fmt.Sprintf("/v1/nope/%d", i), "", nil)
		e.do("GET", fmt.Sprintf("/no/such/page/%d", i), "", nil)
	}
	body := e.metrics()
	if after := series(body); after != before {
		t.Fatalf("%d series before, %d after 120 requests with made-up methods and paths", before, after)
	}
	for _, want := range []string{
		`procfin_http_requests_total{method="other",route="unmatched",status="405"} 41`,
		`procfin_http_requests_total{method="other",route="unmatched",status="404"} 41`,
		`procfin_http_requests_total{method="GET",route="unmatched",status="404"} 41`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "FOO") || strings.Contains(body, "BAR") || strings.Contains(body, "/no/such") {
		t.Fatal("a client's method or path became a label value")
	}
}

// TestMetricsAdminsOnly: on the main address /metrics answers
// administrators only (the operators' address serves everyone: cmd/procfin).
func TestMetricsAdminsOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wantProblem(t, e.do("GET", "/metrics", "", nil), http.StatusUnauthorized, "unauthorized")
	_, supplier := e.user("sup", "supplier", usccA)
	wantProblem(t, e.do("GET", "/metrics", supplier, nil), http.StatusForbidden, "forbidden")
	_, officer := e.user("olga", "officer", "")
	wantProblem(t, e.do("GET", "/metrics", officer, nil), http.StatusForbidden, "forbidden")
	if body := e.metrics(); !strings.Contains(body, "procfin_http_requests_total") {
		t.Fatalf("an administrator's scrape: %s", body)
	}
}

// TestBankEventMetricsBounded: event types a bank makes up are counted as
// one label value, not one series each.
func TestBankEventMetricsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu := e.bank("qilu-bank")
	appID, _ := e.applied(qilu)
	for i := 0; i < 40; i++ {
		wantProblem(t, qilu.send(fmt.Sprintf("made-up-%d", i), fmt.Sprintf("made.up%d", i), appID, `{}`), http.StatusUnprocessableEntity, "invalid")
	}
	body := e.metrics()
	if !strings.Contains(body, `procfin_bank_events_total{bank="qilu-bank",outcome="invalid",type="other"} 40`) {
		t.Errorf("made-up event types not counted as other:\n%s", body)
	}
	if strings.Contains(body, "made.up") {
		t.Fatal("a bank's made-up event type became a label value")
	}
}
