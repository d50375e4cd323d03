package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/pressly/goose/v3"

	"procfin/platform/postgres"
	"procfin/platform/postgres/pgtest"
)

// TestLoanLifeBackfill: migration 00027 gives the loans recorded before
// 00026 their life: a closed application's loan closed (repaid) on the
// Shanghai day it closed, with its overdue ended then and cleared from the
// loan and the application; an open loan's overdue an open episode.
func TestLoanLifeBackfill(t *testing.T) {
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
	if _, err := p.UpTo(ctx, 26); err != nil {
		t.Fatal(err)
	}
	// Two applications with a loan each, written as procfin wrote them
	// before: the rows they name are not needed here.
	const closedApp, openApp = "00000000-0000-0000-0000-0000000000a1", "00000000-0000-0000-0000-0000000000a2"
	for _, q := range []string{
		`SET session_replication_role = replica`,
		fmt.Sprintf(`INSERT INTO applications (id, supplier_uscc, contract_id, bank_id, amount, term_days, purpose, status, financing_held,
			verification, submitted_by, approved_amount, disbursed, repaid_principal, overdue_since) VALUES
			('%s', 'S', '00000000-0000-0000-0000-000000000001', 'b', 100, 90, 'p', 'closed', 0, '{}', 'u', 100, 100, 100, '2026-11-25'),
			('%s', 'S', '00000000-0000-0000-0000-000000000001', 'b', 100, 90, 'p', 'disbursed', 100, '{}', 'u', 100, 100, 0, '2026-11-26')`, closedApp, openApp),
		// Closed at 2026-12-09T17:00Z: 2026-12-10 in Shanghai.
		fmt.Sprintf(`INSERT INTO application_transitions (application_id, n, at, from_status, to_status, actor, cause) VALUES
			('%s', 1, '2026-12-09T17:00:00Z', 'repaid', 'closed', 'bank:b', 'repaid in full')`, closedApp),
		fmt.Sprintf(`INSERT INTO loans (application_id, bank_id, bank_loan_id, annual_rate, maturity_date, disbursed, repaid_principal,
			overdue_principal, overdue_since) VALUES
			('%s', 'b', 'L1', 0.0345, '2027-05-21', 100, 100, 40, '2026-11-25'),
			('%s', 'b', 'L2', 0.0345, '2027-05-21', 100, 0, 60, '2026-11-26')`, closedApp, openApp),
		`SET session_replication_role = origin`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := p.UpTo(ctx, 27); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := db.SelectContext(ctx, &got, `
		SELECT concat_ws(' ', l.bank_loan_id, coalesce(l.closed_on::text, '-'), coalesce(nullif(l.close_reason, ''), '-'),
			coalesce(l.drawdown_ended_on::text, '-'), coalesce(l.overdue_since::text, '-'), l.overdue_principal,
			coalesce(a.overdue_since::text, '-'), o.since, o.principal, coalesce(o.cured_on::text, 'open'))
		FROM loans l JOIN applications a ON a.id = l.application_id JOIN loan_overdues o ON o.loan_id = l.id
		ORDER BY l.bank_loan_id`); err != nil {
		t.Fatal(err)
	}
	want := "[L1 2026-12-10 repaid 2026-12-10 - 0.00 - 2026-11-25 40.00 2026-12-10 " +
		"L2 - - - 2026-11-26 60.00 2026-11-26 2026-11-26 60.00 open]"
	if fmt.Sprint(got) != want {
		t.Fatalf("after the backfill\n%v\nwant\n%s", got, want)
	}
}
