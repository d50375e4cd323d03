package lending

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/i18n"
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

// consentItems are the data items an application sends to its bank, in
// lang (ConsentLang), in the order of consentItemCodes: the catalogue's
// consent.item.<code>.
func consentItems(lang string) []string {
	items := make([]string, len(consentItemCodes))
	for i, c := range consentItemCodes {
		items[i] = i18n.T(lang, "consent.item."+c)
	}
	return items
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
// data to the bank (named by its name, its id beside it), in lang
// (ConsentLang): what the apply page shows for the bank, and what the
// consent stores.
func ConsentStatement(lang, bankID, bankName string) string {
	return statement("consent.statement", ConsentLang(lang), bankID, bankName)
}

// statement is the catalogue's statement key in lang with the items and
// the bank filled in.
func statement(key, lang, bankID, bankName string) string {
	bank := bankID
	if bankName != "" {
		bank = strings.NewReplacer("{name}", bankName, "{id}", bankID).Replace(i18n.T(lang, "consent.bank"))
	}
	items := strings.Join(consentItems(lang), i18n.T(lang, "consent.separator"))
	return strings.NewReplacer("{items}", items, "{bank}", bank).Replace(i18n.T(lang, key))
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
// name, its application's status, and, for a consent given with a
// financing need (intent), the intent and its status. A consent of an
// intent has no application until the supplier accepts that bank's offer
// (ApplicationID "" and ApplicationStatus "": null in JSON).
type SupplierConsent struct {
	Consent
	BankName          string        `db:"bank_name" json:"bank_name"`
	ApplicationID     string        `db:"application_id" json:"-"`
	ApplicationStatus Status        `db:"application_status" json:"-"`
	IntentID          *string       `db:"intent_id" json:"intent_id"`
	IntentStatus      *IntentStatus `db:"intent_status" json:"intent_status"`
	State             ConsentState  `db:"-" json:"state"`
	// Seq is the consent's key in the supplier's list (Consents), newest
	// first: the microseconds of given_at since 1970, times 2048, plus
	// 2047 less its place among the consents in scope given at the same
	// instant (1 for the greatest id). One instant holds one transaction's
	// consents (an intake batch, an intent's banks), far fewer than 2047.
	Seq int64 `db:"seq" json:"-"`
}

// MarshalJSON writes the consent with application_id and
// application_status null when it has no application (an intent's).
func (c SupplierConsent) MarshalJSON() ([]byte, error) {
	type plain SupplierConsent
	out := struct {
		plain
		ApplicationID     *string `json:"application_id"`
		ApplicationStatus *Status `json:"application_status"`
	}{plain: plain(c)}
	if c.ApplicationID != "" {
		out.ApplicationID, out.ApplicationStatus = &c.ApplicationID, &c.ApplicationStatus
	}
	return json.Marshal(out)
}

// consentRow is a consent as read with its application and bank.
type consentRow struct {
	SupplierConsent
	Items pq.StringArray `db:"data_items"`
}

// consentColumns and consentFrom read consents (alias c) with their
// application's and intent's status and their bank's name.
const (
	consentColumns = `c.id, coalesce(c.application_id::text, '') AS application_id, c.intent_id, c.bank_id,
		coalesce(b.name, c.bank_id) AS bank_name, c.data_items, c.statement, c.lang, c.given_by, c.given_at, c.expires_at,
		c.revoked_at, coalesce(a.status, '') AS application_status, fi.status AS intent_status`
	consentFrom = ` FROM consents c LEFT JOIN applications a ON a.id = c.application_id
		LEFT JOIN financing_intents fi ON fi.id = c.intent_id LEFT JOIN banks b ON b.id = c.bank_id`
	consentsQuery = `SELECT ` + consentColumns + `, 0::bigint AS seq` + consentFrom
)

func (r consentRow) consent(now time.Time) SupplierConsent {
	sc := r.SupplierConsent
	sc.DataItems = []string(r.Items)
	sc.State = sc.Consent.State(now)
	return sc
}

// Consents lists the consents in scope (those of a supplier's applications
// and financing intents), newest first by Seq, with Seq below before (0:
// from the newest), at most limit. A supplier's consents are found through
// its applications and its intents (both indexed by supplier).
func (s *Service) Consents(ctx context.Context, sc Scope, before int64, limit int) ([]SupplierConsent, error) {
	var rows []consentRow
	if sc.purchaserScoped() || sc.BankID != "" {
		return []SupplierConsent{}, nil
	}
	err := s.db.SelectContext(ctx, &rows, `
		WITH mine AS (
			SELECT c.id FROM applications a JOIN consents c ON c.application_id = a.id WHERE ($1 = '' OR a.supplier_uscc = $1)
			UNION
			SELECT c.id FROM financing_intents fi JOIN consents c ON c.intent_id = fi.id WHERE ($1 = '' OR fi.supplier_uscc = $1)
		), keyed AS (
			SELECT `+consentColumns+`,
				(floor(extract(epoch FROM c.given_at) * 1000000)::bigint * 2048)
					+ (2047 - row_number() OVER (PARTITION BY c.given_at ORDER BY c.id DESC)) AS seq
			`+consentFrom+`
			WHERE c.id IN (SELECT id FROM mine)
		)
		SELECT * FROM keyed WHERE ($2::bigint = 0 OR seq < $2::bigint) ORDER BY seq DESC LIMIT $3`, sc.SupplierUSCC, before, limit)
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
	if !ok || sc.purchaserScoped() || sc.BankID != "" {
		return SupplierConsent{}, errs.E(errs.NotFound, "no consent %s", id)
	}
	var r consentRow
	err := sqlx.GetContext(ctx, q, &r, consentsQuery+` WHERE c.id = $1 AND ($2 = '' OR c.supplier_uscc = $2)`, canon, sc.SupplierUSCC)
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
// (approved, not yet closed): the loan needs the data. A consent given
// with a financing need and not (yet) its application's takes its bank out
// of the need while the need is open (revokeIntentConsent); on a closed
// need only the revocation is recorded.
func (s *Service) RevokeConsent(ctx context.Context, sc Scope, id, actor string) (SupplierConsent, error) {
	var out SupplierConsent
	err := postgres.Transact(postgres.WithClock(ctx, s.now), s.db, func(tx *postgres.Tx) error {
		found, err := s.consent(ctx, tx, sc, id, tx.Now())
		if err != nil {
			return err
		}
		if found.ApplicationID == "" && found.IntentID != nil {
			// Given with a financing need: lock the need, then read again
			// (its acceptance may have given the consent an application
			// meanwhile).
			if _, err := s.lockIntent(ctx, tx, Scope{}, *found.IntentID); err != nil {
				return err
			}
			if found, err = s.consent(ctx, tx, sc, found.ID, tx.Now()); err != nil {
				return err
			}
			if found.ApplicationID == "" {
				out, err = s.revokeIntentConsent(ctx, tx, found, actor)
				return err
			}
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
	if err := s.transition(ctx, tx, a, Cancelled, actor, Cause{Code: cause}); err != nil {
		return err
	}
	_, err := s.outbox.Withdraw(ctx, tx, Withdrawal{ApplicationID: a.ID, BankID: a.BankID, Reason: cause, Known: known})
	return err
}

// revokeIntentConsent revokes a consent given with a financing need (c,
// without an application), the need locked by the caller. On an open need
// the bank is taken out (intent_banks.out_at): it is told cancelled, its
// current offer is declined, and when no bank remains the need is
// cancelled. On a closed need only the revocation is recorded; a consent
// revoked already stays as it is.
func (s *Service) revokeIntentConsent(ctx context.Context, tx *postgres.Tx, c SupplierConsent, actor string) (SupplierConsent, error) {
	if c.RevokedAt != nil {
		return c, nil
	}
	intentID, now := *c.IntentID, tx.Now()
	if _, err := tx.ExecContext(ctx, `UPDATE consents SET revoked_at = $2 WHERE id = $1`, c.ID, now); err != nil {
		return SupplierConsent{}, postgres.Translate(err)
	}
	out := c
	out.RevokedAt, out.State = &now, ConsentRevoked
	var taken []string
	if *c.IntentStatus == IntentOpen {
		var err error
		taken, err = s.takeOut(ctx, tx, intentID, c.BankID)
		if err != nil {
			return SupplierConsent{}, err
		}
		var left int
		if err := tx.GetContext(ctx, &left, `SELECT count(*) FROM intent_banks WHERE intent_id = $1 AND out_at IS NULL`, intentID); err != nil {
			return SupplierConsent{}, postgres.Translate(err)
		}
		if left == 0 {
			if err := s.closeIntent(ctx, tx, intentID, IntentCancelled, actor, nil); err != nil {
				return SupplierConsent{}, err
			}
			cancelled := IntentCancelled
			out.IntentStatus = &cancelled
		}
	}
	return out, audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "consent.revoked", EntityType: "financing_intent",
		EntityID: intentID, Before: c, After: map[string]any{"consent": out, "banks_taken_out": taken}})
}

// takeOut takes bank out of the open intent (locked by the caller): it is
// told cancelled and its current offer is declined. Returns the banks
// taken out (none when it was out already).
func (s *Service) takeOut(ctx context.Context, tx *postgres.Tx, intentID, bank string) ([]string, error) {
	var taken []string
	err := tx.SelectContext(ctx, &taken, `
		UPDATE intent_banks SET out_at = $3, decision = $4, decided_at = $3
		WHERE intent_id = $1 AND bank_id = $2 AND out_at IS NULL AND decision IS NULL RETURNING bank_id`,
		intentID, bank, tx.Now(), DecisionCancelled)
	if err != nil || len(taken) == 0 {
		return nil, postgres.Translate(err)
	}
	if _, err := tx.ExecContext(ctx, `
		UPDATE offers SET status = 'declined', closed_at = $3 WHERE intent_id = $1 AND bank_id = $2 AND status = 'made'`,
		intentID, bank, tx.Now()); err != nil {
		return nil, postgres.Translate(err)
	}
	return taken, s.outbox.Decisions(ctx, tx, Decision{MessageID: uuid.NewString(), IntentID: intentID, BankID: bank, Decision: DecisionCancelled})
}
