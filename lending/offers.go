package lending

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"

	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// decimalOne is 1, the bound of a rate.
var decimalOne = decimal.NewFromInt(1)

// maxConditions bounds an offer's conditions text, in bytes.
const maxConditions = 2000

// offerRef names the offer an application accepts (Accept): procfin's
// offer id and its intent.
type offerRef struct {
	IntentID string
	OfferID  string
}

// Accept accepts an offer of an open intent: the offer becomes a credit
// application to its bank (request.offer_id), checked and written through
// the intake as any application is, holding the contract's headroom then;
// the intent is accepted, the bank's consent becomes the application's,
// and every bank asked is told the decision. offerID is procfin's id of the
// offer. Returns not_found (no such intent or offer of the supplier's),
// offer_expired (409), invalid_transition (intent closed, offer replaced or
// withdrawn, bank taken out) or verification_failed (the intent stays
// open).
func (s *Service) Accept(ctx context.Context, who Applicant, intentID, offerID string) (Application, error) {
	iid, ok1 := ids.Canonical(intentID)
	oid, ok2 := ids.Canonical(offerID)
	if !ok1 {
		return Application{}, errs.E(errs.NotFound, "no financing intent %s", intentID)
	}
	if !ok2 {
		return Application{}, errs.E(errs.NotFound, "no offer %s on financing intent %s", offerID, iid)
	}
	var row struct {
		SupplierUSCC string        `db:"supplier_uscc"`
		ContractID   string        `db:"contract_id"`
		Purpose      string        `db:"purpose"`
		Status       IntentStatus  `db:"status"`
		OfferStatus  *OfferStatus  `db:"offer_status"`
		BankID       *string       `db:"bank_id"`
		Amount       *money.Amount `db:"amount"`
		TermDays     *int          `db:"term_days"`
		ValidUntil   *time.Time    `db:"valid_until"`
	}
	err := s.db.GetContext(ctx, &row, `
		SELECT i.supplier_uscc, i.contract_id, i.purpose, i.status, o.status AS offer_status, o.bank_id, o.amount, o.term_days, o.valid_until
		FROM financing_intents i LEFT JOIN offers o ON o.intent_id = i.id AND o.id = $2
		WHERE i.id = $1`, iid, oid)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && row.SupplierUSCC != who.SupplierUSCC) {
		return Application{}, errs.E(errs.NotFound, "no financing intent %s", iid)
	}
	if err != nil {
		return Application{}, postgres.Translate(err)
	}
	if row.OfferStatus == nil {
		return Application{}, errs.E(errs.NotFound, "no offer %s on financing intent %s", oid, iid)
	}
	in := ApplyInput{ContractID: row.ContractID, BankID: *row.BankID, Amount: row.Amount, TermDays: row.TermDays,
		Purpose: row.Purpose, offer: &offerRef{IntentID: iid, OfferID: oid}}
	var created Application
	err = s.acceptQuick(row.Status, *row.OfferStatus, *row.ValidUntil, iid, oid)
	if err == nil {
		created, err = s.intake.apply(ctx, who, in)
	}
	if err != nil {
		// Perhaps a retry of an acceptance that committed but whose answer
		// was lost (or that an earlier attempt closed the intent for).
		if prior, found, perr := s.priorAnswer(ctx, who, func(p Application) bool { return p.OfferID != nil && *p.OfferID == oid }); found || perr != nil {
			return prior, perr
		}
	}
	return created, err
}

// acceptQuick refuses, before queuing, an acceptance that cannot succeed;
// the intake checks again under the intent's lock (checkOffer).
func (s *Service) acceptQuick(status IntentStatus, offer OfferStatus, validUntil time.Time, intentID, offerID string) error {
	switch {
	case status != IntentOpen:
		return errs.E(errs.InvalidTransition, "the financing intent %s is %s", intentID, status)
	case offer != OfferMadeStatus:
		return errs.E(errs.InvalidTransition, "the offer %s is %s", offerID, offer)
	case s.now().After(validUntil):
		return errs.E(errs.OfferExpired, "the offer %s was valid until %s", offerID, validUntil.UTC().Format(time.RFC3339))
	}
	return nil
}

