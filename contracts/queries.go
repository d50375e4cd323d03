package contracts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// AwardNotice is a stored award notice (its current version).
type AwardNotice struct {
	ID                string       `db:"id" json:"id"`
	Seq               int64        `db:"seq" json:"-"`
	IssuerID          string       `db:"issuer_id" json:"issuer_id"`
	NoticeNo          string       `db:"notice_no" json:"notice_no"`
	ProjectNo         string       `db:"project_no" json:"project_no"`
	ProjectName       string       `db:"project_name" json:"project_name"`
	Purchaser         Party        `db:"-" json:"purchaser"`
	PurchaserID       string       `db:"purchaser_id" json:"-"`
	PurchaserName     string       `db:"purchaser_name" json:"-"`
	Supplier          SupplierRef  `db:"-" json:"supplier"`
	SupplierUSCC      string       `db:"supplier_uscc" json:"-"`
	SupplierName      string       `db:"supplier_name" json:"-"`
	Amount            money.Amount `db:"amount" json:"amount"`
	Currency          string       `db:"currency" json:"currency"`
	AwardedOn         money.Date   `db:"awarded_on" json:"awarded_on"`
	ProcurementMethod string       `db:"procurement_method" json:"procurement_method"`
	Status            string       `db:"status" json:"status"`
	Version           int          `db:"version" json:"version"`
	Digest            string       `db:"digest" json:"-"`
	Source            string       `db:"source" json:"source"`
	CreatedAt         time.Time    `db:"created_at" json:"created_at"`
	UpdatedAt         time.Time    `db:"updated_at" json:"updated_at"`
}

func (n *AwardNotice) fill() {
	n.Purchaser = Party{ID: n.PurchaserID, Name: n.PurchaserName}
	n.Supplier = SupplierRef{USCC: n.SupplierUSCC, Name: n.SupplierName}
}

const selectAwardNotice = `
	SELECT n.*, p.name AS purchaser_name, s.name AS supplier_name
	FROM award_notices n
	JOIN purchasers p ON p.issuer_id = n.issuer_id AND p.id = n.purchaser_id
	JOIN suppliers s ON s.uscc = n.supplier_uscc`

func getAwardNotice(ctx context.Context, q sqlx.QueryerContext, id string) (AwardNotice, error) {
	var n AwardNotice
	err := sqlx.GetContext(ctx, q, &n, selectAwardNotice+` WHERE n.id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return n, errs.E(errs.NotFound, "no award notice %s", id)
	}
	n.fill()
	return n, postgres.Translate(err)
}

// AwardNotice returns the notice, or not_found (also when outside scope).
func (s *Service) AwardNotice(ctx context.Context, scope Scope, id string) (AwardNotice, error) {
	canon, isID := ids.Canonical(id)
	if !isID {
		return AwardNotice{}, errs.E(errs.NotFound, "no award notice %s", id)
	}
	id = canon
	n, err := getAwardNotice(ctx, s.db, id)
	if err == nil && !scope.allowsDocument(n.IssuerID, n.PurchaserID, n.SupplierUSCC) {
		return AwardNotice{}, errs.E(errs.NotFound, "no award notice %s", id)
	}
	return n, err
}

// AwardNotices lists notices in scope, newest first, after the cursor seq
// (0: from the newest), at most limit.
func (s *Service) AwardNotices(ctx context.Context, scope Scope, before int64, limit int) ([]AwardNotice, error) {
	list := []AwardNotice{}
	cond, args := scope.scopeSQL("n", 3)
	err := s.db.SelectContext(ctx, &list, selectAwardNotice+`
		WHERE ($1 = 0 OR n.seq < $1) AND `+cond+`
		ORDER BY n.seq DESC LIMIT $2`, append([]any{before, limit}, args...)...)
	for i := range list {
		list[i].fill()
	}
	return list, postgres.Translate(err)
}

// Contract is a stored contract (its current version) with its financing.
type Contract struct {
	ID            string          `db:"id" json:"id"`
	Seq           int64           `db:"seq" json:"-"`
	IssuerID      string          `db:"issuer_id" json:"issuer_id"`
	ContractNo    string          `db:"contract_no" json:"contract_no"`
	NoticeID      string          `db:"notice_id" json:"notice_id"`
	NoticeNo      string          `db:"notice_no" json:"notice_no"`
	Purchaser     Party           `db:"-" json:"purchaser"`
	PurchaserID   string          `db:"purchaser_id" json:"-"`
	PurchaserName string          `db:"purchaser_name" json:"-"`
	Supplier      SupplierRef     `db:"-" json:"supplier"`
	SupplierUSCC  string          `db:"supplier_uscc" json:"-"`
	SupplierName  string          `db:"supplier_name" json:"-"`
	Amount        money.Amount    `db:"amount" json:"amount"`
	Currency      string          `db:"currency" json:"currency"`
	Retention     money.Amount    `db:"retention" json:"retention"`
	SignedOn      money.Date      `db:"signed_on" json:"signed_on"`
	PeriodStart   money.Date      `db:"period_start" json:"-"`
	PeriodEnd     money.Date      `db:"period_end" json:"-"`
	Period        Period          `db:"-" json:"period"`
	PaymentTerms  json.RawMessage `db:"payment_terms" json:"payment_terms"`
	Status        string          `db:"status" json:"status"`
	Version       int             `db:"version" json:"version"`
	Digest        string          `db:"digest" json:"-"`
	Source        string          `db:"source" json:"source"`
	Financed      money.Amount    `db:"financed" json:"financed"`
	Financing     Financing       `db:"-" json:"financing"`
	CreatedAt     time.Time       `db:"created_at" json:"created_at"`
	UpdatedAt     time.Time       `db:"updated_at" json:"updated_at"`

	// AmendmentPending: a version that would break the financing waits for
	// an officer (amendments.go); PendingAmendments lists them (Contract
	// only).
	AmendmentPending  bool        `db:"amendment_pending" json:"amendment_pending_review"`
	PendingAmendments []Amendment `db:"-" json:"pending_amendments,omitempty"`
}

// Financing is how much of a contract may still be financed.
type Financing struct {
	Ratio       string       `json:"ratio"`
	Limit       money.Amount `json:"limit"`     // ratio × (amount − retention), to the 分
	Financed    money.Amount `json:"financed"`  // live applications' amounts
	Available   money.Amount `json:"available"` // limit − financed, never below zero
	Financeable bool         `json:"financeable"`
	Reason      string       `json:"reason,omitempty"` // why not, when not (Why in English)
	Why         Reason       `json:"-"`
}

const selectContract = `
	SELECT c.*, n.notice_no, p.name AS purchaser_name, s.name AS supplier_name
	FROM contracts c
	JOIN award_notices n ON n.id = c.notice_id
	JOIN purchasers p ON p.issuer_id = c.issuer_id AND p.id = c.purchaser_id
	JOIN suppliers s ON s.uscc = c.supplier_uscc`

func getContract(ctx context.Context, q sqlx.QueryerContext, id string) (Contract, error) {
	var c Contract
	err := sqlx.GetContext(ctx, q, &c, selectContract+` WHERE c.id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return c, errs.E(errs.NotFound, "no contract %s", id)
	}
	c.fillParties()
	return c, postgres.Translate(err)
}

