package banking_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"procfin/banking"
	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

const (
	intentsPath  = "/v1/financing-intents"
	decisionPath = "/v1/financing-intents/%s/decision"
)

// allItems are every data item a consent may name.
var allItems = []string{lending.ItemSupplier, lending.ItemAward, lending.ItemContract, lending.ItemPurchaser,
	lending.ItemRequest, lending.ItemVerification}

// seedIntent records an open intent on the world's contract, asked of
// qilu-bank under a consent in force naming every item, as lending's
// Publish does; it returns the intent's id.
func (w *world) seedIntent(t *testing.T) string {
	t.Helper()
	id := uuid.NewString()
	w.db.MustExec(`INSERT INTO financing_intents (id, supplier_uscc, contract_id, amount, term_days, purpose, respond_by, published_by, verification)
		VALUES ($1, $2, $3, 1000.00, 90, 'p', now() + interval '72 hours', 'user:u', '{}')`, id, uscc, w.contract)
	consent := uuid.NewString()
	w.db.MustExec(`INSERT INTO consents (id, supplier_uscc, bank_id, data_items, statement, given_by, expires_at, intent_id)
		VALUES ($1, $2, 'qilu-bank', $3, 'statement', 'user:u', now() + interval '30 days', $4)`,
		consent, uscc, "{"+strings.Join(allItems, ",")+"}", id)
	w.db.MustExec(`INSERT INTO intent_banks (intent_id, bank_id, consent_id) VALUES ($1, 'qilu-bank', $2)`, id, consent)
	return id
}

// intentMessage is the financing intent for qilu-bank, with the items.
func intentMessage(intentID string, items ...string) lending.IntentMessage {
	cst := time.FixedZone("CST", 8*3600)
	return lending.IntentMessage{MessageID: uuid.NewString(), IntentID: intentID, BankID: "qilu-bank",
		PublishedAt: time.Date(2026, 11, 21, 10, 0, 0, 500000000, cst), RespondBy: time.Date(2026, 11, 24, 10, 0, 0, 0, cst),
		DataItems: items,
		Supplier:  contracts.Supplier{USCC: uscc, Name: "Q", SizeClass: contracts.SizeSmall},
		Notice: contracts.AwardNotice{NoticeNo: "N1", ProjectNo: "P", IssuerID: "jinan-pprc", Amount: money.MustAmount("1200000.00"),
			AwardedOn: money.MustDate("2026-10-01")},
		Contract: contracts.Contract{ContractNo: "C1", Amount: money.MustAmount("1180000.00"), Currency: "CNY",
			SignedOn: money.MustDate("2026-10-02"), Period: contracts.Period{Start: money.MustDate("2026-10-02"), End: money.MustDate("2027-10-02")},
			PaymentTerms: json.RawMessage(`[{"due_on": "2027-05-31", "amount": "1180000.00"}]`), Purchaser: contracts.Party{ID: "sdu", Name: "SDU"}},
		Amount: money.MustAmount("800000.00"), TermDays: 180, Purpose: "p",
		Verification: contracts.Report{VerifiedAt: time.Date(2026, 11, 21, 1, 59, 59, 900000000, time.UTC),
			Checks: []contracts.Check{{Name: "award.signature", Result: "pass", Reason: "ok"}}},
	}
}

// The whole body of intentMessage(id, allItems...): times in whole
// seconds, UTC (10:00:00.5 at +08:00 is 02:00:00Z).
const wholeIntent = `{"intent_id": "%s", "published_at": "2026-11-21T02:00:00Z", "respond_by": "2026-11-24T02:00:00Z",
	"supplier": {"uscc": "91350100M000100Y43", "name": "Q", "size_class": "small"},
	"purchaser": {"id": "sdu", "name": "SDU"},
	"award": {"notice_no": "N1", "project_no": "P", "issuer": "jinan-pprc", "amount": "1200000.00", "awarded_on": "2026-10-01"},
	"contract": {"contract_no": "C1", "amount": "1180000.00", "signed_on": "2026-10-02",
		"period": {"start": "2026-10-02", "end": "2027-10-02"}, "payment_terms": [{"due_on": "2027-05-31", "amount": "1180000.00"}]},
	"request": {"amount": "800000.00", "currency": "CNY", "term_days": 180, "purpose": "p"},
	"verification": {"verified_at": "2026-11-21T01:59:59Z", "checks": [{"name": "award.signature", "result": "pass"}]}}`