// lockedOffer is an offer being accepted in an intake batch, read with its
// intent's lock (lockOffers).
type lockedOffer struct {
	IntentID     string       `db:"intent_id"`
	IntentStatus IntentStatus `db:"intent_status"`
	SupplierUSCC string       `db:"supplier_uscc"`
	OfferID      string       `db:"offer_id"`
	OfferStatus  OfferStatus  `db:"offer_status"`
	BankID       string       `db:"bank_id"`
	BankOfferID  string       `db:"bank_offer_id"`
	Amount       money.Amount `db:"amount"`
	TermDays     int          `db:"term_days"`
	ValidUntil   time.Time    `db:"valid_until"`
	OutAt        *time.Time   `db:"out_at"`
	// The intent's consent to the offer's bank.
	ConsentID  *string        `db:"consent_id"`
	DataItems  pq.StringArray `db:"data_items"`
	Statement  *string        `db:"statement"`
	Lang       *string        `db:"lang"`
	GivenBy    *string        `db:"given_by"`
	GivenAt    *time.Time     `db:"given_at"`
	ExpiresAt  *time.Time     `db:"expires_at"`
	RevokedAt  *time.Time     `db:"revoked_at"`
	HasConsent bool           `db:"has_consent"`
}

// lockOffers locks the intents of the offers items accept (FOR UPDATE, in
// id order) and reads those offers with their banks' consents, keyed by
// offer id: one statement, and none when no item accepts an offer.
func lockOffers(ctx context.Context, tx *postgres.Tx, items []*intakeItem) (map[string]lockedOffer, error) {
	var intentIDs, offerIDs []string
	for _, it := range items {
		if o := it.in.offer; o != nil {
			intentIDs, offerIDs = append(intentIDs, o.IntentID), append(offerIDs, o.OfferID)
		}
	}
	if len(offerIDs) == 0 {
		return nil, nil
	}
	var rows []lockedOffer
	err := tx.SelectContext(ctx, &rows, `
		SELECT i.id AS intent_id, i.status AS intent_status, i.supplier_uscc, o.id AS offer_id, o.status AS offer_status,
			o.bank_id, o.bank_offer_id, o.amount, o.term_days, o.valid_until, b.out_at,
			c.id AS consent_id, c.data_items, c.statement, c.lang, c.given_by, c.given_at, c.expires_at, c.revoked_at,
			c.id IS NOT NULL AS has_consent
		FROM financing_intents i
		JOIN offers o ON o.intent_id = i.id AND o.id = ANY($2::uuid[])
		JOIN intent_banks b ON b.intent_id = o.intent_id AND b.bank_id = o.bank_id
		LEFT JOIN consents c ON c.id = b.consent_id
		WHERE i.id = ANY($1::uuid[]) ORDER BY i.id FOR UPDATE OF i`, pq.Array(intentIDs), pq.Array(offerIDs))
	if err != nil {
		return nil, postgres.Translate(err)
	}
	m := make(map[string]lockedOffer, len(rows))
	for _, r := range rows {
		m[r.OfferID] = r
	}
	return m, nil
}

// checkOffer checks, under its intent's lock, that the offer it accepts
// may still be: its intent open and not accepted earlier in this batch,
// the offer current and valid at now, its bank not taken out and the
// consent to it in force.
func checkOffer(it *intakeItem, offers map[string]lockedOffer, taken map[string]bool, now time.Time) (lockedOffer, error) {
	ref := it.in.offer
	o, ok := offers[ref.OfferID]
	switch {
	case !ok || o.IntentID != ref.IntentID || o.SupplierUSCC != it.who.SupplierUSCC:
		return o, errs.E(errs.NotFound, "no offer %s on financing intent %s", ref.OfferID, ref.IntentID)
	case o.IntentStatus != IntentOpen:
		return o, errs.E(errs.InvalidTransition, "the financing intent %s is %s", o.IntentID, o.IntentStatus)
	case taken[o.IntentID]:
		return o, errs.E(errs.InvalidTransition, "an offer of the financing intent %s was just accepted", o.IntentID)
	case o.OfferStatus != OfferMadeStatus:
		return o, errs.E(errs.InvalidTransition, "the offer %s is %s", o.OfferID, o.OfferStatus)
	case now.After(o.ValidUntil):
		return o, errs.E(errs.OfferExpired, "the offer %s was valid until %s", o.OfferID, o.ValidUntil.UTC().Format(time.RFC3339))
	case o.OutAt != nil:
		return o, errs.E(errs.InvalidTransition, "bank %s was taken out of the financing intent %s", o.BankID, o.IntentID)
	case !o.HasConsent || o.RevokedAt != nil || !now.Before(*o.ExpiresAt):
		return o, errs.E(errs.InvalidTransition, "the consent to send your data to bank %s is no longer in force", o.BankID)
	}
	return o, nil
}

