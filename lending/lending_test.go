package lending_test

import (
	"fmt"

	"time"

	"strings"
	"sync"
	"testing"

	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

var account = lending.RepaymentAccount{BankName: "Qilu Bank Jinan Branch", AccountNo: "6222020000001234", AccountName: "Quancheng Software"}

func TestApplyHoldsAndQueues(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a, err := w.apply("300000.00", true)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != lending.Submitted || len(a.History) != 1 || a.Consent == nil || !strings.Contains(a.Consent.Statement, "qilu-bank") {
		t.Fatalf("application %+v", a)
	}
	if w.financed() != "300000.00" || w.lineUsed() != "300000.00" {
		t.Fatalf("financed %s, line used %s; want 300000.00 each", w.financed(), w.lineUsed())
	}
	var queued int
	w.db.Get(&queued, `SELECT count(*) FROM deliveries WHERE application_id = $1 AND status = 'pending'`, a.ID)
	if queued != 1 {
		t.Fatalf("%d deliveries queued, want 1", queued)
	}
}

func TestApplyBadInputReservesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	amt := func(s string) *money.Amount { a := money.MustAmount(s); return &a }
	days := func(n int) *int { return &n }
	other := w.newContract("C2", otherUSCC)
	bogusLine := "00000000-0000-0000-0000-000000000000"
	cases := []struct {
		name  string
		in    lending.ApplyInput
		code  errs.Code
		field string
	}{
		{"Zero", lending.ApplyInput{ContractID: w.contractID, BankID: "qilu-bank", Amount: amt("0"), TermDays: days(90), Purpose: "x"}, errs.Invalid, "amount"},
		{"Negative", lending.ApplyInput{ContractID: w.contractID, BankID: "qilu-bank", Amount: amt("-5.00"), TermDays: days(90), Purpose: "x"}, errs.Invalid, "amount"},
		{"OverMaximum", lending.ApplyInput{ContractID: w.contractID, BankID: "qilu-bank", Amount: amt("10000000.01"), TermDays: days(90), Purpose: "x"}, errs.Invalid, "amount"},
		{"TermTooLong", lending.ApplyInput{ContractID: w.contractID, BankID: "qilu-bank", Amount: amt("100.00"), TermDays: days(366), Purpose: "x"}, errs.Invalid, "term_days"},
		{"NoPurpose", lending.ApplyInput{ContractID: w.contractID, BankID: "qilu-bank", Amount: amt("100.00"), TermDays: days(90)}, errs.Invalid, "purpose"},
		{"UnknownBank", lending.ApplyInput{ContractID: w.contractID, BankID: "no-bank", Amount: amt("100.00"), TermDays: days(90), Purpose: "x"}, errs.Invalid, "bank_id"},
		{"UnknownContract", lending.ApplyInput{ContractID: bogusLine, BankID: "qilu-bank", Amount: amt("100.00"), TermDays: days(90), Purpose: "x"}, errs.Invalid, "contract_id"},
		{"AnothersContract", lending.ApplyInput{ContractID: other, BankID: "qilu-bank", Amount: amt("100.00"), TermDays: days(90), Purpose: "x"}, errs.Invalid, "contract_id"},
		{"UnknownLine", lending.ApplyInput{ContractID: w.contractID, BankID: "qilu-bank", Amount: amt("100.00"), TermDays: days(90), Purpose: "x", CreditLineID: &bogusLine}, errs.Invalid, "credit_line_id"},
		{"OverHeadroom", lending.ApplyInput{ContractID: w.contractID, BankID: "qilu-bank", Amount: amt("1003000.01"), TermDays: days(90), Purpose: "x"}, errs.VerificationFailed, ""},
		{"OverLine", lending.ApplyInput{ContractID: w.contractID, BankID: "qilu-bank", Amount: amt("500000.01"), TermDays: days(90), Purpose: "x", CreditLineID: &w.lineID}, errs.VerificationFailed, ""},
		{"LineOfOtherBank", lending.ApplyInput{ContractID: w.contractID, BankID: "other-bank", Amount: amt("100.00"), TermDays: days(90), Purpose: "x", CreditLineID: &w.lineID}, errs.VerificationFailed, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.lending.Apply(ctx, w.who, tc.in)
			var e *errs.Error
			if !errorsAs(err, &e) || e.Code != tc.code {
				t.Fatalf("err %v, want %s", err, tc.code)
			}
			if tc.field != "" && (len(e.Fields) == 0 || e.Fields[0].Field != tc.field) {
				t.Fatalf("fields %+v, want %s", e.Fields, tc.field)
			}
			if tc.code == errs.VerificationFailed && e.Extra["verification"] == nil {
				t.Fatal("no verification report in the problem")
			}
			if w.financed() != "0.00" || w.lineUsed() != "0.00" {
				t.Fatalf("a refused application reserved something: financed %s, line %s", w.financed(), w.lineUsed())
			}
		})
	}
	t.Run("CancelledContract", func(t *testing.T) {
		w.db.MustExec(`UPDATE contracts SET status = 'cancelled' WHERE id = $1`, w.contractID)
		defer w.db.MustExec(`UPDATE contracts SET status = 'active' WHERE id = $1`, w.contractID)
		_, err := w.apply("100.00", false)
		if !errs.Is(err, errs.VerificationFailed) || w.financed() != "0.00" {
			t.Fatalf("cancelled contract: %v", err)
		}
	})
}

