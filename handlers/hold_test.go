package handlers

import (
	"context"
	"fmt"
	"testing"

	"procfin/platform/postgres"
)

// confirmReceivable has the purchaser confirm the receivable of the
// contract of application appID: the approved sum into the approved
// account, as a confirmation does (the lock confirmed, the receivable
// confirmed, the held claims released).
func (e *env) confirmReceivable(appID string) {
	e.t.Helper()
	ctx := context.Background()
	err := postgres.Transact(ctx, e.db, func(tx *postgres.Tx) error {
		var a struct {
			BankID     string `db:"bank_id"`
			ContractID string `db:"contract_id"`
		}
		if err := tx.GetContext(ctx, &a, `SELECT bank_id, contract_id FROM applications WHERE id = $1`, appID); err != nil {
			return err
		}
		// Locked as every change to an application is (the read cache forgets it).
		if _, err := e.lending.BankApplication(ctx, tx, a.BankID, appID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			WITH apps AS (
				SELECT ap.id, ap.approved_amount FROM applications ap
				WHERE ap.contract_id = $1 AND ap.bank_id = $2 AND ap.approved_amount IS NOT NULL
			), r AS (
				UPDATE receivables SET status = 'confirmed', confirmed_by = 'user:purchaser', confirmed_at = now(), payment_terms = '[]',
					confirmed_amount = (SELECT sum(approved_amount) FROM apps),
					repayment_account = (SELECT json_build_object('bank_name', bank_name, 'account_no', account_no, 'account_name', account_name)
						FROM repayment_accounts WHERE application_id = $3)
				WHERE contract_id = $1
			)
			UPDATE repayment_accounts SET confirmed_at = coalesce(confirmed_at, now()),
				status = CASE WHEN status = 'proposed' THEN 'confirmed' ELSE status END
			WHERE application_id IN (SELECT id FROM apps)`, a.ContractID, a.BankID, appID); err != nil {
			return err
		}
		return e.subsidies.ReleaseHeld(ctx, tx, []string{appID})
	})
	if err != nil {
		e.t.Fatal(err)
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
