package banking_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	stderrors "errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"procfin/banking"
	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/postgres"
	"procfin/platform/signature"
)

func event(id, typ, appID, data string) []byte {
	return fmt.Appendf(nil, `{"event_id":%q,"type":%q,"occurred_at":"2026-11-20T10:00:00Z","application_id":%q,"data":%s}`,
		id, typ, appID, data)
}

const approved = `{"approved_amount":"1000.00","annual_rate":"0.0345","term_days":90,"repayment_account":{"bank_name":"Qilu","account_no":"62220001","account_name":"Q"}}`

// messages signs event bodies as qilu-bank and checks them as procfin
// would, up to the replay check, which the inbox does.
type messages struct {
	t      *testing.T
	signer signature.Signer
	v      *signature.Verifier
}

func newMessages(t *testing.T, db *sqlx.DB) *messages {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	m := &messages{t: t, signer: signature.Signer{ID: "qilu-bank", KeyID: "q1", Key: key, Algorithm: "EdDSA"}}
	m.v = signature.NewVerifier(db, "procfin", func(_ context.Context, id string) (signature.Sender, error) {
		return signature.Sender{ID: id, JWKS: m.signer.PublicJWKS(), Version: "1"}, nil
	})
	return m
}

const eventsURL = "https://procfin.example/v1/bank-events"

// sign returns body's signature header.
func (m *messages) sign(body []byte) string {
	m.t.Helper()
	h, err := m.signer.Sign("POST", eventsURL, "procfin", body, time.Now())
	if err != nil {
		m.t.Fatal(err)
	}
	return h
}

// check verifies body under header and returns its replay check, which
// counts into done once its transaction committed.
func (m *messages) check(body []byte, header string, done *atomic.Int32) *banking.Consume {
	m.t.Helper()
	_, seen, err := m.v.VerifyDeferred(context.Background(), signature.Request{Header: header, Method: "POST", URL: eventsURL, Body: body})
	if err != nil {
		m.t.Fatal(err)
	}
	return &banking.Consume{Verifier: m.v, Seen: seen, Done: func() { done.Add(1) }}
}

// TestInboxBatchAppliesInTurn: in one batch each event is applied as if
// alone, after those before it; a replayed message and an event id reused
// with another body are refused without spoiling the batch, and all of it
// commits in one transaction.
func TestInboxBatchAppliesInTurn(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "http://127.0.0.1:1")
	a1, a2 := w.apply(t), w.apply(t)
	ev := banking.NewEvents(w.db, w.lending)
	m := newMessages(t, w.db)
	bodies := [][]byte{
		event("e1", "application.received", a1, `{}`),
		event("e1", "application.received", a1, `{}`),     // the same event again
		event("e1", "application.received", a2, `{}`),     // its id with another body
		event("e2", "application.received", a2, `{}`),     // a replayed message
		event("e3", "application.approved", a1, approved), // follows e1
		event("e4", "application.received", a2, `{"x":1}`),
		event("e4", "application.received", a2, `{"x":1}`), // its message again
		event("e5", "application.approved", a2, approved),  // without a replay check
	}
	// e2's message was consumed before, in a transaction of its own.
	var done atomic.Int32
	e2 := m.sign(bodies[3])
	if _, err := m.v.Verify(context.Background(), signature.Request{Header: e2, Method: "POST", URL: eventsURL, Body: bodies[3]}); err != nil {
		t.Fatal(err)
	}
	e4 := m.sign(bodies[5])
	consumes := []*banking.Consume{m.check(bodies[0], m.sign(bodies[0]), &done), m.check(bodies[1], m.sign(bodies[1]), &done),
		m.check(bodies[2], m.sign(bodies[2]), &done), m.check(bodies[3], e2, &done), m.check(bodies[4], m.sign(bodies[4]), &done),
		m.check(bodies[5], e4, &done), m.check(bodies[6], e4, &done), nil}
	outcomes, errors := ev.ApplyBatch("qilu-bank", bodies, consumes)
	want := []string{banking.Processed, banking.Duplicate, "", "", banking.Processed, banking.Processed, "", banking.Processed}
	for i := range want {
		if outcomes[i] != want[i] {
			t.Errorf("event %d: outcome %q (%v), want %q", i, outcomes[i], errors[i], want[i])
		}
	}
	if !errs.Is(errors[2], errs.EventConflict) || signature.RejectReason(errors[3]) != signature.ReasonReplay ||
		signature.RejectReason(errors[6]) != signature.ReasonReplay {
		t.Errorf("errors %v, %v and %v; want event_conflict and two replays", errors[2], errors[3], errors[6])
	}
	for _, i := range []int{0, 1, 4, 5} {
		if errors[i] != nil {
			t.Errorf("event %d: %v", i, errors[i])
		}
	}
	if done.Load() != 5 {
		t.Errorf("%d messages marked consumed, want 5", done.Load())
	}
	_, a1Status := w.state(t, a1)
	_, a2Status := w.state(t, a2)
	if a1Status != "approved" || a2Status != "approved" {
		t.Errorf("applications %s and %s, want both approved", a1Status, a2Status)
	}
	var seen int
	if err := w.db.Get(&seen, `SELECT count(*) FROM seen_messages`); err != nil || seen != 6 {
		t.Errorf("%d messages consumed (%v), want 6: a refused event's stays consumed", seen, err)
	}
	// One transaction applied them (the batch was not rolled back and
	// applied again one by one): its rows share its start time.
	wantTransactions(t, w.db, "", 1)
}

