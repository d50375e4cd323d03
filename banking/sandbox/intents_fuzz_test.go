package sandbox

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzParseIntent: whatever the body, parsing a financing intent never
// panics, and one it takes has an intent id, a respond_by after its
// publication and a need: an amount above zero in CNY for 1 to 3650 days.
func FuzzParseIntent(f *testing.F) {
	f.Add(intentBody("i-1", "800000.00", 180, "2026-11-24T02:00:00Z"))
	f.Add([]byte(`{"intent_id":"i","published_at":"2026-11-21T01:00:00Z","respond_by":"2026-11-24T02:00:00Z","request":{"amount":"1.00","currency":"CNY","term_days":1,"purpose":""}}`))
	f.Add([]byte(`{"intent_id":"i","published_at":"2026-11-21T01:00:00Z","respond_by":"2026-11-24T02:00:00Z","request":{"amount":1,"currency":"CNY","term_days":1}}`))
	f.Add([]byte(`{"intent_id":"i","supplier":null,"award":{"amount":"-1"},"contract":{"payment_terms":[{}]},"verification":{"checks":[{}]}}`))
	f.Add([]byte(`{"intent_id":"i","extra":1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"intent_id":"\u0000"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, status, detail := parseIntent(body)
		switch status {
		case 0:
			r := m.Request
			if m.IntentID == "" || !m.RespondBy.After(m.PublishedAt) || r == nil || r.Amount == nil || !r.Amount.IsPositive() ||
				r.Currency != "CNY" || r.TermDays < 1 || r.TermDays > maxTermDays || detail != "" {
				t.Fatalf("took %q: %+v", body, m)
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

// FuzzParseDecision: whatever the body and path, parsing a decision never
// panics, and one it takes names the path's intent and a decision of the
// protocol, accepted with its offer and application.
func FuzzParseDecision(f *testing.F) {
	f.Add(decisionBody("i-1", DecisionAccepted, "SBX-O-1", "a-1"), "i-1")
	f.Add(decisionBody("i-1", DecisionDeclined, "", ""), "I-1")
	f.Add(decisionBody("i-1", DecisionExpired, "SBX-O-1", "a-1"), "i-1")
	f.Add([]byte(`{"intent_id":"i-1","decision":"cancelled","offer_id":null,"application_id":null,"x":1}`), "i-1")
	f.Add([]byte(`{"intent_id":7}`), "")
	f.Fuzz(func(t *testing.T, body []byte, pathID string) {
		m, status, detail := parseDecision(body, pathID)
		switch status {
		case 0:
			ok := m.IntentID != "" && strings.EqualFold(m.IntentID, pathID) && detail == ""
			switch m.Decision {
			case DecisionAccepted:
				ok = ok && m.OfferID != nil && m.ApplicationID != nil
			case DecisionDeclined, DecisionExpired, DecisionCancelled:
				ok = ok && m.ApplicationID == nil
			default:
				ok = false
			}
			if !ok {
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
