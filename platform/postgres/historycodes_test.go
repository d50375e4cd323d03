package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"procfin/platform/postgres"
	"procfin/platform/postgres/pgtest"
)

// TestHistoryCodesBackfill: migration 00039 gives the history entries
// written before codes theirs: each English sentence procfin wrote maps to
// its code with the figures it named, and what it did not name (a
// repayment's tranche, a closed loan's id and day) comes from the loan; a
// code stays; words that match nothing stay as they are, with no
// arguments.
func TestHistoryCodesBackfill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.EmptyURL(t), postgres.PoolConfig{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db.DB, postgres.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 38); err != nil {
		t.Fatal(err)
	}
	const app, other = "00000000-0000-0000-0000-0000000000a1", "00000000-0000-0000-0000-0000000000a2"
	const loan, d1 = "00000000-0000-0000-0000-0000000000b1", "00000000-0000-0000-0000-0000000000c1"
	causes := [][3]string{ // from, to, cause as written before
		{"", "submitted", "application submitted and verified"},
		{"submitted", "delivery_failed", "undeliverable for 24 hours: 503 from the bank"},
		{"delivery_failed", "submitted", "delivery re-queued by an administrator"},
		{"submitted", "delivered", "the bank accepted the application (reference QL-1)"},
		{"delivered", "received", "the bank registered the application"},
		{"received", "approved", "approved 500000.00 at 0.0345 for 180 days"},
		{"approved", "disbursed", "tranche D1 of 500000.00 disbursed on 2026-11-22"},
		{"disbursed", "repaid", "repayment R2: principal 400000.00, interest 1200.50, paid on 2026-12-10"},
		{"repaid", "closed", "repaid in full"},
		{"closed", "closed", "something procfin no longer writes"},
	}
	qs := []string{`SET session_replication_role = replica`,
		fmt.Sprintf(`INSERT INTO applications (id, supplier_uscc, contract_id, bank_id, amount, term_days, purpose, status, financing_held,
			verification, submitted_by) VALUES
			('%s', 'S', '00000000-0000-0000-0000-000000000001', 'b', 100, 90, 'p', 'closed', 0, '{}', 'u'),
			('%s', 'S', '00000000-0000-0000-0000-000000000001', 'b', 100, 90, 'p', 'rejected', 0, '{}', 'u')`, app, other),
		fmt.Sprintf(`INSERT INTO loans (id, application_id, bank_id, bank_loan_id, annual_rate, maturity_date, disbursed, repaid_principal,
			closed_on, close_reason) VALUES ('%s', '%s', 'b', 'L1', 0.0345, '2027-05-21', 500000, 500000, '2026-12-10', 'repaid')`, loan, app),
		fmt.Sprintf(`INSERT INTO disbursements (id, loan_id, bank_id, bank_disbursement_id, amount, outstanding, value_date, maturity_date, annual_rate)
			VALUES ('%s', '%s', 'b', 'D1', 500000, 0, '2026-11-22', '2027-05-21', 0.0345)`, d1, loan),
		fmt.Sprintf(`INSERT INTO repayments (loan_id, bank_id, bank_repayment_id, principal, interest, paid_on, period_start, period_end,
			outstanding_before, disbursement_id) VALUES ('%s', 'b', 'R2', 400000, 1200.50, '2026-12-10', '2026-11-22', '2026-12-10', 400000, '%s')`, loan, d1),
		fmt.Sprintf(`INSERT INTO application_transitions (application_id, n, from_status, to_status, actor, cause) VALUES
			('%s', 1, '', 'submitted', 'u', 'application submitted and verified'),
			('%s', 2, 'submitted', 'rejected', 'bank:b', 'rejected: credit_policy: 不符合政策: 详见 notes')`, other, other),
	}
	for i, c := range causes {
		qs = append(qs, fmt.Sprintf(`INSERT INTO application_transitions (application_id, n, from_status, to_status, actor, cause)
			VALUES ('%s', %d, '%s', '%s', 'bank:b', '%s')`, app, i+1, c[0], c[1], c[2]))
	}
	qs = append(qs, `SET session_replication_role = origin`)
	for _, q := range qs {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := p.UpTo(ctx, 39); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := db.SelectContext(ctx, &got, `
		SELECT t.cause || ' ' || t.cause_args::text FROM application_transitions t JOIN applications a ON a.id = t.application_id
		ORDER BY a.id, t.n`); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`submitted {}`,
		`delivery_failed {"detail": "undeliverable for 24 hours: 503 from the bank"}`,
		`requeued {}`,
		`delivered {"reference": "QL-1"}`,
		`received {}`,
		`approved {"rate": "0.0345", "amount": "500000.00", "term_days": "180"}`,
		`disbursed {"loan": "L1", "amount": "500000.00", "tranche": "D1", "value_date": "2026-11-22"}`,
		`repayment {"loan": "L1", "paid_on": "2026-12-10", "tranche": "D1", "interest": "1200.50", "principal": "400000.00", "repayment": "R2"}`,
		`loan_closed_repaid {"on": "2026-12-10", "loan": "L1"}`,
		`something procfin no longer writes {}`,
		`submitted {}`,
		`rejected {"code": "credit_policy", "reason": "不符合政策: 详见 notes"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after the migration\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
