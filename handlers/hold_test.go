package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"procfin/lending"
	"procfin/platform/money"
)

// confirmReceivable has the purchaser confirm the receivable of the
// contract of application appID (lending.Service.Confirm): the sum its
// bank approved on the contract, into the approved account. The lock is
// confirmed and the held claims released.
func (e *env) confirmReceivable(appID string) {
	e.t.Helper()
	var a struct {
		ContractID  string       `db:"contract_id"`
		BankName    string       `db:"bank_name"`
		AccountNo   string       `db:"account_no"`
		AccountName string       `db:"account_name"`
		Approved    money.Amount `db:"approved"`
	}
	err := e.db.Get(&a, `
		SELECT ap.contract_id, ra.bank_name, ra.account_no, ra.account_name,
			(SELECT sum(x.approved_amount) FROM applications x WHERE x.contract_id = ap.contract_id AND x.bank_id = ap.bank_id
				AND x.status IN ('approved', 'disbursed', 'repaid')) AS approved
		FROM applications ap JOIN repayment_accounts ra ON ra.application_id = ap.id WHERE ap.id = $1`, appID)
	if err != nil {
		e.t.Fatal(err)
	}
	_, _, err = e.lending.Confirm(context.Background(), lending.Scope{}, a.ContractID, lending.Confirmation{ConfirmedAmount: a.Approved,
		RepaymentAccount: lending.Account{BankName: a.BankName, AccountNo: a.AccountNo, AccountName: a.AccountName},
		PaymentTerms:     json.RawMessage(`[]`)}, "user:purchaser")
	if err != nil {
		e.t.Fatalf("the purchaser's confirmation: %v", err)
	}
}

// TestDisbursedBeforeConfirmation: a version-1 bank disburses before the
// purchaser's confirmation: the event is processed, the lock locked with
// the alert's time, and the loan's subsidy claim held (listed as held,
// not approvable) until the purchaser confirms; then it is pending and
// approved. A second bank's application on the financed contract fails
// contract.single_bank.
func TestDisbursedBeforeConfirmation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu := e.bank("qilu-bank")
	appID, tok := e.applied(qilu)
	_, officer := e.user("officer-held", "officer", "")
	for _, s := range []struct{ id, typ, data string }{
		{"e1", "application.received", `{}`},
		{"e2", "application.approved", approvedData},
		{"e3", "loan.disbursed", disbursed("D1", "800000.00")},
	} {
		if r := qilu.send(s.id, s.typ, appID, s.data); r.status != 200 || r.json(t)["status"] != "processed" {
			t.Fatalf("%s: %d %s, want 200 processed", s.typ, r.status, r.body)
		}
	}
	a := e.do("GET", "/v1/credit-applications/"+appID, tok, nil).json(t)
	if a["status"] != "disbursed" || a["repayment_account"].(map[string]any)["status"] != "locked" {
		t.Fatalf("after the disbursement: %v", a)
	}
	var alerts int
	if err := e.db.Get(&alerts, `SELECT count(*) FROM repayment_accounts WHERE application_id = $1
		AND disbursed_unconfirmed_at IS NOT NULL AND confirmed_at IS NULL`, appID); err != nil || alerts != 1 {
		t.Fatalf("%d locks disbursed before confirmation (%v), want 1", alerts, err)
	}

	// 800000.00 × min(3.45%, 3.10%) × 90 days / 360 = 6200.00 ≤ 6900.00 paid; × 0.5 = 3100.00, held.
	qilu.repay(appID, "R1", "0.00", "6900.00", "2026-11-22", "2027-02-20")
	if p := e.claims(officer, "?status=pending"); len(p) != 0 {
		t.Fatalf("pending claims before the confirmation: %+v", p)
	}
	held := e.claims(officer, "?status=held")
	if len(held) != 1 || held[0].Amount != "3100.00" {
		t.Fatalf("held claims %+v, want one of 3100.00", held)
	}
	p := wantProblem(t, e.do("POST", "/v1/subsidy-claims/"+held[0].ID+"/approve", officer, nil), 409, "invalid_transition")
	if d, _ := p["detail"].(string); d == "" {
		t.Fatalf("the refusal says nothing: %v", p)
	}
	if used := e.budgetUsed(2027); used != "0.00" {
		t.Fatalf("budget used %s by a held claim", used)
	}

	// One bank finances a contract at a time.
	other := e.bank("other-bank")
	var contractID string
	if err := e.db.Get(&contractID, `SELECT contract_id FROM applications WHERE id = $1`, appID); err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/v1/credit-applications", tok, fmt.Sprintf(`{"contract_id": %q, "bank_id": %q, "amount": "1000.00", "term_days": 90, "purpose": "materials"}`,
		contractID, other.id), "Idempotency-Key", "second-bank")
	prob := wantProblem(t, r, 422, "verification_failed")
	if checkResult(prob["verification"].(map[string]any), "contract.single_bank") != "fail" {
		t.Fatalf("a second bank's application: %s, want contract.single_bank failed", r.body)
	}

	// The purchaser confirms: the claim waits for an officer, who approves it.
	e.confirmReceivable(appID)
	pending := e.claims(officer, "?status=pending")
	if len(pending) != 1 || pending[0].ID != held[0].ID {
		t.Fatalf("pending claims after the confirmation %+v", pending)
	}
	if r := e.do("POST", "/v1/subsidy-claims/"+held[0].ID+"/approve", officer, nil); r.status != 200 || decodeClaim(t, r).Status != "approved" {
		t.Fatalf("approving the released claim: %d %s", r.status, r.body)
	}
}
