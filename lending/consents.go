package lending

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/platform/postgres"
)

// Causes of a cancellation and of a failed delivery (bank-protocol.md 1.1,
// "What each event does to an application"; domain.md 1.1, "Consent").
const (
	CauseCancelledBySupplier = "cancelled_by_supplier"
	CauseConsentRevoked      = "consent_revoked"
	CauseConsentExpired      = "consent_expired"
)

// The languages a consent's statement is given in.
const (
	LangZH = "zh-CN"
	LangEN = "en"
)

// consentText is a consent's wording in one language: the data items an
// application sends to its bank, and the statement naming them.
type consentText struct {
	items     []string
	statement string // with the items joined and the bank's id
}

// consentTexts are the consent's wording, in every language the supplier
// may see it in, zh-CN first; the web's apply page and the API show it
// (ConsentStatement) and the consent stores what was shown.
var consentTexts = map[string]consentText{
	LangZH: {items: []string{"企业身份与规模", "中标通知书", "合同及付款条款", "采购人", "申请金额、期限和用途", "中标核实报告"},
		statement: "本企业同意平台将以下资料发送给 %[2]s，仅用于本次融资申请：%[1]s。"},
	LangEN: {items: []string{"supplier identity and size class", "award notice", "contract and its payment terms",
		"purchaser", "requested amount, term and purpose", "verification report"},
		statement: "I consent to procfin sending %[1]s to %[2]s for this credit application."},
}

// ConsentLang is the language of consent for a caller's language: en for
// English, zh-CN for anything else.
func ConsentLang(lang string) string {
	if lang == LangEN {
		return LangEN
	}
	return LangZH
}

// ConsentStatement is the statement of consent to send the application's
// data to the bank, in lang (ConsentLang).
func ConsentStatement(lang, bankID string) string { return consentStatement(ConsentLang(lang), bankID) }

func consentStatement(lang, bankID string) string {
	t := consentTexts[lang]
	sep := ", "
	if lang == LangZH {
		sep = "、"
	}
	return fmt.Sprintf(t.statement, strings.Join(t.items, sep), bankID)
}

// ConsentState is whether a consent is in force.
type ConsentState string

const (
	ConsentGiven   ConsentState = "given"
	ConsentRevoked ConsentState = "revoked"
	ConsentExpired ConsentState = "expired"
)

// State is the consent's state at now.
func (c Consent) State(now time.Time) ConsentState {
	switch {
	case c.RevokedAt != nil:
		return ConsentRevoked
	case !c.ExpiresAt.After(now):
		return ConsentExpired
	}
	return ConsentGiven
}

// SupplierConsent is a consent as its supplier sees it: with its bank's
// name and its application's status.
type SupplierConsent struct {
	Consent
	BankName          string       `db:"bank_name" json:"bank_name"`
	ApplicationID     string       `db:"application_id" json:"application_id"`
	ApplicationStatus Status       `db:"application_status" json:"application_status"`
	State             ConsentState `db:"-" json:"state"`
	Seq               int64        `db:"seq" json:"-"` // its application's, for paging
}

// consentRow is a consent as read with its application and bank.
type consentRow struct {
	SupplierConsent
	Items pq.StringArray `db:"data_items"`
}

const consentsQuery = `
	SELECT c.id, c.application_id, c.bank_id, coalesce(b.name, c.bank_id) AS bank_name, c.data_items, c.statement,
		c.lang, c.given_by, c.given_at, c.expires_at, c.revoked_at, a.status AS application_status, a.seq
	FROM applications a JOIN consents c ON c.application_id = a.id LEFT JOIN banks b ON b.id = c.bank_id`

func (r consentRow) consent(now time.Time) SupplierConsent {
	sc := r.SupplierConsent
	sc.DataItems = []string(r.Items)
	sc.State = sc.Consent.State(now)
	return sc
}

