package banking_test

import (
	"testing"

	"procfin/platform/postgres"
)

// confirmReceivable has the purchaser confirm the receivable of the
// contract of application appID, as a confirmation sets it: the approved
// sum into the approved account; the locks of the contract's approved
// applications confirmed.
func (w *world) confirmReceivable(t *testing.T, appID string) {
	t.Helper()
	err := postgres.Transact(ctx, w.db, func(tx *postgres.Tx) error {
		var a struct {
			BankID     string `db:"bank_id"`
			ContractID string `db:"contract_id"`
		}
		if err := tx.GetContext(ctx, &a, `SELECT bank_id, contract_id FROM applications WHERE id = $1`, appID); err != nil {
			return err
		}
		if _, err := w.lending.BankApplication(ctx, tx, a.BankID, appID); err != nil { // as every change to it, for the read cache
			return err
		}
		_, err := tx.ExecContext(ctx, `
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
			WHERE application_id IN (SELECT id FROM apps)`, a.ContractID, a.BankID, appID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
