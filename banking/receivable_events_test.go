package banking_test

import (
	"encoding/json"
	"testing"

	"procfin/lending"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// TestReceivableConfirmedReachesTheBank: the purchaser's confirmation is
// delivered to the financing bank at POST /v1/contract-events, signed with
// the platform's key for that URL (the bank verifies it strictly), under
// its event id as Idempotency-Key, with the protocol's envelope and data.
func TestReceivableConfirmedReachesTheBank(t *testing.T) {
	t.Parallel()
	w := newWithdrawalWorld(t, map[string][]int{})
	id := w.apply(t)
	if _, err := w.relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if err := postgres.Transact(ctx, w.db, func(tx *postgres.Tx) error {
		if err := w.lending.Approve(ctx, tx, "qilu-bank", id, lending.Approval{ApprovedAmount: money.MustAmount("1000.00"),
			AnnualRate: money.MustRate("0.035"), TermDays: 90,
			RepaymentAccount: lending.RepaymentAccount{BankName: "Qilu", AccountNo: "6222 1", AccountName: "Q"}}, "bank:qilu-bank"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO receivables (contract_id, bank_id) VALUES ($1, 'qilu-bank') ON CONFLICT DO NOTHING`, w.contract)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	terms := json.RawMessage(`[{"due_on": "2027-10-02", "amount": "100000000.00"}]`)
	if _, _, err := w.lending.Confirm(ctx, lending.Scope{PurchaserIssuerID: "jinan-pprc", PurchaserID: "sdu"}, w.contract,
		lending.Confirmation{ConfirmedAmount: money.MustAmount("1000.00"), PaymentTerms: terms,
			RepaymentAccount: lending.Account{BankName: "Qilu", AccountNo: "62221", AccountName: "Q"}}, "sdu-clerk"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	got := w.bank.requests()
	if len(got) != 2 {
		t.Fatalf("the bank got %d messages, want the application and the event", len(got))
	}
	r := got[1]
	var e struct {
		EventID  string `json:"event_id"`
		Type     string `json:"type"`
		Contract struct {
			ID          string `json:"id"`
			ContractNo  string `json:"contract_no"`
			PurchaserID string `json:"purchaser_id"`
		} `json:"contract"`
		ApplicationID string  `json:"application_id"`
		LoanID        *string `json:"loan_id"`
		Data          struct {
			ConfirmedAmount  string          `json:"confirmed_amount"`
			PaymentTerms     json.RawMessage `json:"payment_terms"`
			RepaymentAccount lending.Account `json:"repayment_account"`
			ConfirmedBy      string          `json:"confirmed_by"`
			ConfirmedAt      string          `json:"confirmed_at"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatal(err)
	}
	if r.path != "/v1/contract-events" || r.signed != nil || r.key != e.EventID || e.Type != "receivable.confirmed" ||
		e.Contract.ID != w.contract || e.Contract.ContractNo != "C1" || e.Contract.PurchaserID != "sdu" || e.ApplicationID != id || e.LoanID != nil || e.Data.ConfirmedAmount != "1000.00" ||
		e.Data.RepaymentAccount.AccountNo != "62221" || e.Data.ConfirmedBy != "sdu-clerk" || e.Data.ConfirmedAt == "" {
		t.Fatalf("%s under key %s (signature: %v): %s", r.path, r.key, r.signed, r.body)
	}
}
