package lending_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// freshJSON is the application as the API answers it, read from the
// database.
func freshJSON(t interface {
	Helper()
	Fatalf(string, ...any)
}, w *world, id string) string {
	t.Helper()
	a, err := w.lending.Application(ctx, lending.Scope{}, id)
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a.API()); err != nil { // as the API answers a fresh read
		t.Fatalf("encode: %v", err)
	}
	return buf.String()
}

func cachedJSON(t *testing.T, w *world, sc lending.Scope, id string) string {
	t.Helper()
	b, err := w.lending.CachedApplicationJSON(ctx, sc, id)
	if err != nil {
		t.Fatalf("cached read %s: %v", id, err)
	}
	return string(b)
}

// approvedAndDisbursed takes a new application of amount to disbursed, in
// one tranche of its whole amount.
func (w *world) approvedAndDisbursed(amount string) lending.Application {
	w.t.Helper()
	a, err := w.apply(amount, false)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, f := range []func(tx *postgres.Tx) error{
		func(tx *postgres.Tx) error { return w.lending.MarkDelivered(ctx, tx, a.ID, "QL-"+a.ID[:8]) },
		func(tx *postgres.Tx) error {
			return w.lending.Received(ctx, tx, "qilu-bank", a.ID, "QL-"+a.ID[:8], "bank:qilu-bank")
		},
		func(tx *postgres.Tx) error {
			return w.lending.Approve(ctx, tx, "qilu-bank", a.ID, lending.Approval{ApprovedAmount: money.MustAmount(amount),
				AnnualRate: money.MustRate("0.0345"), TermDays: 180, RepaymentAccount: account}, "bank:qilu-bank")
		},
		func(tx *postgres.Tx) error {
			return w.lending.DisburseOne(ctx, tx, "qilu-bank", a.ID, "LN-"+a.ID[:8], lending.Disbursement{BankDisbursementID: "D-" + a.ID[:8],
				Amount: money.MustAmount(amount), ValueDate: money.MustDate("2026-11-22"), MaturityDate: money.MustDate("2027-05-21"),
				AnnualRate: money.MustRate("0.0345")}, "bank:qilu-bank")
		},
	} {
		if err := w.tx(f); err != nil {
			w.t.Fatal(err)
		}
	}
	return a
}

// repayOne repays 1.00 of principal and 0.01 of interest for the next day
// from the value date 2026-11-22, paid at its end; the clock says a year
// later, so that every such payment is in the past.
func (w *world) repayOne(appID, repaymentID string) error {
	w.now = time.Date(2027, 11, 20, 10, 0, 0, 0, time.UTC)
	start := money.MustDate("2026-11-22").AddDays(w.repaidDays)
	w.repaidDays++
	return w.tx(func(tx *postgres.Tx) error {
		_, err := w.lending.RepayOne(ctx, tx, "qilu-bank", appID, "LN-"+appID[:8], lending.Repayment{BankRepaymentID: repaymentID,
			Principal: money.MustAmount("1.00"), Interest: money.MustAmount("0.01"), PaidOn: start.AddDays(1),
			PeriodStart: start, PeriodEnd: start.AddDays(1)}, "bank:qilu-bank")
		return err
	})
}

