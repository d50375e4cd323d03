package banking

import (
	"context"

	"procfin/lending"
	"procfin/platform/postgres"
)

// accountChangeData is account.change_consented's (bank-protocol.md 1.1,
// "Closing, overdue and cure"): the bank consents to a new repayment
// account for a loan (补充协议), which waits for the purchaser's
// confirmation (lending.Service.ConsentAccountChange).
type accountChangeData struct {
	LoanID           string           `json:"loan_id"`
	RepaymentAccount *lending.Account `json:"repayment_account"`
}

func (d *accountChangeData) check(c *checker) {
	if !c.decode(d) {
		return
	}
	c.text("loan_id", d.LoanID)
	if d.RepaymentAccount == nil {
		c.bad("repayment_account", "required", "is required: bank_name, account_no and account_name")
		return
	}
	for _, f := range []struct{ name, v string }{{"bank_name", d.RepaymentAccount.BankName},
		{"account_no", d.RepaymentAccount.AccountNo}, {"account_name", d.RepaymentAccount.AccountName}} {
		if f.v == "" {
			c.bad("repayment_account."+f.name, "required", "is required")
			continue
		}
		c.words("repayment_account."+f.name, f.v, maxWords)
	}
}

func (d *accountChangeData) subject(Envelope) subject { return onLoan(d.LoanID) }

func (d *accountChangeData) apply(ctx context.Context, tx *postgres.Tx, e *applying) error {
	return e.ls.ConsentAccountChange(ctx, tx, e.locked, *d.RepaymentAccount, e.actor())
}
