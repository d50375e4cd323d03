package contracts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/postgres"
	"procfin/platform/text"
)

// Source says how a document reached procfin.
type Source struct {
	Kind      string // "signed" (a verified Procfin-Signature) or "ocds_import"
	KeyID     string // the signing key, for signed documents
	MessageID string // the message's jti, or the import file and ocid
	Actor     string // for the audit trail: "issuer:<id>" or the importing user
}

// Outcome says what a submission did.
type Outcome string

const (
	Created    Outcome = "created"     // a new document
	Unchanged  Outcome = "unchanged"   // the same document again: nothing changed
	NewVersion Outcome = "new_version" // a changed document with the same number
	// AmendmentHeld: a new version of a financed contract kept, but not
	// made current, until an officer resolves it (amendments.go).
	AmendmentHeld Outcome = "amendment_pending_review"
)

var (
	validCurrency    = regexp.MustCompile(`^[A-Z]{3}$`)
	documentStatuses = []string{StatusActive, StatusCancelled, StatusTerminated, StatusCompleted}
)

func requireText(fe []errs.FieldError, field, v string, max int) []errs.FieldError {
	switch {
	case strings.TrimSpace(v) == "":
		return append(fe, errs.Field(field, errs.FieldRequired))
	case len(v) > max:
		return append(fe, errs.Field(field, errs.FieldTooLong, max))
	case !text.Valid(v):
		// What an issuer sends is stored and shown to others: text only.
		return append(fe, errs.Field(field, errs.FieldInvalidText))
	}
	return fe
}

func checkStatus(fe []errs.FieldError, v string) []errs.FieldError {
	for _, s := range documentStatuses {
		if v == s {
			return fe
		}
	}
	return append(fe, errs.Field("status", errs.FieldOneOf, "active, cancelled, terminated, completed"))
}

// optionalText checks a text an issuer may leave out (blank counts as
// left out): when given, it is bounded and text only, like requireText's.
func optionalText(fe []errs.FieldError, field, v string, max int) []errs.FieldError {
	if strings.TrimSpace(v) == "" {
		return fe
	}
	return requireText(fe, field, v, max)
}

// parties checks the names beside the purchaser's and supplier's ids.
func parties(fe []errs.FieldError, p Party, sup SupplierRef) []errs.FieldError {
	fe = optionalText(fe, "purchaser.name", p.Name, 500)
	return optionalText(fe, "supplier.name", sup.Name, 500)
}

// Check names every bad field of an award notice, as SubmitAwardNotice.
func (d *AwardNoticeDoc) Check() []errs.FieldError { return d.validate() }

func (d *AwardNoticeDoc) validate() []errs.FieldError {
	var fe []errs.FieldError
	fe = requireText(fe, "notice_no", d.NoticeNo, 200)
	fe = requireText(fe, "project_no", d.ProjectNo, 200)
	fe = requireText(fe, "project_name", d.ProjectName, 500)
	fe = requireText(fe, "purchaser.id", d.Purchaser.ID, 200)
	fe = requireText(fe, "supplier.uscc", d.Supplier.USCC, 18)
	fe = requireText(fe, "procurement_method", d.ProcurementMethod, 100)
	fe = parties(fe, d.Purchaser, d.Supplier)
	if !d.Amount.IsPositive() {
		fe = append(fe, errs.Field("amount", errs.FieldNotPositive))
	}
	if d.Currency == "" {
		d.Currency = "CNY"
	}
	if !validCurrency.MatchString(d.Currency) {
		fe = append(fe, errs.Field("currency", errs.FieldInvalid))
	}
	if d.AwardedOn.IsZero() {
		fe = append(fe, errs.Field("awarded_on", errs.FieldRequired))
	}
	return checkStatus(fe, d.Status)
}

// Check names every bad field of a contract, as SubmitContract.
func (d *ContractDoc) Check() []errs.FieldError { return d.validate() }