func (w *world) queueIntents(t *testing.T, ms ...lending.IntentMessage) {
	t.Helper()
	if err := postgres.Transact(ctx, w.db, func(tx *postgres.Tx) error {
		var o lending.Outbox = banking.Outbox{}
		return o.Intents(ctx, tx, ms...)
	}); err != nil {
		t.Fatal(err)
	}
}

func (w *world) queueDecisions(t *testing.T, ds ...lending.Decision) {
	t.Helper()
	if err := postgres.Transact(ctx, w.db, func(tx *postgres.Tx) error {
		var o lending.Outbox = banking.Outbox{}
		return o.Decisions(ctx, tx, ds...)
	}); err != nil {
		t.Fatal(err)
	}
}

// intentDeliveries are the intent's deliveries in the order queued.
func (w *world) intentDeliveries(t *testing.T, intentID string) []banking.Delivery {
	t.Helper()
	var ds []banking.Delivery
	if err := w.db.Select(&ds, `SELECT id, application_id, intent_id, message_id, kind, bank_id, status, attempts, next_attempt_at,
		last_status, last_error, bank_reference, created_at, delivered_at FROM deliveries WHERE intent_id = $1 ORDER BY id`, intentID); err != nil {
		t.Fatal(err)
	}
	return ds
}

// TestIntentMessagesOverTheWire: a financing intent reaches the bank at
// POST {base}/v1/financing-intents and the decision on it at
// {base}/v1/financing-intents/{intent_id}/decision, each signed with the
// platform's key for its URL, under its message id as Idempotency-Key,
// with the protocol's body; the decision waits while the intent's message
// to that bank is being retried; both deliveries name the intent and no
// application.
func TestIntentMessagesOverTheWire(t *testing.T) {
	t.Parallel()
	w := newWithdrawalWorld(t, map[string][]int{intentsPath: {503, 202}})
	id := w.seedIntent(t)
	m := intentMessage(id, allItems...)
	w.queueIntents(t, m)
	app, offer := uuid.NewString(), "BO-1"
	d := lending.Decision{MessageID: uuid.NewString(), IntentID: id, BankID: "qilu-bank", Decision: lending.DecisionAccepted,
		BankOfferID: &offer, ApplicationID: &app}
	w.queueDecisions(t, d)
	for i := 0; i < 2; i++ { // 503, then 202: the decision waits meanwhile
		if _, err := w.relay.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		w.due()
	}
	got := w.bank.requests()
	if len(got) != 2 || got[0].path != intentsPath || got[1].path != intentsPath {
		t.Fatalf("want the intent twice first, got %d requests: %+v", len(got), got)
	}
	if _, err := w.relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	got = w.bank.requests()
	if len(got) != 3 {
		t.Fatalf("the bank got %d messages, want the intent twice and the decision", len(got))
	}
	for _, r := range got[:2] {
		if r.key != m.MessageID || r.signed != nil || !sameJSON(t, r.body, fmt.Sprintf(wholeIntent, id)) {
			t.Fatalf("intent under key %s (signature: %v):\n%s", r.key, r.signed, r.body)
		}
	}
	r := got[2]
	if r.path != fmt.Sprintf(decisionPath, id) || r.key != d.MessageID || r.signed != nil ||
		!sameJSON(t, r.body, `{"intent_id": "`+id+`", "decision": "accepted", "offer_id": "BO-1", "application_id": "`+app+`"}`) {
		t.Fatalf("decision at %s under key %s (signature: %v): %s", r.path, r.key, r.signed, r.body)
	}
	ds := w.intentDeliveries(t, id)
	if len(ds) != 2 || ds[0].Kind != banking.KindFinancingIntent || ds[1].Kind != banking.KindIntentDecision {
		t.Fatalf("deliveries %+v", ds)
	}
	for _, d := range ds {
		if d.Status != "delivered" || d.ApplicationID != nil || d.IntentID == nil || *d.IntentID != id {
			t.Errorf("delivery %+v", d)
		}
	}
}