// consent is the intent's consent to the offer's bank, as the accepted
// application's.
func (o lockedOffer) consent() *Consent {
	return &Consent{ID: *o.ConsentID, BankID: o.BankID, DataItems: o.DataItems, Statement: *o.Statement, Lang: *o.Lang,
		GivenBy: *o.GivenBy, GivenAt: *o.GivenAt, ExpiresAt: *o.ExpiresAt}
}

// MakeOffer records a bank's offer.made in the event's transaction:
// invalid (naming the field) for a term outside 1..lending.max_term_days,
// a rate not between 0 and 1 or a validity not after now; not_found when
// there is no such intent or its bank was not asked (or was taken out);
// invalid_transition when above the amount asked, after respond_by (judged
// on receipt, tx.Now()) or on a closed intent. A new offer from the bank
// replaces its current one: each offer.made is an offer of its own, with a
// new procfin id.
func (s *Service) MakeOffer(ctx context.Context, tx *postgres.Tx, bankID string, o OfferMade) error {
	now := tx.Now()
	var fe []errs.FieldError
	if !o.Amount.IsPositive() {
		fe = append(fe, errs.Field("data.amount", errs.FieldNotPositive))
	}
	if r := o.AnnualRate.Decimal(); !r.IsPositive() || !r.LessThan(decimalOne) {
		fe = append(fe, errs.Field("data.annual_rate", errs.FieldInvalidRate))
	}
	if o.TermDays < 1 || o.TermDays > s.limits.MaxTermDays {
		fe = append(fe, errs.Field("data.term_days", errs.FieldOutOfRange, 1, s.limits.MaxTermDays))
	}
	if !o.ValidUntil.After(now) {
		fe = append(fe, errs.FieldError{Field: "data.valid_until", Code: "past", Message: "must be after the offer is received"})
	}
	if len(o.Conditions) > maxConditions {
		fe = append(fe, errs.Field("data.conditions", errs.FieldTooLong, maxConditions))
	}
	if len(fe) > 0 {
		return errs.InvalidFields(fe...)
	}
	in, err := lockIntentFor(ctx, tx, bankID, o.IntentID)
	if err != nil {
		return err
	}
	switch {
	case in.Status != IntentOpen:
		return errs.E(errs.InvalidTransition, "the financing intent %s is %s", in.ID, in.Status)
	case now.After(in.RespondBy):
		return errs.E(errs.InvalidTransition, "the financing intent %s took offers until %s", in.ID, in.RespondBy.UTC().Format(time.RFC3339))
	case o.Amount.GreaterThan(in.Amount):
		return errs.E(errs.InvalidTransition, "the offer of %s is above the %s asked", o.Amount, in.Amount)
	}
	var replaced []string
	if err := tx.SelectContext(ctx, &replaced, `
		UPDATE offers SET status = 'replaced', closed_at = $3 WHERE intent_id = $1 AND bank_id = $2 AND status = 'made' RETURNING id`,
		in.ID, bankID, now); err != nil {
		return postgres.Translate(err)
	}
	id := uuid.NewString()
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO offers (id, intent_id, bank_id, bank_offer_id, amount, annual_rate, term_days, valid_until, conditions, made_at, event_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		id, in.ID, bankID, o.BankOfferID, o.Amount, o.AnnualRate, o.TermDays, o.ValidUntil, o.Conditions, now, o.EventID); err != nil {
		return postgres.Translate(err)
	}
	return audit.Record(ctx, tx, audit.Entry{Actor: "bank:" + bankID, Action: "offer.made", EntityType: "financing_intent", EntityID: in.ID,
		After: map[string]any{"offer_id": id, "bank_offer_id": o.BankOfferID, "amount": o.Amount, "annual_rate": o.AnnualRate,
			"term_days": o.TermDays, "valid_until": o.ValidUntil, "replaced": replaced, "event_id": o.EventID}})
}

