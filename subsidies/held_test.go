package subsidies

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
	"procfin/platform/postgres/pgtest"
)

// TestHeldClaims: a claim of a loan whose repayment account the purchaser
// has not confirmed is held: counted against the supplier's yearly cap as
// a pending one, listed as held, not approvable; ReleaseHeld makes it
// pending (audited), and then it is approved; a held claim of a repayment
// paid since a late loan.overdue is rejected as a pending one is, and no
// longer counts.
func TestHeldClaims(t *testing.T) {
	t.Parallel()
	const uscc = "913701009DEREMJE5A"
	ctx := context.Background()
	db := pgtest.NewDB(t)
	s := NewService(db, PolicyInput{EffectiveFrom: "2020-01-01", SubsidyRatio: "0.5", RateCap: "0.031",
		SupplierYearlyCap: "500.00", ProgrammeBudget: "1000000.00", EligibleSizeClasses: []string{"small"},
		FourEyesThreshold: "1000000.00"})
	if err := s.EnsurePolicy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO suppliers (uscc, name, size_class) VALUES ($1, 'Qilu', 'small')`, uscc); err != nil {
		t.Fatal(err)
	}
	// Three loans, each 9 days' interest on 800000.00 at the cap 3.10 %:
	// 800000 × 0.031 × 9 / 360 = 620.00, × 0.5 = 310.00; the yearly cap of
	// 500.00 leaves the second (confirmed) 500.00 − 310.00 = 190.00, and the
	// third (unconfirmed) nothing: ineligible, not held.
	histories := map[string]lending.LoanHistory{}
	var rs []lending.RepaymentResult
	for i, confirmed := range []bool{false, true, false} {
		start := money.MustDate("2027-01-01").AddDays(9 * i)
		end := start.AddDays(9)
		r := lending.RepaymentResult{
			Repayment: lending.Repayment{ID: uuid.NewString(), Seq: 1, Interest: money.MustAmount("690.00"), PaidOn: end,
				PeriodStart: start, PeriodEnd: end, OutstandingBefore: money.MustAmount("800000.00")},
			Application: lending.Application{ID: uuid.NewString(), SupplierUSCC: uscc, BankID: "b"},
			Loan:        lending.Loan{ID: uuid.NewString(), AnnualRate: money.MustRate("0.0345")},
		}
		histories[r.Loan.ID] = lending.LoanHistory{LoanID: r.Loan.ID, Confirmed: confirmed,
			Tranches: []lending.TrancheRecord{{ID: "t", BankDisbursementID: "D1", Amount: money.MustAmount("800000.00"),
				ValueDate: start, AnnualRate: money.MustRate("0.0345")}},
			Repayments: []lending.RepaymentEntry{{ID: r.Repayment.ID, Seq: 1, Principal: money.Zero, Interest: r.Repayment.Interest,
				PaidOn: end, PeriodStart: &start, PeriodEnd: &end}}}
		rs = append(rs, r)
	}
	if err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error { return s.onRepaid(ctx, tx, rs, histories) }); err != nil {
		t.Fatal(err)
	}
	claimsOf := func() string {
		t.Helper()
		var got []string
		if err := db.Select(&got, `SELECT status || ' ' || amount FROM subsidy_claims ORDER BY seq`); err != nil {
			t.Fatal(err)
		}
		return strings.Join(got, ",")
	}
	claimed := func() string {
		t.Helper()
		var c string
		if err := db.Get(&c, `SELECT claimed::text FROM subsidy_supplier_years WHERE supplier_uscc = $1 AND year = 2027`, uscc); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if got, want := claimsOf(), "held 310.00,pending 190.00,ineligible 0.00"; got != want {
		t.Fatalf("claims %q, want %q", got, want)
	}
	if c := claimed(); c != "500.00" { // 310.00 held + 190.00 pending
		t.Fatalf("the supplier's year holds %s, want 500.00", c)
	}
	held, err := s.Claims(ctx, Scope{}, Held, 0, 10)
	if err != nil || len(held) != 1 || held[0].ApplicationID != rs[0].Application.ID {
		t.Fatalf("held claims %+v (%v), want the first", held, err)
	}
	if _, err := s.Approve(ctx, held[0].ID, "user:officer"); !errs.Is(err, errs.InvalidTransition) || !strings.Contains(err.Error(), "purchaser") {
		t.Fatalf("approving a held claim: %v, want invalid_transition saying why", err)
	}
	if used := budgetUsed(t, s, 2027); used != "" {
		t.Fatalf("the refused approval took %s of the budget", used)
	}

	// The purchaser confirms the first loan's account.
	if err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
		return s.ReleaseHeld(ctx, tx, []string{rs[0].Application.ID, uuid.NewString()})
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := claimsOf(), "pending 310.00,pending 190.00,ineligible 0.00"; got != want {
		t.Fatalf("after the confirmation: claims %q, want %q", got, want)
	}
	if c := claimed(); c != "500.00" {
		t.Fatalf("after the confirmation the supplier's year holds %s, want 500.00 still", c)
	}
	var audited int
	if err := db.Get(&audited, `SELECT count(*) FROM audit_log WHERE action = 'subsidy_claim.pending' AND entity_id = $1`, held[0].ID); err != nil || audited != 1 {
		t.Fatalf("%d audit entries of the release (%v), want 1", audited, err)
	}
	if c, err := s.Approve(ctx, held[0].ID, "user:officer"); err != nil || c.Status != Approved {
		t.Fatalf("approving the released claim: %+v %v", c, err)
	}

	// A new held claim, then a loan.overdue since before it was paid:
	// rejected, and 310.00 no longer counts (310.00 approved + 190.00
	// pending remain).
	start := money.MustDate("2027-02-01")
	end := start.AddDays(9)
	r := lending.RepaymentResult{
		Repayment: lending.Repayment{ID: uuid.NewString(), Seq: 1, Interest: money.MustAmount("690.00"), PaidOn: end,
			PeriodStart: start, PeriodEnd: end, OutstandingBefore: money.MustAmount("800000.00")},
		Application: lending.Application{ID: uuid.NewString(), SupplierUSCC: uscc, BankID: "b"},
		Loan:        lending.Loan{ID: uuid.NewString(), AnnualRate: money.MustRate("0.0345")},
	}
	histories[r.Loan.ID] = lending.LoanHistory{LoanID: r.Loan.ID,
		Tranches: []lending.TrancheRecord{{ID: "t", BankDisbursementID: "D1", Amount: money.MustAmount("800000.00"),
			ValueDate: start, AnnualRate: money.MustRate("0.0345")}},
		Repayments: []lending.RepaymentEntry{{ID: r.Repayment.ID, Seq: 1, Principal: money.Zero, Interest: r.Repayment.Interest,
			PaidOn: end, PeriodStart: &start, PeriodEnd: &end}}}
	// Raise the cap first, so that the claim has an amount: 310.00 of
	// 1000.00 − 500.00 left.
	if _, err := db.Exec(`UPDATE subsidy_policies SET supplier_yearly_cap = 1000.00`); err != nil {
		t.Fatal(err)
	}
	if err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
		return s.onRepaid(ctx, tx, []lending.RepaymentResult{r}, histories)
	}); err != nil {
		t.Fatal(err)
	}
	if c := claimed(); c != "810.00" { // 310.00 + 190.00 + 310.00 held
		t.Fatalf("with a new held claim the supplier's year holds %s, want 810.00", c)
	}
	if err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
		return s.OnOverdue(ctx, tx, []lending.OverdueResult{{ApplicationID: r.Application.ID, LoanID: r.Loan.ID, Since: start}})
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := claimsOf(), "approved 310.00,pending 190.00,ineligible 0.00,rejected 310.00"; got != want {
		t.Fatalf("after a late overdue: claims %q, want %q", got, want)
	}
	if c := claimed(); c != "500.00" {
		t.Fatalf("after the held claim's rejection the supplier's year holds %s, want 500.00", c)
	}
	var before string
	if err := db.Get(&before, `SELECT reason FROM audit_log WHERE action = 'subsidy_claim.rejected' ORDER BY id DESC LIMIT 1`); err != nil ||
		!strings.HasPrefix(before, LoanOverdue) {
		t.Fatalf("the rejection's audit reason %q (%v)", before, err)
	}
}

// budgetUsed is the year's used budget ("" when the year has no row).
func budgetUsed(t *testing.T, s *Service, year int) string {
	t.Helper()
	var used []string
	if err := s.db.Select(&used, `SELECT used::text FROM subsidy_budgets WHERE year = $1`, year); err != nil {
		t.Fatal(err)
	}
	if len(used) == 0 || used[0] == "0.00" {
		return ""
	}
	return used[0]
}