// Consents lists the consents of the applications in scope, newest
// application first, with its seq below before (0: from the newest), at
// most limit.
func (s *Service) Consents(ctx context.Context, sc Scope, before int64, limit int) ([]SupplierConsent, error) {
	var rows []consentRow
	if sc.purchaserScoped() {
		return []SupplierConsent{}, nil
	}
	err := s.db.SelectContext(ctx, &rows, consentsQuery+`
		WHERE ($1 = '' OR a.supplier_uscc = $1) AND ($2 = 0 OR a.seq < $2)
		ORDER BY a.seq DESC LIMIT $3`, sc.SupplierUSCC, before, limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	now := s.now()
	list := make([]SupplierConsent, len(rows))
	for i, r := range rows {
		list[i] = r.consent(now)
	}
	return list, nil
}

// consent reads one consent in scope, by its id; not_found when absent or
// outside scope.
func (s *Service) consent(ctx context.Context, q sqlx.QueryerContext, sc Scope, id string, now time.Time) (SupplierConsent, error) {
	canon, ok := ids.Canonical(id)
	if !ok || sc.purchaserScoped() {
		return SupplierConsent{}, errs.E(errs.NotFound, "no consent %s", id)
	}
	var r consentRow
	err := sqlx.GetContext(ctx, q, &r, consentsQuery+` WHERE c.id = $1 AND ($2 = '' OR a.supplier_uscc = $2)`, canon, sc.SupplierUSCC)
	if errors.Is(err, sql.ErrNoRows) {
		return SupplierConsent{}, errs.E(errs.NotFound, "no consent %s", canon)
	}
	if err != nil {
		return SupplierConsent{}, postgres.Translate(err)
	}
	return r.consent(now), nil
}

// ConsentOf is the consent given with an application; not_found when it
// has none.
func (s *Service) ConsentOf(ctx context.Context, applicationID string) (Consent, error) {
	var r consentRow
	err := s.db.GetContext(ctx, &r, consentsQuery+` WHERE c.application_id = $1`, applicationID)
	if errors.Is(err, sql.ErrNoRows) {
		return Consent{}, errs.E(errs.NotFound, "no consent for application %s", applicationID)
	}
	if err != nil {
		return Consent{}, postgres.Translate(err)
	}
	return r.consent(s.now()).Consent, nil
}

// RevokeConsent revokes a supplier's consent (domain.md 1.1, "Consent"):
// before the bank decides, its application is cancelled (cause
// consent_revoked) and the bank told with a withdrawal (withdraw); after
// the application ended (rejected, cancelled, closed) only the revocation
// is recorded; a consent already revoked stays as it is. Returns not_found
// (absent or another's) or consent_in_use while its loan is live
// (approved, not yet closed): the loan needs the data.
func (s *Service) RevokeConsent(ctx context.Context, sc Scope, id, actor string) (SupplierConsent, error) {
	var out SupplierConsent
	err := postgres.Transact(postgres.WithClock(ctx, s.now), s.db, func(tx *postgres.Tx) error {
		found, err := s.consent(ctx, tx, sc, id, tx.Now())
		if err != nil {
			return err
		}
		a, err := s.lockApplication(ctx, tx, sc, found.ApplicationID)
		if err != nil {
			return err
		}
		// Read again under the lock: a concurrent revocation may have
		// committed meanwhile.
		before, err := s.consent(ctx, tx, sc, found.ID, tx.Now())
		if err != nil {
			return err
		}
		if before.RevokedAt != nil {
			out = before
			return nil
		}
		switch a.Status {
		case Approved, Disbursed, Repaid:
			return errs.E(errs.ConsentInUse, "the consent cannot be revoked while the loan of application %s is live: "+
				"the bank and procfin need the data it covers until the loan is closed", a.ID)
		case Submitted, Delivered, Received, DeliveryFailed:
			if err := s.withdraw(ctx, tx, &a, actor, CauseConsentRevoked); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE consents SET revoked_at = $2 WHERE id = $1`, before.ID, tx.Now()); err != nil {
			return postgres.Translate(err)
		}
		out = before
		at := tx.Now()
		out.RevokedAt, out.State, out.ApplicationStatus = &at, ConsentRevoked, a.Status
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "consent.revoked", EntityType: "application",
			EntityID: a.ID, Before: before, After: out})
	})
	return out, err
}

// withdraw cancels a (locked) application before the bank's decision, for
// cause (CauseCancelledBySupplier or CauseConsentRevoked), releasing what
// it holds, and has the outbox stop its credit application or tell the
// bank with a withdrawal.
func (s *Service) withdraw(ctx context.Context, tx *postgres.Tx, a *Application, actor, cause string) error {
	known := a.Status != Submitted
	if err := s.transition(ctx, tx, a, Cancelled, actor, cause); err != nil {
		return err
	}
	_, err := s.outbox.Withdraw(ctx, tx, Withdrawal{ApplicationID: a.ID, BankID: a.BankID, Reason: cause, Known: known})
	return err
}
