package lending_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// twoTranches takes a new application of 1,000.00 to a loan "LN-<id>" of
// two tranches: D1 600.00 from 2026-11-10 and D2 400.00 from 2026-11-15.
func (w *world) twoTranches() (appID, loanID string) {
	w.t.Helper()
	a, err := w.apply("1000.00", false)
	if err != nil {
		w.t.Fatal(err)
	}
	loanID = "LN-" + a.ID[:8]
	tranche := func(id, amount, valueDate string) func(tx *postgres.Tx) error {
		return func(tx *postgres.Tx) error {
			return w.lending.DisburseOne(ctx, tx, "qilu-bank", a.ID, loanID, lending.Disbursement{BankDisbursementID: id + "-" + a.ID[:8],
				Amount: money.MustAmount(amount), ValueDate: money.MustDate(valueDate), MaturityDate: money.MustDate("2027-05-21"),
				AnnualRate: money.MustRate("0.0345")}, "bank:qilu-bank")
		}
	}
	for _, f := range []func(tx *postgres.Tx) error{
		func(tx *postgres.Tx) error { return w.lending.MarkDelivered(ctx, tx, a.ID, "QL-"+a.ID[:8]) },
		func(tx *postgres.Tx) error {
			return w.lending.Approve(ctx, tx, "qilu-bank", a.ID, lending.Approval{ApprovedAmount: money.MustAmount("1000.00"),
				AnnualRate: money.MustRate("0.0345"), TermDays: 180, RepaymentAccount: account}, "bank:qilu-bank")
		},
		tranche("D1", "600.00", "2026-11-10"),
		tranche("D2", "400.00", "2026-11-15"),
	} {
		if err := w.tx(f); err != nil {
			w.t.Fatal(err)
		}
	}
	return a.ID, loanID
}