// TestIntentMessageCarriesOnlyConsentedItems: a financing intent holds only
// the parts its consent names; the others are absent from the body.
func TestIntentMessageCarriesOnlyConsentedItems(t *testing.T) {
	t.Parallel()
	cases := []struct {
		items []string
		want  string
	}{
		{nil, `{"intent_id": "i", "published_at": "2026-11-21T02:00:00Z", "respond_by": "2026-11-24T02:00:00Z"}`},
		{[]string{lending.ItemSupplier, lending.ItemRequest}, `{"intent_id": "i", "published_at": "2026-11-21T02:00:00Z",
			"respond_by": "2026-11-24T02:00:00Z", "supplier": {"uscc": "91350100M000100Y43", "name": "Q", "size_class": "small"},
			"request": {"amount": "800000.00", "currency": "CNY", "term_days": 180, "purpose": "p"}}`},
		{[]string{lending.ItemPurchaser, lending.ItemVerification}, `{"intent_id": "i", "published_at": "2026-11-21T02:00:00Z",
			"respond_by": "2026-11-24T02:00:00Z", "purchaser": {"id": "sdu", "name": "SDU"},
			"verification": {"verified_at": "2026-11-21T01:59:59Z", "checks": [{"name": "award.signature", "result": "pass"}]}}`},
		{allItems, fmt.Sprintf(wholeIntent, "i")},
	}
	for _, c := range cases {
		body, err := json.Marshal(banking.NewIntentMessage(intentMessage("i", c.items...)))
		if err != nil {
			t.Fatal(err)
		}
		if !sameJSON(t, body, c.want) {
			t.Errorf("items %v:\n%s\nwant\n%s", c.items, body, c.want)
		}
	}
}

// TestIntentMessageNeedsItsConsent: a financing intent whose consent to
// the bank was revoked or has expired is not sent (failed,
// consent_expired) and cannot be re-queued; the decision after it, which
// carries no data, still goes, with offer_id and application_id null.
func TestIntentMessageNeedsItsConsent(t *testing.T) {
	t.Parallel()
	for _, end := range []string{"revoked_at = now()", "expires_at = now() - interval '1 second'"} {
		t.Run(end, func(t *testing.T) {
			t.Parallel()
			w := newWithdrawalWorld(t, nil)
			id := w.seedIntent(t)
			w.queueIntents(t, intentMessage(id, allItems...))
			w.db.MustExec(`UPDATE consents SET `+end+` WHERE intent_id = $1`, id)
			w.queueDecisions(t, lending.Decision{MessageID: uuid.NewString(), IntentID: id, BankID: "qilu-bank", Decision: lending.DecisionCancelled})
			for i := 0; i < 2; i++ {
				if _, err := w.relay.RunOnce(ctx); err != nil {
					t.Fatal(err)
				}
			}
			got := w.bank.requests()
			if len(got) != 1 || got[0].path != fmt.Sprintf(decisionPath, id) ||
				!sameJSON(t, got[0].body, `{"intent_id": "`+id+`", "decision": "cancelled", "offer_id": null, "application_id": null}`) {
				t.Fatalf("want the decision alone, got %+v", got)
			}
			ds := w.intentDeliveries(t, id)
			if len(ds) != 2 || ds[0].Status != "failed" || !strings.HasPrefix(ds[0].LastError, "consent_expired") || ds[1].Status != "delivered" {
				t.Fatalf("deliveries %+v", ds)
			}
			_, err := banking.NewDeliveries(w.db, w.lending).Requeue(ctx, ds[0].ID, "admin:a")
			if !errs.Is(err, errs.ConsentExpired) {
				t.Fatalf("re-queue: %v, want consent_expired", err)
			}
			if ds := w.intentDeliveries(t, id); ds[0].Status != "failed" {
				t.Fatalf("re-queue refused, yet the delivery is %s", ds[0].Status)
			}
		})
	}
}