func (d *ContractDoc) validate() []errs.FieldError {
	var fe []errs.FieldError
	fe = requireText(fe, "contract_no", d.ContractNo, 200)
	fe = requireText(fe, "notice_no", d.NoticeNo, 200)
	fe = requireText(fe, "purchaser.id", d.Purchaser.ID, 200)
	fe = requireText(fe, "supplier.uscc", d.Supplier.USCC, 18)
	fe = parties(fe, d.Purchaser, d.Supplier)
	if !d.Amount.IsPositive() {
		fe = append(fe, errs.Field("amount", errs.FieldNotPositive))
	}
	if d.Currency != "" && !validCurrency.MatchString(d.Currency) {
		fe = append(fe, errs.Field("currency", errs.FieldInvalid))
	}
	if d.Retention != nil && (d.Retention.IsNegative() || d.Retention.GreaterThan(d.Amount)) {
		fe = append(fe, errs.Field("retention", errs.FieldOutOfRange, "0.00", d.Amount.String()))
	}
	if d.SignedOn.IsZero() {
		fe = append(fe, errs.Field("signed_on", errs.FieldRequired))
	}
	if d.Period.Start.IsZero() || d.Period.End.IsZero() {
		fe = append(fe, errs.Field("period", errs.FieldRequired))
	} else if d.Period.End.Before(d.Period.Start) {
		fe = append(fe, errs.Field("period.end", errs.FieldBeforeStart))
	}
	total := d.Amount.Sub(d.Amount)
	for i, pt := range d.PaymentTerms {
		if !pt.Amount.IsPositive() {
			fe = append(fe, errs.FieldError{Field: fmt.Sprintf("payment_terms[%d].amount", i), Code: "not_positive", Message: "must be above zero"})
		}
		if pt.DueOn.IsZero() {
			fe = append(fe, errs.FieldError{Field: fmt.Sprintf("payment_terms[%d].due_on", i), Code: "required", Message: "is required"})
		}
		fe = optionalText(fe, fmt.Sprintf("payment_terms[%d].condition", i), pt.Condition, 1000)
		total = total.Add(pt.Amount)
	}
	if d.Amount.IsPositive() && total.GreaterThan(d.Amount) { // no amount: named above, not compared
		fe = append(fe, errs.FieldError{Field: "payment_terms", Code: "exceeds_amount", Message: "the payments add up to more than the contract amount"})
	}
	if d.PaymentTerms == nil {
		d.PaymentTerms = []PaymentTerm{}
	}
	return checkStatus(fe, d.Status)
}

// SubmitAwardNotice stores an award notice from issuer: new (Created), the
// same again (Unchanged), or a new version of the same notice number
// (NewVersion, the old one kept). The purchaser is taken from the
// document; an unknown supplier is created from it, unregistered. Returns
// invalid (fields, uscc_checksum) or not_found (issuer).
func (s *Service) SubmitAwardNotice(ctx context.Context, issuerID string, doc AwardNoticeDoc, src Source) (AwardNotice, Outcome, error) {
	if fe := doc.validate(); len(fe) > 0 {
		return AwardNotice{}, "", errs.InvalidFields(fe...)
	}
	digest, body, err := digestOf(doc)
	if err != nil {
		return AwardNotice{}, "", err
	}
	var outcome Outcome
	var id string
	err = postgres.Transact(postgres.WithClock(ctx, s.now), s.db, func(tx *postgres.Tx) error {
		if err := lockDocument(ctx, tx, "award_notice", issuerID, doc.NoticeNo); err != nil {
			return err
		}
		if err := s.upsertParties(ctx, tx, issuerID, doc.Purchaser, doc.Supplier, src.Actor); err != nil {
			return err
		}
		var cur struct {
			ID      string `db:"id"`
			Version int    `db:"version"`
			Digest  string `db:"digest"`
		}
		err := tx.GetContext(ctx, &cur, `SELECT id, version, digest FROM award_notices WHERE issuer_id = $1 AND notice_no = $2`, issuerID, doc.NoticeNo)
		var before *AwardNotice
		switch {
		case errors.Is(err, sql.ErrNoRows):
			outcome = Created
			err = tx.GetContext(ctx, &id, `
				INSERT INTO award_notices (issuer_id, notice_no, project_no, project_name, purchaser_id,
					supplier_uscc, amount, currency, awarded_on, procurement_method, status, version, digest, source)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $13)
				RETURNING id`,
				issuerID, doc.NoticeNo, doc.ProjectNo, doc.ProjectName, doc.Purchaser.ID, strings.ToUpper(doc.Supplier.USCC),
				doc.Amount, doc.Currency, doc.AwardedOn, doc.ProcurementMethod, doc.Status, digest, src.Kind)
			if err != nil {
				return postgres.Translate(err)
			}
			cur.Version = 1
		case err != nil:
			return postgres.Translate(err)
		case cur.Digest == digest:
			outcome, id = Unchanged, cur.ID
			return nil
		default:
			outcome, id = NewVersion, cur.ID
			old, err := getAwardNotice(ctx, tx, id)
			if err != nil {
				return err
			}
			before = &old
			cur.Version++
			_, err = tx.ExecContext(ctx, `
				UPDATE award_notices SET project_no = $2, project_name = $3, purchaser_id = $4, supplier_uscc = $5,
					amount = $6, currency = $7, awarded_on = $8, procurement_method = $9, status = $10,
					version = $11, digest = $12, source = $13, updated_at = now()
				WHERE id = $1`,
				id, doc.ProjectNo, doc.ProjectName, doc.Purchaser.ID, strings.ToUpper(doc.Supplier.USCC), doc.Amount,
				doc.Currency, doc.AwardedOn, doc.ProcurementMethod, doc.Status, cur.Version, digest, src.Kind)
			if err != nil {
				return postgres.Translate(err)
			}
		}
		if err := insertVersion(ctx, tx, "award_notice", id, cur.Version, body, digest, src); err != nil {
			return err
		}
		after, err := getAwardNotice(ctx, tx, id)
		if err != nil {
			return err
		}
		action := "award_notice.received"
		if outcome == NewVersion {
			action = "award_notice.version_added"
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: src.Actor, Action: action, EntityType: "award_notice", EntityID: id, Before: before, After: after})
	})
	if err != nil {
		return AwardNotice{}, "", err
	}
	n, err := s.AwardNotice(ctx, All, id)
	return n, outcome, err
}