// TestInboxBatchFailureStaysWithItsEvent: an event that fails after it
// wrote rolls the batch back; every event is then applied alone, and only
// the failing one is refused.
func TestInboxBatchFailureStaysWithItsEvent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "http://127.0.0.1:1")
	a1, a2 := w.apply(t), w.apply(t)
	ev := banking.NewEvents(w.db, w.lending)
	bodies := [][]byte{
		event("e1", "application.received", a1, `{}`),
		event("e2", "application.approved", a2, `{"approved_amount":"2000.00","annual_rate":"0.0345","term_days":90,"repayment_account":{"bank_name":"Q","account_no":"1","account_name":"Q"}}`), // over the amount applied for
		event("e3", "application.received", a2, `{}`),
	}
	outcomes, errors := ev.ApplyBatch("qilu-bank", bodies, make([]*banking.Consume, len(bodies)))
	if outcomes[0] != banking.Processed || outcomes[2] != banking.Processed || errors[0] != nil || errors[2] != nil {
		t.Errorf("events 0 and 2: %q %v, %q %v; want both processed", outcomes[0], errors[0], outcomes[2], errors[2])
	}
	if errors[1] == nil || errs.Is(errors[1], errs.Internal) {
		t.Errorf("event 1: %v, want it refused", errors[1])
	}
	var n int
	if err := w.db.Get(&n, `SELECT count(*) FROM bank_events`); err != nil || n != 2 {
		t.Errorf("%d events recorded (%v), want 2", n, err)
	}
	wantTransactions(t, w.db, "", 2) // each event alone
}