// WithdrawOffer records a bank's offer.withdrawn: its current offer with
// that offer_id becomes withdrawn. not_found when there is no such intent,
// the bank was not asked (or was taken out) or has no offer with that id on
// it; invalid_transition when the offer was accepted or the intent is
// closed. Withdrawing an offer already withdrawn or replaced changes
// nothing and is not an error, so a bank may repeat it.
func (s *Service) WithdrawOffer(ctx context.Context, tx *postgres.Tx, bankID, intentID, bankOfferID string) error {
	in, err := lockIntentFor(ctx, tx, bankID, intentID)
	if err != nil {
		return err
	}
	var offers []struct {
		ID     string      `db:"id"`
		Status OfferStatus `db:"status"`
	}
	if err := tx.SelectContext(ctx, &offers, `
		SELECT id, status FROM offers WHERE intent_id = $1 AND bank_id = $2 AND bank_offer_id = $3
		ORDER BY status = 'made' DESC, made_at DESC LIMIT 1`, in.ID, bankID, bankOfferID); err != nil {
		return postgres.Translate(err)
	}
	if len(offers) == 0 {
		return errs.E(errs.NotFound, "no offer %q of yours on financing intent %s", bankOfferID, in.ID)
	}
	o := offers[0]
	switch {
	case o.Status == OfferAccepted:
		return errs.E(errs.InvalidTransition, "the offer %q was accepted", bankOfferID)
	case in.Status != IntentOpen:
		return errs.E(errs.InvalidTransition, "the financing intent %s is %s", in.ID, in.Status)
	case o.Status != OfferMadeStatus:
		return nil // withdrawn or replaced already
	}
	if _, err := tx.ExecContext(ctx, `UPDATE offers SET status = 'withdrawn', closed_at = $2 WHERE id = $1`, o.ID, tx.Now()); err != nil {
		return postgres.Translate(err)
	}
	return audit.Record(ctx, tx, audit.Entry{Actor: "bank:" + bankID, Action: "offer.withdrawn", EntityType: "financing_intent", EntityID: in.ID,
		After: map[string]any{"offer_id": o.ID, "bank_offer_id": bankOfferID}})
}

// intentForBank is an intent as a bank's event on it needs it.
type intentForBank struct {
	ID        string       `db:"id"`
	Status    IntentStatus `db:"status"`
	RespondBy time.Time    `db:"respond_by"`
	Amount    money.Amount `db:"amount"`
}

// lockIntentFor locks the intent (FOR UPDATE) a bank's event names:
// not_found when there is none, or the bank was not asked or was taken out.
func lockIntentFor(ctx context.Context, tx *postgres.Tx, bankID, intentID string) (intentForBank, error) {
	notFound := errs.E(errs.NotFound, "no financing intent %s", intentID)
	id, ok := ids.Canonical(intentID)
	if !ok {
		return intentForBank{}, notFound
	}
	var in intentForBank
	err := tx.GetContext(ctx, &in, `
		SELECT i.id, i.status, i.respond_by, i.amount FROM financing_intents i
		JOIN intent_banks b ON b.intent_id = i.id AND b.bank_id = $2 AND b.out_at IS NULL
		WHERE i.id = $1 FOR UPDATE OF i`, id, bankID)
	if errors.Is(err, sql.ErrNoRows) {
		return intentForBank{}, notFound
	}
	return in, postgres.Translate(err)
}

// checkWithinOffer refuses an approval of an accepted offer's application
// above the offer's amount or rate: one statement, only for such an
// application.
func checkWithinOffer(ctx context.Context, tx *postgres.Tx, a Application, ap Approval) error {
	if a.OfferID == nil {
		return nil
	}
	var o struct {
		Amount     money.Amount `db:"amount"`
		AnnualRate money.Rate   `db:"annual_rate"`
	}
	if err := tx.GetContext(ctx, &o, `SELECT amount, annual_rate FROM offers WHERE id = $1`, *a.OfferID); err != nil {
		return postgres.Translate(err)
	}
	switch {
	case ap.ApprovedAmount.GreaterThan(o.Amount):
		return errs.E(errs.InvalidTransition, "approved %s, more than the %s of the accepted offer", ap.ApprovedAmount, o.Amount)
	case ap.AnnualRate.Decimal().GreaterThan(o.AnnualRate.Decimal()):
		return errs.E(errs.InvalidTransition, "the rate %s is above the accepted offer's %s", ap.AnnualRate, o.AnnualRate)
	}
	return nil
}
