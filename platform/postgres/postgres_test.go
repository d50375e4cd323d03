package postgres_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"procfin/platform/errs"
	"procfin/platform/postgres"
	"procfin/platform/postgres/pgtest"
)

func TestTransact(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	if _, err := db.Exec(`CREATE TABLE t (id int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM t`); err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("Commit", func(t *testing.T) {
		err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
			_, err := tx.Exec(`INSERT INTO t VALUES (1)`)
			return err
		})
		if err != nil || count() != 1 {
			t.Fatalf("err=%v count=%d, want nil, 1", err, count())
		}
	})
	t.Run("RollbackOnError", func(t *testing.T) {
		boom := errors.New("boom")
		err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
			if _, err := tx.Exec(`INSERT INTO t VALUES (2)`); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) || count() != 1 {
			t.Fatalf("err=%v count=%d, want boom, 1", err, count())
		}
	})
	t.Run("RollbackOnPanic", func(t *testing.T) {
		func() {
			defer func() { _ = recover() }()
			_ = postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
				if _, err := tx.Exec(`INSERT INTO t VALUES (3)`); err != nil {
					return err
				}
				panic("boom")
			})
		}()
		if count() != 1 {
			t.Fatalf("count=%d after panic, want 1", count())
		}
	})
	t.Run("BeforeCommitWritesTogether", func(t *testing.T) {
		write := func(id int) func() (postgres.Write, error) {
			return func() (postgres.Write, error) {
				return postgres.Write{Query: `INSERT INTO t SELECT $1::int + $2::int`, Args: []any{id, 0}}, nil
			}
		}
		var between int
		err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
			tx.BeforeCommit(write(10))
			tx.BeforeCommit(func() (postgres.Write, error) { return postgres.Write{}, nil }) // nothing
			tx.BeforeCommit(write(11))
			tx.BeforeCommit(write(12))
			// Not written yet: the writes wait for the commit.
			return tx.Get(&between, `SELECT count(*) FROM t WHERE id >= 10`)
		})
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM t WHERE id IN (10, 11, 12)`); err != nil {
			t.Fatal(err)
		}
		if err != nil || between != 0 || n != 3 {
			t.Fatalf("err=%v, %d rows before the commit, %d after; want nil, 0, 3", err, between, n)
		}
		// One write failing (a duplicate) fails the commit: none is kept.
		err = postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
			tx.BeforeCommit(write(13))
			tx.BeforeCommit(write(10))
			return nil
		})
		if err := db.Get(&n, `SELECT count(*) FROM t WHERE id = 13`); err != nil {
			t.Fatal(err)
		}
		if !errs.Is(err, errs.Conflict) || n != 0 {
			t.Fatalf("err=%v, row 13 kept %d times; want conflict, 0", err, n)
		}
		if _, err := db.Exec(`DELETE FROM t WHERE id >= 10`); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("AfterCommitRunsOnlyAfterCommit", func(t *testing.T) {
		var seen []int
		err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
			tx.AfterCommit(func() { seen = append(seen, count()) })
			_, err := tx.Exec(`INSERT INTO t VALUES (4)`)
			return err
		})
		// The hook sees the committed row from another connection.
		if err != nil || len(seen) != 1 || seen[0] != 2 {
			t.Fatalf("err=%v seen=%v, want nil, [2]", err, seen)
		}
		ran := false
		err = postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
			tx.AfterCommit(func() { ran = true })
			return errors.New("boom")
		})
		if err == nil || ran {
			t.Fatalf("err=%v ran=%v: a rolled-back transaction ran its after-commit work", err, ran)
		}
		ran = false
		err = postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
			tx.AfterCommit(func() { ran = true })
			// A duplicate aborts the transaction; the error is dropped on
			// purpose, so Transact tries to commit and fails.
			_, _ = tx.Exec(`INSERT INTO t VALUES (1)`)
			return nil
		})
		if err == nil || ran {
			t.Fatalf("err=%v ran=%v: a failed commit ran its after-commit work", err, ran)
		}
	})
	t.Run("OneClock", func(t *testing.T) {
		var first, second time.Time
		err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
			first = tx.Now()
			time.Sleep(2 * time.Millisecond) // the wall clock moves on; the transaction's does not
			second = tx.Now()
			return nil
		})
		if err != nil || first.IsZero() || !first.Equal(second) || first.Location() != time.UTC || first.Nanosecond()%1000 != 0 {
			t.Fatalf("err=%v, Now %v then %v: want one UTC instant to the microsecond", err, first, second)
		}
	})
	t.Run("TheCallersClock", func(t *testing.T) {
		// A clock that moves a day at each reading: each attempt begins
		// at its own reading, in UTC to the microsecond.
		shanghai := time.FixedZone("CST", 8*3600)
		day := time.Date(2026, 11, 20, 18, 0, 0, 123456789, shanghai)
		clock := func() time.Time { day = day.AddDate(0, 0, 1); return day }
		var seen []time.Time
		err := postgres.Transact(postgres.WithClock(ctx, clock), db, func(tx *postgres.Tx) error {
			seen = append(seen, tx.Now())
			if len(seen) == 1 {
				return postgres.Translate(&pq.Error{Code: "40001"})
			}
			return nil
		})
		want := []time.Time{time.Date(2026, 11, 21, 10, 0, 0, 123456000, time.UTC), time.Date(2026, 11, 22, 10, 0, 0, 123456000, time.UTC)}
		if err != nil || len(seen) != 2 || seen[0] != want[0] || seen[1] != want[1] {
			t.Fatalf("err=%v, attempts began at %v; want %v", err, seen, want)
		}
	})
	t.Run("RetriesTheDatabasesOwnConflicts", func(t *testing.T) {
		for _, code := range []pqerror.Code{"40001", "40P01"} {
			// Two attempts meet the conflict, the third passes: the caller
			// sees nil, and only the third attempt's work commits.
			attempts, ran := 0, 0
			err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
				attempts++
				tx.AfterCommit(func() { ran++ })
				if _, err := tx.Exec(`INSERT INTO t VALUES (100)`); err != nil {
					return postgres.Translate(err)
				}
				if attempts < 3 {
					return postgres.Translate(&pq.Error{Code: code})
				}
				return nil
			})
			if err != nil || attempts != 3 || ran != 1 {
				t.Fatalf("%s: err=%v after %d attempts, %d after-commit runs; want nil, 3, 1", code, err, attempts, ran)
			}
			var n int
			if err := db.Get(&n, `DELETE FROM t WHERE id = 100 RETURNING 1`); err != nil || n != 1 {
				t.Fatalf("%s: the row of the committed attempt: %v", code, err)
			}
			// Always in conflict: a bounded number of attempts, then the
			// conflict (409).
			attempts = 0
			err = postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
				attempts++
				return postgres.Translate(&pq.Error{Code: code})
			})
			if !errs.Is(err, errs.Conflict) || attempts != 5 {
				t.Fatalf("%s: err=%v after %d attempts; want conflict after 5", code, err, attempts)
			}
		}
		// Any other error is not retried.
		attempts := 0
		_ = postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
			attempts++
			return postgres.Translate(&pq.Error{Code: "23505"})
		})
		if attempts != 1 {
			t.Fatalf("a unique violation was tried %d times, want once", attempts)
		}
	})
	t.Run("DeadlockIsRetried", func(t *testing.T) {
		// Two transactions take rows 201 and 202 in opposite orders, each
		// waiting for the other to hold its first row: PostgreSQL aborts
		// one (40P01) and Transact runs it again. Both succeed.
		if _, err := db.Exec(`INSERT INTO t VALUES (201), (202)`); err != nil {
			t.Fatal(err)
		}
		var both sync.WaitGroup
		both.Add(2)
		var attempts atomic.Int32
		run := func(first, second int) error {
			once := sync.Once{}
			return postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
				attempts.Add(1)
				if _, err := tx.Exec(`UPDATE t SET id = id WHERE id = $1`, first); err != nil {
					return postgres.Translate(err)
				}
				once.Do(func() { both.Done(); both.Wait() }) // the first attempt waits for the other's first row
				_, err := tx.Exec(`UPDATE t SET id = id WHERE id = $1`, second)
				return postgres.Translate(err)
			})
		}
		errc := make(chan error, 2)
		go func() { errc <- run(201, 202) }()
		go func() { errc <- run(202, 201) }()
		for range 2 {
			if err := <-errc; err != nil {
				t.Fatalf("a deadlocked transaction reached its caller: %v", err)
			}
		}
		if n := attempts.Load(); n < 3 {
			t.Fatalf("%d attempts in all: the deadlock did not happen, the test proves nothing", n)
		}
	})
	t.Run("UniqueViolationIsConflict", func(t *testing.T) {
		err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
			_, err := tx.Exec(`INSERT INTO t VALUES (1)`)
			return postgres.Translate(err)
		})
		if errs.CodeOf(err) != errs.Conflict {
			t.Fatalf("code %q, want conflict (err %v)", errs.CodeOf(err), err)
		}
	})
}

func TestSchemaIsCurrent(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	if err := postgres.CheckSchema(context.Background(), db.DB); err != nil {
		t.Fatalf("fresh test database: %v", err)
	}
}

func TestCheckSchemaRefusesOldSchema(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	// Pretend the newest migration was never applied.
	if _, err := db.Exec(`DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`); err != nil {
		t.Fatal(err)
	}
	err := postgres.CheckSchema(context.Background(), db.DB)
	if err == nil || !strings.Contains(err.Error(), "procfin migrate") {
		t.Fatalf("CheckSchema = %v, want a message naming procfin migrate", err)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://u:secret@h/db":          "postgres://u:xxxxx@h/db",
		"host=h password=secret dbname=d":   "host=h password=xxxxx dbname=d",
		"postgres://u@h/db?password=secret": "postgres://u@h/db?password=xxxxx",
	} {
		if got := postgres.Redact(in); got != want || strings.Contains(got, "secret") {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestConcurrentMigrate: replicas starting at once each run Migrate; the
// session lock makes every migration apply once and all of them succeed.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	url := pgtest.EmptyURL(t)
	const replicas = 3
	errc := make(chan error, replicas)
	applied := make(chan int, replicas)
	for i := 0; i < replicas; i++ {
		go func() {
			db, err := postgres.Open(context.Background(), url, postgres.PoolConfig{MaxOpenConns: 2})
			if err != nil {
				errc <- err
				return
			}
			defer db.Close()
			n, err := postgres.Migrate(context.Background(), db.DB, nil)
			applied <- n
			errc <- err
		}()
	}
	total := 0
	for i := 0; i < replicas; i++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < replicas; i++ {
		total += <-applied
	}
	db, err := postgres.Open(context.Background(), url, postgres.PoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	current, target, err := postgres.SchemaVersions(context.Background(), db.DB)
	// Numbers may have gaps (migrations written in parallel branches):
	// each file applies once.
	files, _ := fs.Glob(postgres.Migrations(), "*.sql")
	if err != nil || current != target || total != len(files) {
		t.Fatalf("current %d target %d, %d applied in all (%v); want each once", current, target, total, err)
	}
}

// TestBanksAndPoliciesArePermanent: rows name banks and subsidy policy
// versions without a foreign key (migration 00015), so neither may be
// deleted, truncated or have its key changed; other columns may change.
func TestBanksAndPoliciesArePermanent(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	if _, err := db.Exec(`
		INSERT INTO banks (id, name, base_url, jwks, algorithms, version) VALUES ('qilu-bank', 'Qilu', 'http://127.0.0.1:9', '{}', '{EdDSA}', 'v1');
		INSERT INTO subsidy_policies (effective_from, subsidy_ratio, rate_cap, supplier_yearly_cap, programme_budget,
			eligible_size_classes, four_eyes_threshold, created_by, lpr_1y)
		VALUES ('2020-01-01', 0.5, 0.031, 200000, 50000000, '{micro}', 50000, 'test', '[{"from": "2020-01-01", "rate": "0.031"}]')`); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`DELETE FROM banks WHERE id = 'qilu-bank'`,
		`UPDATE banks SET id = 'other-bank' WHERE id = 'qilu-bank'`,
		`TRUNCATE banks CASCADE`,
		`DELETE FROM subsidy_policies`,
		`UPDATE subsidy_policies SET version = 7`,
		`TRUNCATE subsidy_policies CASCADE`,
	} {
		if _, err := db.Exec(stmt); err == nil || !strings.Contains(err.Error(), "permanent") {
			t.Errorf("%s: %v, want refused as permanent", stmt, err)
		}
	}
	if _, err := db.Exec(`UPDATE banks SET name = 'Qilu Bank', updated_at = now(); UPDATE subsidy_policies SET created_by = 'x'`); err != nil {
		t.Errorf("changing other columns: %v", err)
	}
	var n int
	if err := db.Get(&n, `SELECT (SELECT count(*) FROM banks) + (SELECT count(*) FROM subsidy_policies)`); err != nil || n != 2 {
		t.Fatalf("%d rows (%v), want both kept", n, err)
	}
}

// TestGenericPlans: the setting holds for the rest of its transaction and
// ends with it, so the pooled connection's next user plans as before.
func TestGenericPlans(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	mode := func(q sqlx.QueryerContext) string {
		var m string
		if err := sqlx.GetContext(ctx, q, &m, `SELECT current_setting('plan_cache_mode')`); err != nil {
			t.Fatal(err)
		}
		return m
	}
	err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
		if err := postgres.GenericPlans(ctx, tx); err != nil {
			return err
		}
		if m := mode(tx); m != "force_generic_plan" {
			t.Errorf("in the transaction: plan_cache_mode = %s", m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if m := mode(db); m != "auto" {
		t.Errorf("after the transaction: plan_cache_mode = %s, want auto", m)
	}
}

// TestLargeValuesUseLZ4: where the server has lz4, the columns holding
// large values compress with it (migration 00018).
func TestLargeValuesUseLZ4(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TEMP TABLE probe (v text COMPRESSION lz4)`); err != nil {
		t.Skipf("this server has no lz4: %v", err)
	}
	var got []string
	err := db.SelectContext(ctx, &got, `
		SELECT attrelid::regclass || '.' || attname FROM pg_attribute
		WHERE (attrelid::regclass::text, attname) IN (('idempotency_keys', 'body'), ('audit_log', 'after_state'),
			('applications', 'verification'), ('deliveries', 'payload'), ('subsidy_claims', 'computation'))
		  AND attcompression = 'l'
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Errorf("columns compressed with lz4: %v, want all five", got)
	}
}

// TestColumnRulesAreDomains: the rules of single columns on the tables a
// repayment writes are held by the columns' domains (migration 00020),
// which refuse what the CHECK constraints refused; the rules across
// columns stay constraints.
func TestColumnRulesAreDomains(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	want := map[string]string{
		"applications.amount": "amount_positive", "applications.term_days": "days_positive",
		"applications.status": "application_status", "applications.financing_held": "amount_nonnegative",
		"applications.line_held": "amount_nonnegative", "applications.approved_amount": "amount_positive",
		"applications.disbursed": "amount_nonnegative", "applications.repaid_principal": "amount_nonnegative",
		"applications.interest_paid": "amount_nonnegative",
		"loans.disbursed":            "amount_nonnegative", "loans.repaid_principal": "amount_nonnegative",
		"loans.interest_paid":  "amount_nonnegative",
		"repayments.principal": "amount_nonnegative", "repayments.interest": "amount_nonnegative",
		"subsidy_claims.interest_paid": "amount_nonnegative", "subsidy_claims.amount": "amount_nonnegative",
		"subsidy_claims.status": "claim_status", "subsidy_claims.approvals": "claim_approvals",
		"subsidy_claims.approvals_required": "claim_approvals_required",
		"subsidy_supplier_years.claimed":    "amount_nonnegative",
	}
	var cols []struct {
		Column string `db:"col"`
		Type   string `db:"typ"`
	}
	err := db.SelectContext(ctx, &cols, `
		SELECT a.attrelid::regclass || '.' || a.attname AS col, t.typname AS typ
		FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
		WHERE a.attrelid::regclass::text IN ('applications', 'loans', 'repayments', 'subsidy_claims', 'subsidy_supplier_years')
		  AND a.attnum > 0 AND NOT a.attisdropped`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cols {
		if w, ok := want[c.Column]; ok && c.Type != w {
			t.Errorf("%s is %s, want %s", c.Column, c.Type, w)
		}
		delete(want, c.Column)
	}
	if len(want) > 0 {
		t.Errorf("columns not found: %v", want)
	}

	for _, tc := range []struct {
		value, domain string
		ok            bool
	}{
		{"0.01", "amount_positive", true}, {"0", "amount_positive", false}, {"-5", "amount_positive", false},
		{"0", "amount_nonnegative", true}, {"-0.01", "amount_nonnegative", false},
		{"90", "days_positive", true}, {"0", "days_positive", false},
		{"disbursed", "application_status", true}, {"paid", "application_status", false},
		{"paid", "claim_status", true}, {"disbursed", "claim_status", false},
		{"2", "claim_approvals", true}, {"3", "claim_approvals", false}, {"-1", "claim_approvals", false},
		{"1", "claim_approvals_required", true}, {"0", "claim_approvals_required", false},
		{"written_off", "loan_close_reason", true}, {"cancelled", "loan_close_reason", false},
	} {
		_, err := db.ExecContext(ctx, `SELECT $1::text::`+tc.domain, tc.value)
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s %s refused: %v", tc.domain, tc.value, err)
		case !tc.ok && !errs.Is(postgres.Translate(err), errs.Invalid):
			t.Errorf("%s %s: %v, want the rule refused as invalid", tc.domain, tc.value, err)
		}
	}

	var checks []string
	err = db.SelectContext(ctx, &checks, `
		SELECT conrelid::regclass || ': ' || pg_get_constraintdef(oid) FROM pg_constraint
		WHERE contype = 'c' AND conrelid::regclass::text IN ('applications', 'loans', 'repayments', 'subsidy_claims', 'subsidy_supplier_years')
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 9 {
		t.Errorf("CHECK constraints left: %d, want the 9 across columns:\n%s", len(checks), strings.Join(checks, "\n"))
	}
}

// TestDeliveryClaimIsHOT: deliveries leave room in their pages (migration
// 00021), so the relay's claim of a row, which changes no indexed column,
// writes the new version beside the old one without index entries. Full
// pages (fillfactor 100) gave none of the five claims room.
func TestDeliveryClaimIsHOT(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO deliveries (application_id, message_id, bank_id, payload)
		SELECT gen_random_uuid(), gen_random_uuid(), 'b', convert_to(repeat('x', 1300), 'UTF8') FROM generate_series(1, 5)`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET locked_until = now(), locked_by = 'w', attempts = attempts + 1`); err != nil {
		t.Fatal(err)
	}
	var hot int
	if err := tx.GetContext(ctx, &hot, `SELECT pg_stat_get_xact_tuples_hot_updated('deliveries'::regclass)`); err != nil {
		t.Fatal(err)
	}
	if hot != 5 {
		t.Errorf("%d of 5 claims were HOT updates, want all", hot)
	}
}
