package banking_test

import (
	"encoding/json"
	"testing"

	"procfin/lending"
	"procfin/platform/money"
)

// TestPaymentEventsReachTheBank: a treasury payment's contract events are
// delivered to the bank's /v1/contract-events, signed with the platform's
// key for that URL, under their event id as Idempotency-Key: the matched
// one as payment.received, the misdirected one as payment.misdirected
// naming the account expected.
func TestPaymentEventsReachTheBank(t *testing.T) {
	t.Parallel()
	w := newWithdrawalWorld(t, nil)
	id := w.apply(t)
	if _, err := w.relay.RunOnce(ctx); err != nil { // the credit application
		t.Fatal(err)
	}
	// The bank approved and disbursed (lending's own tests walk there):
	// the lock is in force.
	w.db.MustExec(`UPDATE applications SET status = 'disbursed' WHERE id = $1`, id)
	w.db.MustExec(`INSERT INTO repayment_accounts (application_id, bank_name, account_no, account_name, status, confirmed_at)
		VALUES ($1, 'Qilu Bank', '6222 0001', 'Q', 'locked', now())`, id)
	w.db.MustExec(`INSERT INTO payment_systems (id, name, jwks, algorithms, version) VALUES ('sd-treasury', 'T', '{"keys": []}', '{EdDSA}', 'v1')`)
	record := func(paymentID, accountNo string) lending.PaymentRecord {
		return lending.PaymentRecord{PaymentID: paymentID, ContractNo: "C1", IssuerID: "jinan-pprc", PurchaserID: "sdu",
			Amount: money.MustAmount("1000.00"), PaidOn: money.MustDate("2026-11-25"),
			PayeeAccount: lending.Account{BankName: "Qilu Bank", AccountNo: accountNo, AccountName: "Q"}}
	}
	for _, r := range []lending.PaymentRecord{record("TP-1", "62220001"), record("TP-2", "9558")} {
		if _, created, err := w.lending.RecordPayment(ctx, "sd-treasury", r, "payment-system:sd-treasury"); err != nil || !created {
			t.Fatalf("record %s: %v", r.PaymentID, err)
		}
	}
	for i := 0; i < 2; i++ {
		if _, err := w.relay.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := w.bank.requests()
	if len(got) != 3 {
		t.Fatalf("the bank got %d messages, want the application and two contract events", len(got))
	}
	wantTypes := []string{"payment.received", "payment.misdirected"}
	for i, r := range got[1:] {
		var ev struct {
			EventID       string `json:"event_id"`
			Type          string `json:"type"`
			ApplicationID string `json:"application_id"`
			Data          struct {
				PaymentID       string           `json:"payment_id"`
				ExpectedAccount *lending.Account `json:"expected_account"`
			} `json:"data"`
		}
		if err := json.Unmarshal(r.body, &ev); err != nil {
			t.Fatal(err)
		}
		if r.path != "/v1/contract-events" || r.signed != nil || r.key != ev.EventID || ev.Type != wantTypes[i] || ev.ApplicationID != id {
			t.Fatalf("contract event %s under key %s (signature: %v): %s", r.path, r.key, r.signed, r.body)
		}
		if (ev.Type == "payment.misdirected") != (ev.Data.ExpectedAccount != nil && ev.Data.ExpectedAccount.AccountNo == "6222 0001") {
			t.Fatalf("expected account in %s", r.body)
		}
	}
}
