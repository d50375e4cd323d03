package contracts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/platform/money"
	"procfin/platform/postgres"
	"procfin/platform/text"
)

// Amendments (domain.md 1.1, "Closing and contract amendments"): a new
// version of a financed contract that lowers its financing limit below
// what is financed, changes its supplier or purchaser, or cancels or
// terminates it, is kept as a version but does not replace the one the
// financing stands on. The contract is flagged (amendment_pending) and
// fails CheckNoPendingAmendment until an officer resolves the version:
// adopt (it becomes current, refused while it would still break the
// financing) or keep (the current version stays, and why is recorded).
// The decision is taken under the contract's row lock, the lock under
// which applications change what is financed.

// Why a version is held for review.
const (
	AmendLimitBelowFinanced = "limit_below_financed"
	AmendSupplierChanged    = "supplier_changed"
	AmendPurchaserChanged   = "purchaser_changed"
	AmendCancelled          = StatusCancelled
	AmendTerminated         = StatusTerminated
)

// Amendment decisions and statuses.
const (
	AmendmentPending = "pending"
	AmendmentAdopt   = "adopt"
	AmendmentKeep    = "keep"
	AmendmentAdopted = "adopted"
	AmendmentKept    = "kept"
)

// Amendment is a version of a financed contract held for an officer.
type Amendment struct {
	ContractID string          `db:"contract_id" json:"contract_id"`
	Version    int             `db:"version" json:"version"`
	Reasons    pq.StringArray  `db:"reasons" json:"reasons"`
	NewLimit   money.Amount    `db:"new_limit" json:"financing_limit"` // the version's financing limit
	Financed   money.Amount    `db:"financed" json:"financed"`         // when it arrived
	Status     string          `db:"status" json:"status"`
	Reason     string          `db:"reason" json:"reason,omitempty"`
	DecidedBy  string          `db:"decided_by" json:"decided_by,omitempty"`
	DecidedAt  *time.Time      `db:"decided_at" json:"decided_at,omitempty"`
	CreatedAt  time.Time       `db:"created_at" json:"received_at"`
	Document   json.RawMessage `db:"body" json:"document"` // the version as the issuer sent it
}

// amendmentReasons says why next, a new version of cur, may not replace
// it: empty when nothing is financed or the version keeps the financing
// whole.
func (p Policy) amendmentReasons(cur, next Contract) []string {
	if !cur.Financed.IsPositive() {
		return nil
	}
	var why []string
	next.Financed = cur.Financed
	if p.FinancingOf(next).Limit.LessThan(cur.Financed) {
		why = append(why, AmendLimitBelowFinanced)
	}
	if next.SupplierUSCC != cur.SupplierUSCC {
		why = append(why, AmendSupplierChanged)
	}
	if next.PurchaserID != cur.PurchaserID {
		why = append(why, AmendPurchaserChanged)
	}
	if next.Status != cur.Status && (next.Status == StatusCancelled || next.Status == StatusTerminated) {
		why = append(why, next.Status)
	}
	return why
}

// explainAmendment says in words what reasons mean for next against cur.
func (p Policy) explainAmendment(cur, next Contract, reasons []string) string {
	var parts []string
	for _, r := range reasons {
		switch r {
		case AmendLimitBelowFinanced:
			next.Financed = cur.Financed
			parts = append(parts, fmt.Sprintf("its financing limit %s is below the %s financed", p.FinancingOf(next).Limit, cur.Financed))
		case AmendSupplierChanged:
			parts = append(parts, fmt.Sprintf("it changes the supplier from %s to %s", cur.SupplierUSCC, next.SupplierUSCC))
		case AmendPurchaserChanged:
			parts = append(parts, fmt.Sprintf("it changes the purchaser from %s to %s", cur.PurchaserID, next.PurchaserID))
		default:
			parts = append(parts, "it is "+r)
		}
	}
	return strings.Join(parts, "; ")
}

// contractOfDoc is the contract doc would make of cur, for comparing.
func contractOfDoc(cur Contract, doc ContractDoc) Contract {
	next := cur
	next.PurchaserID, next.SupplierUSCC = doc.Purchaser.ID, strings.ToUpper(doc.Supplier.USCC)
	next.Amount, next.Currency, next.Status = doc.Amount, doc.Currency, doc.Status
	next.Retention = doc.Amount.Sub(doc.Amount)
	if doc.Retention != nil {
		next.Retention = *doc.Retention
	}
	return next
}

