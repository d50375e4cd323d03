package lending_test

import (
	"testing"

	"procfin/lending"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// TestClaimOfTrancheDisbursedAfterRepayment: a whole-loan repayment takes
// its principal from the tranches the loan has when it is recorded; a
// tranche disbursed later, with an earlier value date, took nothing of it,
// and a later claim counts it so.
//
//	T1 100,000.00 from 2026-10-11; 50,000.00 repaid on 2026-10-16 (whole
//	loan: all of it from T1, the only tranche); T2 100,000.00 from
//	2026-10-01, disbursed after. T1 then repays 1,000.00 of interest for
//	2026-10-20 to 2026-10-30 (10 days at min(3.45 %, LPR 3.10 %) = 3.10 %):
//	50,000.00 × 0.031 × 10 / 360 = 43.0555…, × 0.5 = 21.527… → 21.53
//	(not 43.06, T1's whole 100,000.00, as if T2 had taken the 50,000.00).
func TestClaimOfTrancheDisbursedAfterRepayment(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.withSubsidies()
	a, err := w.apply("200000.00", false)
	if err != nil {
		t.Fatal(err)
	}
	loan := "PLN-" + a.ID
	step := func(f func(tx *postgres.Tx) error) {
		t.Helper()
		if err := w.tx(f); err != nil {
			t.Fatal(err)
		}
	}
	disburse := func(id, value, rate string) {
		t.Helper()
		step(func(tx *postgres.Tx) error {
			return w.lending.DisburseOne(ctx, tx, bank, a.ID, loan, lending.Disbursement{BankDisbursementID: id, Amount: money.MustAmount("100000.00"),
				ValueDate: money.MustDate(value), MaturityDate: money.MustDate("2027-05-21"), AnnualRate: money.MustRate(rate)}, "bank:"+bank)
		})
	}
	repay := func(r lending.Repayment) {
		t.Helper()
		step(func(tx *postgres.Tx) error {
			res, err := w.lending.RepayOne(ctx, tx, bank, a.ID, loan, r, "bank:"+bank)
			if err != nil {
				return err
			}
			return w.subsidies.OnRepaid(ctx, tx, []lending.RepaymentResult{res})
		})
	}
	step(func(tx *postgres.Tx) error {
		return w.lending.Approve(ctx, tx, bank, a.ID, lending.Approval{ApprovedAmount: money.MustAmount("200000.00"),
			AnnualRate: money.MustRate("0.0345"), TermDays: 180, RepaymentAccount: account}, "bank:"+bank)
	})
	w.confirmReceivable(w.contractID, "200000.00", account) // the purchaser confirms before the bank disburses
	disburse("T1", "2026-10-11", "0.0345")
	repay(lending.Repayment{BankRepaymentID: "R1", Principal: money.MustAmount("50000.00"), Interest: money.Zero, PaidOn: money.MustDate("2026-10-16")})
	disburse("T2", "2026-10-01", "0.0345")
	repay(lending.Repayment{BankRepaymentID: "R2", BankDisbursementID: "T1", Principal: money.Zero, Interest: money.MustAmount("1000.00"),
		PaidOn: money.MustDate("2026-10-30"), PeriodStart: money.MustDate("2026-10-20"), PeriodEnd: money.MustDate("2026-10-30")})
	var got struct{ Amount, Status string }
	must(t, func() error {
		return w.db.Get(&got, `SELECT amount::text AS amount, status FROM subsidy_claims WHERE application_id = $1`, a.ID)
	})
	if got.Amount != "21.53" || got.Status != "pending" {
		t.Errorf("claim %s %s, want 21.53 pending", got.Amount, got.Status)
	}
}
