package banking_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
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
	// qilu-bank was asked: its offer is recorded, once.
	for _, want := range []string{banking.Processed, banking.Duplicate} {
		if outcome, _, err := ev.Apply(ctx, "qilu-bank", offerMade("q3", intent, "QL-1", "1000.00"), nil); err != nil || outcome != want {
			t.Fatalf("the bank asked: %s, %v; want %s", outcome, err, want)
		}
	}
	var offers []struct {
		BankID      string `db:"bank_id"`
		BankOfferID string `db:"bank_offer_id"`
		Amount      string `db:"amount"`
		Status      string `db:"status"`
	}
	w.db.Select(&offers, `SELECT bank_id, bank_offer_id, amount::text, status FROM offers WHERE intent_id = $1`, intent)
	if len(offers) != 1 || offers[0].BankID != "qilu-bank" || offers[0].BankOfferID != "QL-1" || offers[0].Amount != "1000.00" || offers[0].Status != "made" {
		t.Fatalf("offers %+v", offers)
	}
	// Even huaxia-bank's withdrawal of qilu-bank's offer id is not_found.
	if _, _, err := ev.Apply(ctx, "huaxia-bank", offerWithdrawn("h3", intent, "QL-1"), nil); !errs.Is(err, errs.NotFound) {
		t.Fatalf("another bank's withdrawal: %v", err)
	}
}

// TestOfferEventsFollowLendingsRules: over the inbox, with the bank's
// signed messages, an offer above the amount asked is 409
// invalid_transition and changes nothing; a new offer replaces the bank's
// earlier one; a withdrawal withdraws it; once the bank is taken out of the
// intent (its consent revoked) its offers are not_found, and on a closed
// intent invalid_transition.
func TestOfferEventsFollowLendingsRules(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "http://127.0.0.1:1")
	intent := w.seedIntent(t) // 1000.00 asked of qilu-bank
	ev := banking.NewEvents(w.db, w.lending)
	m := newMessages(t, w.db)
	var done atomic.Int32
	send := func(body []byte) (string, error) {
		outcome, _, err := ev.Apply(ctx, "qilu-bank", body, m.check(body, m.sign(body), &done))
		return outcome, err
	}
	if _, err := send(offerMade("e1", intent, "QL-1", "1000.01")); !errs.Is(err, errs.InvalidTransition) {
		t.Fatalf("an offer above the amount asked: %v", err)
	}
	for _, b := range [][]byte{offerMade("e2", intent, "QL-1", "900.00"), offerMade("e3", intent, "QL-2", "1000.00")} {
		if outcome, err := send(b); err != nil || outcome != banking.Processed {
			t.Fatalf("%s, %v", outcome, err)
		}
	}
	statuses := func() string {
		var s []string
		w.db.Select(&s, `SELECT bank_offer_id || ':' || status FROM offers WHERE intent_id = $1 ORDER BY made_at, bank_offer_id`, intent)
		return strings.Join(s, " ")
	}
	if got := statuses(); got != "QL-1:replaced QL-2:made" {
		t.Fatalf("offers %s", got)
	}
	if outcome, err := send(offerWithdrawn("e4", intent, "QL-2")); err != nil || outcome != banking.Processed {
		t.Fatalf("withdrawal: %s, %v", outcome, err)
	}
	if got := statuses(); got != "QL-1:replaced QL-2:withdrawn" {
		t.Fatalf("offers %s", got)
	}
	w.db.MustExec(`UPDATE intent_banks SET out_at = now() WHERE intent_id = $1`, intent)
	if _, err := send(offerMade("e5", intent, "QL-3", "1000.00")); !errs.Is(err, errs.NotFound) {
		t.Fatalf("a bank taken out: %v", err)
	}
	w.db.MustExec(`UPDATE intent_banks SET out_at = NULL WHERE intent_id = $1`, intent)
	w.db.MustExec(`UPDATE financing_intents SET status = 'cancelled', closed_at = now() WHERE id = $1`, intent)
	if _, err := send(offerMade("e6", intent, "QL-3", "1000.00")); !errs.Is(err, errs.InvalidTransition) {
		t.Fatalf("a closed intent: %v", err)
	}
	if got := statuses(); got != "QL-1:replaced QL-2:withdrawn" {
		t.Fatalf("offers %s after refusals", got)
	}
	var events int
	w.db.Get(&events, `SELECT count(*) FROM bank_events WHERE bank_id = 'qilu-bank'`)
	if events != 3 { // e2, e3, e4
		t.Fatalf("%d events stored", events)
	}
}

// TestOfferEventsInABatch: offer events share an inbox batch with an
// application's events, each applied in its turn as if alone; one refused
// (another bank's, not_found) leaves the others applied.
func TestOfferEventsInABatch(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "http://127.0.0.1:1")
	w.registerBank(t, "huaxia-bank")
	app := w.apply(t)
	intent := w.seedIntent(t)
	ev := banking.NewEvents(w.db, w.lending)
	bodies := [][]byte{
		offerMade("b1", intent, "QL-1", "900.00"),
		event("b2", "application.received", app, `{}`),
		offerMade("b3", intent, "QL-2", "1000.00"), // replaces QL-1
		offerWithdrawn("b4", intent, "QL-2"),
		offerMade("b5", intent, "HX-1", "1000.00"), // from huaxia-bank, below
	}
	outcomes, errors := ev.ApplyBatch("qilu-bank", bodies[:4], make([]*banking.Consume, 4))
	for i, o := range outcomes {
		if o != banking.Processed || errors[i] != nil {
			t.Fatalf("event %d: %s, %v", i, o, errors[i])
		}
	}
	_, errors = ev.ApplyBatch("huaxia-bank", bodies[4:], make([]*banking.Consume, 1))
	if !errs.Is(errors[0], errs.NotFound) {
		t.Fatalf("huaxia-bank's offer: %v", errors[0])
	}
	var got []string
	w.db.Select(&got, `SELECT bank_offer_id || ':' || status FROM offers WHERE intent_id = $1 ORDER BY bank_offer_id`, intent)
	if strings.Join(got, " ") != "QL-1:replaced QL-2:withdrawn" {
		t.Fatalf("offers %v", got)
	}
	var apps []string
	w.db.Select(&apps, `SELECT coalesce(application_id::text, '-') FROM bank_events ORDER BY event_id`)
	if strings.Join(apps, " ") != "- "+app+" - -" {
		t.Fatalf("the inbox rows' applications: %v", apps)
	}
}
