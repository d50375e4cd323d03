package banking_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"procfin/banking"
	"procfin/lending"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

const contractEventsPath = "/v1/contract-events"

// queueContractEvents queues es through lending's Outbox, as the business
// functions do, in one transaction.
func (w *world) queueContractEvents(t *testing.T, es ...lending.ContractEvent) {
	t.Helper()
	err := postgres.Transact(ctx, w.db, func(tx *postgres.Tx) error {
		var o lending.Outbox = banking.Outbox{}
		return o.ContractEvents(ctx, tx, es...)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func sameJSON(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %s: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

// TestContractEventsOverTheWire: each of the five contract events queued
// for an application reaches its bank at POST {base}/v1/contract-events,
// signed with the platform's key for that URL, under its event id as the
// Idempotency-Key, with the protocol's envelope and data, after the
// application's credit application; the bank's 202 marks it delivered.
func TestContractEventsOverTheWire(t *testing.T) {
	t.Parallel()
	w := newWithdrawalWorld(t, nil)
	app := w.apply(t)
	at := time.Date(2026, 11, 21, 10, 0, 0, 123000000, time.FixedZone("CST", 8*3600))
	loan := "LN-1"
	locked := lending.Account{BankName: "Qilu Bank", AccountNo: "6222 0000 0001", AccountName: "Q"}
	own := lending.Account{BankName: "Other Bank", AccountNo: "6217 0000 0009", AccountName: "Q"}
	events := []lending.ContractEvent{
		{EventID: "11111111-0000-4000-8000-000000000001", Type: lending.EventReceivableConfirmed,
			Data: lending.ReceivableConfirmedData{ConfirmedAmount: money.MustAmount("1000.00"),
				PaymentTerms: json.RawMessage(`[{"due_on": "2027-05-31", "amount": "100000000.00"}]`), RepaymentAccount: locked,
				ConfirmedBy: "purchaser:sdu", ConfirmedAt: time.Date(2026, 11, 21, 1, 0, 0, 0, time.UTC)}},
		{EventID: "11111111-0000-4000-8000-000000000002", Type: lending.EventReceivableRefused,
			Data: lending.ReceivableRefusedData{Reason: "not delivered"}},
		{EventID: "11111111-0000-4000-8000-000000000003", Type: lending.EventContractAmended,
			Data: lending.ContractAmendedData{Version: 2, Amount: money.MustAmount("1000.00"), Status: "active",
				FinancingLimit: money.MustAmount("850.00"), Financed: money.MustAmount("1000.00"), ExceedsLimit: true}},
		{EventID: "11111111-0000-4000-8000-000000000004", Type: lending.EventPaymentReceived, BankLoanID: &loan,
			Data: lending.PaymentData{PaymentID: "TP-1", Amount: money.MustAmount("500.00"), PaidOn: money.MustDate("2026-11-20"), PayeeAccount: locked}},
		{EventID: "11111111-0000-4000-8000-000000000005", Type: lending.EventPaymentMisdirected, BankLoanID: &loan,
			Data: lending.PaymentData{PaymentID: "TP-2", Amount: money.MustAmount("500.00"), PaidOn: money.MustDate("2026-11-20"),
				PayeeAccount: own, ExpectedAccount: &locked}},
	}
	for i := range events {
		events[i].OccurredAt, events[i].ContractID, events[i].ContractNo, events[i].PurchaserID = at, w.contract, "C1", "sdu"
		events[i].ApplicationID, events[i].BankID = app, "qilu-bank"
	}
	// Queued before the credit application went: they wait for it.
	w.queueContractEvents(t, events...)
	if _, err := w.relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := w.bank.requests(); len(got) != 1 || got[0].path != "/v1/credit-applications" {
		t.Fatalf("first the credit application alone, got %d requests", len(got))
	}
	// One at a time: each message of an application waits for the one
	// before it.
	for i := 0; i < 2*len(events); i++ {
		if _, err := w.relay.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := w.bank.requests()[1:]
	if len(got) != len(events) {
		t.Fatalf("the bank got %d contract events, want %d", len(got), len(events))
	}
	// Each envelope as the protocol has it: occurred_at in whole seconds,
	// UTC (10:00:00.123 at +08:00 is 02:00:00Z); loan_id null before a loan.
	envelope := func(id, typ, loanID, data string) string {
		return `{"event_id": "` + id + `", "type": "` + typ + `", "occurred_at": "2026-11-21T02:00:00Z",
			"contract": {"id": "` + w.contract + `", "contract_no": "C1", "purchaser_id": "sdu"},
			"application_id": "` + app + `", "loan_id": ` + loanID + `, "data": ` + data + `}`
	}
	lockedJSON := `{"bank_name": "Qilu Bank", "account_no": "6222 0000 0001", "account_name": "Q"}`
	want := map[string]string{
		events[0].EventID: envelope(events[0].EventID, "receivable.confirmed", "null", `{"confirmed_amount": "1000.00",
			"payment_terms": [{"due_on": "2027-05-31", "amount": "100000000.00"}], "repayment_account": `+lockedJSON+`,
			"confirmed_by": "purchaser:sdu", "confirmed_at": "2026-11-21T01:00:00Z"}`),
		events[1].EventID: envelope(events[1].EventID, "receivable.refused", "null", `{"reason": "not delivered"}`),
		events[2].EventID: envelope(events[2].EventID, "contract.amended", "null", `{"version": 2, "amount": "1000.00", "status": "active",
			"financing_limit": "850.00", "financed": "1000.00", "exceeds_limit": true}`),
		events[3].EventID: envelope(events[3].EventID, "payment.received", `"LN-1"`, `{"payment_id": "TP-1", "amount": "500.00",
			"paid_on": "2026-11-20", "payee_account": `+lockedJSON+`}`),
		events[4].EventID: envelope(events[4].EventID, "payment.misdirected", `"LN-1"`, `{"payment_id": "TP-2", "amount": "500.00",
			"paid_on": "2026-11-20", "payee_account": {"bank_name": "Other Bank", "account_no": "6217 0000 0009", "account_name": "Q"},
			"expected_account": `+lockedJSON+`}`),
	}
	for _, r := range got {
		if r.path != contractEventsPath || r.signed != nil {
			t.Errorf("sent to %s (signature: %v)", r.path, r.signed)
		}
		body, ok := want[r.key]
		if !ok {
			t.Errorf("Idempotency-Key %q is no event's id", r.key)
			continue
		}
		delete(want, r.key)
		if !sameJSON(t, r.body, body) {
			t.Errorf("event %s:\n%s\nwant\n%s", r.key, r.body, body)
		}
	}
	ds := w.deliveries(t, app)
	if len(ds) != 1+len(events) {
		t.Fatalf("%d deliveries", len(ds))
	}
	for i, d := range ds[1:] {
		if d.Kind != banking.KindContractEvent || d.MessageID != events[i].EventID || d.Status != "delivered" || d.BankID != "qilu-bank" {
			t.Errorf("delivery %+v", d)
		}
	}
	if st, _ := w.history(t, app); st != lending.Delivered {
		t.Errorf("application %s after its contract events, want delivered", st)
	}
}

// TestContractEventRetriedThenRefused: a contract event is retried on
// 503 under the same key and body; a version-1 bank's 404 records it
// failed, and it is never sent again; the application is not touched.
func TestContractEventRetriedThenRefused(t *testing.T) {
	t.Parallel()
	w := newWithdrawalWorld(t, map[string][]int{contractEventsPath: {503, 404}})
	app := w.apply(t)
	if _, err := w.relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	w.queueContractEvents(t, lending.ContractEvent{Type: lending.EventReceivableRefused, ContractID: w.contract, ContractNo: "C1",
		PurchaserID: "sdu", ApplicationID: app, BankID: "qilu-bank", Data: lending.ReceivableRefusedData{Reason: "no"}})
	for i := 0; i < 4; i++ {
		if _, err := w.relay.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		w.due()
	}
	var sent []seenRequest
	for _, r := range w.bank.requests() {
		if r.path == contractEventsPath {
			sent = append(sent, r)
		}
	}
	ds := w.deliveries(t, app)
	if len(sent) != 2 || len(ds) != 2 {
		t.Fatalf("the bank got %d contract events (want the 503 and the 404), %d deliveries", len(sent), len(ds))
	}
	d := ds[1]
	if d.Status != "failed" || d.LastStatus == nil || *d.LastStatus != 404 || d.Attempts != 2 || sent[0].key != d.MessageID ||
		sent[1].key != d.MessageID || string(sent[0].body) != string(sent[1].body) {
		t.Fatalf("delivery %+v; keys %s, %s", d, sent[0].key, sent[1].key)
	}
	if st, _ := w.history(t, app); st != lending.Delivered {
		t.Errorf("application %s after its contract event was refused, want delivered", st)
	}
}
