package banking_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"procfin/banking"
	"procfin/platform/errs"
)

// offerMade is an offer.made event on the intent.
func offerMade(eventID, intentID, offerID, amount string) []byte {
	return fmt.Appendf(nil, `{"event_id": %q, "type": "offer.made", "occurred_at": "2026-11-21T02:00:00Z", "application_id": null,
		"data": {"intent_id": %q, "offer_id": %q, "amount": %q, "annual_rate": "0.0385", "term_days": 90,
			"valid_until": "2099-01-01T00:00:00Z", "conditions": "按月付息"}}`, eventID, intentID, offerID, amount)
}

func offerWithdrawn(eventID, intentID, offerID string) []byte {
	return fmt.Appendf(nil, `{"event_id": %q, "type": "offer.withdrawn", "occurred_at": "2026-11-21T02:00:00Z", "application_id": null,
		"data": {"intent_id": %q, "offer_id": %q}}`, eventID, intentID, offerID)
}

// registerBank registers another bank in the world.
func (w *world) registerBank(t *testing.T, id string) {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	jwks := json.RawMessage(fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":%q,"kid":"k1"}]}`, base64.RawURLEncoding.EncodeToString(pub)))
	if _, _, err := w.banks.Register(ctx, banking.BankRegistration{ID: id, Name: id, BaseURL: "http://127.0.0.1:1", JWKS: jwks}, "t"); err != nil {
		t.Fatal(err)
	}
}

// TestOfferEventsOnlyOnIntentsAsked: a bank's offer events on an intent
// it was not asked, or on no intent at all, are not_found, the same
// answer for both, and leave nothing behind; the bank asked reaches
// lending's rules.
func TestOfferEventsOnlyOnIntentsAsked(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "http://127.0.0.1:1")
	w.registerBank(t, "huaxia-bank")
	intent := w.seedIntent(t) // asked of qilu-bank only
	ev := banking.NewEvents(w.db, w.lending)
	absent := uuid.NewString()
	refused := []struct {
		bank, intent string
		body         []byte
	}{
		{"huaxia-bank", intent, offerMade("h1", intent, "HX-1", "1000.00")},
		{"huaxia-bank", intent, offerWithdrawn("h2", intent, "HX-1")},
		{"qilu-bank", absent, offerMade("q1", absent, "QL-1", "1000.00")},
		{"qilu-bank", absent, offerWithdrawn("q2", absent, "QL-1")},
	}
	for _, r := range refused {
		_, _, err := ev.Apply(ctx, r.bank, r.body, nil)
		if !errs.Is(err, errs.NotFound) || errs.MessageOf(err) != "no financing intent "+r.intent {
			t.Errorf("%s on %s: %v, want not_found as if there were no such intent", r.bank, r.intent, err)
		}
	}
	var stored int
	w.db.Get(&stored, `SELECT (SELECT count(*) FROM bank_events) + (SELECT count(*) FROM offers)`)
	if stored != 0 {
		t.Fatalf("%d bank events and offers stored for refused events", stored)
	}
	// qilu-bank was asked: its offer passes the bank's check.
	if _, _, err := ev.Apply(ctx, "qilu-bank", offerMade("q3", intent, "QL-1", "1000.00"), nil); errs.Is(err, errs.NotFound) || errs.Is(err, errs.Invalid) {
		t.Fatalf("the bank asked: %v", err)
	}
}
