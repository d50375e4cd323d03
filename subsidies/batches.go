package subsidies

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// Batch is a payment batch of approved claims. While open it can be
// closed; closing marks its claims paid. A closed batch changes no more.
type Batch struct {
	ID        string       `db:"id" json:"id"`
	Seq       int64        `db:"seq" json:"-"`
	Status    string       `db:"status" json:"status"` // open, closed
	Claims    int          `db:"claims" json:"claims"`
	Total     money.Amount `db:"total" json:"total"`
	CreatedBy string       `db:"created_by" json:"created_by"`
	CreatedAt time.Time    `db:"created_at" json:"created_at"`
	ClosedBy  string       `db:"closed_by" json:"closed_by,omitempty"`
	ClosedAt  *time.Time   `db:"closed_at" json:"closed_at"`
}

const batchColumns = `id, seq, status, claims, total, created_by, created_at, closed_by, closed_at`

// CreateBatch gathers every approved claim not yet in a batch into a new,
// open batch. Returns conflict when there is none to gather.
func (s *Service) CreateBatch(ctx context.Context, actor string) (Batch, error) {
	var b Batch
	err := postgres.Transact(ctx, s.db, func(tx *postgres.Tx) error {
		if err := tx.GetContext(ctx, &b, `INSERT INTO subsidy_batches (created_by) VALUES ($1) RETURNING `+batchColumns, actor); err != nil {
			return postgres.Translate(err)
		}
		// A concurrent batch that took a claim first makes this one skip it
		// (the row lock, then batch_id IS NULL re-checked).
		var amounts []money.Amount
		if err := tx.SelectContext(ctx, &amounts, `
			UPDATE subsidy_claims SET batch_id = $1, updated_at = now()
			WHERE status = 'approved' AND batch_id IS NULL RETURNING amount`, b.ID); err != nil {
			return postgres.Translate(err)
		}
		if len(amounts) == 0 {
			return errs.E(errs.Conflict, "there are no approved claims outside a batch to pay")
		}
		total := money.Zero
		for _, a := range amounts {
			total = total.Add(a)
		}
		if err := tx.GetContext(ctx, &b, `UPDATE subsidy_batches SET claims = $2, total = $3 WHERE id = $1 RETURNING `+batchColumns,
			b.ID, len(amounts), total); err != nil {
			return postgres.Translate(err)
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "subsidy_batch.created", EntityType: "subsidy_batch",
			EntityID: b.ID, After: b, Reason: fmt.Sprintf("%d approved claims, %s in all", b.Claims, b.Total)})
	})
	if err != nil {
		return Batch{}, err
	}
	return b, nil
}

func batchForUpdate(ctx context.Context, tx *postgres.Tx, id string) (Batch, error) {
	var b Batch
	canon, isID := ids.Canonical(id)
	if !isID {
		return b, errs.E(errs.NotFound, "no subsidy batch %s", id)
	}
	id = canon
	err := tx.GetContext(ctx, &b, `SELECT `+batchColumns+` FROM subsidy_batches WHERE id = $1 FOR UPDATE`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return b, errs.E(errs.NotFound, "no subsidy batch %s", id)
	}
	return b, postgres.Translate(err)
}

// CloseBatch closes an open batch for payment: its claims become paid.
// Returns not_found, or conflict when the batch is closed already.
func (s *Service) CloseBatch(ctx context.Context, id, actor string) (Batch, error) {
	var b Batch
	err := postgres.Transact(ctx, s.db, func(tx *postgres.Tx) error {
		var err error
		if b, err = batchForUpdate(ctx, tx, id); err != nil {
			return err
		}
		if b.Status != "open" {
			return errs.E(errs.Conflict, "batch %s was closed at %s: a closed batch does not change", b.ID, b.ClosedAt.UTC().Format(time.RFC3339))
		}
		before := b
		// Each claim keeps the settlement account it is paid into.
		if _, err := tx.ExecContext(ctx, `
			UPDATE subsidy_claims c SET status = 'paid', updated_at = now(),
				settlement_account = (SELECT s.settlement_account FROM suppliers s WHERE s.uscc = c.supplier_uscc)
			WHERE c.batch_id = $1`, b.ID); err != nil {
			return postgres.Translate(err)
		}
		if err := tx.GetContext(ctx, &b, `
			UPDATE subsidy_batches SET status = 'closed', closed_by = $2, closed_at = now()
			WHERE id = $1 RETURNING `+batchColumns, b.ID, actor); err != nil {
			return postgres.Translate(err)
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "subsidy_batch.closed", EntityType: "subsidy_batch",
			EntityID: b.ID, Before: before, After: b, Reason: fmt.Sprintf("%d claims, %s, for payment", b.Claims, b.Total)})
	})
	if err != nil {
		return Batch{}, err
	}
	return b, nil
}

