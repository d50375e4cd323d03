package subsidies

import (
	"context"
	"fmt"

	"github.com/lib/pq"

	"procfin/lending"
	"procfin/platform/audit"
	"procfin/platform/postgres"
)

// OnOverdue rejects, with the reason loan_overdue, the pending and held
// claims of the loans os names whose repayments were paid on or after the overdue's
// since (domain.md 1.1, "While overdue": a loan.overdue that arrives
// late): banking.Events.OnOverdue, once per batch of bank events. Each
// rejection is audited and no longer counts against its supplier's
// yearly total. Claims made earlier in tx and not yet written are
// rejected likewise.
//
// One statement locks the claims (in id order), rejects them and takes
// their amounts off the suppliers' years, whose rows it locks in
// (supplier, year) order.
func (s *Service) OnOverdue(ctx context.Context, tx *postgres.Tx, os []lending.OverdueResult) error {
	if len(os) == 0 {
		return nil
	}
	pr := preparedIn(tx)
	loans, since := make([]string, len(os)), make([]string, len(os))
	for i, o := range os {
		loans[i], since[i] = o.LoanID, o.Since.String()
		for _, c := range pr.claims {
			if c.LoanID != o.LoanID || (c.Status != Pending && c.Status != Held) || c.PaidOn.Before(o.Since) {
				continue
			}
			before := *c
			at := tx.Now()
			c.Status, c.RejectionReason, c.DecidedAt = Rejected, LoanOverdue, &at
			if y := pr.years[yearKey{c.SupplierUSCC, c.Year}]; y != nil {
				y.claimed, y.added = y.claimed.Sub(c.Amount), y.added.Sub(c.Amount)
			}
			if err := overdueAudit(ctx, tx, before, *c, o); err != nil {
				return err
			}
		}
	}
	var rows []struct {
		Claim
		Since string `db:"overdue_since"`
		Was   string `db:"was_status"`
	}
	err := tx.SelectContext(ctx, &rows, `
		WITH v AS (
			SELECT loan_id, min(since) AS since FROM unnest($1::uuid[], $2::date[]) AS v(loan_id, since) GROUP BY loan_id
		), locked AS (
			SELECT c.id, c.status AS was_status, v.since FROM subsidy_claims c JOIN v ON c.loan_id = v.loan_id
			WHERE c.status IN ('pending', 'held') AND c.paid_on >= v.since
			ORDER BY c.id FOR UPDATE OF c
		), rejected AS (
			UPDATE subsidy_claims c SET status = 'rejected', rejection_reason = $3, decided_at = now(), updated_at = now()
			FROM locked WHERE c.id = locked.id
			RETURNING c.*, locked.since, locked.was_status
		), years AS (
			SELECT y.supplier_uscc, y.year FROM subsidy_supplier_years y
			WHERE (y.supplier_uscc, y.year) IN (SELECT supplier_uscc, year FROM rejected)
			ORDER BY y.supplier_uscc, y.year FOR UPDATE
		), uncounted AS (
			UPDATE subsidy_supplier_years y SET claimed = y.claimed - r.amount
			FROM (SELECT supplier_uscc, year, sum(amount) AS amount FROM rejected GROUP BY supplier_uscc, year) r
			JOIN years USING (supplier_uscc, year)
			WHERE y.supplier_uscc = r.supplier_uscc AND y.year = r.year
		)
		SELECT `+claimColumns+`, since::text AS overdue_since, was_status FROM rejected ORDER BY id`, pq.Array(loans), pq.Array(since), LoanOverdue)
	if err != nil {
		return postgres.Translate(err)
	}
	for _, r := range rows {
		after := r.Claim
		before := after
		before.Status, before.RejectionReason, before.DecidedAt, before.UpdatedAt = r.Was, "", nil, after.CreatedAt
		if y := pr.years[yearKey{after.SupplierUSCC, after.Year}]; y != nil {
			y.claimed = y.claimed.Sub(after.Amount) // the row's total now, as the statement left it
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: "system:subsidies", Action: "subsidy_claim.rejected", EntityType: "subsidy_claim",
			EntityID: after.ID, Before: before, After: after,
			Reason: fmt.Sprintf("%s: the loan is overdue since %s, and the repayment was paid on %s", LoanOverdue, r.Since, after.PaidOn)}); err != nil {
			return err
		}
	}
	return nil
}

func overdueAudit(ctx context.Context, tx *postgres.Tx, before, after Claim, o lending.OverdueResult) error {
	return audit.Record(ctx, tx, audit.Entry{Actor: "system:subsidies", Action: "subsidy_claim.rejected", EntityType: "subsidy_claim",
		EntityID: after.ID, Before: before, After: after,
		Reason: fmt.Sprintf("%s: the loan is overdue since %s, and the repayment was paid on %s", LoanOverdue, o.Since, after.PaidOn)})
}
