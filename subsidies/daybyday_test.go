package subsidies

import (
	"strconv"
	"strings"
	"testing"

	"procfin/lending"
	"procfin/platform/money"
)

// specLPR is domain.md's 1-year LPR (configs/defaults.yaml's lpr_1y).
func specLPR() LPRTable {
	return LPRTable{
		{From: money.MustDate("2023-08-21"), Rate: money.MustRate("0.0345")},
		{From: money.MustDate("2024-07-22"), Rate: money.MustRate("0.0335")},
		{From: money.MustDate("2024-10-21"), Rate: money.MustRate("0.0310")},
		{From: money.MustDate("2025-05-20"), Rate: money.MustRate("0.0300")},
	}
}

func TestLPRTableOn(t *testing.T) {
	t.Parallel()
	tab := specLPR()
	for day, want := range map[string]string{
		"2020-01-01": "0.0345", // before the first entry: the first
		"2023-08-21": "0.0345",
		"2024-07-21": "0.0345",
		"2024-07-22": "0.0335", // the day an entry takes effect
		"2024-10-20": "0.0335",
		"2024-10-21": "0.031",
		"2025-05-19": "0.031",
		"2025-05-20": "0.03",
		"2030-01-01": "0.03",
	} {
		if got := tab.On(money.MustDate(day)).Decimal().String(); got != want {
			t.Errorf("LPR on %s: %s, want %s", day, got, want)
		}
	}
}

// tranche is a tranche of the test loan: procfin's id is "t-"+its bank id.
func tranche(id, amount, valueDate, rate string) lending.TrancheRecord {
	return lending.TrancheRecord{ID: "t-" + id, BankDisbursementID: id, Amount: money.MustAmount(amount),
		ValueDate: money.MustDate(valueDate), AnnualRate: money.MustRate(rate)}
}

// repaid is a recorded repayment of the test loan, in the seq-th place,
// of tranche ("": the whole loan); start "" has no interest period.
func repaid(seq int64, trancheID, principal, interest, start, paidOn string) lending.RepaymentEntry {
	e := lending.RepaymentEntry{ID: "r" + string(rune('0'+seq)), Seq: seq, Principal: money.MustAmount(principal),
		Interest: money.MustAmount(interest), PaidOn: money.MustDate(paidOn)}
	if trancheID != "" {
		e.TrancheID = "t-" + trancheID
	}
	if start != "" {
		s, end := money.MustDate(start), money.MustDate(paidOn)
		e.PeriodStart, e.PeriodEnd = &s, &end
	}
	return e
}

