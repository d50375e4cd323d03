package banking_test

import (
	"fmt"
	"testing"

	"procfin/banking"
	"procfin/subsidies"
)

// claimsWorld is a world whose events make subsidy claims (as procfin
// wires them), with n applications disbursed a loan each: LN-<i> of
// 1000.00, tranche D<i>, from 2026-11-22.
func claimsWorld(t *testing.T, n int, yearlyCap string) (*world, *banking.Events, []string) {
	t.Helper()
	w := newWorld(t, "http://127.0.0.1:1")
	subs := subsidies.NewService(w.db, subsidies.PolicyInput{EffectiveFrom: "2020-01-01", SubsidyRatio: "0.5", RateCap: "0.031",
		SupplierYearlyCap: yearlyCap, ProgrammeBudget: "1000000.00", EligibleSizeClasses: []string{"micro", "small", "medium"},
		FourEyesThreshold: "1000000.00"})
	if err := subs.EnsurePolicy(ctx); err != nil {
		t.Fatal(err)
	}
	ev := banking.NewEvents(w.db, w.lending)
	ev.OnRepaid = subs.OnRepaid
	apps := make([]string, n)
	none := make([]*banking.Consume, 3)
	for i := range apps {
		apps[i] = w.apply(t)
		disbursed := fmt.Sprintf(`{"loan_id":"LN-%d","disbursement_id":"D%d","amount":"1000.00","value_date":"2026-11-22","maturity_date":"2027-02-20","annual_rate":"0.0345"}`, i, i)
		if _, errors := ev.ApplyBatch("qilu-bank", [][]byte{event(fmt.Sprint("r", i), "application.received", apps[i], `{}`),
			event(fmt.Sprint("a", i), "application.approved", apps[i], approved)}, none[:2]); errors[0] != nil || errors[1] != nil {
			t.Fatalf("setting up loan %d: %v", i, errors)
		}
		w.confirmReceivable(t, apps[i]) // the purchaser confirms before the bank disburses
		if _, errors := ev.ApplyBatch("qilu-bank", [][]byte{event(fmt.Sprint("d", i), "loan.disbursed", apps[i], disbursed)}, none[:1]); errors[0] != nil {
			t.Fatalf("disbursing loan %d: %v", i, errors)
		}
	}
	return w, ev, apps
}

// repaidEvent is loan LN-<loan>'s repayment id of principal and 1.00 of
// interest for the nine days from its value date: a claim of 0.39
// (1000.00 × 3.1 % × 9 / 360 = 0.775, half of it).
func repaidEvent(eventID string, app string, loan int, id, principal string) []byte {
	return event(eventID, "loan.repaid", app, fmt.Sprintf(`{"loan_id":"LN-%d","repayment_id":%q,"disbursement_id":"D%d","principal":%q,"interest":"1.00","paid_on":"2026-12-01","interest_period":{"start":"2026-11-22","end":"2026-12-01"}}`,
		loan, id, loan, principal))
}

// claimRow is what a claim says of its repayment, without its ids and
// times.
type claimRow struct {
	Repayment   string `db:"bank_repayment_id"`
	Status      string `db:"status"`
	Amount      string `db:"amount"`
	Interest    string `db:"interest_paid"`
	PaidOn      string `db:"paid_on"`
	Year        int    `db:"year"`
	Policy      int    `db:"policy_version"`
	Reason      string `db:"ineligible_reason"`
	Required    int    `db:"approvals_required"`
	Computation string `db:"computation"`
	Audited     bool   `db:"audited"`
}

func claims(t *testing.T, w *world) map[string]claimRow {
	t.Helper()
	var rows []claimRow
	if err := w.db.Select(&rows, `
		SELECT r.bank_repayment_id, c.status, c.amount::text, c.interest_paid::text, c.paid_on::text, c.year, coalesce(c.policy_version, 0) AS policy_version,
			c.ineligible_reason, c.approvals_required, c.computation::text,
			EXISTS (SELECT FROM audit_log a WHERE a.entity_type = 'subsidy_claim' AND a.entity_id = c.id::text) AS audited
		FROM subsidy_claims c JOIN repayments r ON r.id = c.repayment_id AND r.loan_id = c.loan_id`); err != nil {
		t.Fatal(err)
	}
	m := map[string]claimRow{}
	for _, r := range rows {
		m[r.Repayment] = r
	}
	return m
}

