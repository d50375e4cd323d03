package subsidies

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"procfin/lending"
	"procfin/platform/money"
	"procfin/platform/postgres"
	"procfin/platform/postgres/pgtest"
)

// TestClaimsOfOneTransactionShareTheCap: the claims made in one
// transaction are written when it commits, and each sees those made before
// it against the supplier's yearly cap, whether they were made by one
// OnRepaid (a batch) or by one OnRepaid each in the same transaction. Each
// claim's audit entry shows the row as written, its times the
// transaction's clock.
func TestClaimsOfOneTransactionShareTheCap(t *testing.T) {
	t.Parallel()
	const uscc = "913701009DEREMJE5A"
	ctx := context.Background()
	// Interest-only repayments of 9 days on 800000.00 at the rate cap: a
	// claim of 310.00 each before the cap of 500.00.
	// Each on a loan of its own, one tranche of 800000.00 from the period's
	// start (the histories OnRepaid would read).
	histories := map[string]lending.LoanHistory{}
	repayment := func(i int) lending.RepaymentResult {
		start := money.MustDate("2027-01-01").AddDays(9 * i)
		r := lending.RepaymentResult{
			Repayment: lending.Repayment{ID: uuid.NewString(), Seq: 1, Interest: money.MustAmount("690.00"), PaidOn: start.AddDays(9),
				PeriodStart: start, PeriodEnd: start.AddDays(9), OutstandingBefore: money.MustAmount("800000.00")},
			Application: lending.Application{ID: uuid.NewString(), SupplierUSCC: uscc, BankID: "b"},
			Loan:        lending.Loan{ID: uuid.NewString(), AnnualRate: money.MustRate("0.0345")},
		}
		end := start.AddDays(9)
		histories[r.Loan.ID] = lending.LoanHistory{LoanID: r.Loan.ID, Confirmed: true,
			Tranches: []lending.TrancheRecord{{ID: "t", BankDisbursementID: "D1", Amount: money.MustAmount("800000.00"),
				ValueDate: start, AnnualRate: money.MustRate("0.0345")}},
			Repayments: []lending.RepaymentEntry{{ID: r.Repayment.ID, Seq: 1, Principal: money.Zero, Interest: r.Repayment.Interest,
				PaidOn: r.Repayment.PaidOn, PeriodStart: &start, PeriodEnd: &end}}}
		return r
	}
	for _, tc := range []struct {
		name  string
		batch bool // one OnRepaid for the three; else one each
	}{{"one batch", true}, {"a call each", false}} {
		t.Run(tc.name, func(t *testing.T) {
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
			rs := []lending.RepaymentResult{repayment(0), repayment(1), repayment(2)}
			var began time.Time
			err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
				began = tx.Now()
				if tc.batch {
					if err := s.onRepaid(ctx, tx, rs, histories); err != nil {
						return err
					}
				} else {
					for _, r := range rs {
						if err := s.onRepaid(ctx, tx, []lending.RepaymentResult{r}, histories); err != nil {
							return err
						}
					}
				}
				var n int
				if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM subsidy_claims`); err != nil || n != 0 {
					return fmt.Errorf("%d claims written before the commit (%v), want them written by it", n, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var got []struct {
				ID     string `db:"id"`
				Amount string `db:"amount"`
				Status string `db:"status"`
				Row    string `db:"row"`
				State  string `db:"after_state"`
			}
			if err := db.Select(&got, `
				SELECT c.id, c.amount::text, c.status, a.after_state,
					json_build_object('computation', c.computation, 'created_at', c.created_at, 'updated_at', c.updated_at)::text AS row
				FROM subsidy_claims c JOIN audit_log a ON a.entity_type = 'subsidy_claim' AND a.entity_id = c.id::text
				ORDER BY c.seq`); err != nil {
				t.Fatal(err)
			}
			want := []struct{ amount, status string }{{"310.00", Pending}, {"190.00", Pending}, {"0.00", Ineligible}}
			if len(got) != len(want) {
				t.Fatalf("%d claims with audit entries, want %d", len(got), len(want))
			}
			for i, w := range want {
				if got[i].Amount != w.amount || got[i].Status != w.status {
					t.Errorf("claim %d: %s %s, want %s %s", i, got[i].Status, got[i].Amount, w.status, w.amount)
				}
				var state, row map[string]any
				if err := json.Unmarshal([]byte(got[i].State), &state); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal([]byte(got[i].Row), &row); err != nil {
					t.Fatal(err)
				}
				if state["id"] != got[i].ID || fmt.Sprint(state["computation"]) != fmt.Sprint(row["computation"]) {
					t.Errorf("claim %d: audited %v, written %s %v", i, state, got[i].ID, row)
				}
				for _, k := range []string{"created_at", "updated_at"} {
					if !sameInstant(t, state[k], row[k]) || !sameInstant(t, row[k], began.Format(time.RFC3339Nano)) {
						t.Errorf("claim %d: audited %s %v, written %v, transaction began %v", i, k, state[k], row[k], began)
					}
				}
			}
			var claimed string
			if err := db.Get(&claimed, `SELECT claimed::text FROM subsidy_supplier_years WHERE supplier_uscc = $1 AND year = 2027`, uscc); err != nil {
				t.Fatal(err)
			}
			if claimed != "500.00" {
				t.Errorf("supplier's year claimed %s, want 500.00", claimed)
			}
		})
	}
}

// sameInstant reports whether two JSON timestamps name the same instant.
func sameInstant(t *testing.T, a, b any) bool {
	t.Helper()
	ta, err := time.Parse(time.RFC3339Nano, fmt.Sprint(a))
	if err != nil {
		t.Fatal(err)
	}
	tb, err := time.Parse(time.RFC3339Nano, fmt.Sprint(b))
	if err != nil {
		t.Fatal(err)
	}
	return ta.Equal(tb)
}

// TestOnOverdueInTheSameTransaction: a loan.overdue recorded after the
// repayments in one batch rejects the claims made in it, not yet written,
// of that loan paid on or after its since, and takes them off the
// supplier's year before it is written.
func TestOnOverdueInTheSameTransaction(t *testing.T) {
	t.Parallel()
	const uscc = "913701009DEREMJE5A"
	ctx := context.Background()
	db := pgtest.NewDB(t)
	s := NewService(db, PolicyInput{EffectiveFrom: "2020-01-01", SubsidyRatio: "0.5", RateCap: "0.031",
		SupplierYearlyCap: "1000.00", ProgrammeBudget: "1000000.00", EligibleSizeClasses: []string{"small"},
		FourEyesThreshold: "1000000.00"})
	if err := s.EnsurePolicy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO suppliers (uscc, name, size_class) VALUES ($1, 'Qilu', 'small')`, uscc); err != nil {
		t.Fatal(err)
	}
	// Two loans, each 9 days' interest on 800000.00 at the cap 3.10 %:
	// 800000 × 0.031 × 9 / 360 = 620.00, × 0.5 = 310.00 each.
	histories := map[string]lending.LoanHistory{}
	var rs []lending.RepaymentResult
	for i := 0; i < 2; i++ {
		start := money.MustDate("2027-01-01")
		end := start.AddDays(9)
		r := lending.RepaymentResult{
			Repayment: lending.Repayment{ID: uuid.NewString(), Seq: 1, Interest: money.MustAmount("690.00"), PaidOn: end,
				PeriodStart: start, PeriodEnd: end, OutstandingBefore: money.MustAmount("800000.00")},
			Application: lending.Application{ID: uuid.NewString(), SupplierUSCC: uscc, BankID: "b"},
			Loan:        lending.Loan{ID: uuid.NewString(), AnnualRate: money.MustRate("0.0345")},
		}
		histories[r.Loan.ID] = lending.LoanHistory{LoanID: r.Loan.ID, Confirmed: true,
			Tranches: []lending.TrancheRecord{{ID: "t", BankDisbursementID: "D1", Amount: money.MustAmount("800000.00"),
				ValueDate: start, AnnualRate: money.MustRate("0.0345")}},
			Repayments: []lending.RepaymentEntry{{ID: r.Repayment.ID, Seq: 1, Principal: money.Zero, Interest: r.Repayment.Interest,
				PaidOn: end, PeriodStart: &start, PeriodEnd: &end}}}
		rs = append(rs, r)
	}
	err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
		if err := s.onRepaid(ctx, tx, rs, histories); err != nil {
			return err
		}
		// The second loan is overdue since the day it was repaid.
		return s.OnOverdue(ctx, tx, []lending.OverdueResult{{ApplicationID: rs[1].Application.ID, LoanID: rs[1].Loan.ID,
			Since: rs[1].Repayment.PaidOn}})
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := db.Select(&got, `SELECT c.status || ' ' || c.rejection_reason || ' ' || c.amount || ' ' || (c.decided_at IS NOT NULL) ||
			' ' || (SELECT count(*) FROM audit_log a WHERE a.entity_id = c.id::text)
		FROM subsidy_claims c ORDER BY c.seq`); err != nil {
		t.Fatal(err)
	}
	// Each claim audited when made; the second also when rejected.
	if want := "pending  310.00 false 1,rejected loan_overdue 310.00 true 2"; strings.Join(got, ",") != want {
		t.Fatalf("claims %q, want %q", got, want)
	}
	var claimed string
	if err := db.Get(&claimed, `SELECT claimed::text FROM subsidy_supplier_years WHERE supplier_uscc = $1 AND year = 2027`, uscc); err != nil || claimed != "310.00" {
		t.Fatalf("the supplier's year holds %s (%v), want 310.00", claimed, err)
	}
}
