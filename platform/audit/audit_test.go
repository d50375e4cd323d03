package audit_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"procfin/platform/audit"
	"procfin/platform/postgres"
	"procfin/platform/postgres/pgtest"
)

// mustRecord records n entries and seals them.
func mustRecord(t *testing.T, db *sqlx.DB, n int) {
	t.Helper()
	recordUnsealed(t, db, n)
	if err := audit.SealAll(context.Background(), db); err != nil {
		t.Fatal(err)
	}
}

func recordUnsealed(t *testing.T, db *sqlx.DB, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		err := postgres.Transact(context.Background(), db, func(tx *postgres.Tx) error {
			return audit.Record(context.Background(), tx, audit.Entry{
				Actor: "user:alice", Action: "thing.changed", EntityType: "thing",
				EntityID: fmt.Sprint(i % 2), Before: map[string]int{"v": i}, After: map[string]int{"v": i + 1},
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// tamper runs sql with the append-only triggers off, as an attacker with
// table-owner rights could.
func tamper(t *testing.T, db *sqlx.DB, sql string) {
	t.Helper()
	for _, s := range []string{
		`ALTER TABLE audit_log DISABLE TRIGGER USER`, `ALTER TABLE audit_chain DISABLE TRIGGER USER`, sql,
		`ALTER TABLE audit_log ENABLE TRIGGER USER`, `ALTER TABLE audit_chain ENABLE TRIGGER USER`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// sealedAs is the audit_log row sealed at place n of the chain.
func sealedAs(n int) string {
	return fmt.Sprintf(`(SELECT audit_id FROM audit_chain WHERE seq = %d)`, n)
}

func TestVerify(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tamper string
		want   string // substring of the error; "" means valid
	}{
		{"OK", "", ""},
		{"EditedActor", `UPDATE audit_log SET actor = 'user:mallory' WHERE id = ` + sealedAs(3), "row 3 was edited"},
		{"EditedState", `UPDATE audit_log SET after_state = '{"v":99}' WHERE id = ` + sealedAs(2), "row 2 was edited"},
		{"EditedLink", `UPDATE audit_chain SET prev_hash = repeat('1', 64) WHERE seq = 2`, "row 2 does not link to row 1"},
		{"SwappedRows", `UPDATE audit_chain SET audit_id = -audit_id WHERE seq IN (2, 4);
			UPDATE audit_chain SET audit_id = CASE WHEN seq = 2 THEN (SELECT -audit_id FROM audit_chain WHERE seq = 4)
				ELSE (SELECT -audit_id FROM audit_chain WHERE seq = 2) END WHERE seq IN (2, 4)`, "row 2 was edited"},
		{"DeletedRow", `DELETE FROM audit_log WHERE id = ` + sealedAs(3), "row 3 was deleted"},
		{"DeletedLink", `DELETE FROM audit_chain WHERE seq = 3`, "rows 3 to 3 were deleted"},
		{"DeletedMiddle", `DELETE FROM audit_log WHERE id = ` + sealedAs(3) + `; DELETE FROM audit_chain WHERE seq = 3`, "rows 3 to 3 were deleted"},
		{"DeletedTail", `DELETE FROM audit_log WHERE id = ` + sealedAs(5) + `; DELETE FROM audit_chain WHERE seq = 5`, "newest rows were deleted"},
		{"DeletedAll", `DELETE FROM audit_log; DELETE FROM audit_chain`, "newest rows were deleted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			mustRecord(t, db, 5)
			if tc.tamper != "" {
				tamper(t, db, tc.tamper)
			}
			rep, err := audit.Verify(context.Background(), db)
			if tc.want == "" {
				if err != nil || rep.Rows != 5 || rep.HeadSeq != 5 || rep.Unsealed != 0 {
					t.Fatalf("Verify = %+v, %v; want 5 rows, no error", rep, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestVerifyRehashedEdit(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	mustRecord(t, db, 3)
	var r audit.Row
	err := db.Get(&r, `
		SELECT a.id, c.seq, a.at, a.actor, a.action, a.entity_type, a.entity_id, a.before_digest, a.after_digest,
		       a.after_state, a.reason, c.prev_hash, c.hash
		FROM audit_chain c JOIN audit_log a ON a.id = c.audit_id WHERE c.seq = 2`)
	if err != nil {
		t.Fatal(err)
	}
	r.Actor = "user:mallory"
	tamper(t, db, fmt.Sprintf(`UPDATE audit_log SET actor = 'user:mallory' WHERE id = %d;
		UPDATE audit_chain SET hash = '%s' WHERE seq = 2`, r.ID, audit.ChainHash(r)))
	if _, err := audit.Verify(context.Background(), db); err == nil || !strings.Contains(err.Error(), "row 3 does not link to row 2") {
		t.Fatalf("Verify = %v, want row 3 not linking", err)
	}
}

func TestAppendOnly(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	mustRecord(t, db, 1)
	for _, sql := range []string{
		`UPDATE audit_log SET actor = 'x'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`,
		`UPDATE audit_chain SET hash = repeat('0', 64)`, `DELETE FROM audit_chain`, `TRUNCATE audit_chain`,
	} {
		if _, err := db.Exec(sql); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want append-only refusal", sql, err)
		}
	}
}

// A row taken out of the sealer's queue is never sealed, and Verify
// counts it.
func TestUnqueuedRowIsCounted(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	mustRecord(t, db, 2)
	recordUnsealed(t, db, 1)
	if _, err := db.Exec(`DELETE FROM audit_unsealed`); err != nil {
		t.Fatal(err)
	}
	if err := audit.SealAll(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(context.Background(), db)
	if err != nil || rep.Rows != 2 || rep.Unsealed != 1 {
		t.Fatalf("Verify = %+v, %v; want 2 sealed and 1 left unsealed", rep, err)
	}
}

func TestRolledBackChangeLeavesNoTrace(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	mustRecord(t, db, 2)
	_ = postgres.Transact(context.Background(), db, func(tx *postgres.Tx) error {
		if err := audit.Record(context.Background(), tx, audit.Entry{Actor: "a", Action: "b", EntityType: "c", EntityID: "d"}); err != nil {
			return err
		}
		return fmt.Errorf("the change failed")
	})
	mustRecord(t, db, 1)
	rep, err := audit.Verify(context.Background(), db)
	if err != nil || rep.Rows != 3 || rep.Unsealed != 0 {
		t.Fatalf("Verify = %+v, %v; want 3 rows and an intact chain", rep, err)
	}
}

func TestConcurrentWritersKeepChain(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	var wg sync.WaitGroup
	const writers, each = 8, 10
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := postgres.Transact(context.Background(), db, func(tx *postgres.Tx) error {
					return audit.Record(context.Background(), tx, audit.Entry{Actor: "a", Action: "b", EntityType: "c", EntityID: "d"})
				})
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := audit.SealAll(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(context.Background(), db)
	if err != nil || rep.Rows != writers*each {
		t.Fatalf("Verify = %+v, %v; want %d rows", rep, err, writers*each)
	}
}

// Writers and three sealers (as in three procfin processes) at once: every
// row is sealed exactly once, in one gapless chain.
func TestConcurrentSealers(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	var sealers sync.WaitGroup
	for i := 0; i < 3; i++ {
		sealers.Add(1)
		go func() {
			defer sealers.Done()
			audit.Sealer{DB: db, Interval: time.Millisecond, Logger: slog.New(slog.DiscardHandler)}.Run(ctx)
		}()
	}
	var writers sync.WaitGroup
	for w := 0; w < 6; w++ {
		writers.Add(1)
		go func() {
			defer writers.Done()
			recordUnsealed(t, db, 30)
		}()
	}
	writers.Wait()
	cancel()
	sealers.Wait()
	if err := audit.SealAll(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(context.Background(), db)
	if err != nil || rep.Rows != 180 || rep.Unsealed != 0 || rep.HeadSeq != 180 {
		t.Fatalf("Verify = %+v, %v; want 180 sealed rows", rep, err)
	}
}

func TestUnsealedRows(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	mustRecord(t, db, 2)
	recordUnsealed(t, db, 3)
	rep, err := audit.Verify(context.Background(), db)
	if err != nil || rep.Rows != 2 || rep.Unsealed != 3 || rep.HeadSeq != 2 {
		t.Fatalf("Verify = %+v, %v; want 2 sealed and 3 unsealed", rep, err)
	}
	rows, err := audit.List(context.Background(), db, "thing", "0", 0, 10)
	if err != nil || len(rows) != 3 || rows[0].Seq == 0 || rows[1].Seq != 0 || rows[1].Hash != "" {
		t.Fatalf("List = %+v, %v; want a sealed row then unsealed ones", rows, err)
	}
	// Nothing updates a row, sealed or not.
	for _, sql := range []string{
		`UPDATE audit_log SET actor = 'user:mallory' WHERE id = (SELECT max(id) FROM audit_log)`,
		`UPDATE audit_log SET reason = 'forged' WHERE id = ` + sealedAs(1),
		`UPDATE audit_chain SET seq = seq + 100`,
	} {
		if _, err := db.Exec(sql); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want append-only refusal", sql, err)
		}
	}
	if n, err := audit.Seal(context.Background(), db, 2); err != nil || n != 2 {
		t.Fatalf("Seal = %d, %v; want 2", n, err)
	}
	if n, err := audit.Seal(context.Background(), db, 10); err != nil || n != 1 {
		t.Fatalf("Seal = %d, %v; want the last 1", n, err)
	}
	rep, err = audit.Verify(context.Background(), db)
	if err != nil || rep.Rows != 5 || rep.Unsealed != 0 || rep.HeadSeq != 5 {
		t.Fatalf("Verify = %+v, %v; want 5 sealed", rep, err)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	mustRecord(t, db, 4) // entity ids alternate 0,1,0,1
	rows, err := audit.List(context.Background(), db, "thing", "1", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Seq != 2 || rows[1].Seq != 4 || rows[1].ID != 4 || string(rows[0].After) != `{"v":2}` {
		t.Fatalf("List = %+v", rows)
	}
	rows, _ = audit.List(context.Background(), db, "thing", "1", 2, 10)
	if len(rows) != 1 || rows[0].ID != 4 {
		t.Fatalf("List after 2 = %+v", rows)
	}
}

func TestRecordRequiresFields(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	err := postgres.Transact(context.Background(), db, func(tx *postgres.Tx) error {
		return audit.Record(context.Background(), tx, audit.Entry{Action: "x", EntityType: "y", EntityID: "z"})
	})
	if err == nil {
		t.Fatal("entry without actor accepted")
	}
}

func TestRecordMany(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
		var es []audit.Entry
		for i := 0; i < 3; i++ {
			es = append(es, audit.Entry{Actor: "system:relay", Action: "thing.moved", EntityType: "thing",
				EntityID: fmt.Sprint(i), Before: map[string]int{"v": i}, After: map[string]int{"v": i + 10}, Reason: "batch"})
		}
		return audit.RecordMany(ctx, tx, es)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.SealAll(ctx, db); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ctx, db)
	if err != nil || rep.Rows != 3 {
		t.Fatalf("Verify = %+v, %v; want 3 rows", rep, err)
	}
	rows, err := audit.List(ctx, db, "thing", "2", 0, 10)
	if err != nil || len(rows) != 1 || string(rows[0].After) != `{"v":12}` || rows[0].Reason != "batch" || rows[0].BeforeDigest == "" {
		t.Fatalf("List = %+v, %v", rows, err)
	}
	err = postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
		return audit.RecordMany(ctx, tx, []audit.Entry{{Action: "x", EntityType: "y", EntityID: "z"}})
	})
	if err == nil {
		t.Fatal("an entry without actor was accepted")
	}
}

// In a transaction of Transact the rows wait for the commit and are then
// written together, in the order recorded, with the states as they were
// when recorded.
func TestRecordWritesAtCommit(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
		state := map[string]int{"v": 1}
		for i := 0; i < 3; i++ {
			if err := audit.Record(ctx, tx, audit.Entry{Actor: "a", Action: fmt.Sprint("step.", i), EntityType: "thing", EntityID: "1", After: state}); err != nil {
				return err
			}
			state["v"]++ // a later change does not reach the recorded state
		}
		var n int
		if err := tx.Get(&n, `SELECT count(*) FROM audit_log`); err != nil || n != 0 {
			t.Errorf("%d rows written before the commit (%v), want 0", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := audit.List(ctx, db, "thing", "1", 0, 10)
	if err != nil || len(rows) != 3 {
		t.Fatalf("List = %+v, %v", rows, err)
	}
	for i, r := range rows {
		if r.Action != fmt.Sprint("step.", i) || string(r.After) != fmt.Sprintf(`{"v":%d}`, i+1) {
			t.Fatalf("row %d = %s %s, want step.%d {\"v\":%d}", i, r.Action, r.After, i, i+1)
		}
	}
}