// TestRepaymentClaimAloneAndInBatch: a repayment applied alone, and the
// same repayment applied in a batch after another event of its
// application and before another loan's repayment, make the same claim,
// figure for figure.
func TestRepaymentClaimAloneAndInBatch(t *testing.T) {
	t.Parallel()
	none := make([]*banking.Consume, 3)
	w, ev, apps := claimsWorld(t, 2, "100000.00")
	if outcomes, errors := ev.ApplyBatch("qilu-bank", [][]byte{repaidEvent("e1", apps[0], 0, "R1", "100.00")}, none[:1]); outcomes[0] != banking.Processed {
		t.Fatalf("alone: %q %v", outcomes[0], errors[0])
	}
	alone := claims(t, w)["R1"]
	if alone.Status != subsidies.Pending || alone.Amount != "0.39" || alone.Policy != 1 || !alone.Audited {
		t.Fatalf("the lone repayment's claim: %+v, want pending 0.39 of policy 1, audited", alone)
	}

	w, ev, apps = claimsWorld(t, 2, "100000.00")
	outcomes, errors := ev.ApplyBatch("qilu-bank", [][]byte{
		event("e0", "application.received", apps[0], `{}`), // changes nothing after the decision
		repaidEvent("e1", apps[0], 0, "R1", "100.00"),
		repaidEvent("e2", apps[1], 1, "R2", "300.00"),
	}, none)
	for i := range outcomes {
		if outcomes[i] != banking.Processed {
			t.Fatalf("event %d of the batch: %q %v", i, outcomes[i], errors[i])
		}
	}
	wantTransactions(t, w.db, "e", 1)
	got := claims(t, w)
	if got["R1"] != alone {
		t.Errorf("claims differ:\nalone    %+v\nin batch %+v", alone, got["R1"])
	}
	if c := got["R2"]; c.Status != subsidies.Pending || c.Amount != "0.39" || len(got) != 2 {
		t.Errorf("claims %+v, want R2's pending 0.39 besides", got)
	}
}

// TestRepaymentClaimsOfOneBatchShareTheCap: two repayments of one
// supplier in one batch count against its yearly cap in their order: the
// first its whole claim, the second what the cap leaves, whatever the
// order of their applications' ids; the year's total is theirs.
func TestRepaymentClaimsOfOneBatchShareTheCap(t *testing.T) {
	t.Parallel()
	w, ev, apps := claimsWorld(t, 2, "0.50")
	first, second := 0, 1
	if apps[0] < apps[1] { // the first repayment's application locked last
		first, second = 1, 0
	}
	outcomes, errors := ev.ApplyBatch("qilu-bank", [][]byte{
		repaidEvent("e1", apps[first], first, "R-first", "100.00"),
		repaidEvent("e2", apps[second], second, "R-second", "100.00"),
	}, make([]*banking.Consume, 2))
	if outcomes[0] != banking.Processed || outcomes[1] != banking.Processed {
		t.Fatalf("the batch: %q %v, %q %v", outcomes[0], errors[0], outcomes[1], errors[1])
	}
	wantTransactions(t, w.db, "e", 1)
	got := claims(t, w)
	if c := got["R-first"]; c.Status != subsidies.Pending || c.Amount != "0.39" {
		t.Errorf("the first claim: %s %s, want pending 0.39", c.Status, c.Amount)
	}
	if c := got["R-second"]; c.Status != subsidies.Pending || c.Amount != "0.11" {
		t.Errorf("the second claim: %s %s, want pending 0.11 (the cap's rest)", c.Status, c.Amount)
	}
	var claimed string
	if err := w.db.Get(&claimed, `SELECT claimed::text FROM subsidy_supplier_years WHERE supplier_uscc = $1 AND year = 2026`, uscc); err != nil || claimed != "0.50" {
		t.Errorf("the supplier's year claimed %s (%v), want 0.50", claimed, err)
	}
}
