package lending

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"procfin/contracts"
	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// AllBanks in PublishInput.BankIDs, alone, asks every bank of the
// programme.
const AllBanks = "*"

// maxIntentBanks bounds the bank ids one need may name.
const maxIntentBanks = 100

// IntentConsentStatement is the statement of consent to send a financing
// need's data to the bank (named by its name, its id beside it), in lang
// (ConsentLang): what the supplier is shown for each bank before
// publishing, and what its consent stores.
func IntentConsentStatement(lang, bankID, bankName string) string {
	return statement("consent.intent_statement", ConsentLang(lang), bankID, bankName)
}

// programmeBank is a bank of the programme, as a need names it.
type programmeBank struct {
	ID   string `db:"id"`
	Name string `db:"name"`
}

// validateIntent checks every field of a need at once, banks being the
// programme's banks; it returns the field problems, the banks asked (in id
// order, each once) and the respond_by given (nil for the default).
// respond_by must be after now and no later than the consent's expiry:
// the banks may not be asked to answer after the data may be sent.
func (s *Service) validateIntent(in PublishInput, banks []programmeBank, now time.Time) ([]errs.FieldError, []string, *time.Time) {
	var fe []errs.FieldError
	if !ids.Valid(in.ContractID) {
		fe = append(fe, errs.Field("contract_id", errs.FieldInvalid))
	}
	switch {
	case in.Amount == nil:
		fe = append(fe, errs.Field("amount", errs.FieldRequired))
	case !in.Amount.IsPositive():
		fe = append(fe, errs.Field("amount", errs.FieldNotPositive))
	case in.Amount.GreaterThan(s.limits.MaxAmount):
		fe = append(fe, errs.Field("amount", errs.FieldTooLarge, s.limits.MaxAmount.String()))
	}
	switch {
	case in.TermDays == nil:
		fe = append(fe, errs.Field("term_days", errs.FieldRequired))
	case *in.TermDays < 1 || *in.TermDays > s.limits.MaxTermDays:
		fe = append(fe, errs.Field("term_days", errs.FieldOutOfRange, 1, s.limits.MaxTermDays))
	}
	switch {
	case strings.TrimSpace(in.Purpose) == "":
		fe = append(fe, errs.Field("purpose", errs.FieldRequired))
	case len(in.Purpose) > 500:
		fe = append(fe, errs.Field("purpose", errs.FieldTooLong, 500))
	}
	var asked []string
	switch {
	case len(in.BankIDs) == 0:
		fe = append(fe, errs.Field("bank_ids", errs.FieldRequired))
	case len(in.BankIDs) > maxIntentBanks:
		fe = append(fe, errs.Field("bank_ids", errs.FieldTooMany, maxIntentBanks))
	case len(in.BankIDs) == 1 && in.BankIDs[0] == AllBanks:
		if len(banks) == 0 {
			fe = append(fe, errs.Field("bank_ids", errs.FieldNotFound))
		}
		for _, b := range banks {
			asked = append(asked, b.ID)
		}
	default:
		for i, id := range in.BankIDs {
			field := fmt.Sprintf("bank_ids[%d]", i)
			switch {
			case id == AllBanks:
				fe = append(fe, errs.Field(field, errs.FieldInvalid))
			case strings.TrimSpace(id) == "":
				fe = append(fe, errs.Field(field, errs.FieldRequired))
			case !slices.ContainsFunc(banks, func(b programmeBank) bool { return b.ID == id }):
				fe = append(fe, errs.FieldError{Field: field, Code: "unknown", Message: fmt.Sprintf("no partner bank %q", id)})
			case !slices.Contains(asked, id):
				asked = append(asked, id)
			}
		}
		slices.Sort(asked)
	}
	var respondBy *time.Time
	if in.RespondBy != nil {
		t, err := time.Parse(time.RFC3339, *in.RespondBy)
		latest := now.Add(s.limits.ConsentTTL)
		switch {
		case err != nil:
			fe = append(fe, errs.Field("respond_by", errs.FieldInvalidInstant))
		case !t.After(now):
			fe = append(fe, errs.Field("respond_by", errs.FieldNotFuture))
		case t.After(latest):
			fe = append(fe, errs.Field("respond_by", errs.FieldTooLate, latest.UTC().Format(time.RFC3339)))
		default:
			t = t.UTC().Truncate(time.Microsecond)
			respondBy = &t
		}
	}
	return fe, asked, respondBy
}