// TestComputeDayByDay: each repayment's subsidy summed day by day on what
// it covers, from the loan's history, under domain.md's LPR table and a
// ratio of 0.5. Every figure is worked out by hand in its comment.
func TestComputeDayByDay(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		tranches   []lending.TrancheRecord
		repayments []lending.RepaymentEntry // the last is the one computed
		runs       []string                 // tranche from..to days principal rate
		subsidy    string
		limitedBy  []string
	}{{
		// domain.md's example: 500,000.00 as two tranches of 250,000.00 on
		// the same day at 3.45 %, the cap 3.10 % (2024-11-01..2025-01-30:
		// Nov 30 + Dec 31 + Jan 29 = 90 days), each tranche repaid with
		// its 90 days' interest 250000 × 0.0345 × 90 / 360 = 2156.25.
		// The first: 250000 × 0.031 × 90 / 360 = 1937.50; × 0.5 = 968.75
		// (not 1078.13: 500000 × 0.031 × 90 / 360 = 3875.00, capped by
		// 2156.25 paid, × 0.5 = 1078.125).
		name:     "SpecExampleFirstTranche",
		tranches: []lending.TrancheRecord{tranche("D1", "250000.00", "2024-11-01", "0.0345"), tranche("D2", "250000.00", "2024-11-01", "0.0345")},
		repayments: []lending.RepaymentEntry{
			repaid(1, "D1", "250000.00", "2156.25", "2024-11-01", "2025-01-30")},
		runs:    []string{"D1 2024-11-01..2025-01-30 90 250000.00 0.031"},
		subsidy: "968.75", limitedBy: []string{},
	}, {
		// The second: D1's repayment does not touch D2, so the same 968.75
		// (1,937.50 in all).
		name:     "SpecExampleSecondTranche",
		tranches: []lending.TrancheRecord{tranche("D1", "250000.00", "2024-11-01", "0.0345"), tranche("D2", "250000.00", "2024-11-01", "0.0345")},
		repayments: []lending.RepaymentEntry{
			repaid(1, "D1", "250000.00", "2156.25", "2024-11-01", "2025-01-30"),
			repaid(2, "D2", "250000.00", "2156.25", "2024-11-01", "2025-01-30")},
		runs:    []string{"D2 2024-11-01..2025-01-30 90 250000.00 0.031"},
		subsidy: "968.75", limitedBy: []string{},
	}, {
		// Tranches on different days, a whole-loan interest payment
		// 2024-11-01..2024-12-01 (30 days) at the cap 3.10 %:
		// D1 100000 × 0.031 × 30 = 93000; D2 from 2024-11-11, 20 days:
		// 200000 × 0.031 × 20 = 124000; (93000 + 124000) / 360 = 602.7777…
		// below the 670.83 paid (287.50 + 383.33 at 3.45 %);
		// × 0.5 = 301.3888… → 301.39.
		name:     "TranchesOnDifferentDays",
		tranches: []lending.TrancheRecord{tranche("D1", "100000.00", "2024-11-01", "0.0345"), tranche("D2", "200000.00", "2024-11-11", "0.0345")},
		repayments: []lending.RepaymentEntry{
			repaid(1, "", "0.00", "670.83", "2024-11-01", "2024-12-01")},
		runs:    []string{"D1 2024-11-01..2024-12-01 30 100000.00 0.031", "D2 2024-11-11..2024-12-01 20 200000.00 0.031"},
		subsidy: "301.39", limitedBy: []string{},
	}, {
		// A partial repayment mid-period: 100,000.00 of D1's 300,000.00
		// repaid (no interest) on 2024-11-16, then D1's interest for
		// 2024-11-01..2024-12-01. The day repaid does not accrue on what
		// it repaid: 300000 × 0.031 × 15 (Nov 1..15) = 139500;
		// 200000 × 0.031 × 15 (Nov 16..30) = 93000; 232500 / 360 = 645.8333…
		// below the 718.75 paid; × 0.5 = 322.9166… → 322.92.
		name:     "PartialRepaymentMidPeriod",
		tranches: []lending.TrancheRecord{tranche("D1", "300000.00", "2024-11-01", "0.0345")},
		repayments: []lending.RepaymentEntry{
			repaid(1, "D1", "100000.00", "0.00", "", "2024-11-16"),
			repaid(2, "D1", "0.00", "718.75", "2024-11-01", "2024-12-01")},
		runs:    []string{"D1 2024-11-01..2024-11-16 15 300000.00 0.031", "D1 2024-11-16..2024-12-01 15 200000.00 0.031"},
		subsidy: "322.92", limitedBy: []string{},
	}, {
		// A period across the LPR's change on 2024-10-21:
		// 2024-10-01..2024-10-21 (20 days) at 3.35 %: 100000 × 0.0335 × 20 = 67000;
		// 2024-10-21..2024-11-01 (11 days) at 3.10 %: 100000 × 0.031 × 11 = 34100;
		// 101100 / 360 = 280.8333… below the 297.08 paid;
		// × 0.5 = 140.4166… → 140.42.
		name:     "AcrossAnLPRChange",
		tranches: []lending.TrancheRecord{tranche("D1", "100000.00", "2024-10-01", "0.0345")},
		repayments: []lending.RepaymentEntry{
			repaid(1, "D1", "0.00", "297.08", "2024-10-01", "2024-11-01")},
		runs:    []string{"D1 2024-10-01..2024-10-21 20 100000.00 0.0335", "D1 2024-10-21..2024-11-01 11 100000.00 0.031"},
		subsidy: "140.42", limitedBy: []string{},
	}, {
		// A rate below the cap: 2.90 % < 3.10 %, 30 days:
		// 100000 × 0.029 × 30 = 87000; / 360 = 241.6666…, 241.67 paid;
		// × 0.5 = 120.8333… → 120.83.
		name:     "RateBelowTheCap",
		tranches: []lending.TrancheRecord{tranche("D1", "100000.00", "2024-11-01", "0.0290")},
		repayments: []lending.RepaymentEntry{
			repaid(1, "D1", "0.00", "241.67", "2024-11-01", "2024-12-01")},
		runs:    []string{"D1 2024-11-01..2024-12-01 30 100000.00 0.029"},
		subsidy: "120.83", limitedBy: []string{},
	}, {
		// Interest paid below eligible: eligible 241.6666… as above, but
		// only 200.00 paid: 200.00 × 0.5 = 100.00.
		name:     "InterestPaidBelowEligible",
		tranches: []lending.TrancheRecord{tranche("D1", "100000.00", "2024-11-01", "0.0290")},
		repayments: []lending.RepaymentEntry{
			repaid(1, "D1", "0.00", "200.00", "2024-11-01", "2024-12-01")},
		runs:    []string{"D1 2024-11-01..2024-12-01 30 100000.00 0.029"},
		subsidy: "100.00", limitedBy: []string{"interest_paid"},
	}, {
		// A whole-loan repayment across two tranches at their own rates:
		// D1 100,000.00 at 3.45 % (capped to 3.10 %), D2 100,000.00 at
		// 2.70 %, both from 2024-11-01, D1 the older (recorded first). An
		// earlier whole-loan principal of 150,000.00 paid 2024-11-11 falls
		// on the oldest first: D1 100,000.00, D2 50,000.00. Then the
		// whole loan's interest for 2024-11-01..2024-12-01:
		// D1 100000 × 0.031 × 10 = 31000 (nothing from Nov 11);
		// D2 100000 × 0.027 × 10 = 27000, then 50000 × 0.027 × 20 = 27000;
		// 85000 / 360 = 236.1111… below the 245.83 paid;
		// × 0.5 = 118.0555… → 118.06. (Newest first would give 123.61.)
		name:     "WholeLoanTwoRates",
		tranches: []lending.TrancheRecord{tranche("D1", "100000.00", "2024-11-01", "0.0345"), tranche("D2", "100000.00", "2024-11-01", "0.0270")},
		repayments: []lending.RepaymentEntry{
			repaid(1, "", "150000.00", "0.00", "", "2024-11-11"),
			repaid(2, "", "0.00", "245.83", "2024-11-01", "2024-12-01")},
		runs: []string{"D1 2024-11-01..2024-11-11 10 100000.00 0.031",
			"D2 2024-11-01..2024-11-11 10 100000.00 0.027", "D2 2024-11-11..2024-12-01 20 50000.00 0.027"},
		subsidy: "118.06", limitedBy: []string{},
	}, {
		// Days before the table's first entry (2023-08-21, 3.45 %) use it:
		// 2023-08-01..2023-08-31 at min(4.00 %, 3.45 %), one run (the
		// entry's day changes nothing): 100000 × 0.0345 × 30 = 103500;
		// / 360 = 287.50, below the 333.33 paid; × 0.5 = 143.75.
		name:     "BeforeTheFirstEntry",
		tranches: []lending.TrancheRecord{tranche("D1", "100000.00", "2023-08-01", "0.0400")},
		repayments: []lending.RepaymentEntry{
			repaid(1, "D1", "0.00", "333.33", "2023-08-01", "2023-08-31")},
		runs:    []string{"D1 2023-08-01..2023-08-31 30 100000.00 0.0345"},
		subsidy: "143.75", limitedBy: []string{},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := defaultPolicy()
			p.LPR1Y = specLPR()
			h := lending.LoanHistory{LoanID: "L", Tranches: tc.tranches, Repayments: tc.repayments}
			last := tc.repayments[len(tc.repayments)-1]
			bankTranche := strings.TrimPrefix(last.TrancheID, "t-")
			r := lending.RepaymentResult{
				Repayment: lending.Repayment{ID: last.ID, Seq: last.Seq, BankDisbursementID: bankTranche, Principal: last.Principal,
					Interest: last.Interest, PaidOn: last.PaidOn, PeriodStart: *last.PeriodStart, PeriodEnd: *last.PeriodEnd},
				Loan: lending.Loan{ID: "L", AnnualRate: tc.tranches[0].AnnualRate},
			}
			in, err := inputsOf(r, h)
			if err != nil {
				t.Fatal(err)
			}
			c := Compute(in, p)
			var runs []string
			for _, run := range c.Runs {
				runs = append(runs, strings.Join([]string{run.DisbursementID, run.From.String() + ".." + run.To.String(),
					strconv.Itoa(run.Days), run.Principal.String(), run.Rate.Decimal().String()}, " "))
			}
			if strings.Join(runs, "\n") != strings.Join(tc.runs, "\n") {
				t.Errorf("runs:\n%s\nwant:\n%s", strings.Join(runs, "\n"), strings.Join(tc.runs, "\n"))
			}
			if c.Subsidy.String() != tc.subsidy || c.Amount.String() != tc.subsidy || strings.Join(c.LimitedBy, ",") != strings.Join(tc.limitedBy, ",") {
				t.Errorf("subsidy %s, amount %s, limited by %v; want %s by %v\nsteps %+v", c.Subsidy, c.Amount, c.LimitedBy, tc.subsidy, tc.limitedBy, c.Steps)
			}
		})
	}
}
