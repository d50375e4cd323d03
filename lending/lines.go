package lending

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/lib/pq"

	"procfin/contracts"
	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// CreditLine is a bank's pre-approved, possibly revolving credit line for
// one supplier (提前授信, 循环使用).
type CreditLine struct {
	ID            string       `db:"id" json:"id"`
	Seq           int64        `db:"seq" json:"-"`
	BankID        string       `db:"bank_id" json:"bank_id"`
	BankLineID    string       `db:"bank_line_id" json:"bank_line_id"`
	SupplierUSCC  string       `db:"supplier_uscc" json:"supplier_uscc"`
	Limit         money.Amount `db:"limit_amount" json:"limit"`
	Used          money.Amount `db:"used" json:"used"`
	Available     money.Amount `db:"-" json:"available"`
	ValidFrom     money.Date   `db:"valid_from" json:"valid_from"`
	ValidUntil    money.Date   `db:"valid_until" json:"valid_until"`
	Revolving     bool         `db:"revolving" json:"revolving"`
	RateCeiling   *money.Rate  `db:"rate_ceiling" json:"annual_rate_ceiling"`
	Status        string       `db:"status" json:"status"`
	RevokedReason string       `db:"revoked_reason" json:"revoked_reason,omitempty"`
	CreatedAt     time.Time    `db:"created_at" json:"created_at"`
	UpdatedAt     time.Time    `db:"updated_at" json:"updated_at"`
}

func (l *CreditLine) derive() {
	l.Available = l.Limit.Sub(l.Used)
	if l.Available.IsNegative() || l.Status != "active" {
		l.Available = money.Zero
	}
}

// canDraw says whether amount may be drawn on the line for bankID today.
func (l *CreditLine) canDraw(bankID string, amount money.Amount, today money.Date) (bool, contracts.Reason) {
	switch {
	case l.BankID != bankID:
		return false, contracts.Because("line_other_bank", l.BankID, bankID)
	case l.Status != "active":
		return false, contracts.Because("line_revoked", l.RevokedReason)
	case today.Before(l.ValidFrom) || today.After(l.ValidUntil):
		return false, contracts.Because("line_not_valid", l.ValidFrom.String(), l.ValidUntil.String())
	case amount.GreaterThan(l.Available):
		return false, contracts.Because("line_short", amount.String(), l.Available.String(), l.Limit.String())
	}
	return true, contracts.Because("line_available", l.Available.String(), l.Limit.String())
}

// linesForUpdate locks the credit lines of ids that exist, in id order, and
// returns them keyed by id in its canonical form.
func linesForUpdate(ctx context.Context, tx *postgres.Tx, lineIDs []string) (map[string]*CreditLine, error) {
	lines := map[string]*CreditLine{}
	if len(lineIDs) == 0 {
		return lines, nil
	}
	valid := make([]string, 0, len(lineIDs))
	for _, id := range lineIDs {
		if u, ok := ids.Parse(id); ok {
			valid = append(valid, u.String())
		}
	}
	var list []CreditLine
	if err := tx.SelectContext(ctx, &list, `SELECT * FROM credit_lines WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, pq.Array(valid)); err != nil {
		return nil, postgres.Translate(err)
	}
	for i := range list {
		list[i].derive()
		lines[list[i].ID] = &list[i]
	}
	return lines, nil
}

// holdLines adds holds[id] to what each (locked) credit line has in use,
// in one round trip: a positive amount reserves, a negative one gives
// back. It is the one statement that moves a line's use. The check used
// <= limit is the last guard behind the lock: if it fails, nothing may be
// kept and the caller rolls back.
func holdLines(ctx context.Context, tx *postgres.Tx, holds map[string]money.Amount) error {
	if len(holds) == 0 {
		return nil
	}
	ids, amounts := make([]string, 0, len(holds)), make([]string, 0, len(holds))
	for id, a := range holds {
		ids, amounts = append(ids, id), append(amounts, a.String())
	}
	res, err := tx.ExecContext(ctx, `
		UPDATE credit_lines AS l SET used = l.used + v.amount, updated_at = now()
		FROM unnest($1::uuid[], $2::numeric[]) AS v(id, amount)
		WHERE l.id = v.id AND l.used + v.amount <= l.limit_amount`, pq.Array(ids), pq.Array(amounts))
	if err != nil {
		return postgres.Translate(err)
	}
	if n, _ := res.RowsAffected(); n != int64(len(ids)) {
		return errs.E(errs.Conflict, "a credit line's limit would be exceeded")
	}
	return nil
}

// Lines lists the credit lines in scope, newest first.
func (s *Service) Lines(ctx context.Context, sc Scope, before int64, limit int) ([]CreditLine, error) {
	list := []CreditLine{}
	if sc.purchaserScoped() {
		return list, nil
	}
	err := s.db.SelectContext(ctx, &list, `
		SELECT * FROM credit_lines
		WHERE ($1 = '' OR supplier_uscc = $1) AND ($2 = '' OR bank_id = $2) AND ($3 = 0 OR seq < $3)
		ORDER BY seq DESC LIMIT $4`, sc.SupplierUSCC, sc.BankID, before, limit)
	for i := range list {
		list[i].derive()
	}
	return list, postgres.Translate(err)
}

// Line returns one credit line in scope, or not_found.
func (s *Service) Line(ctx context.Context, sc Scope, id string) (CreditLine, error) {
	var l CreditLine
	canon, isID := ids.Canonical(id)
	if !isID || sc.purchaserScoped() {
		return l, errs.E(errs.NotFound, "no credit line %s", id)
	}
	id = canon
	err := s.db.GetContext(ctx, &l, `SELECT * FROM credit_lines WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && ((sc.SupplierUSCC != "" && l.SupplierUSCC != sc.SupplierUSCC) || (sc.BankID != "" && l.BankID != sc.BankID))) {
		return CreditLine{}, errs.E(errs.NotFound, "no credit line %s", id)
	}
	l.derive()
	return l, postgres.Translate(err)
}

