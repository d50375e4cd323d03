package lending_test

import (
	"context"
	"strings"
	"testing"

	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

func (w *world) input(contractID, bank, amount string, line bool) lending.ApplyInput {
	a, days := money.MustAmount(amount), 90
	in := lending.ApplyInput{ContractID: contractID, BankID: bank, Amount: &a, TermDays: &days, Purpose: "materials"}
	if line {
		in.CreditLineID = &w.lineID
	}
	return in
}

func (w *world) count(query string, args ...any) int {
	w.t.Helper()
	var n int
	must(w.t, func() error { return w.db.Get(&n, query, args...) })
	return n
}

// TestIntakeBatchChecksInTurn: in one batch, each application is checked
// as if alone, after those before it: a refused one writes nothing and the
// others are written; two of one contract share its headroom exactly.
func TestIntakeBatchChecksInTurn(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	other := w.newContract("C2", otherUSCC)
	third := w.newContract("C3", uscc)
	ins := []lending.ApplyInput{
		w.input(w.contractID, "qilu-bank", "600000.00", false),                 // fits: 403,000.00 left of 1,003,000.00
		w.input(w.contractID, "qilu-bank", "500000.00", false),                 // over what is left
		w.input(other, "qilu-bank", "1000.00", false),                          // another supplier's contract
		w.input(strings.ToUpper(w.contractID), "qilu-bank", "403000.00", true), // exactly what is left, on the line
		w.input(w.contractID, "qilu-bank", "0.01", false),                      // the contract is full
		w.input(third, "no-such-bank", "1000.00", false),                       // unknown bank
		w.input(third, "qilu-bank", "1000.00", false),
	}
	whos := make([]lending.Applicant, len(ins))
	for i := range whos {
		whos[i] = w.who
	}
	apps, errors := w.lending.ApplyBatch(whos, ins)
	want := []errs.Code{"", errs.VerificationFailed, errs.Invalid, "", errs.VerificationFailed, errs.Invalid, ""}
	for i, code := range want {
		switch {
		case code == "" && (errors[i] != nil || apps[i].Status != lending.Submitted || len(apps[i].History) != 1 || apps[i].Consent == nil):
			t.Errorf("application %d: %v, %+v; want it submitted with its history and consent", i, errors[i], apps[i])
		case code != "" && !errs.Is(errors[i], code):
			t.Errorf("application %d: %v, want %s", i, errors[i], code)
		}
	}
	if !strings.Contains(errs.MessageOf(errors[1]), "only 403000.00") {
		t.Errorf("the second application was not checked after the first: %v", errors[1])
	}
	if w.financed() != "1003000.00" || w.lineUsed() != "403000.00" {
		t.Errorf("contract financed %s, line used %s; want 1003000.00 and 403000.00", w.financed(), w.lineUsed())
	}
	if n := w.count(`SELECT count(*) FROM applications`); n != 3 {
		t.Errorf("%d applications written, want 3", n)
	}
	if n := w.count(`SELECT count(*) FROM deliveries`); n != 3 {
		t.Errorf("%d messages queued, want 3", n)
	}
	if n := w.count(`SELECT count(*) FROM audit_log WHERE action = 'application.submitted'`); n != 3 {
		t.Errorf("%d audit rows, want 3", n)
	}
	if n := w.count(`SELECT count(*) FROM consents`) + w.count(`SELECT count(*) FROM application_transitions`); n != 6 {
		t.Errorf("%d consents and transitions, want 6", n)
	}
	if f := w.count(`SELECT (financed * 100)::int FROM contracts WHERE id = $1`, third); f != 100000 {
		t.Errorf("third contract financed %d cents, want 100000", f)
	}
	// One transaction wrote them (the batch was not rolled back and
	// written again one by one): they share its start time.
	if n := w.count(`SELECT count(DISTINCT created_at) FROM applications`); n != 1 {
		t.Errorf("the applications were written in %d transactions, want 1", n)
	}
}

// TestIntakeBatchRepeatedKeyRollsBack: two applications of a batch under
// one Idempotency-Key: the batch is rolled back and each written alone, so
// the first is written, the second finds it, and nothing is held twice.
func TestIntakeBatchRepeatedKeyRollsBack(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	keyed := w.who
	keyed.RequestKey = "k-1"
	other := w.who
	other.RequestKey = "k-2"
	in := w.input(w.contractID, "qilu-bank", "1000.00", false)
	apps, errors := w.lending.ApplyBatch([]lending.Applicant{keyed, keyed, other},
		[]lending.ApplyInput{in, in, w.input(w.contractID, "qilu-bank", "2000.00", true)})
	if errors[0] != nil || errors[2] != nil || !errs.Is(errors[1], errs.Conflict) {
		t.Fatalf("answers %v; want the first and third written, the second a conflict", errors)
	}
	if apps[0].ID == "" || apps[2].ID == "" || w.financed() != "3000.00" || w.lineUsed() != "2000.00" {
		t.Fatalf("financed %s, line used %s; want 3000.00 and 2000.00", w.financed(), w.lineUsed())
	}
	if n := w.count(`SELECT count(*) FROM applications`); n != 2 {
		t.Fatalf("%d applications, want 2", n)
	}
	// Through Apply, the second answer is the first application.
	again, err := w.lending.Apply(ctx, keyed, in)
	if err != nil || again.ID != apps[0].ID {
		t.Fatalf("retry: %v, %s; want %s", err, again.ID, apps[0].ID)
	}
}

// TestIntakeBatchDatabaseErrorStaysWithItsApplication: an application the
// database refuses (a NUL byte PostgreSQL text cannot hold) rolls its batch
// back; the others are then written alone and only it fails.
func TestIntakeBatchDatabaseErrorStaysWithItsApplication(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	bad := w.input(w.contractID, "qilu-bank", "1000.00", false)
	bad.Purpose = "nul\x00byte"
	apps, errors := w.lending.ApplyBatch([]lending.Applicant{w.who, w.who, w.who},
		[]lending.ApplyInput{w.input(w.contractID, "qilu-bank", "1000.00", false), bad, w.input(w.contractID, "qilu-bank", "2000.00", false)})
	if errors[0] != nil || errors[2] != nil || errors[1] == nil || apps[0].ID == "" || apps[2].ID == "" {
		t.Fatalf("answers %v; want only the second to fail", errors)
	}
	if w.financed() != "3000.00" || w.count(`SELECT count(*) FROM applications`) != 2 {
		t.Fatalf("financed %s; want 3000.00 in 2 applications", w.financed())
	}
}

// TestLendingRecordsArePermanent: applications, loans and repayments are
// never deleted nor renumbered (migration 00017), so the rows written with
// them (consents, transitions, deliveries, claims), which keep no foreign
// key, never lose them; and every such row has its parent.
func TestLendingRecordsArePermanent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.approvedAndDisbursed("1000.00")
	if err := w.repayOne(a.ID, "R1"); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`DELETE FROM applications`,
		`UPDATE applications SET id = gen_random_uuid()`,
		`TRUNCATE applications CASCADE`,
		`DELETE FROM loans`,
		`UPDATE loans SET id = gen_random_uuid()`,
		`TRUNCATE loans CASCADE`,
		`DELETE FROM repayments`,
		`UPDATE repayments SET id = gen_random_uuid()`,
		`TRUNCATE repayments CASCADE`,
	} {
		if _, err := w.db.Exec(stmt); err == nil || !strings.Contains(err.Error(), "permanent") {
			t.Errorf("%s: %v, want refused as permanent", stmt, err)
		}
	}
	orphans := w.count(`SELECT
		(SELECT count(*) FROM consents c WHERE NOT EXISTS (SELECT 1 FROM applications a WHERE a.id = c.application_id)) +
		(SELECT count(*) FROM application_transitions t WHERE NOT EXISTS (SELECT 1 FROM applications a WHERE a.id = t.application_id)) +
		(SELECT count(*) FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM applications a WHERE a.id = d.application_id)) +
		(SELECT count(*) FROM repayments r WHERE NOT EXISTS (SELECT 1 FROM loans l WHERE l.id = r.loan_id))`)
	children := w.count(`SELECT (SELECT count(*) FROM consents) + (SELECT count(*) FROM application_transitions) +
		(SELECT count(*) FROM deliveries) + (SELECT count(*) FROM repayments)`)
	if orphans != 0 || children < 8 {
		t.Errorf("%d orphans among %d rows; want none among at least 8", orphans, children)
	}
}

// TestIntakeSurvivesAPanic: a bug that panics while a batch is written
// answers its applications internal, writes none of them, and the intake
// goes on.
func TestIntakeSurvivesAPanic(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	who := w.who
	who.Answered = func(context.Context, *postgres.Tx, lending.Application) error { panic("a bug") }
	_, errors := w.lending.ApplyBatch([]lending.Applicant{who}, []lending.ApplyInput{w.input(w.contractID, "qilu-bank", "1000.00", false)})
	if !errs.Is(errors[0], errs.Internal) {
		t.Fatalf("a panicking batch: %v, want internal", errors[0])
	}
	if n := w.count(`SELECT count(*) FROM applications`); n != 0 {
		t.Fatalf("%d applications written, want none", n)
	}
	if _, err := w.apply("1000.00", false); err != nil {
		t.Fatalf("the next application: %v", err)
	}
}
