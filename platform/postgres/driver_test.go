package postgres_test

import (
	"testing"

	"procfin/platform/postgres/pgtest"
)

// A statement with arguments is prepared once on its connection and run by
// name after; one without arguments is not prepared.
func TestStatementsPreparedOncePerConnection(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	db.SetMaxOpenConns(1) // one connection, so every query sees its statements
	if _, err := db.Exec(`CREATE TABLE p (a int, b text)`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := db.Exec(`INSERT INTO p (a, b) VALUES ($1, $2)`, i, "x"); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM pg_prepared_statements WHERE statement = $1`,
		`INSERT INTO p (a, b) VALUES ($1, $2)`); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("the insert is prepared %d times on the connection, want once", n)
	}
	if err := db.Get(&n, `SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'CREATE TABLE p%'`); err != nil || n != 0 {
		t.Fatalf("a statement without arguments was prepared (%d, %v)", n, err)
	}
}

// A migration that changes a table under a prepared SELECT * fails that
// statement once ("cached plan must not change result type"); the next run
// prepares it again and sees the new column.
func TestPreparedStatementAfterSchemaChange(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	db.SetMaxOpenConns(1)
	for _, s := range []string{`CREATE TABLE s (a int)`, `INSERT INTO s VALUES (1)`} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	const q = `SELECT * FROM s WHERE a = $1`
	var a int
	if err := db.Get(&a, q, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`ALTER TABLE s ADD COLUMN b text DEFAULT 'new'`); err != nil {
		t.Fatal(err)
	}
	var row struct {
		A int    `db:"a"`
		B string `db:"b"`
	}
	err := db.Get(&row, q, 1)
	t.Logf("first run after the change: %v", err)
	if err == nil {
		// PostgreSQL may re-plan quietly; then the answer must be right.
		if row.B != "new" {
			t.Fatalf("row = %+v", row)
		}
		return
	}
	if err := db.Get(&row, q, 1); err != nil || row.B != "new" {
		t.Fatalf("after the stale plan: %+v, %v; want the new column", row, err)
	}
}

// A statement the server dropped (DEALLOCATE, or a pooler that does not
// keep them) fails once and is prepared again on its next use.
func TestPreparedStatementDeallocated(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	db.SetMaxOpenConns(1)
	const q = `SELECT $1::int + 1`
	var n int
	if err := db.Get(&n, q, 1); err != nil || n != 2 {
		t.Fatalf("%d, %v", n, err)
	}
	if _, err := db.Exec(`DEALLOCATE ALL`); err != nil {
		t.Fatal(err)
	}
	_ = db.Get(&n, q, 1) // may fail: the statement is gone
	if err := db.Get(&n, q, 2); err != nil || n != 3 {
		t.Fatalf("after DEALLOCATE: %d, %v; want 3", n, err)
	}
}
