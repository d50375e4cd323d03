package lending_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// approve takes application a at bank through delivery and the bank's
// approval of amount into acct.
func (w *world) approve(bank string, a lending.Application, amount string, acct lending.RepaymentAccount) {
	w.t.Helper()
	for _, f := range []func(tx *postgres.Tx) error{
		func(tx *postgres.Tx) error { return w.lending.MarkDelivered(ctx, tx, a.ID, "REF-"+a.ID[:8]) },
		func(tx *postgres.Tx) error {
			return w.lending.Approve(ctx, tx, bank, a.ID, lending.Approval{ApprovedAmount: money.MustAmount(amount),
				AnnualRate: money.MustRate("0.0345"), TermDays: 180, RepaymentAccount: acct}, "bank:"+bank)
		},
	} {
		if err := w.tx(f); err != nil {
			w.t.Fatal(err)
		}
	}
}

// confirmReceivable has the purchaser confirm the contract's receivable:
// amount into acct (lending.Service.Confirm).
func (w *world) confirmReceivable(contractID, amount string, acct lending.RepaymentAccount) {
	w.t.Helper()
	_, _, err := w.lending.Confirm(ctx, lending.Scope{}, contractID, lending.Confirmation{ConfirmedAmount: money.MustAmount(amount),
		RepaymentAccount: lending.Account{BankName: acct.BankName, AccountNo: acct.AccountNo, AccountName: acct.AccountName},
		PaymentTerms:     json.RawMessage(`[]`)}, "user:purchaser")
	if err != nil {
		w.t.Fatalf("the purchaser's confirmation of %s: %v", amount, err)
	}
}

type receivableRow struct {
	BankID    string  `db:"bank_id"`
	Status    string  `db:"status"`
	Confirmed *string `db:"confirmed_amount"`
}

func (w *world) receivable(contractID string) receivableRow {
	w.t.Helper()
	var r receivableRow
	must(w.t, func() error {
		return w.db.Get(&r, `SELECT bank_id, status, confirmed_amount::text AS confirmed_amount FROM receivables WHERE contract_id = $1`, contractID)
	})
	return r
}

func (w *world) lock(appID string) string {
	w.t.Helper()
	var s string
	must(w.t, func() error {
		return w.db.Get(&s, `SELECT status || CASE WHEN confirmed_at IS NULL THEN '' ELSE ' at' END FROM repayment_accounts WHERE application_id = $1`, appID)
	})
	return s
}

