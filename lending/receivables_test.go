package lending_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// The purchaser of newWorld's contracts: sdu under jinan-pprc.
var (
	sduScope   = lending.Scope{PurchaserIssuerID: "jinan-pprc", PurchaserID: "sdu"}
	terms      = json.RawMessage(`[{"due_on": "2027-05-31", "amount": "1180000.00", "condition": "acceptance"}]`)
	theAccount = lending.Account{BankName: account.BankName, AccountNo: account.AccountNo, AccountName: account.AccountName}
	newAccount = lending.Account{BankName: "Qilu Bank Licheng Branch", AccountNo: "6222020000009999", AccountName: "Quancheng Software"}
)

// approved takes a new application of amount on w's contract to approved
// at qilu-bank for its whole amount, with the repayment account account,
// and makes sure the contract's receivable exists (pending).
func (w *world) approved(amount string) lending.Application {
	w.t.Helper()
	a, err := w.apply(amount, false)
	if err != nil {
		w.t.Fatal(err)
	}
	must(w.t, func() error {
		return w.tx(func(tx *postgres.Tx) error {
			if err := w.lending.Approve(ctx, tx, "qilu-bank", a.ID, lending.Approval{ApprovedAmount: money.MustAmount(amount),
				AnnualRate: money.MustRate("0.0345"), TermDays: 180, RepaymentAccount: account}, "bank:qilu-bank"); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO receivables (contract_id, bank_id) VALUES ($1, 'qilu-bank') ON CONFLICT DO NOTHING`, a.ContractID)
			return err
		})
	})
	return a
}

// disburse pays a's whole approved amount out as loan LN-<a>.
func (w *world) disburse(a lending.Application, amount string) {
	w.t.Helper()
	must(w.t, func() error {
		return w.tx(func(tx *postgres.Tx) error {
			return w.lending.DisburseOne(ctx, tx, "qilu-bank", a.ID, "LN-"+a.ID[:8], lending.Disbursement{BankDisbursementID: "D-" + a.ID[:8],
				Amount: money.MustAmount(amount), ValueDate: money.MustDate("2026-11-22"), MaturityDate: money.MustDate("2027-05-21"),
				AnnualRate: money.MustRate("0.0345")}, "bank:qilu-bank")
		})
	})
}

// lockOf is a's repayment account's lock: status, account number, and the
// new account waiting ("" for none).
func (w *world) lockOf(appID string) (status, accountNo, waiting string) {
	w.t.Helper()
	var row struct {
		Status    string  `db:"status"`
		AccountNo string  `db:"account_no"`
		New       *string `db:"new_no"`
	}
	must(w.t, func() error {
		return w.db.Get(&row, `SELECT status, account_no, new_account->>'account_no' AS new_no FROM repayment_accounts WHERE application_id = $1`, appID)
	})
	if row.New != nil {
		waiting = *row.New
	}
	return row.Status, row.AccountNo, waiting
}

// contractEvent is a queued contract event as the bank will receive it.
type contractEvent struct {
	EventID  string `json:"event_id"`
	Type     string `json:"type"`
	Contract struct {
		ID          string `json:"id"`
		ContractNo  string `json:"contract_no"`
		PurchaserID string `json:"purchaser_id"`
	} `json:"contract"`
	ApplicationID string          `json:"application_id"`
	LoanID        *string         `json:"loan_id"`
	Data          json.RawMessage `json:"data"`
	bankID        string
}

// contractEvents are the queued contract events, in the order queued.
func (w *world) contractEvents() []contractEvent {
	w.t.Helper()
	var rows []struct {
		Payload []byte `db:"payload"`
		BankID  string `db:"bank_id"`
		Message string `db:"message_id"`
	}
	must(w.t, func() error {
		return w.db.Select(&rows, `SELECT payload, bank_id, message_id FROM deliveries WHERE kind = 'contract-event' ORDER BY id`)
	})
	es := make([]contractEvent, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal(r.Payload, &es[i]); err != nil {
			w.t.Fatal(err)
		}
		if es[i].EventID != r.Message {
			w.t.Fatalf("event id %s, message id %s: they are one", es[i].EventID, r.Message)
		}
		es[i].bankID = r.BankID
	}
	return es
}

func wantCode(t *testing.T, err error, code errs.Code, fields ...string) {
	t.Helper()
	var e *errs.Error
	if !errorsAs(err, &e) || e.Code != code {
		t.Fatalf("got %v, want %s", err, code)
	}
	var got []string
	for _, f := range e.Fields {
		got = append(got, f.Field)
	}
	slices.Sort(got)
	slices.Sort(fields)
	if len(fields) > 0 && !slices.Equal(got, fields) {
		t.Fatalf("fields %v, want %v", got, fields)
	}
}

// TestConfirmReceivable: a purchaser sees its contract's receivable and
// confirms it: every approved application it covers has its lock
// confirmed and its bank a receivable.confirmed; the same confirmation
// again changes nothing; another is refused; bad figures are named.
func TestConfirmReceivable(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var mu sync.Mutex
	var hooked []string
	w.lending.OnConfirmed(func(_ context.Context, _ *postgres.Tx, ids []string) error {
		mu.Lock()
		defer mu.Unlock()
		hooked = append(hooked, ids...)
		return nil
	})
	a1, a2 := w.approved("300000.00"), w.approved("200000.00")

	r, err := w.lending.Receivable(ctx, sduScope, w.contractID)
	if err != nil {
		t.Fatal(err)
	}
	// 300,000.00 + 200,000.00 approved = 500,000.00.
	if r.Status != "pending" || r.Approved.String() != "500000.00" || r.ContractAmount.String() != "1180000.00" || r.LockStatus != "proposed" ||
		r.RepaymentAccount != theAccount || r.PurchaserName != "SDU" || r.BankID != "qilu-bank" || len(r.ApplicationIDs) != 2 {
		t.Fatalf("receivable %+v", r)
	}
	for _, sc := range []lending.Scope{{PurchaserIssuerID: "jinan-pprc", PurchaserID: "other"}, {SupplierUSCC: otherUSCC}, {BankID: "other-bank"}} {
		if _, err := w.lending.Receivable(ctx, sc, w.contractID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("scope %+v: %v, want not_found", sc, err)
		}
		if _, _, err := w.lending.Confirm(ctx, sc, w.contractID, lending.Confirmation{ConfirmedAmount: money.MustAmount("500000.00"),
			RepaymentAccount: theAccount, PaymentTerms: terms}, "mallory"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("confirm in scope %+v: %v, want not_found", sc, err)
		}
	}
	if _, err := w.lending.Receivable(ctx, lending.Scope{SupplierUSCC: uscc}, w.contractID); err != nil {
		t.Fatalf("the supplier reads its contract's receivable: %v", err)
	}

	spaced := theAccount
	spaced.AccountNo = "6222 0200 0000 1234"
	other := theAccount
	other.AccountNo = "6222020000005678"
	for _, tc := range []struct {
		name   string
		c      lending.Confirmation
		code   errs.Code
		fields []string
	}{
		{"Malformed", lending.Confirmation{PaymentTerms: json.RawMessage(`{"due_on": "x"}`)}, errs.Invalid,
			[]string{"confirmed_amount", "repayment_account.bank_name", "repayment_account.account_no", "repayment_account.account_name", "payment_terms"}},
		{"NoTerms", lending.Confirmation{ConfirmedAmount: money.MustAmount("500000.00"), RepaymentAccount: theAccount}, errs.Invalid, []string{"payment_terms"}},
		{"ControlInName", lending.Confirmation{ConfirmedAmount: money.MustAmount("500000.00"),
			RepaymentAccount: lending.Account{BankName: "Qilu\x01", AccountNo: "1", AccountName: strings.Repeat("a", 201)}, PaymentTerms: terms},
			errs.Invalid, []string{"repayment_account.bank_name", "repayment_account.account_name"}},
		// 500,000.00 approved: 499,999.99 is below it.
		{"BelowApproved", lending.Confirmation{ConfirmedAmount: money.MustAmount("499999.99"), RepaymentAccount: theAccount, PaymentTerms: terms},
			errs.ConfirmationMismatch, []string{"confirmed_amount"}},
		{"AboveContract", lending.Confirmation{ConfirmedAmount: money.MustAmount("1180000.01"), RepaymentAccount: theAccount, PaymentTerms: terms},
			errs.ConfirmationMismatch, []string{"confirmed_amount"}},
		{"OtherAccount", lending.Confirmation{ConfirmedAmount: money.MustAmount("500000.00"), RepaymentAccount: other, PaymentTerms: terms},
			errs.ConfirmationMismatch, []string{"repayment_account.account_no"}},
		{"Both", lending.Confirmation{ConfirmedAmount: money.MustAmount("1.00"), RepaymentAccount: other, PaymentTerms: terms},
			errs.ConfirmationMismatch, []string{"confirmed_amount", "repayment_account.account_no"}},
	} {
		_, _, err := w.lending.Confirm(ctx, sduScope, w.contractID, tc.c, "sdu-user")
		if err == nil {
			t.Fatalf("%s: accepted", tc.name)
		}
		wantCode(t, err, tc.code, tc.fields...)
	}
	if n := len(w.contractEvents()); n != 0 {
		t.Fatalf("%d contract events queued by refused confirmations", n)
	}

	// The account as the purchaser writes it, spaces and all; the amount
	// the contract's whole 1,180,000.00.
	c := lending.Confirmation{ConfirmedAmount: money.MustAmount("1180000.00"), RepaymentAccount: spaced, PaymentTerms: terms}
	r, changed, err := w.lending.Confirm(ctx, sduScope, w.contractID, c, "sdu-user")
	if err != nil || !changed {
		t.Fatalf("confirm: %v, changed %v", err, changed)
	}
	if r.Status != "confirmed" || r.ConfirmedAmount.String() != "1180000.00" || r.ConfirmedBy != "sdu-user" || r.LockStatus != "confirmed" {
		t.Fatalf("confirmed receivable %+v", r)
	}
	for _, a := range []lending.Application{a1, a2} {
		if st, no, _ := w.lockOf(a.ID); st != "confirmed" || no != account.AccountNo {
			t.Fatalf("lock of %s: %s %s", a.ID, st, no)
		}
	}
	mu.Lock()
	slices.Sort(hooked)
	want := []string{a1.ID, a2.ID}
	slices.Sort(want)
	if !slices.Equal(hooked, want) {
		t.Fatalf("OnConfirmed told of %v, want %v", hooked, want)
	}
	mu.Unlock()
	es := w.contractEvents()
	if len(es) != 2 {
		t.Fatalf("%d contract events, want one per application", len(es))
	}
	var apps []string
	for _, e := range es {
		var d struct {
			ConfirmedAmount  string          `json:"confirmed_amount"`
			PaymentTerms     json.RawMessage `json:"payment_terms"`
			RepaymentAccount lending.Account `json:"repayment_account"`
			ConfirmedBy      string          `json:"confirmed_by"`
			ConfirmedAt      string          `json:"confirmed_at"`
		}
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		if e.Type != "receivable.confirmed" || e.bankID != "qilu-bank" || e.Contract.ID != w.contractID || e.Contract.ContractNo != "C1" ||
			e.Contract.PurchaserID != "sdu" || e.LoanID != nil || d.ConfirmedAmount != "1180000.00" || d.RepaymentAccount != spaced ||
			d.ConfirmedBy != "sdu-user" || d.ConfirmedAt == "" || !jsonEqual(d.PaymentTerms, terms) {
			t.Fatalf("event %+v, data %+v", e, d)
		}
		apps = append(apps, e.ApplicationID)
	}
	slices.Sort(apps)
	if !slices.Equal(apps, want) {
		t.Fatalf("events for %v, want %v", apps, want)
	}

	// Again, the terms spelt otherwise: nothing changes, nothing is sent.
	again := c
	again.RepaymentAccount = theAccount
	again.PaymentTerms = json.RawMessage(`[{"condition":"acceptance","amount":"1180000.00","due_on":"2027-05-31"}]`)
	if _, changed, err := w.lending.Confirm(ctx, sduScope, w.contractID, again, "sdu-user"); err != nil || changed {
		t.Fatalf("the same confirmation again: %v, changed %v", err, changed)
	}
	if n := len(w.contractEvents()); n != 2 {
		t.Fatalf("%d contract events after a repeat, want 2", n)
	}
	different := c
	different.ConfirmedAmount = money.MustAmount("600000.00")
	_, _, err = w.lending.Confirm(ctx, sduScope, w.contractID, different, "sdu-user")
	wantCode(t, err, errs.InvalidTransition)
	_, _, err = w.lending.Refuse(ctx, sduScope, w.contractID, lending.Refusal{Reason: "no"}, "sdu-user")
	wantCode(t, err, errs.InvalidTransition)
	// Confirmed with the account the bank approved: another one is a step
	// out of order.
	moved := c
	moved.RepaymentAccount = newAccount
	_, _, err = w.lending.Confirm(ctx, sduScope, w.contractID, moved, "sdu-user")
	wantCode(t, err, errs.InvalidTransition)

	list, err := w.lending.Receivables(ctx, sduScope, "confirmed", 0, 10)
	if err != nil || len(list) != 1 || list[0].ContractID != w.contractID {
		t.Fatalf("confirmed receivables: %v %+v", err, list)
	}
	if list, err := w.lending.Receivables(ctx, sduScope, "pending", 0, 10); err != nil || len(list) != 0 {
		t.Fatalf("pending receivables: %v %+v", err, list)
	}
	if list, err := w.lending.Receivables(ctx, lending.Scope{PurchaserIssuerID: "jinan-pprc", PurchaserID: "other"}, "", 0, 10); err != nil || len(list) != 0 {
		t.Fatalf("another purchaser's receivables: %v %+v", err, list)
	}
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && strings.EqualFold(mustJSON(x), mustJSON(y))
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestNothingToConfirm: a receivable without an approved live
// application has nothing to confirm or refuse.
func TestNothingToConfirm(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	must(t, func() error {
		_, err := w.db.Exec(`INSERT INTO receivables (contract_id, bank_id) VALUES ($1, 'qilu-bank')`, w.contractID)
		return err
	})
	_, _, err := w.lending.Confirm(ctx, sduScope, w.contractID, lending.Confirmation{ConfirmedAmount: money.MustAmount("1.00"),
		RepaymentAccount: theAccount, PaymentTerms: terms}, "sdu-user")
	wantCode(t, err, errs.InvalidTransition)
	_, _, err = w.lending.Refuse(ctx, sduScope, w.contractID, lending.Refusal{Reason: "no"}, "sdu-user")
	wantCode(t, err, errs.InvalidTransition)
	if _, _, err := w.lending.Confirm(ctx, sduScope, "not-an-id", lending.Confirmation{ConfirmedAmount: money.MustAmount("1.00"),
		RepaymentAccount: theAccount, PaymentTerms: terms}, "sdu-user"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("a malformed id: %v", err)
	}
}

// TestRefuseReceivable: a refusal moves the proposed locks to refused and
// tells the bank; the same again changes nothing, another is refused; a
// confirmation after it is accepted.
func TestRefuseReceivable(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.approved("300000.00")
	for _, tc := range []struct {
		reason string
		field  string
	}{{"", "reason"}, {"  ", "reason"}, {"a\x00b", "reason"}, {strings.Repeat("中", 501), "reason"}} {
		_, _, err := w.lending.Refuse(ctx, sduScope, w.contractID, lending.Refusal{Reason: tc.reason}, "sdu-user")
		wantCode(t, err, errs.Invalid, tc.field)
	}
	reason := strings.Repeat("中", 500) // 500 characters, 1,500 bytes: at the bound
	r, changed, err := w.lending.Refuse(ctx, sduScope, w.contractID, lending.Refusal{Reason: reason}, "sdu-user")
	if err != nil || !changed || r.Status != "refused" || r.RefusalReason != reason || r.RefusedBy != "sdu-user" || r.LockStatus != "refused" {
		t.Fatalf("refuse: %v %v %+v", err, changed, r)
	}
	if st, _, _ := w.lockOf(a.ID); st != "refused" {
		t.Fatalf("lock %s, want refused", st)
	}
	es := w.contractEvents()
	if len(es) != 1 || es[0].Type != "receivable.refused" || es[0].ApplicationID != a.ID || string(es[0].Data) != `{"reason":"`+reason+`"}` {
		t.Fatalf("events %+v", es)
	}
	if _, changed, err := w.lending.Refuse(ctx, sduScope, w.contractID, lending.Refusal{Reason: reason}, "sdu-user"); err != nil || changed {
		t.Fatalf("the same refusal again: %v %v", err, changed)
	}
	_, _, err = w.lending.Refuse(ctx, sduScope, w.contractID, lending.Refusal{Reason: "another"}, "sdu-user")
	wantCode(t, err, errs.InvalidTransition)
	if n := len(w.contractEvents()); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
	// The bank waited: the purchaser confirms after all.
	r, changed, err = w.lending.Confirm(ctx, sduScope, w.contractID, lending.Confirmation{ConfirmedAmount: money.MustAmount("300000.00"),
		RepaymentAccount: theAccount, PaymentTerms: terms}, "sdu-user")
	if err != nil || !changed || r.Status != "confirmed" || r.LockStatus != "confirmed" {
		t.Fatalf("confirm after refusal: %v %v %+v", err, changed, r)
	}
}

// TestRefusedThenLapsed: after a refusal the bank lets the approval lapse
// (receivable_refused): the refused lock is released.
func TestRefusedThenLapsed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.approved("300000.00")
	if _, _, err := w.lending.Refuse(ctx, sduScope, w.contractID, lending.Refusal{Reason: "not our contract"}, "sdu-user"); err != nil {
		t.Fatal(err)
	}
	must(t, func() error {
		return w.tx(func(tx *postgres.Tx) error {
			return w.lending.Lapse(ctx, tx, "qilu-bank", a.ID, "receivable_refused", "bank:qilu-bank")
		})
	})
	if st, _, _ := w.lockOf(a.ID); st != "released" {
		t.Fatalf("lock %s, want released", st)
	}
}

// TestAccountChange: while locked, the account changes only after the
// bank's account.change_consented and then the purchaser's confirmation
// of the new account, which the bank is told of again; out of order each
// step is invalid_transition.
func TestAccountChange(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.approved("300000.00")
	consent := func(appID string, acct lending.Account) error {
		return w.tx(func(tx *postgres.Tx) error {
			l, err := w.lending.LockLoan(ctx, tx, lending.LoanKey{BankID: "qilu-bank", ApplicationID: appID, BankLoanID: "LN-" + appID[:8]})
			if err != nil {
				return err
			}
			return w.lending.ConsentAccountChange(ctx, tx, l, acct, "bank:qilu-bank")
		})
	}
	// No loan yet, and the lock only proposed.
	wantCode(t, consent(a.ID, newAccount), errs.InvalidTransition)
	c := lending.Confirmation{ConfirmedAmount: money.MustAmount("300000.00"), RepaymentAccount: theAccount, PaymentTerms: terms}
	if _, _, err := w.lending.Confirm(ctx, sduScope, w.contractID, c, "sdu-user"); err != nil {
		t.Fatal(err)
	}
	w.disburse(a, "300000.00")
	if st, _, _ := w.lockOf(a.ID); st != "locked" {
		t.Fatalf("lock %s, want locked", st)
	}
	moved := c
	moved.RepaymentAccount = newAccount
	_, _, err := w.lending.Confirm(ctx, sduScope, w.contractID, moved, "sdu-user")
	wantCode(t, err, errs.InvalidTransition) // no consent yet
	wantCode(t, consent(a.ID, lending.Account{AccountNo: "1"}), errs.Invalid, "data.repayment_account.bank_name", "data.repayment_account.account_name")

	must(t, func() error { return consent(a.ID, newAccount) })
	if st, no, waiting := w.lockOf(a.ID); st != "locked" || no != account.AccountNo || waiting != newAccount.AccountNo {
		t.Fatalf("after consent: %s %s %s, want the old account locked and the new one waiting", st, no, waiting)
	}
	r, err := w.lending.Receivable(ctx, sduScope, w.contractID)
	if err != nil || r.NewAccount == nil || *r.NewAccount != newAccount || r.RepaymentAccount != theAccount {
		t.Fatalf("receivable after consent: %v %+v", err, r)
	}
	// The old confirmation again is still only a repeat.
	if _, changed, err := w.lending.Confirm(ctx, sduScope, w.contractID, c, "sdu-user"); err != nil || changed {
		t.Fatalf("repeat while a change waits: %v %v", err, changed)
	}
	before := len(w.contractEvents())
	r, changed, err := w.lending.Confirm(ctx, sduScope, w.contractID, moved, "sdu-officer")
	if err != nil || !changed || r.RepaymentAccount != newAccount || r.NewAccount != nil || r.LockStatus != "locked" {
		t.Fatalf("confirm the new account: %v %v %+v", err, changed, r)
	}
	if st, no, waiting := w.lockOf(a.ID); st != "locked" || no != newAccount.AccountNo || waiting != "" {
		t.Fatalf("after the change: %s %s %q", st, no, waiting)
	}
	es := w.contractEvents()
	if len(es) != before+1 {
		t.Fatalf("%d events, want one more", len(es))
	}
	e := es[len(es)-1]
	var d struct {
		RepaymentAccount lending.Account `json:"repayment_account"`
	}
	if err := json.Unmarshal(e.Data, &d); err != nil || e.Type != "receivable.confirmed" || d.RepaymentAccount != newAccount ||
		e.LoanID == nil || *e.LoanID != "LN-"+a.ID[:8] {
		t.Fatalf("event %+v %s", e, e.Data)
	}
	// Now the old account is a step out of order.
	_, _, err = w.lending.Confirm(ctx, sduScope, w.contractID, c, "sdu-user")
	wantCode(t, err, errs.InvalidTransition)
	var actions []string
	must(t, func() error {
		return w.db.Select(&actions, `SELECT action FROM audit_log WHERE entity_id IN ($1, $2) AND action IN ('receivable.confirmed', 'repayment_account.change_consented', 'receivable.account_changed') ORDER BY id`,
			w.contractID, a.ID)
	})
	if !slices.Equal(actions, []string{"receivable.confirmed", "repayment_account.change_consented", "receivable.account_changed"}) {
		t.Fatalf("audit %v", actions)
	}
}

// TestWrittenOffAccountChange: a written-off loan keeps its lock locked
// until the bank consents to another account and the purchaser confirms
// it: then the lock is released.
func TestWrittenOffAccountChange(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.approved("300000.00")
	c := lending.Confirmation{ConfirmedAmount: money.MustAmount("300000.00"), RepaymentAccount: theAccount, PaymentTerms: terms}
	if _, _, err := w.lending.Confirm(ctx, sduScope, w.contractID, c, "sdu-user"); err != nil {
		t.Fatal(err)
	}
	w.disburse(a, "300000.00")
	must(t, func() error {
		return w.tx(func(tx *postgres.Tx) error {
			return w.lending.CloseOne(ctx, tx, "qilu-bank", a.ID, "LN-"+a.ID[:8], money.MustDate("2026-11-20"), "written_off", "bank:qilu-bank")
		})
	})
	must(t, func() error {
		return w.tx(func(tx *postgres.Tx) error {
			l, err := w.lending.LockLoan(ctx, tx, lending.LoanKey{BankID: "qilu-bank", ApplicationID: a.ID, BankLoanID: "LN-" + a.ID[:8]})
			if err != nil {
				return err
			}
			return w.lending.ConsentAccountChange(ctx, tx, l, newAccount, "bank:qilu-bank")
		})
	})
	moved := c
	moved.RepaymentAccount = newAccount
	if _, changed, err := w.lending.Confirm(ctx, sduScope, w.contractID, moved, "sdu-user"); err != nil || !changed {
		t.Fatalf("confirm the new account: %v %v", err, changed)
	}
	if st, no, _ := w.lockOf(a.ID); st != "released" || no != newAccount.AccountNo {
		t.Fatalf("lock %s %s, want released on the new account", st, no)
	}
}

// TestAccountChangeOnlyWhileInForce: a bank cannot consent to a new
// account for a loan whose lock is no longer in force (released when the
// loan was repaid and closed).
func TestAccountChangeOnlyWhileInForce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.approved("300000.00")
	w.disburse(a, "300000.00")
	must(t, func() error {
		return w.tx(func(tx *postgres.Tx) error {
			_, err := w.lending.RepayOne(ctx, tx, "qilu-bank", a.ID, "LN-"+a.ID[:8], lending.Repayment{BankRepaymentID: "R1",
				Principal: money.MustAmount("300000.00"), Interest: money.Zero, PaidOn: money.MustDate("2026-11-21")}, "bank:qilu-bank")
			return err
		})
	})
	if st, _, _ := w.lockOf(a.ID); st != "released" {
		t.Fatalf("lock %s, want released", st)
	}
	err := w.tx(func(tx *postgres.Tx) error {
		l, err := w.lending.LockLoan(ctx, tx, lending.LoanKey{BankID: "qilu-bank", ApplicationID: a.ID, BankLoanID: "LN-" + a.ID[:8]})
		if err != nil {
			return err
		}
		return w.lending.ConsentAccountChange(ctx, tx, l, newAccount, "bank:qilu-bank")
	})
	wantCode(t, err, errs.InvalidTransition)
	if _, _, waiting := w.lockOf(a.ID); waiting != "" {
		t.Fatalf("a new account %s waits on a released lock", waiting)
	}
}
