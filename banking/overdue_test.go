package banking_test

import (
	"context"
	"fmt"
	"testing"

	"procfin/banking"
	"procfin/lending"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// TestOnOverdueOncePerBatch: the loan.overdue events of a batch reach
// Events.OnOverdue once, after its repayments' OnRepaid, in the batch's
// transaction, in their order, each with its loan and the episode's start;
// a batch without one does not call it.
func TestOnOverdueOncePerBatch(t *testing.T) {
	t.Parallel()
	w, ev, apps := claimsWorld(t, 2, "100000.00")
	var calls [][]lending.OverdueResult
	var order []string
	repaid := ev.OnRepaid
	ev.OnRepaid = func(ctx context.Context, tx *postgres.Tx, rs []lending.RepaymentResult) error {
		order = append(order, "repaid")
		return repaid(ctx, tx, rs)
	}
	ev.OnOverdue = func(ctx context.Context, tx *postgres.Tx, os []lending.OverdueResult) error {
		order = append(order, "overdue")
		calls = append(calls, os)
		return nil
	}
	overdue := func(eventID, app string, loan int, since string) []byte {
		return event(eventID, "loan.overdue", app, fmt.Sprintf(`{"loan_id":"LN-%d","overdue_principal":"500.00","since":%q}`, loan, since))
	}
	none := make([]*banking.Consume, 4)
	outcomes, errors := ev.ApplyBatch("qilu-bank", [][]byte{
		overdue("o1", apps[1], 1, "2026-12-03"),
		repaidEvent("e1", apps[0], 0, "R1", "100.00"),
		overdue("o2", apps[0], 0, "2026-12-02"),
	}, none[:3])
	for i, want := range []string{banking.Processed, banking.Processed, banking.Processed} {
		if outcomes[i] != want {
			t.Fatalf("event %d: %q %v, want %q", i, outcomes[i], errors[i], want)
		}
	}
	var loans []string
	if err := w.db.Select(&loans, `SELECT id FROM loans ORDER BY bank_loan_id`); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([][]lending.OverdueResult{{
		{ApplicationID: apps[1], LoanID: loans[1], Since: money.MustDate("2026-12-03")},
		{ApplicationID: apps[0], LoanID: loans[0], Since: money.MustDate("2026-12-02")},
	}})
	if got := fmt.Sprint(calls); got != want || fmt.Sprint(order) != "[repaid overdue]" {
		t.Fatalf("OnOverdue calls %s in order %v, want %s after OnRepaid", got, order, want)
	}

	// A batch without an overdue leaves it alone.
	calls = nil
	if outcomes, errors := ev.ApplyBatch("qilu-bank", [][]byte{repaidEvent("e2", apps[1], 1, "R2", "1.00")}, none[:1]); outcomes[0] != banking.Processed {
		t.Fatalf("repayment: %v", errors[0])
	}
	if calls != nil {
		t.Fatalf("OnOverdue called for a batch without overdue: %v", calls)
	}
}