// TestInboxBadTextStaysWithItsEvent: an event whose stored text holds a
// control character (or NUL) is refused naming the field (NUL: as a
// malformed body) and stores nothing; the events queued with it are
// applied.
func TestInboxBadTextStaysWithItsEvent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "http://127.0.0.1:1")
	a1, a2, a3 := w.apply(t), w.apply(t), w.apply(t)
	ev := banking.NewEvents(w.db, w.lending)
	bodies := [][]byte{
		event("e1", "application.received", a1, `{}`),
		event("e2", "application.rejected", a2, `{"reason_code":"risk","reason":"风险\u0001过高"}`),
		event("e3", "application.rejected", a3, `{"reason_code":"risk","reason":"R\u0000X"}`),
		event("e4", "application.approved", a1, approved),
		event("e5", "application.received", a3, `{}`),
	}
	outcomes, errors := ev.ApplyBatch("qilu-bank", bodies, make([]*banking.Consume, len(bodies)))
	for _, i := range []int{0, 3, 4} {
		if outcomes[i] != banking.Processed || errors[i] != nil {
			t.Errorf("event %d: %q %v, want processed", i, outcomes[i], errors[i])
		}
	}
	var e *errs.Error
	if !stderrors.As(errors[1], &e) || e.Code != errs.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "data.reason" {
		t.Errorf("event 1 (a control character in its reason): %v, want invalid naming data.reason", errors[1])
	}
	if errs.CodeOf(errors[2]) != errs.MalformedRequest {
		t.Errorf("event 2 (NUL in its reason): %v, want malformed_request", errors[2])
	}
	for id, want := range map[string]string{a1: "approved", a2: "submitted", a3: "received"} {
		if _, got := w.state(t, id); got != want {
			t.Errorf("application %s is %s, want %s", id, got, want)
		}
	}
	var n int
	if err := w.db.Get(&n, `SELECT count(*) FROM bank_events`); err != nil || n != 3 {
		t.Errorf("%d events recorded (%v), want 3", n, err)
	}
}

// TestInboxSurvivesAPanic: a bug that panics while a batch is applied
// answers its events internal, commits none of it, and the writer goes on.
func TestInboxSurvivesAPanic(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "http://127.0.0.1:1")
	a := w.apply(t)
	ev := banking.NewEvents(w.db, w.lending)
	none := make([]*banking.Consume, 4)
	disbursed := `{"loan_id":"LN-1","disbursement_id":"D1","amount":"1000.00","value_date":"2026-11-22","maturity_date":"2027-02-20","annual_rate":"0.0345"}`
	if _, errors := ev.ApplyBatch("qilu-bank", [][]byte{event("e1", "application.received", a, `{}`),
		event("e2", "application.approved", a, approved), event("e3", "loan.disbursed", a, disbursed)}, none[:3]); errors[0] != nil || errors[1] != nil || errors[2] != nil {
		t.Fatalf("setting up the loan: %v", errors)
	}
	ev.OnRepaid = func(context.Context, *postgres.Tx, []lending.RepaymentResult) error { panic("a bug") }
	repaid := `{"loan_id":"LN-1","repayment_id":"R1","principal":"100.00","interest":"1.00","paid_on":"2026-12-01","interest_period":{"start":"2026-11-22","end":"2026-12-01"}}`
	_, errors := ev.ApplyBatch("qilu-bank", [][]byte{event("e4", "loan.repaid", a, repaid)}, none[:1])
	if !errs.Is(errors[0], errs.Internal) {
		t.Fatalf("a panicking event: %v, want internal", errors[0])
	}
	var n int
	if err := w.db.Get(&n, `SELECT (SELECT count(*) FROM repayments) + (SELECT count(*) FROM bank_events WHERE event_id = 'e4')`); err != nil || n != 0 {
		t.Fatalf("%d rows of the panicking event kept (%v), want none", n, err)
	}
	ev.OnRepaid = nil
	if outcomes, errors := ev.ApplyBatch("qilu-bank", [][]byte{event("e4", "loan.repaid", a, repaid)}, none[:1]); outcomes[0] != banking.Processed {
		t.Fatalf("the event again: %q %v, want processed", outcomes[0], errors[0])
	}
}

