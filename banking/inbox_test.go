package banking_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jmoiron/sqlx"

	"procfin/banking"
	"procfin/platform/errs"
	"procfin/platform/signature"
)

func event(id, typ, appID, data string) []byte {
	return fmt.Appendf(nil, `{"event_id":%q,"type":%q,"occurred_at":"2026-11-20T10:00:00Z","application_id":%q,"data":%s}`,
		id, typ, appID, data)
}

const approved = `{"approved_amount":"1000.00","annual_rate":"0.0345","term_days":90,"repayment_account":{"bank_name":"Qilu","account_no":"62220001","account_name":"Q"}}`

// consumeLog records which messages were consumed, in the transaction the
// inbox gave, as Verifier.Consume does.
type consumeLog struct{ db *sqlx.DB }

func (c consumeLog) consume(jti string) func(context.Context, *sqlx.Tx) error {
	return func(ctx context.Context, tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO seen_messages (sender, jti, expires_at) VALUES ('qilu-bank', $1, now() + interval '1 hour')`, jti)
		return err
	}
}

func replayed(context.Context, *sqlx.Tx) error {
	return errs.Wrap(errs.SignatureInvalid, &signature.RejectError{Reason: signature.ReasonReplay}, "message replayed")
}

// TestInboxBatchAppliesInTurn: in one batch each event is applied as if
// alone, after those before it; a replayed message and an event id reused
// with another body are refused without spoiling the batch, and all of it
// commits in one transaction.
func TestInboxBatchAppliesInTurn(t *testing.T) {
	w := newWorld(t, "http://127.0.0.1:1")
	a1, a2 := w.apply(t), w.apply(t)
	ev := banking.NewEvents(w.db, w.lending)
	c := consumeLog{w.db}
	bodies := [][]byte{
		event("e1", "application.received", a1, `{}`),
		event("e1", "application.received", a1, `{}`),      // the same event again
		event("e1", "application.received", a2, `{}`),      // its id with another body
		event("e2", "application.received", a2, `{}`),      // replayed message
		event("e3", "application.approved", a1, approved),  // follows e1
		event("e4", "application.received", a2, `{"x":1}`), // a2 still untouched
	}
	consumes := []func(context.Context, *sqlx.Tx) error{c.consume("m1"), c.consume("m2"), c.consume("m3"), replayed, c.consume("m5"), nil}
	outcomes, errors := ev.ApplyBatch("qilu-bank", bodies, consumes)
	want := []string{banking.Processed, banking.Duplicate, "", "", banking.Processed, banking.Processed}
	for i := range want {
		if outcomes[i] != want[i] {
			t.Errorf("event %d: outcome %q (%v), want %q", i, outcomes[i], errors[i], want[i])
		}
	}
	if !errs.Is(errors[2], errs.EventConflict) || signature.RejectReason(errors[3]) != signature.ReasonReplay {
		t.Errorf("errors %v and %v, want event_conflict and a replay", errors[2], errors[3])
	}
	for _, i := range []int{0, 1, 4, 5} {
		if errors[i] != nil {
			t.Errorf("event %d: %v", i, errors[i])
		}
	}
	_, a1Status := w.state(t, a1)
	_, a2Status := w.state(t, a2)
	if a1Status != "approved" || a2Status != "received" {
		t.Errorf("applications %s and %s, want approved and received", a1Status, a2Status)
	}
	var seen []string
	if err := w.db.Select(&seen, `SELECT jti FROM seen_messages ORDER BY jti`); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != "[m1 m2 m3 m5]" {
		t.Errorf("consumed %v, want [m1 m2 m3 m5]: a refused event stays consumed", seen)
	}
	// One transaction applied them (the batch was not rolled back and
	// applied again one by one): its rows share its start time.
	var starts int
	if err := w.db.Get(&starts, `SELECT count(DISTINCT received_at) FROM bank_events`); err != nil || starts != 1 {
		t.Errorf("bank_events written at %d instants (%v), want 1", starts, err)
	}
}

// TestInboxBatchFailureStaysWithItsEvent: an event that fails after it
// wrote rolls the batch back; every event is then applied alone, and only
// the failing one is refused.
func TestInboxBatchFailureStaysWithItsEvent(t *testing.T) {
	w := newWorld(t, "http://127.0.0.1:1")
	a1, a2 := w.apply(t), w.apply(t)
	ev := banking.NewEvents(w.db, w.lending)
	bodies := [][]byte{
		event("e1", "application.received", a1, `{}`),
		event("e2", "application.approved", a2, `{"approved_amount":"2000.00","annual_rate":"0.0345","term_days":90,"repayment_account":{"bank_name":"Q","account_no":"1","account_name":"Q"}}`), // over the amount applied for
		event("e3", "application.received", a2, `{}`),
	}
	outcomes, errors := ev.ApplyBatch("qilu-bank", bodies, make([]func(context.Context, *sqlx.Tx) error, len(bodies)))
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
	var starts int
	if err := w.db.Get(&starts, `SELECT count(DISTINCT received_at) FROM bank_events`); err != nil || starts != 2 {
		t.Errorf("bank_events written at %d instants (%v), want 2: each event alone", starts, err)
	}
}
