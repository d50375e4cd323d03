package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncWriter is a log destination safe for concurrent handlers.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestSignatureRefusalTellsNothing: a message whose body does not match
// its hash and one addressed to another audience get the same problem,
// signature_invalid with one generic detail, on both kinds of signed
// route; which check failed goes to the log, with the request id.
func TestSignatureRefusalTellsNothing(t *testing.T) {
	// Not in parallel: it sets slog's default logger, the process's.
	var logs syncWriter
	saved := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
	e := newEnv(t) // its handlers log to logs
	slog.SetDefault(saved)
	qilu := e.bank("qilu-bank")
	appID, _ := e.applied(qilu)
	is := e.issuer("jinan-pprc-2")

	event := fmt.Sprintf(`{"event_id": "s1", "type": "application.received", "occurred_at": "2026-11-21T02:00:00Z", "application_id": %q, "data": {}}`, appID)
	for _, route := range []struct {
		path string
		sign func(url, aud string, body []byte) (string, error)
		body string
	}{
		{"/v1/bank-events", func(url, aud string, body []byte) (string, error) {
			return qilu.signer.Sign("POST", url, aud, body, time.Now())
		}, event},
		{"/v1/award-notices", func(url, aud string, body []byte) (string, error) {
			return is.signer.Sign("POST", url, aud, body, time.Now())
		}, noticeBody},
	} {
		t.Run(strings.ReplaceAll(route.path, "/", "_"), func(t *testing.T) {
			tampered, err := route.sign(base+route.path, "procfin", []byte(route.body+" "))
			if err != nil {
				t.Fatal(err)
			}
			otherAudience, err := route.sign(base+route.path, "someone-else", []byte(route.body))
			if err != nil {
				t.Fatal(err)
			}
			bodies := map[string]map[string]any{}
			for name, c := range map[string]struct{ header, reason, detail string }{
				"bsh": {tampered, "bsh", "body hash mismatch"},
				"aud": {otherAudience, "claims", "audience does not match"},
			} {
				reqID := "req-" + name + strings.ReplaceAll(route.path, "/", "-")
				p := wantProblem(t, e.do("POST", route.path, "", route.body, "Procfin-Signature", c.header, "X-Request-Id", reqID),
					http.StatusUnauthorized, "signature_invalid")
				if p["request_id"] != reqID {
					t.Fatalf("%s: request id %v", name, p["request_id"])
				}
				delete(p, "request_id")
				bodies[name] = p
				if !logged(logs.String(), reqID, c.reason, c.detail) {
					t.Errorf("%s: no log line with request id %s, reason %s and %q:\n%s", name, reqID, c.reason, c.detail, logs.String())
				}
			}
			a, _ := json.Marshal(bodies["bsh"])
			b, _ := json.Marshal(bodies["aud"])
			if !bytes.Equal(a, b) {
				t.Fatalf("the answers differ:\n%s\n%s", a, b)
			}
			if strings.Contains(string(a), "hash") || strings.Contains(string(a), "audience") {
				t.Fatalf("the answer tells which check failed: %s", a)
			}
		})
	}
}

// logged reports whether a JSON log line has the request id, the reason
// and the detail.
func logged(logs, reqID, reason, detail string) bool {
	for _, line := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if m["msg"] == "signed message rejected" && m["request_id"] == reqID && m["reason"] == reason && m["detail"] == detail {
			return true
		}
	}
	return false
}