// TestReadCacheAnswersFromMemoryUntilAChange: a cached read does not go to
// the database (a change made behind procfin's back, as another process
// would, is not seen within the TTL) and any change through lending drops
// the entry at once.
func TestReadCacheAnswersFromMemoryUntilAChange(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a, err := w.apply("100000.00", false)
	if err != nil {
		t.Fatal(err)
	}
	before := cachedJSON(t, w, lending.Scope{}, a.ID)
	if before != freshJSON(t, w, a.ID) {
		t.Fatalf("first cached read\n\t%s\ndiffers from the database\n\t%s", before, freshJSON(t, w, a.ID))
	}
	if _, err := w.db.Exec(`UPDATE applications SET purpose = 'changed elsewhere' WHERE id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}
	if got := cachedJSON(t, w, lending.Scope{}, a.ID); got != before {
		t.Fatalf("a cached read went to the database: got\n\t%s\nwant the cached\n\t%s", got, before)
	}
	if fresh := freshJSON(t, w, a.ID); fresh == before {
		t.Fatal("Application served the cache; it must always read the database")
	}
	if err := w.tx(func(tx *postgres.Tx) error { return w.lending.MarkDelivered(ctx, tx, a.ID, "QL-1") }); err != nil {
		t.Fatal(err)
	}
	var got lending.Application
	if err := json.Unmarshal([]byte(cachedJSON(t, w, lending.Scope{}, a.ID)), &got); err != nil {
		t.Fatal(err)
	}
	if got.Status != lending.Delivered || got.Purpose != "changed elsewhere" {
		t.Fatalf("after a change through lending the cache answers %s, %q; want delivered, the database's purpose", got.Status, got.Purpose)
	}
	// A rolled-back change keeps nothing and breaks nothing.
	rolledBack := w.tx(func(tx *postgres.Tx) error {
		if err := w.lending.Received(ctx, tx, "qilu-bank", a.ID, "QL-1", "bank:qilu-bank"); err != nil {
			return err
		}
		return errs.E(errs.Conflict, "changed my mind")
	})
	if !errs.Is(rolledBack, errs.Conflict) {
		t.Fatalf("rollback: %v", rolledBack)
	}
	if got, fresh := cachedJSON(t, w, lending.Scope{}, a.ID), freshJSON(t, w, a.ID); got != fresh {
		t.Fatalf("after a rollback the cache answers\n\t%s\nthe database holds\n\t%s", got, fresh)
	}
}

// TestReadCacheIDForms: an application read under one form of its id and
// changed under another (a bank may send it in capitals) is dropped all
// the same.
func TestReadCacheIDForms(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a, err := w.apply("100000.00", false)
	if err != nil {
		t.Fatal(err)
	}
	upper := strings.ToUpper(a.ID)
	if err := w.tx(func(tx *postgres.Tx) error { return w.lending.MarkDelivered(ctx, tx, a.ID, "QL-1") }); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a.ID, upper} {
		cachedJSON(t, w, lending.Scope{}, id)
	}
	for _, id := range []string{"{" + a.ID + "}", "urn:uuid:" + a.ID, strings.ReplaceAll(a.ID, "-", "")} {
		if _, err := w.lending.CachedApplicationJSON(ctx, lending.Scope{}, id); !errs.Is(err, errs.NotFound) {
			t.Fatalf("read as %s: %v, want not_found (not an id procfin writes)", id, err)
		}
	}
	if err := w.tx(func(tx *postgres.Tx) error {
		return w.lending.Received(ctx, tx, "qilu-bank", upper, "QL-1", "bank:qilu-bank")
	}); err != nil {
		t.Fatal(err)
	}
	fresh := freshJSON(t, w, a.ID)
	for _, id := range []string{a.ID, upper} {
		if got := cachedJSON(t, w, lending.Scope{}, id); got != fresh {
			t.Fatalf("read as %s after a change made as %s: the cache answers\n\t%s\nthe database holds\n\t%s", id, upper, got, fresh)
		}
	}
}

// TestReadCacheKeepsScope: an entry filled by one caller is checked against
// each caller's scope.
func TestReadCacheKeepsScope(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a, err := w.apply("100000.00", false)
	if err != nil {
		t.Fatal(err)
	}
	cachedJSON(t, w, lending.Scope{}, a.ID) // an officer fills the entry
	for _, sc := range []lending.Scope{{SupplierUSCC: otherUSCC}, {BankID: "other-bank"}, {SupplierUSCC: uscc, BankID: "other-bank"}} {
		if _, err := w.lending.CachedApplicationJSON(ctx, sc, a.ID); !errs.Is(err, errs.NotFound) {
			t.Errorf("scope %+v read another's application from the cache: %v, want not_found", sc, err)
		}
	}
	for _, sc := range []lending.Scope{{SupplierUSCC: uscc}, {BankID: "qilu-bank"}} {
		if _, err := w.lending.CachedApplicationJSON(ctx, sc, a.ID); err != nil {
			t.Errorf("scope %+v: %v, want its own application", sc, err)
		}
	}
	for _, id := range []string{"not-a-uuid", "00000000-0000-0000-0000-000000000000"} {
		if _, err := w.lending.CachedApplicationJSON(ctx, lending.Scope{}, id); !errs.Is(err, errs.NotFound) {
			t.Errorf("%s: %v, want not_found", id, err)
		}
	}
}

// TestReadCacheTTL: past its TTL an entry is read again, so a change made
// through another process is seen.
func TestReadCacheTTL(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.lending.UseReadCache(time.Nanosecond)
	a, err := w.apply("100000.00", false)
	if err != nil {
		t.Fatal(err)
	}
	cachedJSON(t, w, lending.Scope{}, a.ID)
	if _, err := w.db.Exec(`UPDATE applications SET purpose = 'changed elsewhere' WHERE id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}
	if got, fresh := cachedJSON(t, w, lending.Scope{}, a.ID), freshJSON(t, w, a.ID); got != fresh {
		t.Fatalf("an expired entry answered\n\t%s\nthe database holds\n\t%s", got, fresh)
	}
}

// TestReadCacheRacingReads: readers hammer one application while the bank
// repays it cent by cent; after each repayment commits, a cached read sees
// it. A read that began before a commit and stored its result after the
// commit's drop would fail this (the stripe generations stop it).
func TestReadCacheRacingReads(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.approvedAndDisbursed("1000.00")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	for r := 0; r < 6; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := w.lending.CachedApplicationJSON(ctx, lending.Scope{}, a.ID); err != nil {
					t.Errorf("racing read: %v", err)
					return
				}
				reads.Add(1)
				time.Sleep(20 * time.Microsecond) // leave the writer some CPU
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	for i := 1; i <= 100; i++ {
		if err := w.repayOne(a.ID, fmt.Sprintf("R%d", i)); err != nil {
			t.Fatal(err)
		}
		var got lending.Application
		if err := json.Unmarshal([]byte(cachedJSON(t, w, lending.Scope{}, a.ID)), &got); err != nil {
			t.Fatal(err)
		}
		if want := money.MustAmount(fmt.Sprintf("%d.00", i)); !got.RepaidPrincipal.Equal(want) {
			t.Fatalf("after repayment %d committed, a cached read says %s repaid, want %s", i, got.RepaidPrincipal, want)
		}
	}
	t.Logf("%d racing reads", reads.Load())
}
