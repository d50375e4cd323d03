package handlers

import (
	"testing"
)

// TestConfirmAfterLoanClosed: a loan disbursed before the purchaser's
// confirmation, repaid in full and closed, keeps its subsidy claim held
// until the purchaser confirms; the confirmation then covers the closed
// application (its lock never confirmed) and releases the claim to
// pending. No contract event goes to the bank: it finances the contract
// no more.
func TestConfirmAfterLoanClosed(t *testing.T) {
	t.Parallel()
	rw := newReceivableWorld(t)
	rw.ok("loan.disbursed", disbursed("D1", "800000.00"))
	// 800000.00 × min(3.45 %, 3.10 %) × 90 / 360 = 6200.00 ≤ 6900.00 paid;
	// × 0.5 = 3100.00, held. All principal repaid: the loan closes.
	rw.qilu.repay(rw.appID, "R1", "800000.00", "6900.00", "2026-11-22", "2027-02-20")
	a := rw.do("GET", "/v1/credit-applications/"+rw.appID, rw.supplier, nil).json(t)
	if a["status"] != "closed" || a["repayment_account"].(map[string]any)["status"] != "released" {
		t.Fatalf("after the last repayment: %v", a)
	}
	held := rw.claims(rw.officer, "?status=held")
	if len(held) != 1 || held[0].Amount != "3100.00" {
		t.Fatalf("held claims %+v, want one of 3100.00", held)
	}
	before := len(rw.queued())

	r := rw.sdu.post(rw.confirmation(), confirmBody("800000.00", "6222"))
	if r.status != 200 {
		t.Fatalf("the confirmation of a closed loan's receivable: %d %s, want 200", r.status, r.body)
	}
	if st := r.json(t)["status"]; st != "confirmed" {
		t.Fatalf("receivable %s, want confirmed: %s", st, r.body)
	}
	if h := rw.claims(rw.officer, "?status=held"); len(h) != 0 {
		t.Fatalf("held claims after the confirmation: %+v", h)
	}
	pending := rw.claims(rw.officer, "?status=pending")
	if len(pending) != 1 || pending[0].ID != held[0].ID || pending[0].Amount != "3100.00" {
		t.Fatalf("pending claims %+v, want the held one of 3100.00", pending)
	}
	if after := rw.queued(); len(after) != before {
		t.Fatalf("contract events to a closed loan's bank: %+v", after[before:])
	}
	var confirmed int
	if err := rw.db.Get(&confirmed, `SELECT count(*) FROM repayment_accounts WHERE application_id = $1
		AND confirmed_at IS NOT NULL AND status = 'released'`, rw.appID); err != nil || confirmed != 1 {
		t.Fatalf("the closed loan's lock: %d confirmed and released (%v), want 1", confirmed, err)
	}
	// The same confirmation again changes nothing; another account is refused.
	if r := rw.sdu.post(rw.confirmation(), confirmBody("800000.00", "6222")); r.status != 200 {
		t.Fatalf("the same confirmation again: %d %s", r.status, r.body)
	}
	wantProblem(t, rw.sdu.post(rw.confirmation(), confirmBody("800000.00", "9999")), 409, "invalid_transition")
}