// LineTerms are what a bank grants or changes (credit_line.granted and
// credit_line.changed events).
type LineTerms struct {
	BankLineID   string       `json:"credit_line_id"`
	SupplierUSCC string       `json:"supplier_uscc"`
	Limit        money.Amount `json:"limit"`
	ValidFrom    money.Date   `json:"valid_from"`
	ValidUntil   money.Date   `json:"valid_until"`
	Revolving    bool         `json:"revolving"`
	RateCeiling  *money.Rate  `json:"annual_rate_ceiling"`
}

func (t LineTerms) validate() []errs.FieldError {
	var fe []errs.FieldError
	if t.BankLineID == "" || len(t.BankLineID) > 200 {
		fe = append(fe, errs.Field("data.credit_line_id", errs.FieldRequired))
	}
	if t.SupplierUSCC == "" {
		fe = append(fe, errs.Field("data.supplier_uscc", errs.FieldRequired))
	}
	if t.Limit.IsNegative() {
		fe = append(fe, errs.Field("data.limit", errs.FieldNegative))
	}
	if t.ValidFrom.IsZero() || t.ValidUntil.IsZero() || t.ValidUntil.Before(t.ValidFrom) {
		fe = append(fe, errs.Field("data.valid_until", errs.FieldInvalid))
	}
	return fe
}

// SetLine grants (granted=true) or changes a bank's credit line, in the
// caller's transaction. A change that would put the line's use above its
// new limit is an invalid_transition; so is changing a line that does not
// exist, granting one that does to another supplier, or touching a revoked
// line.
func (s *Service) SetLine(ctx context.Context, tx *postgres.Tx, bankID string, t LineTerms, granted bool, actor string) (CreditLine, error) {
	if fe := t.validate(); len(fe) > 0 {
		return CreditLine{}, errs.InvalidFields(fe...)
	}
	var old CreditLine
	err := tx.GetContext(ctx, &old, `SELECT * FROM credit_lines WHERE bank_id = $1 AND bank_line_id = $2 FOR UPDATE`, bankID, t.BankLineID)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return CreditLine{}, postgres.Translate(err)
	}
	switch {
	case !exists && !granted:
		return CreditLine{}, errs.E(errs.NotFound, "no credit line %q of this bank", t.BankLineID)
	case exists && old.SupplierUSCC != t.SupplierUSCC:
		return CreditLine{}, errs.E(errs.InvalidTransition, "credit line %q belongs to another supplier", t.BankLineID)
	case exists && old.Status != "active":
		return CreditLine{}, errs.E(errs.InvalidTransition, "credit line %q was revoked", t.BankLineID)
	case exists && t.Limit.LessThan(old.Used):
		return CreditLine{}, errs.E(errs.InvalidTransition, "the new limit %s is below what is in use (%s)", t.Limit, old.Used)
	}
	var known bool
	if err := tx.GetContext(ctx, &known, `SELECT EXISTS (SELECT 1 FROM suppliers WHERE uscc = $1)`, t.SupplierUSCC); err != nil {
		return CreditLine{}, postgres.Translate(err)
	}
	if !known {
		return CreditLine{}, errs.E(errs.NotFound, "no supplier %s", t.SupplierUSCC)
	}
	var l CreditLine
	err = tx.GetContext(ctx, &l, `
		INSERT INTO credit_lines (bank_id, bank_line_id, supplier_uscc, limit_amount, valid_from, valid_until, revolving, rate_ceiling)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (bank_id, bank_line_id) DO UPDATE SET limit_amount = $4, valid_from = $5, valid_until = $6,
			revolving = $7, rate_ceiling = $8, updated_at = now()
		RETURNING *`, bankID, t.BankLineID, t.SupplierUSCC, t.Limit, t.ValidFrom, t.ValidUntil, t.Revolving, t.RateCeiling)
	if err != nil {
		return CreditLine{}, postgres.Translate(err)
	}
	l.derive()
	action := "credit_line.changed"
	var before any
	if exists {
		before = old
	} else {
		action = "credit_line.granted"
	}
	return l, audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: action, EntityType: "credit_line", EntityID: l.ID, Before: before, After: l})
}

// RevokeLine revokes a bank's credit line in the caller's transaction: no
// new draws; what is drawn stays drawn.
func (s *Service) RevokeLine(ctx context.Context, tx *postgres.Tx, bankID, bankLineID, reason, actor string) (CreditLine, error) {
	var old CreditLine
	err := tx.GetContext(ctx, &old, `SELECT * FROM credit_lines WHERE bank_id = $1 AND bank_line_id = $2 FOR UPDATE`, bankID, bankLineID)
	if errors.Is(err, sql.ErrNoRows) {
		return old, errs.E(errs.NotFound, "no credit line %q of this bank", bankLineID)
	}
	if err != nil {
		return old, postgres.Translate(err)
	}
	if old.Status == "revoked" {
		return old, errs.E(errs.InvalidTransition, "credit line %q was already revoked", bankLineID)
	}
	var l CreditLine
	err = tx.GetContext(ctx, &l, `UPDATE credit_lines SET status = 'revoked', revoked_reason = $2, updated_at = now() WHERE id = $1 RETURNING *`, old.ID, reason)
	if err != nil {
		return l, postgres.Translate(err)
	}
	l.derive()
	return l, audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "credit_line.revoked", EntityType: "credit_line", EntityID: l.ID, Before: old, After: l, Reason: reason})
}
