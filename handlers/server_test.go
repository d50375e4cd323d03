package handlers

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestUnknownRouteIsProblem(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := wantProblem(t, e.do("GET", "/v1/nope", "", nil), http.StatusNotFound, "not_found")
	if p["instance"] != "/v1/nope" || p["request_id"] == "" {
		t.Fatalf("problem lacks instance or request id: %v", p)
	}
}

func TestWrongMethodIsProblem(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("DELETE", "/v1/me", "", nil)
	wantProblem(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	if r.header.Get("Allow") != "GET" {
		t.Fatalf("Allow = %q, want GET", r.header.Get("Allow"))
	}
}

func TestRequestIDEchoed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("GET", "/healthz", "", nil, "X-Request-Id", "abc-123")
	if got := r.header.Get("X-Request-Id"); got != "abc-123" {
		t.Fatalf("X-Request-Id = %q, want the caller's", got)
	}
	r = e.do("GET", "/healthz", "", nil, "X-Request-Id", "bad id with spaces\n")
	if got := r.header.Get("X-Request-Id"); got == "" || strings.Contains(got, " ") {
		t.Fatalf("X-Request-Id = %q, want a fresh one", got)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if r := e.do("GET", "/healthz", "", nil); r.status != 200 {
		t.Fatalf("healthz %d", r.status)
	}
	if r := e.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Fatalf("readyz %d %s", r.status, r.body)
	}
	e.db.Close() // the database goes away
	wantProblem(t, e.do("GET", "/readyz", "", nil), http.StatusServiceUnavailable, "unavailable")
	if r := e.do("GET", "/healthz", "", nil); r.status != 200 {
		t.Fatalf("healthz without database %d, want 200 (liveness)", r.status)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do("GET", "/healthz", "", nil)
	e.do("GET", "/v1/nope", "", nil)
	body := string(e.metrics())
	for _, want := range []string{
		`procfin_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`procfin_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`procfin_http_request_duration_seconds_bucket{method="GET",route="/healthz",status="200"`,
		`go_sql_max_open_connections{db_name="procfin"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestPanicIsInternalProblemWithoutDetails(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(requestIDs(), recovery())
	r.GET("/boom", func(c *gin.Context) { panic("secret stack detail") })
	w := &recorder{header: http.Header{}}
	req, _ := http.NewRequest("GET", "/boom", nil)
	r.ServeHTTP(w, req)
	if w.status != 500 || !strings.Contains(w.body.String(), `"type":"internal"`) || strings.Contains(w.body.String(), "secret") {
		t.Fatalf("panic answered %d %s", w.status, w.body.String())
	}
}

func TestOversizeBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tok := e.user("root", "admin", "")
	big := `{"username":"` + strings.Repeat("a", 2<<20) + `"}`
	before := e.count("users")
	wantProblem(t, e.do("POST", "/v1/admin/users", tok, big), http.StatusRequestEntityTooLarge, "body_too_large")
	// Without Content-Length up front, the limit still holds while reading.
	wantProblem(t, e.do("POST", "/v1/auth/token", "", struct{ io.Reader }{strings.NewReader(big)}), http.StatusRequestEntityTooLarge, "body_too_large")
	if e.count("users") != before {
		t.Fatal("an oversize request changed something")
	}
}