// TestInboxLocksApplicationsInOrder: a batch locks its applications in id
// order before it applies anything, as the relay and the intake lock
// theirs, so a transaction holding the first and then taking the second
// never meets a batch holding the second and waiting for the first: no
// deadlock, and both go through.
func TestInboxLocksApplicationsInOrder(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "http://127.0.0.1:1")
	first, second := w.apply(t), w.apply(t)
	if first > second {
		first, second = second, first
	}
	ev := banking.NewEvents(w.db, w.lending)
	holder, err := w.db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.Exec(`SELECT id FROM applications WHERE id = $1 FOR UPDATE`, first); err != nil {
		t.Fatal(err)
	}
	done := make(chan []error)
	go func() {
		_, errors := ev.ApplyBatch("qilu-bank", [][]byte{event("e1", "application.received", second, `{}`),
			event("e2", "application.received", first, `{}`)}, make([]*banking.Consume, 2))
		done <- errors
	}()
	watch, err := w.db.Connx(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	deadline := time.Now().Add(time.Minute)
	for waiting := 0; waiting == 0; { // until the batch waits for the first application
		if time.Now().After(deadline) {
			t.Fatal("the batch never waited")
		}
		if err := watch.GetContext(context.Background(), &waiting, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := holder.Exec(`SELECT id FROM applications WHERE id = $1 FOR UPDATE`, second); err != nil {
		t.Fatalf("taking the second application after the first: %v", err)
	}
	if err := holder.Commit(); err != nil {
		t.Fatal(err)
	}
	if errors := <-done; errors[0] != nil || errors[1] != nil {
		t.Fatalf("the batch: %v", errors)
	}
	wantTransactions(t, w.db, "", 1)
}

// TestInboxBatchReadsEachLoanFresh: a batch reads the application and
// loan of each application's first loan event with its lock; a second
// event of the same application in the batch reads them again, and sees
// what the first did.
func TestInboxBatchReadsEachLoanFresh(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "http://127.0.0.1:1")
	a, b := w.apply(t), w.apply(t)
	ev := banking.NewEvents(w.db, w.lending)
	none := make([]*banking.Consume, 8)
	for i, app := range []string{a, b} {
		disbursed := fmt.Sprintf(`{"loan_id":"LN-%d","disbursement_id":"D%d","amount":"1000.00","value_date":"2026-11-22","maturity_date":"2027-02-20","annual_rate":"0.0345"}`, i, i)
		if _, errors := ev.ApplyBatch("qilu-bank", [][]byte{event(fmt.Sprint("r", i), "application.received", app, `{}`),
			event(fmt.Sprint("a", i), "application.approved", app, approved), event(fmt.Sprint("d", i), "loan.disbursed", app, disbursed)}, none[:3]); errors[0] != nil || errors[1] != nil || errors[2] != nil {
			t.Fatalf("setting up loan %d: %v", i, errors)
		}
	}
	// Each repayment of a loan pays the interest of its own day (periods
	// of a loan never overlap): R<n> the day from 2026-11-2<n+1>.
	repaid := func(loan int, id, principal string) string {
		n := int(id[1] - '0')
		return fmt.Sprintf(`{"loan_id":"LN-%d","repayment_id":%q,"principal":%q,"interest":"1.00","paid_on":"2026-12-01","interest_period":{"start":"2026-11-%d","end":"2026-11-%d"}}`,
			loan, id, principal, 21+n, 22+n)
	}
	outcomes, errors := ev.ApplyBatch("qilu-bank", [][]byte{
		event("e1", "loan.repaid", a, repaid(0, "R1", "600.00")),
		event("e2", "loan.repaid", b, repaid(1, "R2", "100.00")),
		event("e3", "loan.repaid", a, repaid(0, "R3", "300.00")),
	}, none[:3])
	for i := range outcomes {
		if outcomes[i] != banking.Processed || errors[i] != nil {
			t.Fatalf("event %d: %q %v, want processed", i+1, outcomes[i], errors[i])
		}
	}
	var before []string
	if err := w.db.Select(&before, `SELECT outstanding_before::text FROM repayments ORDER BY bank_repayment_id`); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(before) != "[1000.00 1000.00 400.00]" {
		t.Errorf("outstanding before R1, R2, R3 = %v, want [1000.00 1000.00 400.00]", before)
	}
	wantTransactions(t, w.db, "e", 1)
	// A repayment over what the one before it in the batch left
	// outstanding is refused.
	outcomes, errors = ev.ApplyBatch("qilu-bank", [][]byte{
		event("e4", "loan.repaid", a, repaid(0, "R4", "50.00")),
		event("e5", "loan.repaid", a, repaid(0, "R5", "100.00")),
	}, none[:2])
	if outcomes[0] != banking.Processed || !errs.Is(errors[1], errs.InvalidTransition) {
		t.Fatalf("R4, R5: %q %v, %q %v; want processed, then invalid_transition (50.00 outstanding)", outcomes[0], errors[0], outcomes[1], errors[1])
	}
	var repaidPrincipal string
	if err := w.db.Get(&repaidPrincipal, `SELECT repaid_principal::text FROM applications WHERE id = $1`, a); err != nil || repaidPrincipal != "950.00" {
		t.Errorf("application's repaid principal %s (%v), want 950.00", repaidPrincipal, err)
	}
}

// wantTransactions checks that the inbox rows of the events whose ids
// start with prefix were written by want transactions: a transaction's
// rows share its start time (received_at).
func wantTransactions(t *testing.T, db *sqlx.DB, prefix string, want int) {
	t.Helper()
	var starts int
	err := db.Get(&starts, `SELECT count(DISTINCT received_at) FROM bank_events WHERE starts_with(event_id, $1)`, prefix)
	if err != nil || starts != want {
		t.Errorf("bank events written by %d transactions (%v), want %d", starts, err, want)
	}
}

// TestInboxRefusedRepaymentStaysWithItsEvent: in a batch, a repayment
// whose period overlaps one before it (409) or whose figures cannot be
// true (422, refused before the inbox) is refused alone: the others are
// processed, and it stores nothing.
func TestInboxRefusedRepaymentStaysWithItsEvent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "http://127.0.0.1:1")
	a, b := w.apply(t), w.apply(t)
	ev := banking.NewEvents(w.db, w.lending)
	none := make([]*banking.Consume, 8)
	for i, app := range []string{a, b} {
		disbursed := fmt.Sprintf(`{"loan_id":"LN-%d","disbursement_id":"D%d","amount":"1000.00","value_date":"2026-11-22","maturity_date":"2027-02-20","annual_rate":"0.0345"}`, i, i)
		if _, errors := ev.ApplyBatch("qilu-bank", [][]byte{event(fmt.Sprint("r", i), "application.received", app, `{}`),
			event(fmt.Sprint("a", i), "application.approved", app, approved), event(fmt.Sprint("d", i), "loan.disbursed", app, disbursed)}, none[:3]); errors[0] != nil || errors[1] != nil || errors[2] != nil {
			t.Fatalf("setting up loan %d: %v", i, errors)
		}
	}
	repaid := func(loan int, id, paidOn string) string {
		return fmt.Sprintf(`{"loan_id":"LN-%d","repayment_id":%q,"disbursement_id":"D%d","principal":"10.00","interest":"1.00","paid_on":%q,"interest_period":{"start":"2026-11-22","end":"2026-12-01"}}`, loan, id, loan, paidOn)
	}
	outcomes, errors := ev.ApplyBatch("qilu-bank", [][]byte{
		event("e1", "loan.repaid", a, repaid(0, "R1", "2026-12-01")),
		event("e2", "loan.repaid", a, repaid(0, "R2", "2026-12-01")), // the same days again
		event("e3", "loan.repaid", b, repaid(1, "R3", "2026-12-01")),
		event("e4", "loan.repaid", b, repaid(1, "R4", "2099-01-01")), // paid in 2099
	}, none[:4])
	if outcomes[0] != banking.Processed || outcomes[2] != banking.Processed || errors[0] != nil || errors[2] != nil {
		t.Errorf("R1, R3: %q %v, %q %v; want both processed", outcomes[0], errors[0], outcomes[2], errors[2])
	}
	if !errs.Is(errors[1], errs.InvalidTransition) || !errs.Is(errors[3], errs.InvalidFigures) {
		t.Errorf("R2, R4: %v, %v; want invalid_transition, invalid_figures", errors[1], errors[3])
	}
	var stored []string
	if err := w.db.Select(&stored, `SELECT bank_repayment_id FROM repayments ORDER BY 1`); err != nil || fmt.Sprint(stored) != "[R1 R3]" {
		t.Errorf("repayments %v (%v), want R1 and R3", stored, err)
	}
}