// TestLifecycle: apply → delivered → received → approved (less than asked)
// → two tranches → repaid → closed, with every hold and the account lock.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a, err := w.apply("400000.00", true)
	if err != nil {
		t.Fatal(err)
	}
	step := func(name string, f func(tx *postgres.Tx) error) {
		t.Helper()
		if err := w.tx(f); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	step("delivered", func(tx *postgres.Tx) error { return w.lending.MarkDelivered(ctx, tx, a.ID, "QL-1") })
	step("received", func(tx *postgres.Tx) error {
		return w.lending.Received(ctx, tx, "qilu-bank", a.ID, "QL-1", "bank:qilu-bank")
	})
	step("approved", func(tx *postgres.Tx) error {
		return w.lending.Approve(ctx, tx, "qilu-bank", a.ID, lending.Approval{ApprovedAmount: money.MustAmount("350000.00"),
			AnnualRate: money.MustRate("0.0345"), TermDays: 180, RepaymentAccount: account}, "bank:qilu-bank")
	})
	if w.financed() != "350000.00" || w.lineUsed() != "350000.00" {
		t.Fatalf("after approving less: financed %s line %s, want 350000.00", w.financed(), w.lineUsed())
	}
	tranche := func(id, amount string) func(tx *postgres.Tx) error {
		return func(tx *postgres.Tx) error {
			return w.lending.DisburseOne(ctx, tx, "qilu-bank", a.ID, "LN-1", lending.Disbursement{BankDisbursementID: id, Amount: money.MustAmount(amount),
				ValueDate: money.MustDate("2026-11-22"), MaturityDate: money.MustDate("2027-05-21"), AnnualRate: money.MustRate("0.0345")}, "bank:qilu-bank")
		}
	}
	step("tranche 1", tranche("D1", "200000.00"))
	if err := w.tx(tranche("D9", "150000.01")); !errs.Is(err, errs.InvalidTransition) {
		t.Fatalf("over-disbursement: %v, want invalid_transition", err)
	}
	step("tranche 2", tranche("D2", "150000.00"))
	w.now = time.Date(2027, 2, 20, 10, 0, 0, 0, time.UTC) // the day of the last repayment below
	// repay pays the interest of [start, end), paid on end, on the tranche
	// named ("": the whole loan).
	repay := func(id, tranche, principal, interest, start, end string) error {
		return w.tx(func(tx *postgres.Tx) error {
			_, err := w.lending.RepayOne(ctx, tx, "qilu-bank", a.ID, "LN-1", lending.Repayment{BankRepaymentID: id, BankDisbursementID: tranche,
				Principal: money.MustAmount(principal), Interest: money.MustAmount(interest), PaidOn: money.MustDate(end),
				PeriodStart: money.MustDate(start), PeriodEnd: money.MustDate(end)}, "bank:qilu-bank")
			return err
		})
	}
	if err := repay("R1", "D1", "100000.00", "2958.33", "2026-11-22", "2027-01-20"); err != nil {
		t.Fatal(err)
	}
	if w.lineUsed() != "250000.00" { // revolving: repaid principal restores the line
		t.Fatalf("line used %s after repaying 100000.00, want 250000.00", w.lineUsed())
	}
	if err := repay("R2", "", "250000.01", "0.00", "2027-01-20", "2027-02-20"); !errs.Is(err, errs.InvalidTransition) {
		t.Fatalf("repaying more than outstanding: %v", err)
	}
	// The whole loan's rest: D1's 100000.00 first (the oldest, recorded
	// first of two with one value date), then D2's 150000.00.
	if err := repay("R2", "", "250000.00", "1000.00", "2027-01-20", "2027-02-20"); err != nil {
		t.Fatal(err)
	}
	var tranches []string
	must(t, func() error {
		return w.db.Select(&tranches, `SELECT bank_disbursement_id || ' ' || (amount - outstanding) FROM disbursements ORDER BY bank_disbursement_id`)
	})
	if fmt.Sprint(tranches) != "[D1 200000.00 D2 150000.00]" {
		t.Fatalf("tranches repaid %v, want D1 200000.00 and D2 150000.00", tranches)
	}
	got, err := w.lending.Application(ctx, lending.Scope{}, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var path []string
	for _, h := range got.History {
		path = append(path, string(h.To)+":"+h.Cause)
	}
	// Each repayment is an entry of its own, the state unchanged; R2
	// repays all, and the loan, disbursed to its approval, closes by itself.
	want := "submitted:submitted delivered:delivered received:received approved:approved disbursed:disbursed disbursed:disbursed " +
		"disbursed:repayment disbursed:repayment repaid:repaid_in_full closed:loan_closed_repaid"
	if strings.Join(path, " ") != want || got.RepaymentAccount.Status != "released" {
		t.Fatalf("history %v (account %s), want %s", path, got.RepaymentAccount.Status, want)
	}
	if w.financed() != "0.00" || w.lineUsed() != "0.00" || !got.Outstanding.IsZero() {
		t.Fatalf("after closing: financed %s, line %s, outstanding %s", w.financed(), w.lineUsed(), got.Outstanding)
	}
	// A closed application goes nowhere.
	if err := w.tx(tranche("D3", "1.00")); !errs.Is(err, errs.InvalidTransition) {
		t.Fatalf("disbursing a closed loan: %v", err)
	}
}

func TestRejectAndCancelRelease(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a, _ := w.apply("100000.00", true)
	b, _ := w.apply("200000.00", true)
	if err := w.tx(func(tx *postgres.Tx) error {
		return w.lending.Reject(ctx, tx, "qilu-bank", a.ID, "risk", "not this time", "bank:qilu-bank")
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.lending.Cancel(ctx, lending.Scope{SupplierUSCC: uscc}, b.ID, "user:u1"); err != nil {
		t.Fatal(err)
	}
	if w.financed() != "0.00" || w.lineUsed() != "0.00" {
		t.Fatalf("financed %s line %s after reject and cancel, want 0", w.financed(), w.lineUsed())
	}
	if _, err := w.lending.Cancel(ctx, lending.Scope{SupplierUSCC: uscc}, b.ID, "user:u1"); !errs.Is(err, errs.InvalidTransition) {
		t.Fatalf("cancelling twice: %v", err)
	}
	if _, err := w.lending.Cancel(ctx, lending.Scope{SupplierUSCC: otherUSCC}, a.ID, "user:u2"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("another supplier cancelling: %v", err)
	}
	var pending int
	w.db.Get(&pending, `SELECT count(*) FROM deliveries WHERE application_id = $1 AND status = 'pending'`, b.ID)
	if pending != 0 {
		t.Fatal("a cancelled application is still queued for the bank")
	}
}

func TestBankSeesOnlyItsOwn(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a, _ := w.apply("100.00", false)
	err := w.tx(func(tx *postgres.Tx) error {
		return w.lending.Approve(ctx, tx, "other-bank", a.ID, lending.Approval{ApprovedAmount: money.MustAmount("100.00"),
			AnnualRate: money.MustRate("0.03"), TermDays: 90, RepaymentAccount: account}, "bank:other-bank")
	})
	if !errs.Is(err, errs.NotFound) {
		t.Fatalf("another bank approving: %v, want not_found", err)
	}
}

// TestConcurrentApplicationsHoldTheLimits: 50 suppliers' goroutines race
// for one contract's headroom and one line; neither is ever exceeded and
// every success is accounted for.
func TestConcurrentApplicationsHoldTheLimits(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const n = 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	okContract, okLine := 0, 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Even goroutines draw 30,000 on the line (limit 500,000: at most 16);
			// odd ones 40,000 on the contract alone.
			amount, line := "40000.00", false
			if i%2 == 0 {
				amount, line = "30000.00", true
			}
			_, err := w.apply(amount, line)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && line:
				okLine++
			case err == nil:
				okContract++
			case errs.Is(err, errs.VerificationFailed) || errs.Is(err, errs.Conflict):
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}(i)
	}
	wg.Wait()
	financed := money.MustAmount(w.financed())
	if financed.GreaterThan(money.MustAmount("1003000.00")) {
		t.Fatalf("contract financed %s, over its 1003000.00 limit", financed)
	}
	want := money.MustAmount("30000.00").Decimal().Mul(decimalOf(okLine)).Add(money.MustAmount("40000.00").Decimal().Mul(decimalOf(okContract)))
	if !financed.Decimal().Equal(want) || money.MustAmount(w.lineUsed()).Decimal().Cmp(money.MustAmount("30000.00").Decimal().Mul(decimalOf(okLine))) != 0 {
		t.Fatalf("financed %s, line %s for %d line and %d contract successes", financed, w.lineUsed(), okLine, okContract)
	}
	if money.MustAmount(w.lineUsed()).GreaterThan(money.MustAmount("500000.00")) {
		t.Fatalf("line used %s over its limit", w.lineUsed())
	}
	// The headroom was the binding limit: it must be nearly used up.
	if money.MustAmount("1003000.00").Sub(financed).GreaterThan(money.MustAmount("40000.00")) {
		t.Fatalf("only %s financed: applications were refused that fit", financed)
	}
}

// TestTwoHundredDrawsOnOneLine: 200 concurrent applications of 3,000.00
// against one line of 500,000.00 (room for 166): never over the limit, and
// exactly as many succeed as fit.
func TestTwoHundredDrawsOnOneLine(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := w.apply("3000.00", true)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case !errs.Is(err, errs.VerificationFailed) && !errs.Is(err, errs.Conflict):
				t.Errorf("unexpected: %v", err)
			}
		}()
	}
	wg.Wait()
	used := money.MustAmount(w.lineUsed())
	if used.GreaterThan(money.MustAmount("500000.00")) || ok != 166 || !used.Equal(money.MustAmount("498000.00")) {
		t.Fatalf("%d draws succeeded, line used %s; want 166 and 498000.00", ok, used)
	}
}

