package banking_test

import (
	"encoding/json"
	"testing"

	"procfin/lending"
	"procfin/platform/money"
)

// confirmReceivable has the purchaser confirm the receivable of the
// contract of application appID (lending.Service.Confirm): the sum its
// bank approved on the contract, into the approved account.
func (w *world) confirmReceivable(t *testing.T, appID string) {
	t.Helper()
	var a struct {
		ContractID  string       `db:"contract_id"`
		BankName    string       `db:"bank_name"`
		AccountNo   string       `db:"account_no"`
		AccountName string       `db:"account_name"`
		Approved    money.Amount `db:"approved"`
	}
	err := w.db.Get(&a, `
		SELECT ap.contract_id, ra.bank_name, ra.account_no, ra.account_name,
			(SELECT sum(x.approved_amount) FROM applications x WHERE x.contract_id = ap.contract_id AND x.bank_id = ap.bank_id
				AND x.status IN ('approved', 'disbursed', 'repaid')) AS approved
		FROM applications ap JOIN repayment_accounts ra ON ra.application_id = ap.id WHERE ap.id = $1`, appID)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = w.lending.Confirm(ctx, lending.Scope{}, a.ContractID, lending.Confirmation{ConfirmedAmount: a.Approved,
		RepaymentAccount: lending.Account{BankName: a.BankName, AccountNo: a.AccountNo, AccountName: a.AccountName},
		PaymentTerms:     json.RawMessage(`[]`)}, "user:purchaser")
	if err != nil {
		t.Fatalf("the purchaser's confirmation: %v", err)
	}
}