// TestDeadIntentMessageIsRequeued: a financing intent undeliverable for 24
// hours goes dead, raises a dead_delivery alert naming the intent's
// contract and no application, and an administrator's re-queue sends it
// again (the consent holding), audited on the intent.
func TestDeadIntentMessageIsRequeued(t *testing.T) {
	t.Parallel()
	w := newWithdrawalWorld(t, map[string][]int{intentsPath: {503, 202}})
	id := w.seedIntent(t)
	w.queueIntents(t, intentMessage(id, allItems...))
	w.db.MustExec(`UPDATE deliveries SET created_at = now() - interval '25 hours' WHERE intent_id = $1`, id)
	if _, err := w.relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	ds := w.intentDeliveries(t, id)
	if len(ds) != 1 || ds[0].Status != "dead" {
		t.Fatalf("deliveries %+v", ds)
	}
	page, err := w.lending.Alerts(ctx, lending.AlertDeadDelivery, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].EntityID != fmt.Sprint(ds[0].ID) || page.Items[0].ApplicationID != nil ||
		page.Items[0].ContractID == nil || *page.Items[0].ContractID != w.contract || page.Items[0].SupplierName != "Q" {
		t.Fatalf("alerts %+v", page.Items)
	}
	dv := banking.NewDeliveries(w.db, w.lending)
	list, err := dv.List(ctx, "dead", 0, 10)
	if err != nil || len(list) != 1 || list[0].ApplicationID != nil || list[0].IntentID == nil || *list[0].IntentID != id {
		t.Fatalf("list %+v, %v", list, err)
	}
	d, err := dv.Requeue(ctx, ds[0].ID, "admin:a")
	if err != nil || d.Status != "pending" {
		t.Fatalf("re-queue: %+v, %v", d, err)
	}
	var audited int
	w.db.Get(&audited, `SELECT count(*) FROM audit_log WHERE entity_type = 'financing_intent' AND entity_id = $1 AND action = 'delivery.requeued'`, id)
	if audited != 1 {
		t.Fatalf("%d audit entries of the re-queue on the intent", audited)
	}
	if _, err := w.relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if ds := w.intentDeliveries(t, id); ds[0].Status != "delivered" || len(w.bank.requests()) != 2 {
		t.Fatalf("after the re-queue: %+v, %d requests", ds, len(w.bank.requests()))
	}
	if page, _ := w.lending.Alerts(ctx, lending.AlertDeadDelivery, "", 10); len(page.Items) != 0 {
		t.Fatalf("alerts left %+v", page.Items)
	}
}

// TestApplicationMessageOfferID: the credit application of an accepted
// offer carries the bank's offer_id in its request; a direct application's
// request has no offer_id, as in version 1.
func TestApplicationMessageOfferID(t *testing.T) {
	t.Parallel()
	offer := "BO-7"
	for _, c := range []struct {
		offer *string
		want  any
		has   bool
	}{{nil, nil, false}, {&offer, "BO-7", true}} {
		body, err := json.Marshal(banking.NewApplicationMessage(lending.Submission{ApplicationID: "a", BankID: "b", BankOfferID: c.offer}))
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Request map[string]any `json:"request"`
		}
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		if got, has := m.Request["offer_id"]; has != c.has || got != c.want {
			t.Errorf("offer %v: request %v", c.offer, m.Request)
		}
	}
}
