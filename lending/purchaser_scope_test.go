package lending_test

import (
	"testing"

	"procfin/lending"
)

// TestPurchaserScopeSeesNoLending: a purchaser's scope is never the
// officers' "everything": it sees no application, loan, credit line or
// consent, even of its own contracts (it reads receivables and payments).
func TestPurchaserScopeSeesNoLending(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.approvedAndDisbursed("100000.00")
	loans, err := w.lending.Loans(ctx, lending.Scope{}, 0, 10)
	if err != nil || len(loans) != 1 {
		t.Fatalf("setup: %d loans, %v", len(loans), err)
	}
	for _, sc := range []lending.Scope{
		{PurchaserIssuerID: "jinan-pprc", PurchaserID: "sdu"}, // the contract's own purchaser
		{PurchaserID: "sdu"},
		{PurchaserIssuerID: "jinan-pprc"},
	} {
		if _, err := w.lending.Application(ctx, sc, a.ID); err == nil {
			t.Errorf("%+v reads the application", sc)
		}
		if _, err := w.lending.CachedApplicationJSON(ctx, sc, a.ID); err == nil {
			t.Errorf("%+v reads the cached application", sc)
		}
		if list, err := w.lending.Applications(ctx, sc, lending.Filter{}, 0, 10); err != nil || len(list) != 0 {
			t.Errorf("%+v lists %d applications, %v", sc, len(list), err)
		}
		if list, err := w.lending.Loans(ctx, sc, 0, 10); err != nil || len(list) != 0 {
			t.Errorf("%+v lists %d loans, %v", sc, len(list), err)
		}
		if _, err := w.lending.Loan(ctx, sc, loans[0].ID); err == nil {
			t.Errorf("%+v reads the loan", sc)
		}
		if list, err := w.lending.LoansOf(ctx, sc, a.ID); err != nil || len(list) != 0 {
			t.Errorf("%+v reads %d loans of the application, %v", sc, len(list), err)
		}
		if list, err := w.lending.Lines(ctx, sc, 0, 10); err != nil || len(list) != 0 {
			t.Errorf("%+v lists %d lines, %v", sc, len(list), err)
		}
		if _, err := w.lending.Line(ctx, sc, w.lineID); err == nil {
			t.Errorf("%+v reads the line", sc)
		}
		if list, err := w.lending.Consents(ctx, sc, 0, 10); err != nil || len(list) != 0 {
			t.Errorf("%+v lists %d consents, %v", sc, len(list), err)
		}
	}
}
