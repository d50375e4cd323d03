package subsidies

import (
	"context"
	"fmt"

	"github.com/lib/pq"

	"procfin/platform/audit"
	"procfin/platform/postgres"
)

// ReleaseHeld moves the held claims of the applications applicationIDs,
// whose repayment accounts the purchaser has just confirmed, to pending:
// lending's OnConfirmed, in the confirmation's transaction. A held claim
// of a repayment paid while its loan was overdue (an overdue recorded
// since: OnOverdue's rule) is rejected with loan_overdue instead, and no
// longer counts against its supplier's year. Each change is audited.
// Claims made earlier in tx and not yet written are moved likewise.
//
// One statement locks the claims (in id order), moves them and takes the
// rejected ones' amounts off the suppliers' years, whose rows it locks in
// (supplier, year) order.
func (s *Service) ReleaseHeld(ctx context.Context, tx *postgres.Tx, applicationIDs []string) error {
	if len(applicationIDs) == 0 {
		return nil
	}
	pr := preparedIn(tx)
	for _, c := range pr.claims {
		if c.Status != Held {
			continue
		}
		for _, id := range applicationIDs {
			if c.ApplicationID == id {
				before := *c
				c.Status = Pending
				if err := releaseAudit(ctx, tx, before, *c, ""); err != nil {
					return err
				}
			}
		}
	}
	var rows []struct {
		Claim
		Since *string `db:"overdue_since"`
	}
	err := tx.SelectContext(ctx, &rows, `
		WITH locked AS (
			SELECT c.id, (SELECT min(o.since) FROM loan_overdues o WHERE o.loan_id = c.loan_id
				AND o.since <= c.paid_on AND (o.cured_on IS NULL OR c.paid_on < o.cured_on)) AS since
			FROM subsidy_claims c WHERE c.application_id = ANY($1::uuid[]) AND c.status = 'held'
			ORDER BY c.id FOR UPDATE OF c
		), moved AS (
			UPDATE subsidy_claims c SET updated_at = now(),
				status = CASE WHEN locked.since IS NULL THEN 'pending' ELSE 'rejected' END,
				rejection_reason = CASE WHEN locked.since IS NULL THEN '' ELSE $2 END,
				decided_at = CASE WHEN locked.since IS NULL THEN NULL ELSE now() END
			FROM locked WHERE c.id = locked.id
			RETURNING c.*, locked.since
		), years AS (
			SELECT y.supplier_uscc, y.year FROM subsidy_supplier_years y
			WHERE (y.supplier_uscc, y.year) IN (SELECT supplier_uscc, year FROM moved WHERE since IS NOT NULL)
			ORDER BY y.supplier_uscc, y.year FOR UPDATE
		), uncounted AS (
			UPDATE subsidy_supplier_years y SET claimed = y.claimed - r.amount
			FROM (SELECT supplier_uscc, year, sum(amount) AS amount FROM moved WHERE since IS NOT NULL GROUP BY supplier_uscc, year) r
			JOIN years USING (supplier_uscc, year)
			WHERE y.supplier_uscc = r.supplier_uscc AND y.year = r.year
		)
		SELECT `+claimColumns+`, since::text AS overdue_since FROM moved ORDER BY id`, pq.Array(applicationIDs), LoanOverdue)
	if err != nil {
		return postgres.Translate(err)
	}
	for _, r := range rows {
		after := r.Claim
		before := after
		before.Status, before.RejectionReason, before.DecidedAt, before.UpdatedAt = Held, "", nil, after.CreatedAt
		since := ""
		if r.Since != nil {
			since = *r.Since
			if y := pr.years[yearKey{after.SupplierUSCC, after.Year}]; y != nil {
				y.claimed = y.claimed.Sub(after.Amount) // the row's total now, as the statement left it
			}
		}
		if err := releaseAudit(ctx, tx, before, after, since); err != nil {
			return err
		}
	}
	return nil
}

// releaseAudit records a held claim released: pending, or rejected for a
// repayment paid while its loan was overdue since since.
func releaseAudit(ctx context.Context, tx *postgres.Tx, before, after Claim, since string) error {
	e := audit.Entry{Actor: "system:subsidies", Action: "subsidy_claim.pending", EntityType: "subsidy_claim",
		EntityID: after.ID, Before: before, After: after,
		Reason: "the purchaser confirmed the receivable (确权): the claim waits for an officer"}
	if after.Status == Rejected {
		e.Action = "subsidy_claim.rejected"
		e.Reason = fmt.Sprintf("%s: the purchaser confirmed the receivable, but the loan is overdue since %s, and the repayment was paid on %s",
			LoanOverdue, since, after.PaidOn)
	}
	return audit.Record(ctx, tx, e)
}