func (c *Contract) fillParties() {
	c.Purchaser = Party{ID: c.PurchaserID, Name: c.PurchaserName}
	c.Supplier = SupplierRef{USCC: c.SupplierUSCC, Name: c.SupplierName}
	c.Period = Period{Start: c.PeriodStart, End: c.PeriodEnd}
}

// FinancingOf computes a contract's financing limit and what is left.
func (p Policy) FinancingOf(c Contract) Financing {
	limit := money.AmountFromDecimal(c.Amount.Sub(c.Retention).Decimal().Mul(p.FinancingRatio).RoundFloor(2))
	f := Financing{Ratio: p.FinancingRatio.String(), Limit: limit, Financed: c.Financed, Available: limit.Sub(c.Financed), Financeable: true}
	if f.Available.IsNegative() {
		f.Available = money.Zero
	}
	switch {
	case c.Currency != p.Currency:
		f.Financeable, f.Why = false, Because("currency_not_financed", c.Currency, p.Currency)
		f.Available = money.Zero
	case c.Status != StatusActive:
		f.Financeable, f.Why = false, Because("contract_status", c.Status)
		f.Available = money.Zero
	case !f.Available.IsPositive():
		f.Financeable, f.Why = false, Because("limit_reached")
	}
	if !f.Financeable {
		f.Reason = f.Why.String()
	}
	return f
}

// Contract returns the contract with its financing, or not_found (also
// when outside scope).
func (s *Service) Contract(ctx context.Context, scope Scope, id string) (Contract, error) {
	canon, isID := ids.Canonical(id)
	if !isID {
		return Contract{}, errs.E(errs.NotFound, "no contract %s", id)
	}
	id = canon
	c, err := getContract(ctx, s.db, id)
	if err != nil {
		return c, err
	}
	if !scope.allowsDocument(c.IssuerID, c.PurchaserID, c.SupplierUSCC) {
		return Contract{}, errs.E(errs.NotFound, "no contract %s", id)
	}
	c.Financing = s.policy.FinancingOf(c)
	if c.AmendmentPending && scope == All { // officers review them; a supplier sees the flag
		if c.PendingAmendments, err = s.PendingAmendments(ctx, s.db, c.ID); err != nil {
			return Contract{}, err
		}
	}
	return c, nil
}

// Contracts lists contracts in scope, newest first, as AwardNotices does.
func (s *Service) Contracts(ctx context.Context, scope Scope, before int64, limit int) ([]Contract, error) {
	list := []Contract{}
	cond, args := scope.scopeSQL("c", 3)
	err := s.db.SelectContext(ctx, &list, selectContract+`
		WHERE ($1 = 0 OR c.seq < $1) AND `+cond+`
		ORDER BY c.seq DESC LIMIT $2`, append([]any{before, limit}, args...)...)
	for i := range list {
		list[i].fillParties()
		list[i].Financing = s.policy.FinancingOf(list[i])
	}
	return list, postgres.Translate(err)
}