// SubmitContract stores a contract from issuer, as SubmitAwardNotice does
// for notices. The contract must reference an award notice of the same
// issuer (else invalid, code award_not_found); its currency defaults to
// the award's.
func (s *Service) SubmitContract(ctx context.Context, issuerID string, doc ContractDoc, src Source) (Contract, Outcome, error) {
	if fe := doc.validate(); len(fe) > 0 {
		return Contract{}, "", errs.InvalidFields(fe...)
	}
	var outcome Outcome
	var id string
	err := postgres.Transact(postgres.WithClock(ctx, s.now), s.db, func(tx *postgres.Tx) error {
		var award struct {
			ID       string `db:"id"`
			Currency string `db:"currency"`
		}
		err := tx.GetContext(ctx, &award, `SELECT id, currency FROM award_notices WHERE issuer_id = $1 AND notice_no = $2`, issuerID, doc.NoticeNo)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.InvalidFields(errs.FieldError{Field: "notice_no", Code: "award_not_found",
				Message: fmt.Sprintf("no award notice %q from this issuer: submit the award notice first", doc.NoticeNo)})
		}
		if err != nil {
			return postgres.Translate(err)
		}
		if doc.Currency == "" {
			doc.Currency = award.Currency
		}
		digest, body, err := digestOf(doc)
		if err != nil {
			return err
		}
		if err := lockDocument(ctx, tx, "contract", issuerID, doc.ContractNo); err != nil {
			return err
		}
		if err := s.upsertParties(ctx, tx, issuerID, doc.Purchaser, doc.Supplier, src.Actor); err != nil {
			return err
		}
		termsJSON, _ := json.Marshal(doc.PaymentTerms)
		terms := string(termsJSON) // jsonb takes text
		retention := doc.Amount.Sub(doc.Amount)
		if doc.Retention != nil {
			retention = *doc.Retention
		}
		// The contract's row lock, taken before anything is decided: what is
		// financed moves only under it (package lending), so a concurrent
		// application is either seen here or sees this version.
		var cur struct {
			ID          string `db:"id"`
			Version     int    `db:"version"`
			Digest      string `db:"digest"`
			LastVersion int    `db:"last_version"`
			Pending     bool   `db:"pending"` // the same as a version waiting for review
		}
		err = tx.GetContext(ctx, &cur, `
			SELECT c.id, c.version, c.digest,
				(SELECT max(d.version) FROM document_versions d WHERE d.kind = 'contract' AND d.document_id = c.id) AS last_version,
				EXISTS (SELECT 1 FROM contract_amendments a
					JOIN document_versions d ON d.kind = 'contract' AND d.document_id = a.contract_id AND d.version = a.version
					WHERE a.contract_id = c.id AND a.status = 'pending' AND d.digest = $3) AS pending
			FROM contracts c WHERE c.issuer_id = $1 AND c.contract_no = $2 FOR UPDATE OF c`, issuerID, doc.ContractNo, digest)
		var before *Contract
		switch {
		case errors.Is(err, sql.ErrNoRows):
			outcome = Created
			err = tx.GetContext(ctx, &id, `
				INSERT INTO contracts (issuer_id, contract_no, notice_id, purchaser_id, supplier_uscc, amount,
					currency, retention, signed_on, period_start, period_end, payment_terms, status, version, digest, source)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $15)
				RETURNING id`,
				issuerID, doc.ContractNo, award.ID, doc.Purchaser.ID, strings.ToUpper(doc.Supplier.USCC), doc.Amount,
				doc.Currency, retention, doc.SignedOn, doc.Period.Start, doc.Period.End, terms, doc.Status, digest, src.Kind)
			if err != nil {
				return postgres.Translate(err)
			}
			cur.Version = 1
		case err != nil:
			return postgres.Translate(err)
		case cur.Digest == digest || cur.Pending:
			outcome, id = Unchanged, cur.ID
			return nil
		default:
			outcome, id = NewVersion, cur.ID
			old, err := getContract(ctx, tx, id)
			if err != nil {
				return err
			}
			before = &old
			// Versions held for review take numbers too: the next is after the last.
			cur.Version = max(cur.Version, cur.LastVersion) + 1
			if why := s.policy.amendmentReasons(old, contractOfDoc(old, doc)); len(why) > 0 {
				outcome = AmendmentHeld
				if err := insertVersion(ctx, tx, "contract", id, cur.Version, body, digest, src); err != nil {
					return err
				}
				if err := s.holdAmendment(ctx, tx, old, contractOfDoc(old, doc), cur.Version, why, src.Actor); err != nil {
					return err
				}
				return s.newVersion(ctx, tx, old, contractOfDoc(old, doc), cur.Version, true)
			}
			_, err = tx.ExecContext(ctx, `
				UPDATE contracts SET notice_id = $2, purchaser_id = $3, supplier_uscc = $4, amount = $5,
					currency = $6, retention = $7, signed_on = $8, period_start = $9, period_end = $10,
					payment_terms = $11, status = $12, version = $13, digest = $14, source = $15, updated_at = now()
				WHERE id = $1`,
				id, award.ID, doc.Purchaser.ID, strings.ToUpper(doc.Supplier.USCC), doc.Amount, doc.Currency, retention,
				doc.SignedOn, doc.Period.Start, doc.Period.End, terms, doc.Status, cur.Version, digest, src.Kind)
			if err != nil {
				return postgres.Translate(err)
			}
			if err := s.newVersion(ctx, tx, old, contractOfDoc(old, doc), cur.Version, false); err != nil {
				return err
			}
		}
		if err := insertVersion(ctx, tx, "contract", id, cur.Version, body, digest, src); err != nil {
			return err
		}
		after, err := getContract(ctx, tx, id)
		if err != nil {
			return err
		}
		action := "contract.received"
		if outcome == NewVersion {
			action = "contract.version_added"
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: src.Actor, Action: action, EntityType: "contract", EntityID: id, Before: before, After: after})
	})
	if err != nil {
		return Contract{}, "", err
	}
	c, err := s.Contract(ctx, All, id)
	return c, outcome, err
}