// errIntentKeyUsed: the supplier already published a need under this
// Idempotency-Key; Publish answers with it.
var errIntentKeyUsed = errs.E(errs.Conflict, "a financing need was already published under this Idempotency-Key")

// Publish verifies the contract for the supplier (as an application is,
// with the checks supplier.not_overdue and contract.single_bank, the latter
// for every bank asked, under the contract's row lock) without holding
// anything, and in one transaction records the intent with the report, the
// supplier's consent to each bank asked (in who.Lang), the banks asked, a
// financing-intents message for each (with the data its consent names) and
// the audit entry. The same who.RequestKey again answers the intent
// recorded under it. Returns invalid (every bad field at once),
// verification_failed (the report in Extra["verification"]; nothing is
// written), idempotency_key_reused or unavailable.
func (s *Service) Publish(ctx context.Context, who Applicant, in PublishInput) (Intent, error) {
	var banks []programmeBank
	if err := s.db.SelectContext(ctx, &banks, `SELECT id, name FROM banks ORDER BY id`); err != nil {
		return Intent{}, postgres.Translate(err)
	}
	fe, asked, respondBy := s.validateIntent(in, banks, s.now())
	names := make(map[string]string, len(banks))
	for _, b := range banks {
		names[b.ID] = b.Name
	}
	if len(fe) > 0 {
		return Intent{}, errs.InvalidFields(fe...)
	}
	in.ContractID = canonicalID(in.ContractID)
	in.Purpose = strings.TrimSpace(in.Purpose)
	var id string
	err := postgres.Transact(postgres.WithClock(ctx, s.now), s.db, func(tx *postgres.Tx) error {
		var err error
		id, err = s.publish(ctx, tx, who, in, asked, names, respondBy)
		return err
	})
	if err != nil && who.RequestKey != "" {
		// Perhaps a retry of a need published already (whose answer was
		// lost): then the answer is that need, whatever this attempt met.
		var prior Intent
		perr := s.db.GetContext(ctx, &prior, intentSelect+` WHERE fi.published_by = $1 AND fi.request_key = $2`, "user:"+who.UserID, who.RequestKey)
		switch {
		case perr == nil:
			return s.samePublication(ctx, prior, in, asked)
		case !errors.Is(perr, sql.ErrNoRows):
			return Intent{}, postgres.Translate(perr)
		}
	}
	if err != nil {
		return Intent{}, err
	}
	return s.Intent(ctx, Scope{SupplierUSCC: who.SupplierUSCC}, id)
}

// samePublication answers prior, the need published under a request's
// Idempotency-Key, if the request asked for the same (contract, amount,
// term, purpose, banks); else idempotency_key_reused.
func (s *Service) samePublication(ctx context.Context, prior Intent, in PublishInput, asked []string) (Intent, error) {
	got, err := s.Intent(ctx, Scope{}, prior.ID)
	if err != nil {
		return Intent{}, err
	}
	banks := make([]string, len(got.Banks))
	for i, b := range got.Banks {
		banks[i] = b.BankID
	}
	if got.ContractID != in.ContractID || !got.Amount.Equal(*in.Amount) || got.TermDays != *in.TermDays ||
		got.Purpose != in.Purpose || !slices.Equal(banks, asked) {
		return Intent{}, errs.E(errs.IdempotencyReused, "this Idempotency-Key was used for a different financing need")
	}
	return got, nil
}