// TestReceivableAtApproval: the first approval makes the contract's
// receivable pending for its bank; a later approval at that bank is
// confirmed at once when the recorded confirmation covers it (the same
// account, spaces aside, and enough), and otherwise sends the receivable
// back to pending, the locks confirmed before staying confirmed.
func TestReceivableAtApproval(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	apply := func(amount string) lending.Application {
		t.Helper()
		a, err := w.apply(amount, false)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	first := apply("300000.00")
	if n := w.count(`SELECT count(*) FROM receivables`); n != 0 {
		t.Fatalf("%d receivables before any approval, want 0", n)
	}
	w.approve("qilu-bank", first, "300000.00", account)
	if r := w.receivable(w.contractID); r.BankID != "qilu-bank" || r.Status != "pending" || r.Confirmed != nil {
		t.Fatalf("after the first approval: %+v, want pending at qilu-bank", r)
	}
	if l := w.lock(first.ID); l != "proposed" {
		t.Fatalf("the first lock is %q, want proposed", l)
	}
	// The purchaser confirms 500,000.00: 300,000.00 approved, 200,000.00 to spare.
	w.confirmReceivable(w.contractID, "500000.00", account)

	// 300,000.00 + 200,000.00 = 500,000.00 ≤ 500,000.00, into the same
	// account written with spaces: covered.
	second := apply("200000.00")
	spaced := account
	spaced.AccountNo = "6222 0200 0000 1234"
	w.approve("qilu-bank", second, "200000.00", spaced)
	if l := w.lock(second.ID); l != "confirmed at" {
		t.Fatalf("the second lock is %q, want confirmed at once", l)
	}
	if r := w.receivable(w.contractID); r.Status != "confirmed" || r.Confirmed == nil || *r.Confirmed != "500000.00" {
		t.Fatalf("after a covered approval: %+v, want confirmed 500000.00", r)
	}
	// The bank hears of the confirmation for the second application.
	var told []string
	must(t, func() error {
		return w.db.Select(&told, `SELECT convert_from(payload, 'UTF8') FROM deliveries WHERE application_id = $1 AND kind = 'contract-event'`, second.ID)
	})
	if len(told) != 1 || !strings.Contains(told[0], `"type":"receivable.confirmed"`) || !strings.Contains(told[0], `"confirmed_amount":"500000.00"`) ||
		!strings.Contains(told[0], `"account_no":"6222020000001234"`) {
		t.Fatalf("contract events queued for the covered approval: %q, want one receivable.confirmed of 500000.00", told)
	}
	if n := w.count(`SELECT count(*) FROM deliveries WHERE application_id = $1 AND kind = 'contract-event'`, first.ID); n != 1 {
		t.Fatalf("%d contract events for the first application, want 1 (the purchaser's confirmation; the second approval adds none)", n)
	}

	// 500,000.00 + 0.01 > 500,000.00: a new confirmation is needed.
	third := apply("0.01")
	w.approve("qilu-bank", third, "0.01", account)
	if l := w.lock(third.ID); l != "proposed" {
		t.Fatalf("the third lock is %q, want proposed", l)
	}
	if r := w.receivable(w.contractID); r.Status != "pending" || r.Confirmed != nil {
		t.Fatalf("after an approval past the confirmation: %+v, want pending again", r)
	}
	if l := w.lock(second.ID); l != "confirmed at" {
		t.Fatalf("the second lock became %q, want it kept confirmed", l)
	}

	// Confirmed again for all three (500,000.01); another account is not covered.
	w.confirmReceivable(w.contractID, "600000.00", account)
	fourth := apply("1.00")
	other := account
	other.AccountNo = "6222020000009999"
	w.approve("qilu-bank", fourth, "1.00", other)
	if l := w.lock(fourth.ID); l != "proposed" {
		t.Fatalf("an approval into another account: lock %q, want proposed", l)
	}
	if r := w.receivable(w.contractID); r.Status != "pending" {
		t.Fatalf("after an approval into another account: %+v, want pending", r)
	}
	if n := w.count(`SELECT count(*) FROM audit_log WHERE action = 'receivable.pending' AND entity_id = $1`, w.contractID); n != 3 {
		t.Fatalf("%d audit entries receivable.pending, want 3 (created, and pending again twice)", n)
	}
}

// TestReceivableMovesWhenItsBankLetGo: a receivable whose bank no longer
// has a live application on the contract is made again, pending, for the
// bank that approves next, without the earlier confirmation.
func TestReceivableMovesWhenItsBankLetGo(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a, err := w.apply("100000.00", false)
	if err != nil {
		t.Fatal(err)
	}
	w.approve("qilu-bank", a, "100000.00", account)
	w.confirmReceivable(w.contractID, "100000.00", account)
	must(t, func() error {
		return w.tx(func(tx *postgres.Tx) error {
			return w.lending.Lapse(ctx, tx, "qilu-bank", a.ID, "receivable_refused", "bank:qilu-bank")
		})
	})
	b, err := w.lending.Apply(ctx, w.who, w.input(w.contractID, "other-bank", "100000.00", false))
	if err != nil {
		t.Fatalf("applying at another bank once the first let go: %v", err)
	}
	w.approve("other-bank", b, "100000.00", account)
	if r := w.receivable(w.contractID); r.BankID != "other-bank" || r.Status != "pending" || r.Confirmed != nil {
		t.Fatalf("the receivable %+v, want pending at other-bank without the old confirmation", r)
	}
	if l := w.lock(b.ID); l != "proposed" {
		t.Fatalf("the new bank's lock is %q, want proposed", l)
	}
}

// checkOf returns the named check of a verification_failed error.
func checkOf(t *testing.T, err error, name string) contracts.Check {
	t.Helper()
	var e *errs.Error
	if !errorsAs(err, &e) || e.Code != errs.VerificationFailed {
		t.Fatalf("err %v, want verification_failed", err)
	}
	r, ok := e.Extra["verification"].(contracts.Report)
	if !ok {
		t.Fatalf("verification %T", e.Extra["verification"])
	}
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s in %+v", name, r.Checks)
	return contracts.Check{}
}

// TestSingleBank: while a contract has a live application at one bank, an
// application at another fails contract.single_bank, naming that bank;
// once the first ended it passes; in one intake batch the second bank's
// application sees the first's.
func TestSingleBank(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a, err := w.apply("100000.00", false)
	if err != nil {
		t.Fatal(err)
	}
	var report contracts.Report
	if err := json.Unmarshal(a.Verification, &report); err != nil {
		t.Fatal(err)
	}
	if c := report.Checks[len(report.Checks)-1]; c.Name != contracts.CheckContractSingleBank || c.Result != "pass" {
		t.Fatalf("the first application's last check %+v, want contract.single_bank passed", c)
	}
	_, err = w.lending.Apply(ctx, w.who, w.input(w.contractID, "other-bank", "100000.00", false))
	if c := checkOf(t, err, contracts.CheckContractSingleBank); c.Result != "fail" || !strings.Contains(c.Reason, "qilu-bank") {
		t.Fatalf("the check %+v, want fail naming qilu-bank", c)
	}
	if w.financed() != "100000.00" {
		t.Fatalf("financed %s after a refusal, want 100000.00", w.financed())
	}
	// The same bank again is no second bank.
	if _, err := w.lending.Apply(ctx, w.who, w.input(w.contractID, "qilu-bank", "1.00", false)); err != nil {
		t.Fatalf("a second application at the same bank: %v", err)
	}
	// Rejected by its bank, the contract is free for another.
	for _, id := range []string{a.ID} {
		must(t, func() error {
			return w.tx(func(tx *postgres.Tx) error {
				return w.lending.Reject(ctx, tx, "qilu-bank", id, "declined", "no", "bank:qilu-bank")
			})
		})
	}
	var live []string
	must(t, func() error {
		return w.db.Select(&live, `SELECT id FROM applications WHERE contract_id = $1 AND status = 'submitted'`, w.contractID)
	})
	for _, id := range live {
		if _, err := w.lending.Cancel(ctx, lending.Scope{SupplierUSCC: uscc}, id, "user:u1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.lending.Apply(ctx, w.who, w.input(w.contractID, "other-bank", "100000.00", false)); err != nil {
		t.Fatalf("applying at another bank once the first ended: %v", err)
	}

	// One batch: the first at qilu-bank on a new contract is accepted, the
	// second at other-bank sees it.
	c2 := w.newContract("C2", uscc)
	_, errs2 := w.lending.ApplyBatch([]lending.Applicant{w.who, w.who},
		[]lending.ApplyInput{w.input(c2, "qilu-bank", "1000.00", false), w.input(c2, "other-bank", "1000.00", false)})
	if errs2[0] != nil {
		t.Fatalf("the batch's first: %v", errs2[0])
	}
	if c := checkOf(t, errs2[1], contracts.CheckContractSingleBank); c.Result != "fail" {
		t.Fatalf("the batch's second: %+v, want fail", c)
	}
}

// TestSingleBankRequeue: a failed delivery is not sent again while another
// bank finances the contract.
func TestSingleBankRequeue(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a, err := w.apply("100000.00", false)
	if err != nil {
		t.Fatal(err)
	}
	must(t, func() error {
		return w.tx(func(tx *postgres.Tx) error { return w.lending.MarkDeliveryFailed(ctx, tx, a.ID, "refused") })
	})
	if _, err := w.lending.Apply(ctx, w.who, w.input(w.contractID, "other-bank", "100000.00", false)); err != nil {
		t.Fatalf("applying at another bank after a failed delivery: %v", err)
	}
	err = w.tx(func(tx *postgres.Tx) error { return w.lending.Requeued(ctx, tx, a.ID, "user:admin") })
	if !errs.Is(err, errs.InvalidTransition) || !strings.Contains(err.Error(), "other-bank") {
		t.Fatalf("re-queue while other-bank finances the contract: %v, want invalid_transition naming other-bank", err)
	}
	if n := w.count(`SELECT count(*) FROM applications WHERE id = $1 AND status = 'delivery_failed'`, a.ID); n != 1 {
		t.Fatal("the refused re-queue changed the application")
	}
}

// TestSingleBankConcurrent: one supplier applies for one contract twenty
// times at once, alternating two banks: only one bank ever has live
// applications on it.
func TestSingleBankConcurrent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const n = 20
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]error, n)
	for i := 0; i < n; i++ {
		bank := "qilu-bank"
		if i%2 == 1 {
			bank = "other-bank"
		}
		wg.Add(1)
		go func(i int, bank string) {
			defer wg.Done()
			<-start
			_, results[i] = w.lending.Apply(ctx, w.who, w.input(w.contractID, bank, "1000.00", false))
		}(i, bank)
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range results {
		switch {
		case err == nil:
			ok++
		case checkOf(t, err, contracts.CheckContractSingleBank).Result != "fail":
			t.Fatalf("refused for another reason: %v", err)
		}
	}
	if banks := w.count(`SELECT count(DISTINCT bank_id) FROM applications WHERE contract_id = $1`, w.contractID); banks != 1 || ok == 0 {
		t.Fatalf("%d banks have applications on the contract (%d accepted), want exactly 1", banks, ok)
	}
	if n := w.count(`SELECT count(*) FROM applications WHERE contract_id = $1`, w.contractID); n != ok {
		t.Fatalf("%d applications written, %d answered accepted", n, ok)
	}
}

