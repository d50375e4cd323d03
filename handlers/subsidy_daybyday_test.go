package handlers

import (
	"encoding/json"
	"strings"
	"testing"

	"procfin/platform/money"
)

// trancheLoan is a small supplier's loan LN-1 of two tranches of
// 250,000.00 valued 2026-11-22 at 3.45 %, under a policy version whose
// 1-year LPR is 3.10 % from 2026-11-01 (3.45 % before).
func (e *env) trancheLoan() (*bankSystem, string, string) {
	e.t.Helper()
	_, admin := e.user("lpr-admin", "admin", "")
	r := e.do("POST", "/v1/admin/subsidy-policies", admin, map[string]any{"effective_from": "2020-01-01", "subsidy_ratio": "0.5",
		"lpr_1y":              []map[string]string{{"from": "2020-01-01", "rate": "0.0345"}, {"from": "2026-11-01", "rate": "0.0310"}},
		"supplier_yearly_cap": "200000.00", "programme_budget": "50000000.00",
		"eligible_size_classes": []string{"micro", "small", "medium"}, "four_eyes_threshold": "50000.00"})
	if r.status != 201 {
		e.t.Fatalf("policy: %d %s", r.status, r.body)
	}
	qilu := e.bank("qilu-bank")
	appID, tok := e.applied(qilu)
	for _, s := range []struct{ id, typ, data string }{
		{"e1", "application.received", `{}`},
		{"e2", "application.approved", approvedData},
		{"e3", "loan.disbursed", disbursed("D1", "250000.00")},
		{"e4", "loan.disbursed", disbursed("D2", "250000.00")},
	} {
		if r := qilu.send(s.id, s.typ, appID, s.data); r.status != 200 {
			e.t.Fatalf("%s: %d %s", s.typ, r.status, r.body)
		}
		if s.typ == "application.approved" {
			e.confirmReceivable(appID) // the purchaser confirms before the bank disburses
		}
	}
	return qilu, appID, tok
}

// repayTranche sends loan.repaid of tranche for LN-1.
func (b *bankSystem) repayTranche(appID, id, tranche, principal, interest, start, paidOn string) {
	b.e.t.Helper()
	b.e.repaidOn(paidOn)
	data := `{"loan_id": "LN-1", "repayment_id": "` + id + `", "disbursement_id": "` + tranche + `", "principal": "` + principal +
		`", "interest": "` + interest + `", "paid_on": "` + paidOn + `", "interest_period": {"start": "` + start + `", "end": "` + paidOn + `"}}`
	if r := b.send("ev-"+id, "loan.repaid", appID, data); r.status != 200 {
		b.e.t.Fatalf("repayment %s: %d %s", id, r.status, r.body)
	}
}

// TestSubsidyPerTranche is the example through signed bank
// events: 500,000.00 as two tranches of 250,000.00 at 3.45 %, the cap
// 3.10 %, each repaid with its 90 days' interest (2026-11-22..2027-02-20)
// 250000 × 0.0345 × 90 / 360 = 2156.25. Each claim is
// 250000 × 0.031 × 90 / 360 × 0.5 = 968.75, 1,937.50 in all; the first
// is not 1,078.13 (the whole loan outstanding: 500000 × 0.031 × 90 / 360
// = 3875.00, capped by 2156.25 paid, × 0.5). Its computation shows one
// run of 90 days on 250,000.00 at 3.10 %.
func TestSubsidyPerTranche(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu, appID, _ := e.trancheLoan()
	_, officer := e.user("officer-li", "officer", "")
	qilu.repayTranche(appID, "R1", "D1", "250000.00", "2156.25", "2026-11-22", "2027-02-20")
	qilu.repayTranche(appID, "R2", "D2", "250000.00", "2156.25", "2026-11-22", "2027-02-20")
	list := e.claims(officer, "?status=pending")
	if len(list) != 2 || list[0].Amount != "968.75" || list[1].Amount != "968.75" {
		t.Fatalf("claims %+v", list)
	}
	r := e.do("GET", "/v1/subsidy-claims/"+list[1].ID, officer, nil)
	var c struct {
		Computation struct {
			Runs []struct {
				DisbursementID string `json:"disbursement_id"`
				From, To       string
				Days           int
				Principal      string
				Rate           string
				Interest       string
			}
		}
	}
	if err := json.Unmarshal(r.body, &c); err != nil || r.status != 200 {
		t.Fatalf("claim: %d %s (%v)", r.status, r.body, err)
	}
	// 250000 × 0.031 × 90 / 360 = 1937.5
	if runs := c.Computation.Runs; len(runs) != 1 || runs[0].DisbursementID != "D1" || runs[0].From != "2026-11-22" || runs[0].To != "2027-02-20" ||
		runs[0].Days != 90 || runs[0].Principal != "250000.00" || money.MustRate(runs[0].Rate).Decimal().String() != "0.031" ||
		runs[0].Interest != "1937.5" {
		t.Fatalf("runs %+v", c.Computation.Runs)
	}
}

// TestSubsidyOnOverdue: a loan.overdue arriving after claims were made
// rejects, with loan_overdue, the pending claims of repayments paid on or
// after its since, audited, and takes them off the supplier's year; the
// claims of repayments paid before stay pending.
func TestSubsidyOnOverdue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu, appID, _ := e.trancheLoan()
	_, officer := e.user("officer-li", "officer", "")
	// 968.75 each, as in TestSubsidyPerTranche.
	qilu.repayTranche(appID, "R1", "D1", "250000.00", "2156.25", "2026-11-22", "2027-02-20")
	qilu.repayTranche(appID, "R2", "D2", "0.00", "2156.25", "2026-11-22", "2027-02-20")
	// D2's next 31 days (2027-02-20..2027-03-23), paid 2027-03-23:
	// 250000 × 0.031 × 31 / 360 × 0.5 = 333.6805… → 333.68.
	qilu.repayTranche(appID, "R3", "D2", "0.00", "800.00", "2027-02-20", "2027-03-23")
	if list := e.claims(officer, "?status=pending"); len(list) != 3 || list[0].Amount != "333.68" {
		t.Fatalf("claims %+v", list)
	}
	// Overdue since 2027-03-01, told by the bank: only R3 was paid on or
	// after it (the batch's OnOverdue).
	if r := qilu.send("ev-od", "loan.overdue", appID, `{"loan_id": "LN-1", "overdue_principal": "250000.00", "since": "2027-03-01"}`); r.status != 200 {
		t.Fatalf("overdue: %d %s", r.status, r.body)
	}
	var got []string
	if err := e.db.Select(&got, `SELECT c.status || ' ' || c.rejection_reason || ' ' || c.amount || ' ' ||
			(SELECT count(*) FROM audit_log a WHERE a.entity_id = c.id::text AND a.action = 'subsidy_claim.rejected')
		FROM subsidy_claims c ORDER BY c.seq`); err != nil {
		t.Fatal(err)
	}
	want := "pending  968.75 0,pending  968.75 0,rejected loan_overdue 333.68 1"
	if strings.Join(got, ",") != want {
		t.Fatalf("claims %q, want %q", got, want)
	}
	// The year holds R1's and R2's claims now: 968.75 + 968.75 = 1937.50.
	var claimed string
	if err := e.db.Get(&claimed, `SELECT claimed::text FROM subsidy_supplier_years WHERE year = 2027`); err != nil || claimed != "1937.50" {
		t.Fatalf("the supplier's 2027 holds %s (%v), want 1937.50", claimed, err)
	}
}