// publish writes a need in tx (Publish) and returns its id.
func (s *Service) publish(ctx context.Context, tx *postgres.Tx, who Applicant, in PublishInput, asked []string, names map[string]string, respondBy *time.Time) (string, error) {
	now := tx.Now()
	cs, evidence, err := s.contracts.ContractsForUpdate(ctx, tx, []string{in.ContractID})
	if err != nil {
		return "", err
	}
	c, ok := cs[in.ContractID]
	if !ok || c.SupplierUSCC != who.SupplierUSCC {
		return "", errs.InvalidFields(errs.Field("contract_id", errs.FieldNotFound))
	}
	ev, ok := evidence[c.ID]
	if !ok {
		return "", errs.E(errs.NotFound, "no award notice %s", c.NoticeID)
	}
	report, checked := s.contracts.CheckContract(c, ev, contracts.VerifyRequest{ApplicantUSCC: who.SupplierUSCC, Amount: in.Amount}, now)
	bars, err := s.supplierBars(ctx, tx, []string{who.SupplierUSCC}, money.DateOf(now))
	if err != nil {
		return "", err
	}
	bar, barred := bars[who.SupplierUSCC]
	if !barred {
		bar = contracts.Because("not_overdue")
	}
	report.AddReason(contracts.CheckSupplierNotOverdue, !barred, bar)
	financing, err := otherBanks(ctx, tx, []string{c.ID})
	if err != nil {
		return "", err
	}
	oneBank, reason := singleBankOfAll(asked, financing[c.ID])
	report.AddReason(contracts.CheckContractSingleBank, oneBank, reason)
	if !report.Passed {
		return "", failedVerification("the financing need", report)
	}

	id := uuid.NewString()
	by := now.Add(s.limits.IntentTTL)
	if respondBy != nil {
		by = *respondBy
	}
	verification, err := json.Marshal(report)
	if err != nil {
		return "", errs.Wrap(errs.Internal, err, "verification report")
	}
	lang := ConsentLang(who.Lang)
	actor := "user:" + who.UserID
	var requestKey sql.NullString
	if who.RequestKey != "" {
		requestKey = sql.NullString{String: who.RequestKey, Valid: true}
	}
	consentIDs, statements := make([]string, len(asked)), make([]string, len(asked))
	for i, b := range asked {
		consentIDs[i], statements[i] = uuid.NewString(), IntentConsentStatement(lang, b, names[b])
	}
	var written []string
	err = tx.SelectContext(ctx, &written, `
		WITH fi AS (
			INSERT INTO financing_intents (id, supplier_uscc, contract_id, amount, term_days, purpose, published_at,
				respond_by, published_by, request_key, verification)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)
			ON CONFLICT (published_by, request_key) WHERE request_key IS NOT NULL DO NOTHING
			RETURNING id
		), v AS (
			SELECT * FROM unnest($12::text[], $13::uuid[], $14::text[]) AS v(bank_id, consent_id, statement)
		), consent AS (
			INSERT INTO consents (id, intent_id, supplier_uscc, bank_id, data_items, statement, lang, given_by, expires_at)
			SELECT v.consent_id, fi.id, $2, v.bank_id, $15::text[], v.statement, $16, $9, $17 FROM fi, v
		), asked AS (
			INSERT INTO intent_banks (intent_id, bank_id, consent_id) SELECT fi.id, v.bank_id, v.consent_id FROM fi, v
		)
		SELECT id FROM fi`,
		id, who.SupplierUSCC, c.ID, in.Amount.String(), *in.TermDays, in.Purpose, now,
		by, actor, requestKey, string(verification),
		pq.Array(asked), pq.Array(consentIDs), pq.Array(statements),
		pq.StringArray(consentItems(lang)), lang, now.Add(s.limits.ConsentTTL))
	if err != nil {
		return "", postgres.Translate(err)
	}
	if len(written) == 0 {
		return "", errIntentKeyUsed
	}
	msgs := make([]IntentMessage, len(asked))
	for i, b := range asked {
		msgs[i] = IntentMessage{MessageID: uuid.NewString(), IntentID: id, BankID: b, PublishedAt: now, RespondBy: by,
			DataItems: consentItemCodes, Supplier: checked.Supplier, Notice: checked.Notice, Contract: c,
			Amount: *in.Amount, TermDays: *in.TermDays, Purpose: in.Purpose, Verification: report}
	}
	if err := s.outbox.Intents(ctx, tx, msgs...); err != nil {
		return "", err
	}
	return id, audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "financing_intent.published", EntityType: "financing_intent",
		EntityID: id, After: map[string]any{"id": id, "supplier_uscc": who.SupplierUSCC, "contract_id": c.ID,
			"amount": in.Amount, "term_days": *in.TermDays, "purpose": in.Purpose, "respond_by": by, "bank_ids": asked,
			"consent_ids": consentIDs, "verification": json.RawMessage(verification)}})
}

// singleBankOfAll is the check contract.single_bank of a need asking the
// banks asked, on a contract financed by the banks financing: every bank
// asked must be one that may finance the contract.
func singleBankOfAll(asked, financing []string) (bool, contracts.Reason) {
	for _, b := range asked {
		if ok, _ := singleBank(b, financing); !ok {
			return false, contracts.Because("other_bank_finances_asked", strings.Join(financing, ", "), strings.Join(asked, ", "))
		}
	}
	if len(financing) > 0 {
		return true, contracts.Because("financed_by_bank_asked", strings.Join(financing, ", "))
	}
	return true, contracts.Because("no_other_bank")
}
