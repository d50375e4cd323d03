package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"procfin/lending"
	"procfin/platform/money"
)

// confirmReceivable has the purchaser confirm the receivable of the
// contract of application appID (lending.Service.Confirm): the sum its
// bank approved on the contract, into the approved account. The lock is
// confirmed and the held claims released.
func (e *env) confirmReceivable(appID string) {
	e.t.Helper()
	var a struct {
		ContractID  string       `db:"contract_id"`
		BankName    string       `db:"bank_name"`
		AccountNo   string       `db:"account_no"`
		AccountName string       `db:"account_name"`
		Approved    money.Amount `db:"approved"`
	}
	err := e.db.Get(&a, `
		SELECT ap.contract_id, ra.bank_name, ra.account_no, ra.account_name,
			(SELECT sum(x.approved_amount) FROM applications x WHERE x.contract_id = ap.contract_id AND x.bank_id = ap.bank_id
				AND x.status IN ('approved', 'disbursed', 'repaid')) AS approved
		FROM applications ap JOIN repayment_accounts ra ON ra.application_id = ap.id WHERE ap.id = $1`, appID)
	if err != nil {
		e.t.Fatal(err)
	}
	_, _, err = e.lending.Confirm(context.Background(), lending.Scope{}, a.ContractID, lending.Confirmation{ConfirmedAmount: a.Approved,
		RepaymentAccount: lending.Account{BankName: a.BankName, AccountNo: a.AccountNo, AccountName: a.AccountName},
		PaymentTerms:     json.RawMessage(`[]`)}, "user:purchaser")
	if err != nil {
		e.t.Fatalf("the purchaser's confirmation: %v", err)
	}
}

// TestHeldClaimPage: a claim of a loan disbursed before the purchaser's
// confirmation is listed under 待确权 and its page says it waits for the
// purchaser, without the approve button, in zh-CN and in English; once the
// purchaser confirms, it is pending with the button.
func TestHeldClaimPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sup := e.client()
	sup.login("quancheng")
	appID := e.loanConfirmed(sup, false) // R1 paid 862.50 of interest: a claim, held
	var claimID string
	if err := e.db.Get(&claimID, `SELECT id FROM subsidy_claims WHERE status = 'held'`); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	c.login("officer")
	list := c.get("/console/claims?status=held")
	wantStatus(t, list, http.StatusOK)
	wantContains(t, list, `href="/console/claims?status=held" aria-current="page">待确权</a>`, claimID[:8])
	p := c.get("/console/claims/" + claimID)
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, `data-status="held">待确权</span>`, `<p class="muted" id="held-note">待确权：等待采购人确认应收账款（确权）。`)
	if strings.Contains(p.body, `id="approve"`) {
		t.Fatal("a held claim's page offers to approve it")
	}
	c.get("/lang/en?next=%2F")
	wantContains(t, c.get("/console/claims/"+claimID), `data-status="held">held</span>`,
		`id="held-note">Held: waiting for the purchaser&#39;s confirmation of the receivable (确权).`)

	e.confirmReceivable(appID)
	p = c.get("/console/claims/" + claimID)
	wantContains(t, p, `data-status="pending">pending</span>`, `id="approve"`)
}
