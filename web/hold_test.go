package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"procfin/platform/postgres"
)

// confirmReceivable has the purchaser confirm the receivable of the
// contract of application appID: the approved sum into the approved
// account, as a confirmation does (the lock confirmed, the receivable
// confirmed, the held claims released).
func (e *env) confirmReceivable(appID string) {
	e.t.Helper()
	ctx := context.Background()
	err := postgres.Transact(ctx, e.db, func(tx *postgres.Tx) error {
		var a struct {
			BankID     string `db:"bank_id"`
			ContractID string `db:"contract_id"`
		}
		if err := tx.GetContext(ctx, &a, `SELECT bank_id, contract_id FROM applications WHERE id = $1`, appID); err != nil {
			return err
		}
		// Locked as every change to an application is (the read cache forgets it).
		if _, err := e.lending.BankApplication(ctx, tx, a.BankID, appID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			WITH apps AS (
				SELECT ap.id, ap.approved_amount FROM applications ap
				WHERE ap.contract_id = $1 AND ap.bank_id = $2 AND ap.approved_amount IS NOT NULL
			), r AS (
				UPDATE receivables SET status = 'confirmed', confirmed_by = 'user:purchaser', confirmed_at = now(), payment_terms = '[]',
					confirmed_amount = (SELECT sum(approved_amount) FROM apps),
					repayment_account = (SELECT json_build_object('bank_name', bank_name, 'account_no', account_no, 'account_name', account_name)
						FROM repayment_accounts WHERE application_id = $3)
				WHERE contract_id = $1
			)
			UPDATE repayment_accounts SET confirmed_at = coalesce(confirmed_at, now()),
				status = CASE WHEN status = 'proposed' THEN 'confirmed' ELSE status END
			WHERE application_id IN (SELECT id FROM apps)`, a.ContractID, a.BankID, appID); err != nil {
			return err
		}
		return e.subsidies.ReleaseHeld(ctx, tx, []string{appID})
	})
	if err != nil {
		e.t.Fatal(err)
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