// ContractForUpdate returns the contract locked for the rest of tx, so that
// its financing can be changed safely; not_found when it does not exist or
// is outside scope.
func (s *Service) ContractForUpdate(ctx context.Context, tx *postgres.Tx, scope Scope, id string) (Contract, error) {
	canon, isID := ids.Canonical(id)
	if !isID {
		return Contract{}, errs.E(errs.NotFound, "no contract %s", id)
	}
	id = canon
	var c Contract
	err := tx.GetContext(ctx, &c, selectContract+` WHERE c.id = $1 FOR UPDATE OF c`, id)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !scope.allowsDocument(c.IssuerID, c.PurchaserID, c.SupplierUSCC)) {
		return Contract{}, errs.E(errs.NotFound, "no contract %s", id)
	}
	if err != nil {
		return Contract{}, postgres.Translate(err)
	}
	c.fillParties()
	c.Financing = s.policy.FinancingOf(c)
	return c, nil
}

// ContractsForUpdate locks the contracts of ids that exist, in id order (so
// that callers locking several never wait on each other in a cycle), and
// returns them, with the evidence verification reads besides (EvidenceOf),
// keyed by id in its canonical form, in one round trip. Ids that do not
// parse are skipped; the caller checks each contract's supplier.
func (s *Service) ContractsForUpdate(ctx context.Context, tx *postgres.Tx, contractIDs []string) (map[string]Contract, map[string]Evidence, error) {
	valid := make([]string, 0, len(contractIDs))
	for _, id := range contractIDs {
		if u, ok := ids.Parse(id); ok {
			valid = append(valid, u.String())
		}
	}
	var rows []struct {
		Contract
		evidenceRow
	}
	err := tx.SelectContext(ctx, &rows, `
		SELECT c.*, n.notice_no, p.name AS purchaser_name, s.name AS supplier_name, `+evidenceColumns+`
		FROM contracts c
		JOIN purchasers p ON p.issuer_id = c.issuer_id AND p.id = c.purchaser_id
		JOIN suppliers s ON s.uscc = c.supplier_uscc`+evidenceJoins+`
		WHERE c.id = ANY($1::uuid[]) ORDER BY c.id FOR UPDATE OF c`, pq.Array(valid))
	if err != nil {
		return nil, nil, postgres.Translate(err)
	}
	found, evidence := make(map[string]Contract, len(rows)), make(map[string]Evidence, len(rows))
	for _, row := range rows {
		c := row.Contract
		c.fillParties()
		c.Financing = s.policy.FinancingOf(c)
		found[c.ID], evidence[c.ID] = c, row.evidence()
	}
	return found, evidence, nil
}

// HoldFinancing adds to each contract's financing what holds[id] says
// (negative: given back), in one statement: the one path by which what
// live applications hold of a contract's financing moves. A contract whose
// hold grows must be in cs, locked with ContractsForUpdate, and taking
// more than its limit allows is a conflict, after which nothing of holds
// may be kept: the caller rolls back. Giving back needs no lock of its own
// (the update takes it) and no limit.
func (s *Service) HoldFinancing(ctx context.Context, tx *postgres.Tx, cs map[string]Contract, holds map[string]money.Amount) error {
	ids, deltas, limits := make([]string, 0, len(holds)), make([]string, 0, len(holds)), make([]string, 0, len(holds))
	for id, delta := range holds {
		if delta.IsZero() {
			continue
		}
		limit := "0" // giving back: no limit applies
		if delta.IsPositive() {
			c, ok := cs[id]
			if !ok {
				return errs.E(errs.Internal, "contract %s takes more financing without its row locked", id)
			}
			limit = s.policy.FinancingOf(c).Limit.String()
		}
		ids, deltas, limits = append(ids, id), append(deltas, delta.String()), append(limits, limit)
	}
	if len(ids) == 0 {
		return nil
	}
	res, err := tx.ExecContext(ctx, `
		UPDATE contracts AS c SET financed = c.financed + v.delta, updated_at = now()
		FROM unnest($1::uuid[], $2::numeric[], $3::numeric[]) AS v(id, delta, lim)
		WHERE c.id = v.id AND (v.delta <= 0 OR c.financed + v.delta <= v.lim)`,
		pq.Array(ids), pq.Array(deltas), pq.Array(limits))
	if err != nil {
		return postgres.Translate(err)
	}
	if n, _ := res.RowsAffected(); n != int64(len(ids)) {
		if len(ids) == 1 && limits[0] != "0" {
			return errs.E(errs.Conflict, "the contract's financing limit %s would be exceeded", limits[0])
		}
		return errs.E(errs.Conflict, "a contract's financing limit would be exceeded")
	}
	return nil
}

// ReleaseFinancing gives back amount of a contract's financing: a batch of
// one of HoldFinancing.
func (s *Service) ReleaseFinancing(ctx context.Context, tx *postgres.Tx, contractID string, amount money.Amount) error {
	if !amount.IsPositive() {
		return nil
	}
	return s.HoldFinancing(ctx, tx, nil, map[string]money.Amount{contractID: money.Zero.Sub(amount)})
}
