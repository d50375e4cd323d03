package banking_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"procfin/banking"
	"procfin/lending"
	"procfin/platform/money"
)

// TestIntentStoryOverTheWire: a need published to the bank reaches it as a
// signed financing intent with the supplier's consented data; the bank's
// offer, accepted by the supplier, becomes a credit application carrying
// request.offer_id (the bank's offer id), and the bank is told accepted
// with the application's id; the intent shows its message delivered.
func TestIntentStoryOverTheWire(t *testing.T) {
	t.Parallel()
	w := newWithdrawalWorld(t, nil)
	who := lending.Applicant{UserID: "u", SupplierUSCC: uscc}
	amount, days := money.MustAmount("1000.00"), 90
	in, err := w.lending.Publish(ctx, who, lending.PublishInput{ContractID: w.contract, Amount: &amount, TermDays: &days,
		Purpose: "p", BankIDs: []string{"qilu-bank"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	got := w.bank.requests()
	if len(got) != 1 || got[0].path != intentsPath || got[0].signed != nil {
		t.Fatalf("want the financing intent, got %+v", got)
	}
	var intentBody struct {
		IntentID string `json:"intent_id"`
		Supplier struct {
			USCC string `json:"uscc"`
		} `json:"supplier"`
		Purchaser struct {
			ID string `json:"id"`
		} `json:"purchaser"`
		Request struct {
			Amount   string `json:"amount"`
			Currency string `json:"currency"`
			TermDays int    `json:"term_days"`
		} `json:"request"`
	}
	if err := json.Unmarshal(got[0].body, &intentBody); err != nil || intentBody.IntentID != in.ID || intentBody.Supplier.USCC != uscc ||
		intentBody.Purchaser.ID != "sdu" || intentBody.Request.Amount != "1000.00" || intentBody.Request.Currency != "CNY" || intentBody.Request.TermDays != 90 {
		t.Fatalf("financing intent %s (%v)", got[0].body, err)
	}
	ev := banking.NewEvents(w.db, w.lending)
	if outcome, _, err := ev.Apply(ctx, "qilu-bank", offerMade("o1", in.ID, "QL-9", "1000.00"), nil); err != nil || outcome != banking.Processed {
		t.Fatalf("offer: %s, %v", outcome, err)
	}
	seen, err := w.lending.Intent(ctx, lending.Scope{SupplierUSCC: uscc}, in.ID)
	if err != nil || len(seen.Offers) != 1 || len(seen.Banks) != 1 || seen.Banks[0].Delivery != "delivered" {
		t.Fatalf("intent %+v, %v", seen, err)
	}
	app, err := w.lending.Accept(ctx, who, in.ID, seen.Offers[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := w.relay.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got = w.bank.requests()
	if len(got) != 3 {
		t.Fatalf("the bank got %d messages, want the intent, the credit application and the decision", len(got))
	}
	byPath := map[string]seenRequest{}
	for _, r := range got[1:] {
		if r.signed != nil {
			t.Fatalf("%s: %v", r.path, r.signed)
		}
		byPath[r.path] = r
	}
	var appBody struct {
		ApplicationID string `json:"application_id"`
		Request       struct {
			OfferID *string `json:"offer_id"`
			Amount  string  `json:"amount"`
		} `json:"request"`
	}
	if err := json.Unmarshal(byPath["/v1/credit-applications"].body, &appBody); err != nil || appBody.ApplicationID != app.ID ||
		appBody.Request.OfferID == nil || *appBody.Request.OfferID != "QL-9" || appBody.Request.Amount != "1000.00" {
		t.Fatalf("credit application %s (%v)", byPath["/v1/credit-applications"].body, err)
	}
	decision := byPath[fmt.Sprintf(decisionPath, in.ID)]
	if !sameJSON(t, decision.body, `{"intent_id": "`+in.ID+`", "decision": "accepted", "offer_id": "QL-9", "application_id": "`+app.ID+`"}`) {
		t.Fatalf("decision %s", decision.body)
	}
}