// holdAmendment records version of the locked contract cur as an
// amendment waiting for review, and flags the contract.
func (s *Service) holdAmendment(ctx context.Context, tx *postgres.Tx, cur, next Contract, version int, reasons []string, actor string) error {
	next.Financed = cur.Financed
	_, err := tx.ExecContext(ctx, `
		WITH a AS (
			INSERT INTO contract_amendments (contract_id, version, reasons, new_limit, financed)
			VALUES ($1, $2, $3, $4, $5)
		)
		UPDATE contracts SET amendment_pending = true, updated_at = now() WHERE id = $1`,
		cur.ID, version, pq.StringArray(reasons), s.policy.FinancingOf(next).Limit, cur.Financed)
	if err != nil {
		return postgres.Translate(err)
	}
	after := cur
	after.AmendmentPending = true
	return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "contract.amendment_flagged", EntityType: "contract",
		EntityID: cur.ID, Before: cur, After: after,
		Reason: fmt.Sprintf("version %d was not made current: %s", version, s.policy.explainAmendment(cur, next, reasons))})
}

const selectAmendment = `
	SELECT a.contract_id, a.version, a.reasons, a.new_limit, a.financed, a.status, a.reason,
		a.decided_by, a.decided_at, a.created_at, d.body
	FROM contract_amendments a
	JOIN document_versions d ON d.kind = 'contract' AND d.document_id = a.contract_id AND d.version = a.version`

// PendingAmendments lists the contract's versions waiting for review,
// oldest first.
func (s *Service) PendingAmendments(ctx context.Context, q sqlx.QueryerContext, contractID string) ([]Amendment, error) {
	list := []Amendment{}
	err := sqlx.SelectContext(ctx, q, &list, selectAmendment+`
		WHERE a.contract_id = $1 AND a.status = 'pending' ORDER BY a.version`, contractID)
	return list, postgres.Translate(err)
}

// ContractsPendingReview lists the contracts in scope flagged
// amendment_pending, newest first, after the cursor seq (0: from the
// newest), at most limit; for officers (scope All) each with its pending
// amendments.
func (s *Service) ContractsPendingReview(ctx context.Context, scope Scope, before int64, limit int) ([]Contract, error) {
	list := []Contract{}
	cond, args := scope.scopeSQL("c", 3)
	err := s.db.SelectContext(ctx, &list, selectContract+`
		WHERE c.amendment_pending AND ($1 = 0 OR c.seq < $1) AND `+cond+`
		ORDER BY c.seq DESC LIMIT $2`, append([]any{before, limit}, args...)...)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	ids := make([]string, len(list))
	for i := range list {
		list[i].fillParties()
		list[i].Financing = s.policy.FinancingOf(list[i])
		ids[i] = list[i].ID
	}
	if scope != All || len(list) == 0 {
		return list, nil
	}
	var pending []Amendment
	err = s.db.SelectContext(ctx, &pending, selectAmendment+`
		WHERE a.contract_id = ANY($1::uuid[]) AND a.status = 'pending' ORDER BY a.version`, pq.Array(ids))
	if err != nil {
		return nil, postgres.Translate(err)
	}
	byContract := make(map[string][]Amendment, len(list))
	for _, a := range pending {
		byContract[a.ContractID] = append(byContract[a.ContractID], a)
	}
	for i := range list {
		list[i].PendingAmendments = byContract[list[i].ID]
	}
	return list, nil
}

// Resolution is an officer's decision on an amendment.
type Resolution struct {
	Decision string `json:"decision"` // adopt or keep
	Reason   string `json:"reason"`
}

// Check names every bad field of a resolution, as ResolveAmendment.
func (r *Resolution) Check() []errs.FieldError { return r.validate() }

func (r *Resolution) validate() []errs.FieldError {
	var fe []errs.FieldError
	if r.Decision != AmendmentAdopt && r.Decision != AmendmentKeep {
		fe = append(fe, errs.Field("decision", errs.FieldOneOf, "adopt, keep"))
	}
	r.Reason = strings.TrimSpace(text.Clean(r.Reason, 4000))
	switch {
	case r.Reason == "":
		fe = append(fe, errs.Field("reason", errs.FieldRequired))
	case len(r.Reason) > 2000:
		fe = append(fe, errs.Field("reason", errs.FieldTooLong, 2000))
	}
	return fe
}

