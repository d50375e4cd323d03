package web

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a buffer that the server's goroutines write to safely.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// routes returns the route of each logged request to path, in order.
func (b *syncBuffer) routes(t *testing.T, path string) []string {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for line := range strings.Lines(b.buf.String()) {
		var rec struct {
			Msg   string `json:"msg"`
			Path  string `json:"path"`
			Route string `json:"route"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec.Msg == "request" && rec.Path == path {
			out = append(out, rec.Route)
		}
	}
	return out
}

// TestAccessLogPageRoutes: web pages are logged (and counted) under their
// route's pattern, not "unmatched"; a page that does not exist still is.
func TestAccessLogPageRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	c.login("quancheng")
	contract := "/portal/contracts/" + e.contract[quancheng]
	wantStatus(t, c.get(contract), 200)
	wantStatus(t, c.get("/no/such/page"), 404)
	for path, want := range map[string]string{
		"/login":        "/login",
		contract:        "/portal/contracts/{id}",
		"/no/such/page": "unmatched",
	} {
		got := e.logs.routes(t, path)
		if len(got) == 0 {
			t.Fatalf("no request to %s logged", path)
		}
		for _, r := range got {
			if r != want {
				t.Errorf("%s logged with route %q, want %q", path, r, want)
			}
		}
	}
}