// loanState is what a repayment may change of a loan, as text.
func (w *world) loanState(loanID string) string {
	w.t.Helper()
	var s string
	err := w.db.Get(&s, `
		SELECT concat_ws(' | ', l.repaid_principal, l.interest_paid, a.repaid_principal, a.status,
			(SELECT string_agg(bank_disbursement_id || '=' || (amount - outstanding), ',' ORDER BY bank_disbursement_id) FROM disbursements WHERE loan_id = l.id),
			(SELECT count(*) FROM repayments WHERE loan_id = l.id))
		FROM loans l JOIN applications a ON a.id = l.application_id WHERE l.bank_loan_id = $1`, loanID)
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// TestRepaymentFigures: bank-protocol.md 1.1, "Repayments name their
// tranche, and their figures are checked". Today is 2026-11-20 in
// Shanghai (the world's clock), so a payment may be dated up to 2026-11-21.
// Each refusal stores nothing.
func TestRepaymentFigures(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	_, otherLoan := w.twoTranches()
	type rp struct{ tranche, principal, interest, paidOn, start, end string }
	cases := []struct {
		name  string
		first *rp // recorded before, and must succeed
		r     rp
		want  errs.Code
	}{
		{"SamePeriodTwice", &rp{"", "1.00", "0.10", "2026-11-20", "2026-11-15", "2026-11-20"},
			rp{"", "1.00", "0.10", "2026-11-20", "2026-11-15", "2026-11-20"}, errs.InvalidTransition},
		{"OverlapOneDay", &rp{"D1", "1.00", "0.10", "2026-11-20", "2026-11-15", "2026-11-20"},
			rp{"D1", "1.00", "0.10", "2026-11-21", "2026-11-19", "2026-11-21"}, errs.InvalidTransition},
		{"TrancheOverlapsWholeLoan", &rp{"", "1.00", "0.10", "2026-11-20", "2026-11-15", "2026-11-20"},
			rp{"D2", "1.00", "0.10", "2026-11-20", "2026-11-16", "2026-11-17"}, errs.InvalidTransition},
		{"WholeLoanOverlapsATranche", &rp{"D2", "1.00", "0.10", "2026-11-20", "2026-11-16", "2026-11-17"},
			rp{"", "1.00", "0.10", "2026-11-20", "2026-11-10", "2026-11-20"}, errs.InvalidTransition},
		{"FromTheYear2000", nil, rp{"", "1.00", "0.10", "2026-11-20", "2000-01-01", "2026-11-20"}, errs.InvalidFigures},
		{"BeforeTheLoansFirstValueDate", nil, rp{"", "1.00", "0.10", "2026-11-20", "2026-11-09", "2026-11-20"}, errs.InvalidFigures},
		{"BeforeTheTranchesValueDate", nil, rp{"D2", "1.00", "0.10", "2026-11-20", "2026-11-14", "2026-11-20"}, errs.InvalidFigures},
		{"StartIsEnd", nil, rp{"", "1.00", "0.10", "2026-11-20", "2026-11-15", "2026-11-15"}, errs.InvalidFigures},
		{"StartAfterEnd", nil, rp{"", "1.00", "0.10", "2026-11-20", "2026-11-16", "2026-11-15"}, errs.InvalidFigures},
		{"EndAfterPaidOn", nil, rp{"", "1.00", "0.10", "2026-11-19", "2026-11-15", "2026-11-20"}, errs.InvalidFigures},
		{"PaidIn2099", nil, rp{"", "1.00", "0.10", "2099-01-01", "2026-11-15", "2026-11-20"}, errs.InvalidFigures},
		{"PaidTheDayAfterTomorrow", nil, rp{"", "1.00", "0.10", "2026-11-22", "2026-11-15", "2026-11-20"}, errs.InvalidFigures},
		{"InterestWithoutAPeriod", nil, rp{"", "1.00", "0.10", "2026-11-20", "", ""}, errs.InvalidFigures},
		// D2 has 400.00 outstanding, the loan 1,000.00.
		{"AboveTheTranchesOutstanding", nil, rp{"D2", "400.01", "0.10", "2026-11-20", "2026-11-15", "2026-11-20"}, errs.InvalidTransition},
		{"AboveTheLoansOutstanding", nil, rp{"", "1000.01", "0.10", "2026-11-20", "2026-11-15", "2026-11-20"}, errs.InvalidTransition},
		{"UnknownTranche", nil, rp{"D9", "1.00", "0.10", "2026-11-20", "2026-11-15", "2026-11-20"}, errs.InvalidTransition},
		{"AnotherLoansTranche", nil, rp{"other", "1.00", "0.10", "2026-11-20", "2026-11-15", "2026-11-20"}, errs.InvalidTransition},
		// What passes: tomorrow, a tranche's whole outstanding, a whole-loan
		// period next to a tranche's, no period without interest.
		{"PaidTomorrow", nil, rp{"", "1.00", "0.10", "2026-11-21", "2026-11-15", "2026-11-21"}, ""},
		{"TheTranchesWholeOutstanding", nil, rp{"D2", "400.00", "0.10", "2026-11-20", "2026-11-15", "2026-11-20"}, ""},
		{"NextToATranchesPeriod", &rp{"D1", "1.00", "0.10", "2026-11-20", "2026-11-10", "2026-11-15"},
			rp{"", "1.00", "0.10", "2026-11-20", "2026-11-15", "2026-11-20"}, ""},
		{"TwoTranchesOneDay", &rp{"D1", "1.00", "0.10", "2026-11-20", "2026-11-15", "2026-11-20"},
			rp{"D2", "1.00", "0.10", "2026-11-20", "2026-11-15", "2026-11-20"}, ""},
		{"NoInterestNoPeriod", &rp{"", "1.00", "0.10", "2026-11-20", "2026-11-15", "2026-11-20"},
			rp{"", "5.00", "0.00", "2026-11-20", "", ""}, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			appID, loanID := w.twoTranches()
			tranche := func(name string) string {
				switch name {
				case "":
					return ""
				case "other":
					return "D1-" + otherLoan[len("LN-"):]
				}
				return name + "-" + appID[:8]
			}
			repay := func(id string, r rp) error {
				in := lending.Repayment{BankRepaymentID: fmt.Sprintf("F%d-%s", i, id), BankDisbursementID: tranche(r.tranche),
					Principal: money.MustAmount(r.principal), Interest: money.MustAmount(r.interest), PaidOn: money.MustDate(r.paidOn)}
				if r.start != "" {
					in.PeriodStart, in.PeriodEnd = money.MustDate(r.start), money.MustDate(r.end)
				}
				return w.tx(func(tx *postgres.Tx) error {
					_, err := w.lending.RepayOne(ctx, tx, "qilu-bank", appID, loanID, in, "bank:qilu-bank")
					return err
				})
			}
			if tc.first != nil {
				if err := repay("first", *tc.first); err != nil {
					t.Fatalf("the first repayment: %v", err)
				}
			}
			before := w.loanState(loanID)
			err := repay("second", tc.r)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "":
				return
			case !errs.Is(err, tc.want):
				t.Fatalf("%v, want %s", err, tc.want)
			}
			if after := w.loanState(loanID); after != before {
				t.Fatalf("refused, but the loan went from %s to %s", before, after)
			}
		})
	}
}

// TestRepaymentOverlapUnderConcurrency: repayments of one loan with
// overlapping periods, in concurrent transactions, are checked under the
// application's lock: exactly one is recorded.
func TestRepaymentOverlapUnderConcurrency(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	appID, loanID := w.twoTranches()
	const n = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Each pays a week's interest on D1, a day after the other's.
			from := money.MustDate("2026-11-10").AddDays(i % 2)
			results[i] = w.tx(func(tx *postgres.Tx) error {
				_, err := w.lending.RepayOne(ctx, tx, "qilu-bank", appID, loanID, lending.Repayment{BankRepaymentID: fmt.Sprintf("C%d", i),
					BankDisbursementID: "D1-" + appID[:8], Principal: money.MustAmount("1.00"), Interest: money.MustAmount("0.10"),
					PaidOn: money.MustDate("2026-11-20"), PeriodStart: from, PeriodEnd: from.AddDays(7)}, "bank:qilu-bank")
				if err == nil {
					time.Sleep(20 * time.Millisecond) // hold the lock: the others must wait, not pass
				}
				return err
			})
		}()
	}
	close(start)
	wg.Wait()
	recorded := 0
	for i, err := range results {
		switch {
		case err == nil:
			recorded++
		case !errs.Is(err, errs.InvalidTransition):
			t.Errorf("repayment %d: %v, want invalid_transition", i, err)
		}
	}
	// 1.00 of principal from the one recorded.
	if state := w.loanState(loanID); recorded != 1 || state != "1.00 | 0.10 | 1.00 | disbursed | D1-"+appID[:8]+"=1.00,D2-"+appID[:8]+"=0.00 | 1" {
		t.Fatalf("%d of %d overlapping repayments recorded; the loan is %s", recorded, n, state)
	}
}