// Batches lists batches, newest first, before seq `before` (0: the newest).
func (s *Service) Batches(ctx context.Context, before int64, limit int) ([]Batch, error) {
	list := []Batch{}
	err := s.db.SelectContext(ctx, &list, `SELECT `+batchColumns+` FROM subsidy_batches
		WHERE ($1 = 0 OR seq < $1) ORDER BY seq DESC LIMIT $2`, before, limit)
	return list, postgres.Translate(err)
}

// Line is one claim of a batch, as exported for payment: what a treasury
// needs to pay it. The settlement account is the one the claim was paid
// into once its batch is closed, else the supplier's now; its fields are
// empty when the supplier has none registered (SettlementMissing).
type Line struct {
	ClaimID               string       `db:"id"`
	SupplierUSCC          string       `db:"supplier_uscc"`
	SupplierName          string       `db:"supplier_name"`
	SettlementBankName    string       `db:"settlement_bank_name"`
	SettlementAccountNo   string       `db:"settlement_account_no"`
	SettlementAccountName string       `db:"settlement_account_name"`
	SettlementMissing     bool         `db:"settlement_missing"`
	BankID                string       `db:"bank_id"`
	BankName              string       `db:"bank_name"`
	ApplicationID         string       `db:"application_id"`
	PaidOn                money.Date   `db:"paid_on"`
	InterestPaid          money.Amount `db:"interest_paid"`
	PolicyVersion         int          `db:"policy_version"`
	Amount                money.Amount `db:"amount"`
}

// BatchLines returns a batch and its claims, in a stable order. Returns
// not_found.
func (s *Service) BatchLines(ctx context.Context, id string) (Batch, []Line, error) {
	var b Batch
	lines := []Line{}
	canon, isID := ids.Canonical(id)
	if !isID {
		return b, nil, errs.E(errs.NotFound, "no subsidy batch %s", id)
	}
	id = canon
	// One snapshot, so the lines and the batch total agree.
	err := postgres.Transact(ctx, s.db, func(tx *postgres.Tx) error {
		if _, err := tx.ExecContext(ctx, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY`); err != nil {
			return postgres.Translate(err)
		}
		err := tx.GetContext(ctx, &b, `SELECT `+batchColumns+` FROM subsidy_batches WHERE id = $1`, id)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(errs.NotFound, "no subsidy batch %s", id)
		}
		if err != nil {
			return postgres.Translate(err)
		}
		return postgres.Translate(tx.SelectContext(ctx, &lines, `
			SELECT c.id, c.supplier_uscc, coalesce(s.name, '') AS supplier_name,
				coalesce(acct ->> 'bank_name', '') AS settlement_bank_name,
				coalesce(acct ->> 'account_no', '') AS settlement_account_no,
				coalesce(acct ->> 'account_name', '') AS settlement_account_name,
				acct IS NULL AS settlement_missing,
				c.bank_id, coalesce(b.name, '') AS bank_name, c.application_id,
				c.paid_on, c.interest_paid, c.policy_version, c.amount
			FROM subsidy_claims c
			LEFT JOIN suppliers s ON s.uscc = c.supplier_uscc
			LEFT JOIN banks b ON b.id = c.bank_id
			CROSS JOIN LATERAL (SELECT CASE WHEN c.status = 'paid' THEN c.settlement_account::jsonb
				ELSE s.settlement_account::jsonb END AS acct) a
			WHERE c.batch_id = $1 ORDER BY c.seq`, id))
	})
	return b, lines, err
}