// TestDisbursedBeforeConfirmation: a bank disbursing before the
// purchaser's confirmation is recorded, never refused: the lock is locked
// and the time kept (the alert), the first time only; a confirmed lock
// locked records none.
func TestDisbursedBeforeConfirmation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.approvedAndDisbursed("100000.00") // nothing confirmed it
	var at []string
	must(t, func() error {
		return w.db.Select(&at, `SELECT coalesce(disbursed_unconfirmed_at::text, 'none') FROM repayment_accounts
			WHERE application_id = $1 AND status = 'locked'`, a.ID)
	})
	if len(at) != 1 || at[0] == "none" {
		t.Fatalf("the lock after a disbursement before confirmation: %v, want locked with disbursed_unconfirmed_at", at)
	}
	if n := w.count(`SELECT count(*) FROM audit_log WHERE action = 'repayment_account.locked' AND entity_id = $1
		AND reason = $2`, a.ID, lending.CauseAccountLockedUnconfirmed); n != 1 {
		t.Fatalf("%d audit entries of the lock locked before confirmation, want 1", n)
	}

	// Confirmed first, then disbursed: no alert.
	b, err := w.apply("100000.00", false)
	if err != nil {
		t.Fatal(err)
	}
	w.approve("qilu-bank", b, "100000.00", account)
	w.confirmReceivable(w.contractID, "200000.00", account)
	must(t, func() error {
		return w.tx(func(tx *postgres.Tx) error {
			return w.lending.DisburseOne(ctx, tx, "qilu-bank", b.ID, "LN-"+b.ID[:8], lending.Disbursement{BankDisbursementID: "D-" + b.ID[:8],
				Amount: money.MustAmount("100000.00"), ValueDate: money.MustDate("2026-11-22"), MaturityDate: money.MustDate("2027-05-21"),
				AnnualRate: money.MustRate("0.0345")}, "bank:qilu-bank")
		})
	})
	if n := w.count(`SELECT count(*) FROM repayment_accounts WHERE application_id = $1 AND status = 'locked'
		AND disbursed_unconfirmed_at IS NULL AND confirmed_at IS NOT NULL`, b.ID); n != 1 {
		t.Fatal("a confirmed lock disbursed: want locked, confirmed, no alert")
	}
}