// ResolveAmendment decides on version of the contract: adopt makes it the
// current version (a conflict while it would still break the financing:
// its limit below what is financed, another supplier or purchaser, or
// cancelled or terminated while financed), keep leaves the current one.
// Either way the reason is recorded in the audit trail, and the flag stays
// only while other versions wait. Returns the contract as it is after;
// invalid for a bad decision or no reason, not_found for no such pending
// or decided amendment, conflict for one already decided.
func (s *Service) ResolveAmendment(ctx context.Context, contractID string, version int, res Resolution, actor string) (Contract, error) {
	if fe := res.validate(); len(fe) > 0 {
		return Contract{}, errs.InvalidFields(fe...)
	}
	contractID, ok := ids.Canonical(contractID)
	if !ok {
		return Contract{}, errs.E(errs.NotFound, "no such contract")
	}
	err := postgres.Transact(postgres.WithClock(ctx, s.now), s.db, func(tx *postgres.Tx) error {
		cur, err := s.ContractForUpdate(ctx, tx, All, contractID)
		if err != nil {
			return err
		}
		var a Amendment
		err = tx.GetContext(ctx, &a, selectAmendment+` WHERE a.contract_id = $1 AND a.version = $2 FOR UPDATE OF a`, cur.ID, version)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(errs.NotFound, "contract %s has no amendment version %d", cur.ID, version)
		}
		if err != nil {
			return postgres.Translate(err)
		}
		if a.Status != AmendmentPending {
			return errs.E(errs.Conflict, "version %d of the contract was already %s by %s", version, a.Status, a.DecidedBy)
		}
		before := amendmentState{Contract: cur, Amendment: a}
		status, action := AmendmentKept, "contract.amendment_kept"
		if res.Decision == AmendmentAdopt {
			status, action = AmendmentAdopted, "contract.amendment_adopted"
			if err := s.adopt(ctx, tx, cur, a); err != nil {
				return err
			}
		}
		err = tx.GetContext(ctx, &a, `
			WITH a AS (
				UPDATE contract_amendments SET status = $3, reason = $4, decided_by = $5, decided_at = now()
				WHERE contract_id = $1 AND version = $2
				RETURNING contract_id, version, reasons, new_limit, financed, status, reason, decided_by, decided_at, created_at
			), c AS (
				UPDATE contracts SET updated_at = now(), amendment_pending = EXISTS (
					SELECT 1 FROM contract_amendments o WHERE o.contract_id = $1 AND o.version <> $2 AND o.status = 'pending')
				WHERE id = $1
			)
			SELECT a.*, $6::jsonb AS body FROM a`, cur.ID, version, status, res.Reason, actor, string(a.Document))
		if err != nil {
			return postgres.Translate(err)
		}
		after, err := getContract(ctx, tx, cur.ID)
		if err != nil {
			return err
		}
		after.Financing = s.policy.FinancingOf(after)
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: action, EntityType: "contract", EntityID: cur.ID,
			Before: before, After: amendmentState{Contract: after, Amendment: a}, Reason: res.Reason})
	})
	if err != nil {
		return Contract{}, err
	}
	return s.Contract(ctx, All, contractID)
}

type amendmentState struct {
	Contract  Contract  `json:"contract"`
	Amendment Amendment `json:"amendment"`
}

// adopt makes amendment a the current version of the locked contract cur,
// unless it would still break the financing.
func (s *Service) adopt(ctx context.Context, tx *postgres.Tx, cur Contract, a Amendment) error {
	var doc ContractDoc
	if err := json.Unmarshal(a.Document, &doc); err != nil {
		return fmt.Errorf("contracts: version %d of %s: %w", a.Version, cur.ID, err)
	}
	next := contractOfDoc(cur, doc)
	if why := s.policy.amendmentReasons(cur, next); len(why) > 0 {
		return errs.E(errs.Conflict, "version %d cannot be adopted while it would break the contract's financing: %s; "+
			"release the financing first (the applications on it cancelled, rejected or closed) or keep the current version",
			a.Version, s.policy.explainAmendment(cur, next, why))
	}
	var v struct {
		NoticeID string `db:"notice_id"`
		Digest   string `db:"digest"`
		Source   string `db:"source"`
	}
	err := tx.GetContext(ctx, &v, `
		SELECT n.id AS notice_id, d.digest, d.source
		FROM document_versions d, award_notices n
		WHERE d.kind = 'contract' AND d.document_id = $1 AND d.version = $2 AND n.issuer_id = $3 AND n.notice_no = $4`,
		cur.ID, a.Version, cur.IssuerID, doc.NoticeNo)
	if err != nil {
		return postgres.Translate(err)
	}
	terms, _ := json.Marshal(doc.PaymentTerms)
	if doc.PaymentTerms == nil {
		terms = []byte("[]")
	}
	_, err = tx.ExecContext(ctx, `
		UPDATE contracts SET notice_id = $2, purchaser_id = $3, supplier_uscc = $4, amount = $5,
			currency = $6, retention = $7, signed_on = $8, period_start = $9, period_end = $10,
			payment_terms = $11, status = $12, version = $13, digest = $14, source = $15, updated_at = now()
		WHERE id = $1`,
		cur.ID, v.NoticeID, next.PurchaserID, next.SupplierUSCC, next.Amount, next.Currency, next.Retention,
		doc.SignedOn, doc.Period.Start, doc.Period.End, string(terms), next.Status, a.Version, v.Digest, v.Source)
	return postgres.Translate(err)
}
