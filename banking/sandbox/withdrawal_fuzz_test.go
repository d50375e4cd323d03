package sandbox

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzParseWithdrawal: whatever the body and path, parsing a withdrawal
// never panics, and one it takes names the path's application, a reason of
// the protocol and an instant.
func FuzzParseWithdrawal(f *testing.F) {
	f.Add([]byte(`{"application_id":"a-1","withdrawn_at":"2026-11-21T02:00:00Z","reason":"cancelled_by_supplier"}`), "a-1")
	f.Add([]byte(`{"application_id":"A-1","withdrawn_at":"2026-11-21T02:00:00+08:00","reason":"consent_revoked"}`), "a-1")
	f.Add([]byte(`{"application_id":"a-1","withdrawn_at":"yesterday","reason":"consent_revoked"}`), "a-1")
	f.Add([]byte(`{"application_id":null,"reason":7}`), "")
	f.Add([]byte(`[]`), "x")
	f.Add([]byte(`{"application_id":"a-1",`), "a-1")
	f.Fuzz(func(t *testing.T, body []byte, pathID string) {
		m, status, detail := parseWithdrawal(body, pathID)
		switch status {
		case 0:
			if m.ApplicationID == "" || !strings.EqualFold(m.ApplicationID, pathID) || m.WithdrawnAt.IsZero() ||
				(m.Reason != WithdrawnByCancel && m.Reason != WithdrawnByConsent) || detail != "" {
				t.Fatalf("took %q for %q: %+v", body, pathID, m)
			}
		case http.StatusBadRequest, http.StatusUnprocessableEntity:
			if detail == "" {
				t.Fatalf("refused %q with no reason", body)
			}
		default:
			t.Fatalf("status %d for %q", status, body)
		}
	})
}
