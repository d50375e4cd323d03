package lending_test

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"procfin/lending"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// entry is a history entry as the tests compare it: from → to, the code
// and its arguments.
func entry(from, to lending.Status, code string, args ...string) string {
	return fmt.Sprintf("%s→%s %s %s", from, to, code, strings.Join(args, " "))
}

// entries are the application's history entries, as entry writes them
// (the arguments in name order).
func (w *world) entries(appID string) []string {
	w.t.Helper()
	a, err := w.lending.Application(ctx, lending.Scope{}, appID)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for i, h := range a.History {
		if h.N != i+1 || h.CauseArgs == nil {
			w.t.Fatalf("history #%d is numbered %d, arguments %v", i+1, h.N, h.CauseArgs)
		}
		var args []string
		for _, k := range slices.Sorted(maps.Keys(h.CauseArgs)) {
			args = append(args, k+"="+h.CauseArgs[k])
		}
		out = append(out, entry(h.From, h.To, h.Cause, args...))
	}
	return out
}

// TestHistoryCodes: every change of a loan's life writes its history
// entry as a code with its arguments, in the order recorded: the
// approval's figures, each tranche, each repayment (two paid on one day
// both there, each with its tranche and figures, the state unchanged), the
// overdue and its cure, the drawdown's end, the last repayment, the
// repaid state and the closing; the audit entries carry the same codes.
func TestHistoryCodes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	appID, loan := w.twoTranches() // 600.00 (D1, 2026-11-10) + 400.00 (D2, 2026-11-15) of 1000.00 at 3.45 %
	w.now = time.Date(2027, 1, 10, 10, 0, 0, 0, time.UTC)
	sfx := "-" + appID[:8]
	step := func(name string, f func(tx *postgres.Tx) error) {
		t.Helper()
		if err := w.tx(f); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	repay := func(id, tranche, principal, interest, start, paidOn string) func(tx *postgres.Tx) error {
		return func(tx *postgres.Tx) error {
			r := lending.Repayment{BankRepaymentID: id, BankDisbursementID: tranche, Principal: money.MustAmount(principal),
				Interest: money.MustAmount(interest), PaidOn: money.MustDate(paidOn)}
			if start != "" {
				r.PeriodStart, r.PeriodEnd = money.MustDate(start), money.MustDate(paidOn)
			}
			_, err := w.lending.RepayOne(ctx, tx, "qilu-bank", appID, loan, r, "bank:qilu-bank")
			return err
		}
	}
	// Two repayments on 2026-12-10, one per tranche.
	step("R1", repay("R1", "D1"+sfx, "100.00", "1.00", "2026-11-10", "2026-12-10"))
	step("R2", repay("R2", "D2"+sfx, "100.00", "0.50", "2026-11-15", "2026-12-10"))
	step("overdue", func(tx *postgres.Tx) error {
		return w.lending.OverdueOne(ctx, tx, "qilu-bank", appID, loan, money.MustAmount("200.00"), money.MustDate("2026-12-15"), "bank:qilu-bank")
	})
	step("cured", func(tx *postgres.Tx) error {
		return w.lending.CureOne(ctx, tx, "qilu-bank", appID, loan, money.MustDate("2026-12-20"), "bank:qilu-bank")
	})
	step("drawdown ended", func(tx *postgres.Tx) error {
		return w.lending.EndDrawdownOne(ctx, tx, "qilu-bank", appID, loan, money.MustDate("2026-12-21"), "bank:qilu-bank")
	})
	// The rest, 1000.00 - 100.00 - 100.00 = 800.00, of the whole loan: all
	// repaid, and the drawdown ended, so the loan closes that day.
	step("R3", repay("R3", "", "800.00", "0.00", "", "2026-12-22"))

	l := "loan=" + loan
	want := []string{
		entry("", lending.Submitted, "submitted"),
		entry(lending.Submitted, lending.Delivered, "delivered", "reference=QL-"+appID[:8]),
		entry(lending.Delivered, lending.Approved, "approved", "amount=1000.00", "rate=0.0345", "term_days=180"),
		entry(lending.Approved, lending.Disbursed, "disbursed", "amount=600.00", l, "tranche=D1"+sfx, "value_date=2026-11-10"),
		entry(lending.Disbursed, lending.Disbursed, "disbursed", "amount=400.00", l, "tranche=D2"+sfx, "value_date=2026-11-15"),
		entry(lending.Disbursed, lending.Disbursed, "repayment", "interest=1.00", l, "paid_on=2026-12-10", "principal=100.00", "repayment=R1", "tranche=D1"+sfx),
		entry(lending.Disbursed, lending.Disbursed, "repayment", "interest=0.50", l, "paid_on=2026-12-10", "principal=100.00", "repayment=R2", "tranche=D2"+sfx),
		entry(lending.Disbursed, lending.Disbursed, "overdue", l, "principal=200.00", "since=2026-12-15"),
		entry(lending.Disbursed, lending.Disbursed, "overdue_cured", l, "on=2026-12-20", "since=2026-12-15"),
		entry(lending.Disbursed, lending.Disbursed, "drawdown_ended", l, "on=2026-12-21"),
		entry(lending.Disbursed, lending.Disbursed, "repayment", "interest=0.00", l, "paid_on=2026-12-22", "principal=800.00", "repayment=R3", "tranche="),
		entry(lending.Disbursed, lending.Repaid, "repaid_in_full"),
		entry(lending.Repaid, lending.Closed, "loan_closed_repaid", l, "on=2026-12-22"),
	}
	if got := w.entries(appID); !reflect.DeepEqual(got, want) {
		t.Fatalf("history\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The audit trail says the same, in codes: what a page words.
	var reasons []string
	must(t, func() error {
		return w.db.Select(&reasons, `SELECT action || ' ' || reason FROM audit_log WHERE entity_id = $1 AND reason <> '' ORDER BY id`, appID)
	})
	wantReasons := []string{
		`application.delivered delivered {"reference":"QL-` + appID[:8] + `"}`,
		`application.approved approved {"amount":"1000.00","rate":"0.0345","term_days":"180"}`,
		`repayment_account.locked account_locked_unconfirmed`, // nobody confirmed the receivable
		`application.disbursed disbursed {"amount":"600.00","loan":"` + loan + `","tranche":"D1` + sfx + `","value_date":"2026-11-10"}`,
		`application.disbursed disbursed {"amount":"400.00","loan":"` + loan + `","tranche":"D2` + sfx + `","value_date":"2026-11-15"}`,
		`loan.repaid repayment {"interest":"1.00","loan":"` + loan + `","paid_on":"2026-12-10","principal":"100.00","repayment":"R1","tranche":"D1` + sfx + `"}`,
		`loan.repaid repayment {"interest":"0.50","loan":"` + loan + `","paid_on":"2026-12-10","principal":"100.00","repayment":"R2","tranche":"D2` + sfx + `"}`,
		`loan.overdue overdue {"loan":"` + loan + `","principal":"200.00","since":"2026-12-15"}`,
		`loan.overdue_cured overdue_cured {"loan":"` + loan + `","on":"2026-12-20","since":"2026-12-15"}`,
		`loan.drawdown_ended drawdown_ended {"loan":"` + loan + `","on":"2026-12-21"}`,
		`application.repaid repaid_in_full`,
		`repayment_account.released account_released`,
		`application.closed loan_closed_repaid {"loan":"` + loan + `","on":"2026-12-22"}`,
	}
	if !reflect.DeepEqual(reasons, wantReasons) {
		t.Fatalf("audit reasons\n%s\nwant\n%s", strings.Join(reasons, "\n"), strings.Join(wantReasons, "\n"))
	}
	for _, r := range reasons {
		_, reason, _ := strings.Cut(r, " ")
		c, ok := lending.ParseCause(reason)
		if !ok || c.String() != reason {
			t.Errorf("ParseCause(%q) = %+v, %v: not read back", reason, c, ok)
		}
	}
}

// TestHistoryCodesOfEndings: a rejection names the bank's code and words,
// a failed delivery the relay's words (or consent_expired alone), a lapse
// its reason, a write-off and its later closing as repaid the loan and the
// day.
func TestHistoryCodesOfEndings(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	last := func(appID string) string {
		t.Helper()
		e := w.entries(appID)
		return e[len(e)-1]
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	rejected, err := w.apply("1000.00", false)
	must(err)
	must(w.tx(func(tx *postgres.Tx) error { return w.lending.MarkDelivered(ctx, tx, rejected.ID, "QL-1") }))
	must(w.tx(func(tx *postgres.Tx) error {
		return w.lending.Reject(ctx, tx, "qilu-bank", rejected.ID, "credit_policy", "不符合授信政策: too young", "bank:qilu-bank")
	}))
	if got, want := last(rejected.ID), entry(lending.Delivered, lending.Rejected, "rejected", "code=credit_policy", "reason=不符合授信政策: too young"); got != want {
		t.Errorf("rejected: %s, want %s", got, want)
	}

	failed, err := w.apply("1000.00", false)
	must(err)
	must(w.tx(func(tx *postgres.Tx) error {
		return w.lending.MarkDeliveryFailed(ctx, tx, failed.ID, "422 from the bank")
	}))
	if got, want := last(failed.ID), entry(lending.Submitted, lending.DeliveryFailed, "delivery_failed", "detail=422 from the bank"); got != want {
		t.Errorf("delivery failed: %s, want %s", got, want)
	}
	expired, err := w.apply("1000.00", false)
	must(err)
	must(w.tx(func(tx *postgres.Tx) error {
		return w.lending.MarkDeliveryFailed(ctx, tx, expired.ID, lending.CauseConsentExpired)
	}))
	if got, want := last(expired.ID), entry(lending.Submitted, lending.DeliveryFailed, "consent_expired"); got != want {
		t.Errorf("consent expired: %s, want %s", got, want)
	}

	lapsed := w.approved("1000.00")
	must(w.tx(func(tx *postgres.Tx) error {
		return w.lending.Lapse(ctx, tx, "qilu-bank", lapsed.ID, "expired", "bank:qilu-bank")
	}))
	if got, want := last(lapsed.ID), entry(lending.Approved, lending.Closed, "lapsed", "reason=expired"); got != want {
		t.Errorf("lapsed: %s, want %s", got, want)
	}

	off := w.approvedAndDisbursed("1000.00")
	loan := "LN-" + off.ID[:8]
	w.now = time.Date(2027, 1, 10, 10, 0, 0, 0, time.UTC)
	must(w.tx(func(tx *postgres.Tx) error {
		return w.lending.CloseOne(ctx, tx, "qilu-bank", off.ID, loan, money.MustDate("2026-12-31"), "written_off", "bank:qilu-bank")
	}))
	must(w.tx(func(tx *postgres.Tx) error {
		return w.lending.CloseOne(ctx, tx, "qilu-bank", off.ID, loan, money.MustDate("2027-01-05"), "repaid", "bank:qilu-bank")
	}))
	got := w.entries(off.ID)
	want := []string{
		entry(lending.Disbursed, lending.Closed, "loan_written_off", "loan="+loan, "on=2026-12-31"),
		entry(lending.Closed, lending.Closed, "written_off_repaid", "loan="+loan, "on=2027-01-05"),
	}
	if !reflect.DeepEqual(got[len(got)-2:], want) {
		t.Errorf("write-off: %v, want %v", got[len(got)-2:], want)
	}
}

// TestParseCause: a reason Cause.String wrote reads back; a person's words
// are no cause.
func TestParseCause(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		reason string
		code   string
		args   lending.CauseArgs
		ok     bool
	}{
		{"repaid_in_full", "repaid_in_full", nil, true},
		{`approved {"amount":"1.00"}`, "approved", lending.CauseArgs{"amount": "1.00"}, true},
		{"the bank asked for it", "the bank asked for it", nil, false},
		{"approved {not json", "approved {not json", nil, false},
		{"approved [1]", "approved [1]", nil, false},
		{"", "", nil, false},
		{"合同有误", "合同有误", nil, false},
	} {
		c, ok := lending.ParseCause(tc.reason)
		if c.Code != tc.code || !reflect.DeepEqual(c.Args, tc.args) || ok != tc.ok {
			t.Errorf("ParseCause(%q) = %+v, %v; want %s %v, %v", tc.reason, c, ok, tc.code, tc.args, tc.ok)
		}
	}
}

// FuzzParseCause: any reason reads without a panic, and a cause read
// writes back as the same reason.
func FuzzParseCause(f *testing.F) {
	f.Add(`approved {"amount":"1.00","rate":"0.0345"}`)
	f.Add("repaid_in_full")
	f.Add("a person's words")
	f.Fuzz(func(t *testing.T, reason string) {
		c, ok := lending.ParseCause(reason)
		if !ok {
			if c.Code != reason || c.Args != nil {
				t.Fatalf("ParseCause(%q) = %+v, not ok, but changed", reason, c)
			}
			return
		}
		again, ok := lending.ParseCause(c.String())
		if !ok || !reflect.DeepEqual(again, c) {
			t.Fatalf("ParseCause(%q) = %+v; written back %q reads %+v, %v", reason, c, c.String(), again, ok)
		}
	})
}
