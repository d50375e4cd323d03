package lending_test

import (
	"testing"
	"time"

	"procfin/banking"
	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// TestWriteOffBar: a supplier whose loan was written off fails
// supplier.not_overdue for WriteOffBarDays (here 10) after the day of the
// write-off, and passes from the tenth day on.
func TestWriteOffBar(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	clock := func() time.Time {
		w.clockMu.Lock()
		defer w.clockMu.Unlock()
		return w.now
	}
	ls := lending.NewService(w.db, w.contracts, banking.Outbox{}, lending.Limits{MaxAmount: money.MustAmount("10000000.00"),
		MaxTermDays: 365, WriteOffBarDays: 10}, clock)
	a, err := ls.Apply(ctx, w.who, lending.ApplyInput{ContractID: w.contractID, BankID: "qilu-bank", Amount: ptr(money.MustAmount("1000.00")),
		TermDays: ptr(90), Purpose: "materials"})
	if err != nil {
		t.Fatal(err)
	}
	must(t, func() error {
		return w.tx(func(tx *postgres.Tx) error {
			if err := ls.Approve(ctx, tx, "qilu-bank", a.ID, lending.Approval{ApprovedAmount: money.MustAmount("1000.00"),
				AnnualRate: money.MustRate("0.0345"), TermDays: 90,
				RepaymentAccount: lending.RepaymentAccount{BankName: "B", AccountNo: "1", AccountName: "A"}}, "bank:qilu-bank"); err != nil {
				return err
			}
			return ls.DisburseOne(ctx, tx, "qilu-bank", a.ID, "LN-1", lending.Disbursement{BankDisbursementID: "D1",
				Amount: money.MustAmount("1000.00"), ValueDate: money.MustDate("2026-11-01"), MaturityDate: money.MustDate("2027-01-30"),
				AnnualRate: money.MustRate("0.0345")}, "bank:qilu-bank")
		})
	})
	must(t, func() error {
		return w.tx(func(tx *postgres.Tx) error {
			return ls.CloseOne(ctx, tx, "qilu-bank", a.ID, "LN-1", money.MustDate("2026-11-20"), "written_off", "bank:qilu-bank")
		})
	})
	for _, tc := range []struct {
		day    string
		barred bool
	}{
		{"2026-11-20", true},
		{"2026-11-29", true},  // the ninth day after
		{"2026-11-30", false}, // the tenth: 2026-11-20 is not after 2026-11-30 − 10 days
	} {
		w.clockMu.Lock()
		w.now = money.MustDate(tc.day).Time().Add(4 * time.Hour)
		w.clockMu.Unlock()
		_, err := ls.Apply(ctx, w.who, lending.ApplyInput{ContractID: w.contractID, BankID: "qilu-bank", Amount: ptr(money.MustAmount("1.00")),
			TermDays: ptr(90), Purpose: "materials"})
		if barred := errs.Is(err, errs.VerificationFailed); barred != tc.barred || (!barred && err != nil) {
			t.Fatalf("on %s: %v, want barred %v", tc.day, err, tc.barred)
		}
	}
}

func ptr[T any](v T) *T { return &v }