// lockDocument serialises submissions of one document number, so two
// concurrent first submissions make one document, not a unique violation.
func lockDocument(ctx context.Context, tx *postgres.Tx, kind, issuerID, number string) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, kind+"|"+issuerID+"|"+number)
	return postgres.Translate(err)
}

func insertVersion(ctx context.Context, tx *postgres.Tx, kind, id string, version int, body []byte, digest string, src Source) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO document_versions (kind, document_id, version, body, digest, source, signed_kid, message_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, kind, id, version, string(body), digest, src.Kind, src.KeyID, src.MessageID)
	return postgres.Translate(err)
}

// upsertParties records the purchaser as the issuer names it (the issuer is
// the authority on its purchasers), and creates an unknown supplier from
// the document: unregistered, size unknown, unable to borrow until an
// administrator completes it. A registered supplier's name is kept.
func (s *Service) upsertParties(ctx context.Context, tx *postgres.Tx, issuerID string, p Party, sup SupplierRef, actor string) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO purchasers (issuer_id, id, name) VALUES ($1, $2, $3)
		ON CONFLICT (issuer_id, id) DO UPDATE SET name = CASE WHEN $3 = '' THEN purchasers.name ELSE $3 END,
			updated_at = CASE WHEN $3 = '' OR $3 = purchasers.name THEN purchasers.updated_at ELSE now() END`,
		issuerID, p.ID, p.Name)
	if err != nil {
		return postgres.Translate(err)
	}
	var exists bool
	if err := tx.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM suppliers WHERE uscc = $1)`, strings.ToUpper(sup.USCC)); err != nil {
		return postgres.Translate(err)
	}
	if exists {
		return nil
	}
	uscc, err := ParseUSCC(sup.USCC)
	if err != nil {
		var e *errs.Error
		if errors.As(err, &e) {
			for i := range e.Fields {
				e.Fields[i].Field = "supplier." + e.Fields[i].Field
			}
		}
		return err
	}
	name := strings.TrimSpace(sup.Name)
	if name == "" {
		name = string(uscc)
	}
	var created Supplier
	err = tx.GetContext(ctx, &created, `
		INSERT INTO suppliers (uscc, name) VALUES ($1, $2)
		ON CONFLICT (uscc) DO UPDATE SET uscc = excluded.uscc
		RETURNING *`, string(uscc), name)
	if err != nil {
		return postgres.Translate(err)
	}
	return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "supplier.created_from_document",
		EntityType: "supplier", EntityID: created.USCC, After: created})
}
