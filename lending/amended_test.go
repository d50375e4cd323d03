package lending_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// TestContractAmendedGoesToLiveApplications: a new version of a financed
// contract queues one contract.amended for each live application on it
// (submitted, delivered, received, approved, disbursed or repaid), each
// under its own event id, with its loan's id once it has one; none for a
// rejected, cancelled or closed application, nor one whose delivery
// failed (its bank never took it). The same version again queues nothing.
func TestContractAmendedGoesToLiveApplications(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	apply := func(amount string) string {
		t.Helper()
		a, err := w.apply(amount, false)
		if err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	step := func(f func(tx *postgres.Tx) error) {
		t.Helper()
		if err := w.tx(f); err != nil {
			t.Fatal(err)
		}
	}
	rejected, cancelled, loan, submitted, failed := apply("100000.00"), apply("100000.00"), apply("300000.00"), apply("100000.00"), apply("50000.00")
	step(func(tx *postgres.Tx) error {
		return w.lending.Reject(ctx, tx, "qilu-bank", rejected, "risk", "no", "bank:qilu-bank")
	})
	if _, err := w.lending.Cancel(ctx, lending.Scope{SupplierUSCC: uscc}, cancelled, "user:u1"); err != nil {
		t.Fatal(err)
	}
	step(func(tx *postgres.Tx) error { return w.lending.MarkDelivered(ctx, tx, loan, "QL-1") })
	step(func(tx *postgres.Tx) error {
		return w.lending.Approve(ctx, tx, "qilu-bank", loan, lending.Approval{ApprovedAmount: money.MustAmount("300000.00"),
			AnnualRate: money.MustRate("0.0345"), TermDays: 180, RepaymentAccount: account}, "bank:qilu-bank")
	})
	step(func(tx *postgres.Tx) error {
		return w.lending.DisburseOne(ctx, tx, "qilu-bank", loan, "LN-1", lending.Disbursement{BankDisbursementID: "D1",
			Amount: money.MustAmount("100000.00"), ValueDate: money.MustDate("2026-11-20"), MaturityDate: money.MustDate("2027-05-19"),
			AnnualRate: money.MustRate("0.0345")}, "bank:qilu-bank")
	})
	step(func(tx *postgres.Tx) error { return w.lending.MarkDeliveryFailed(ctx, tx, failed, "refused") })
	// Financed: 300000.00 + 100000.00 + 50000.00 (a failed delivery keeps
	// its hold until requeued or cancelled) = 450000.00.
	if w.financed() != "450000.00" {
		t.Fatalf("financed %s, want 450000.00", w.financed())
	}

	doc := contracts.ContractDoc{ContractNo: "C1", NoticeNo: "N-C1", Purchaser: contracts.Party{ID: "sdu"}, Supplier: contracts.SupplierRef{USCC: uscc},
		Amount: money.MustAmount("1300000.00"), SignedOn: money.MustDate("2026-10-20"),
		Period: contracts.Period{Start: money.MustDate("2026-11-01"), End: money.MustDate("2027-04-30")}, Status: "active"}
	src := contracts.Source{Kind: "signed", KeyID: "k1", MessageID: "C1-v2", Actor: "issuer:jinan-pprc"}
	for i := 0; i < 2; i++ { // the same version again changes nothing
		if _, outcome, err := w.contracts.SubmitContract(ctx, "jinan-pprc", doc, src); err != nil || outcome != []contracts.Outcome{contracts.NewVersion, contracts.Unchanged}[i] {
			t.Fatalf("submission %d: %s %v", i+1, outcome, err)
		}
	}
	var sent []struct {
		ApplicationID string `db:"application_id"`
		MessageID     string `db:"message_id"`
		Payload       []byte `db:"payload"`
	}
	if err := w.db.Select(&sent, `SELECT application_id, message_id, payload FROM deliveries WHERE kind = 'contract-event' ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if len(sent) != 2 || sent[0].ApplicationID != loan || sent[1].ApplicationID != submitted || sent[0].MessageID == sent[1].MessageID {
		t.Fatalf("contract events %+v, want one for %s and one for %s", sent, loan, submitted)
	}
	for i, s := range sent {
		var env map[string]any
		if err := json.Unmarshal(s.Payload, &env); err != nil {
			t.Fatal(err)
		}
		wantLoan := map[int]any{0: "LN-1", 1: nil}[i]
		// Version 2 at 1300000.00: limit 0.85 × 1300000.00 = 1105000.00,
		// above the 450000.00 financed.
		want := map[string]any{"version": 2.0, "amount": "1300000.00", "status": "active", "financing_limit": "1105000.00",
			"financed": "450000.00", "exceeds_limit": false}
		c, _ := env["contract"].(map[string]any)
		if env["event_id"] != s.MessageID || env["type"] != "contract.amended" || env["application_id"] != s.ApplicationID ||
			env["loan_id"] != wantLoan || c["id"] != w.contractID || c["contract_no"] != "C1" || c["purchaser_id"] != "sdu" ||
			!reflect.DeepEqual(env["data"], want) {
			t.Errorf("contract event %d: %s", i, s.Payload)
		}
	}
}
