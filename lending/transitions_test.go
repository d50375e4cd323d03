package lending_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"procfin/lending"
	"procfin/platform/postgres"
)

// TestMarkDeliveredManyIsTransitionsOfOne: the relay's batch moves each
// application still submitted exactly as a lone transition moves one (the
// same history row, numbered after the last, the same audit entry), leaves
// one cancelled meanwhile alone, and a repeat changes nothing.
func TestMarkDeliveredManyIsTransitionsOfOne(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var apps []lending.Application
	for i := 0; i < 4; i++ {
		a, err := w.apply("1000.00", i%2 == 0)
		if err != nil {
			t.Fatal(err)
		}
		apps = append(apps, a)
	}
	lone, cancelled := apps[3], apps[2]
	if _, err := w.lending.Cancel(ctx, lending.Scope{SupplierUSCC: uscc}, cancelled.ID, "user:u1"); err != nil {
		t.Fatal(err)
	}
	ref := func(a lending.Application) string { return "QL-" + a.ID[:8] }
	var batch []lending.Acceptance
	for _, a := range apps[:3] {
		batch = append(batch, lending.Acceptance{ApplicationID: a.ID, BankReference: ref(a)})
	}
	if err := w.tx(func(tx *postgres.Tx) error { return w.lending.MarkDeliveredMany(ctx, tx, batch) }); err != nil {
		t.Fatal(err)
	}
	if err := w.tx(func(tx *postgres.Tx) error { return w.lending.MarkDelivered(ctx, tx, lone.ID, ref(lone)) }); err != nil {
		t.Fatal(err)
	}
	// Again: nothing is submitted any more, nothing moves.
	if err := w.tx(func(tx *postgres.Tx) error { return w.lending.MarkDeliveredMany(ctx, tx, batch) }); err != nil {
		t.Fatal(err)
	}

	for _, a := range []lending.Application{apps[0], apps[1], lone} {
		got, err := w.lending.Application(ctx, lending.Scope{}, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != lending.Delivered || got.BankReference != ref(a) || len(got.History) != 2 {
			t.Fatalf("%s: status %s, reference %q, %d history rows; want delivered, %q, 2", a.ID, got.Status, got.BankReference, len(got.History), ref(a))
		}
		h := got.History[1]
		want := lending.Transition{N: 2, At: h.At, From: lending.Submitted, To: lending.Delivered, Actor: "system:relay",
			Cause: lending.CauseDelivered, CauseArgs: lending.CauseArgs{"reference": ref(a)}}
		if !reflect.DeepEqual(h, want) || h.At.Before(got.History[0].At) {
			t.Fatalf("%s: history row %+v, want %+v after %s", a.ID, h, want, got.History[0].At)
		}
		var entries []struct {
			Actor, Reason, State string
		}
		if err := w.db.Select(&entries, `SELECT actor, reason, after_state AS state FROM audit_log
			WHERE entity_id = $1 AND action = 'application.delivered'`, a.ID); err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Actor != "system:relay" || entries[0].Reason != `delivered {"reference":"`+ref(a)+`"}` {
			t.Fatalf("%s: audit entries %+v, want one by system:relay for %q", a.ID, entries, want.Cause)
		}
		var state struct {
			Status        lending.Status `json:"status"`
			BankReference string         `json:"bank_reference"`
		}
		if err := json.Unmarshal([]byte(entries[0].State), &state); err != nil || state.Status != lending.Delivered || state.BankReference != ref(a) {
			t.Fatalf("%s: audited state %+v (%v), want delivered with %q", a.ID, state, err, ref(a))
		}
	}
	got, err := w.lending.Application(ctx, lending.Scope{}, cancelled.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != lending.Cancelled || got.BankReference != "" || len(got.History) != 2 {
		t.Fatalf("the cancelled one: status %s, reference %q, %d history rows; want cancelled, none, 2", got.Status, got.BankReference, len(got.History))
	}
	if n := w.count(`SELECT count(*) FROM audit_log WHERE action = 'application.delivered'`); n != 3 {
		t.Fatalf("%d application.delivered entries, want 3", n)
	}
}

// TestApplicationTakesItsTransactionsInstant: what an application writes
// in Go (the bank's message, the verification report, the consent's
// expiry) takes one instant, its transaction's, however often the
// service's clock is read meanwhile.
func TestApplicationTakesItsTransactionsInstant(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.tick = time.Second // every reading of the clock a second later
	a, err := w.apply("1000.00", true)
	if err != nil {
		t.Fatal(err)
	}
	var payload []byte
	if err := w.db.Get(&payload, `SELECT payload FROM deliveries WHERE application_id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}
	var msg struct {
		SubmittedAt  time.Time `json:"submitted_at"`
		Verification struct {
			VerifiedAt time.Time `json:"verified_at"`
		} `json:"verification"`
	}
	if err := json.Unmarshal(payload, &msg); err != nil {
		t.Fatal(err)
	}
	var report struct {
		VerifiedAt time.Time `json:"verified_at"`
	}
	if err := json.Unmarshal(a.Verification, &report); err != nil {
		t.Fatal(err)
	}
	var expires time.Time
	if err := w.db.Get(&expires, `SELECT expires_at FROM consents WHERE application_id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}
	at := expires.Add(-365 * 24 * time.Hour)
	if !msg.SubmittedAt.Equal(at) || !msg.Verification.VerifiedAt.Equal(at) || !report.VerifiedAt.Equal(at) || !a.Consent.ExpiresAt.Equal(expires) {
		t.Fatalf("submitted at %s, verified at %s (report %s), consent expiring %s (answered %s): want one instant",
			msg.SubmittedAt, msg.Verification.VerifiedAt, report.VerifiedAt, expires, a.Consent.ExpiresAt)
	}
}