// TestRequestKeyCommitsWithTheApplication: a retry under the same
// Idempotency-Key finds the committed application even when the stored
// answer was lost (a crash between the commit and the answer).
func TestRequestKeyCommitsWithTheApplication(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	amount, days := money.MustAmount("1000.00"), 90
	in := lending.ApplyInput{ContractID: w.contractID, BankID: "qilu-bank", Amount: &amount, TermDays: &days, Purpose: "p"}
	who := w.who
	who.RequestKey = "k-1"
	first, err := w.lending.Apply(ctx, who, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := w.lending.Apply(ctx, who, in)
	if err != nil || again.ID != first.ID {
		t.Fatalf("retry: %v, id %s want %s", err, again.ID, first.ID)
	}
	other := money.MustAmount("2000.00")
	in.Amount = &other
	if _, err := w.lending.Apply(ctx, who, in); !errs.Is(err, errs.IdempotencyReused) {
		t.Fatalf("same key, other application: %v", err)
	}
	var n int
	w.db.Get(&n, `SELECT count(*) FROM applications`)
	if n != 1 || w.financed() != "1000.00" {
		t.Fatalf("%d applications, financed %s; want 1 and 1000.00", n, w.financed())
	}
}

// TestRequestKeyRetryWhenTheContractIsFull: the retry finds the application
// even when the application's own hold leaves no room for it to pass
// verification a second time.
func TestRequestKeyRetryWhenTheContractIsFull(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var limit string
	must(t, func() error {
		return w.db.Get(&limit, `SELECT (amount * 0.85)::numeric(18,2)::text FROM contracts WHERE id = $1`, w.contractID)
	})
	amount, days := money.MustAmount(limit), 90
	in := lending.ApplyInput{ContractID: w.contractID, BankID: "qilu-bank", Amount: &amount, TermDays: &days, Purpose: "p"}
	who := w.who
	who.RequestKey = "k-full"
	first, err := w.lending.Apply(ctx, who, in)
	if err != nil {
		t.Fatal(err)
	}
	who.RequestKey = "k-other"
	if _, err := w.lending.Apply(ctx, who, in); !errs.Is(err, errs.VerificationFailed) {
		t.Fatalf("a second application on the full contract: %v, want verification_failed", err)
	}
	who.RequestKey = "k-full"
	again, err := w.lending.Apply(ctx, who, in)
	if err != nil || again.ID != first.ID || len(again.History) != 1 || again.Consent == nil {
		t.Fatalf("retry: %v, %+v; want application %s with its history and consent", err, again, first.ID)
	}
	if w.financed() != limit {
		t.Fatalf("financed %s, want %s", w.financed(), limit)
	}
}

// TestLoanIDsStayWithTheirApplication: a bank's loan id names one loan of
// one application. Another application's events naming it, or a loan that
// does not exist, are invalid transitions that change nothing; a second
// tranche adds to the loan the first made.
func TestLoanIDsStayWithTheirApplication(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	disbursable := func() string {
		t.Helper()
		a, err := w.apply("100000.00", false)
		if err != nil {
			t.Fatal(err)
		}
		must(t, func() error {
			return w.tx(func(tx *postgres.Tx) error {
				if err := w.lending.MarkDelivered(ctx, tx, a.ID, "QL-"+a.ID); err != nil {
					return err
				}
				return w.lending.Approve(ctx, tx, "qilu-bank", a.ID, lending.Approval{ApprovedAmount: money.MustAmount("100000.00"),
					AnnualRate: money.MustRate("0.0345"), TermDays: 180, RepaymentAccount: account}, "bank:qilu-bank")
			})
		})
		return a.ID
	}
	first, second := disbursable(), disbursable()
	disburse := func(appID, loanID, id string) error {
		return w.tx(func(tx *postgres.Tx) error {
			return w.lending.DisburseOne(ctx, tx, "qilu-bank", appID, loanID, lending.Disbursement{BankDisbursementID: id, Amount: money.MustAmount("40000.00"),
				ValueDate: money.MustDate("2026-11-22"), MaturityDate: money.MustDate("2027-05-21"), AnnualRate: money.MustRate("0.0345")}, "bank:qilu-bank")
		})
	}
	w.now = time.Date(2026, 12, 20, 10, 0, 0, 0, time.UTC) // the day of the repayments below
	repay := func(appID, loanID string) error {
		return w.tx(func(tx *postgres.Tx) error {
			_, err := w.lending.RepayOne(ctx, tx, "qilu-bank", appID, loanID, lending.Repayment{BankRepaymentID: "R-" + appID,
				Principal: money.MustAmount("100.00"), Interest: money.MustAmount("1.00"), PaidOn: money.MustDate("2026-12-20"),
				PeriodStart: money.MustDate("2026-11-22"), PeriodEnd: money.MustDate("2026-12-20")}, "bank:qilu-bank")
			return err
		})
	}
	overdue := func(appID, loanID string) error {
		return w.tx(func(tx *postgres.Tx) error {
			return w.lending.OverdueOne(ctx, tx, "qilu-bank", appID, loanID, money.MustAmount("100.00"), money.MustDate("2026-12-21"), "bank:qilu-bank")
		})
	}
	must(t, func() error { return disburse(first, "LN-A", "D1") })
	must(t, func() error { return disburse(first, "LN-A", "D2") })
	for name, err := range map[string]error{
		"disbursing another's loan": disburse(second, "LN-A", "D3"),
		"repaying another's loan":   repay(second, "LN-A"),
		"overdue on another's loan": overdue(second, "LN-A"),
		"repaying no loan":          repay(first, "LN-NONE"),
		"overdue on no loan":        overdue(first, "LN-NONE"),
	} {
		if !errs.Is(err, errs.InvalidTransition) {
			t.Errorf("%s: %v, want invalid_transition", name, err)
		}
	}
	var loans []struct {
		ApplicationID string `db:"application_id"`
		Disbursed     string `db:"disbursed"`
		Repaid        string `db:"repaid_principal"`
	}
	must(t, func() error {
		return w.db.Select(&loans, `SELECT application_id, disbursed::text, repaid_principal::text FROM loans`)
	})
	if len(loans) != 1 || loans[0].ApplicationID != first || loans[0].Disbursed != "80000.00" || loans[0].Repaid != "0.00" {
		t.Fatalf("loans %+v; want one of %s, 80000.00 disbursed in two tranches, nothing repaid", loans, first)
	}
	must(t, func() error { return repay(first, "LN-A") })
	must(t, func() error { return overdue(first, "LN-A") })
}
