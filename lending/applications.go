package lending

import (
	"bytes"
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

// Application is a credit application (融资申请) with its history.
type Application struct {
	ID           string  `db:"id" json:"id"`
	Seq          int64   `db:"seq" json:"-"`
	SupplierUSCC string  `db:"supplier_uscc" json:"supplier_uscc"`
	ContractID   string  `db:"contract_id" json:"contract_id"`
	BankID       string  `db:"bank_id" json:"bank_id"`
	CreditLineID *string `db:"credit_line_id" json:"credit_line_id"`
	// OfferID is the offer (financing intent) this application accepted,
	// nil for a direct application: the bank's approval may not exceed
	// the offer's amount or rate.
	OfferID          *string         `db:"offer_id" json:"offer_id,omitempty"`
	Amount           money.Amount    `db:"amount" json:"amount"`
	Currency         string          `db:"-" json:"currency"`
	TermDays         int             `db:"term_days" json:"term_days"`
	Purpose          string          `db:"purpose" json:"purpose"`
	Status           Status          `db:"status" json:"status"`
	FinancingHeld    money.Amount    `db:"financing_held" json:"-"`
	LineHeld         money.Amount    `db:"line_held" json:"-"`
	LineRevolving    bool            `db:"line_revolving" json:"-"` // its credit line is revolving (read with the lock, lockRows)
	BankReference    string          `db:"bank_reference" json:"bank_reference,omitempty"`
	ApprovedAmount   *money.Amount   `db:"approved_amount" json:"approved_amount"`
	AnnualRate       *money.Rate     `db:"annual_rate" json:"annual_rate"`
	ApprovedTermDays *int            `db:"approved_term_days" json:"approved_term_days"`
	RejectionReason  string          `db:"rejection_reason" json:"rejection_reason,omitempty"`
	Disbursed        money.Amount    `db:"disbursed" json:"disbursed"`
	RepaidPrincipal  money.Amount    `db:"repaid_principal" json:"repaid_principal"`
	InterestPaid     money.Amount    `db:"interest_paid" json:"interest_paid"`
	Outstanding      money.Amount    `db:"-" json:"outstanding"`
	OverdueSince     *money.Date     `db:"overdue_since" json:"overdue_since"`
	WrittenOffOn     *money.Date     `db:"written_off_on" json:"written_off_on,omitempty"`
	Verification     json.RawMessage `db:"verification" json:"verification"`
	SubmittedBy      string          `db:"submitted_by" json:"-"`
	RequestKey       *string         `db:"request_key" json:"-"`
	CreatedAt        time.Time       `db:"created_at" json:"created_at"`
	UpdatedAt        time.Time       `db:"updated_at" json:"updated_at"`

	History          []Transition      `db:"-" json:"history,omitempty"`
	Consent          *Consent          `db:"-" json:"consent,omitempty"`
	RepaymentAccount *RepaymentAccount `db:"-" json:"repayment_account,omitempty"`
}

// JSON is a's JSON as json.Marshal writes it, but for two things: no
// HTML escaping (as procfin writes its answers) and the verification
// report written as it is. encoding/json re-reads and compacts every
// json.RawMessage it writes, and the report is most of an application's
// bytes; an application was so compacted twice when submitted (its audit
// state and its answer) and twice more when delivered (its states before
// and after). The report must be valid JSON, as json.Marshal and jsonb
// write it.
func (a Application) JSON() ([]byte, error) {
	report := a.Verification
	a.Verification = nil
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		return nil, err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(report) == 0 {
		return b, nil
	}
	// The key's first occurrence is the field: a string holding the
	// same text is written with its quotes escaped.
	const key = `"verification":`
	i := bytes.Index(b, []byte(key+"null"))
	if i < 0 {
		return nil, errs.E(errs.Internal, "application JSON without its verification")
	}
	i += len(key)
	out := make([]byte, 0, len(b)+len(report))
	out = append(append(append(out, b[:i]...), report...), b[i+len("null"):]...)
	return out, nil
}

func (a *Application) derive() {
	a.Currency = "CNY"
	a.Outstanding = a.Disbursed.Sub(a.RepaidPrincipal)
}

// Transition is one recorded state change.
type Transition struct {
	N     int       `db:"n" json:"n"`
	At    time.Time `db:"at" json:"at"`
	From  Status    `db:"from_status" json:"from"`
	To    Status    `db:"to_status" json:"to"`
	Actor string    `db:"actor" json:"actor"`
	// Cause is why, as a code (lending/causes.go), and CauseArgs its
	// arguments ({} when none). An entry whose state did not change (From
	// is To: a repayment, an overdue, a tranche after the first) records
	// an event of the loan.
	Cause     string    `db:"cause" json:"cause"`
	CauseArgs CauseArgs `db:"-" json:"cause_args"`
}

// Consent is the supplier's consent to send named data to one bank, its
// data items and statement in the language the supplier saw (Lang).
type Consent struct {
	ID        string     `db:"id" json:"id"`
	BankID    string     `db:"bank_id" json:"bank_id"`
	DataItems []string   `db:"-" json:"data_items"`
	Statement string     `db:"statement" json:"statement"`
	Lang      string     `db:"lang" json:"lang"`
	GivenBy   string     `db:"given_by" json:"given_by"`
	GivenAt   time.Time  `db:"given_at" json:"given_at"`
	ExpiresAt time.Time  `db:"expires_at" json:"expires_at"`
	RevokedAt *time.Time `db:"revoked_at" json:"revoked_at"`
}

// ApplyInput is a supplier's application.
type ApplyInput struct {
	ContractID   string        `json:"contract_id"`
	BankID       string        `json:"bank_id"`
	Amount       *money.Amount `json:"amount"`
	TermDays     *int          `json:"term_days"`
	CreditLineID *string       `json:"credit_line_id"`
	Purpose      string        `json:"purpose"`

	offer *offerRef // the offer this application accepts (Accept); nil for a direct application
}

// Applicant is who applies: a supplier user, and the Idempotency-Key of
// the request (RequestKey), kept with the application.
type Applicant struct {
	UserID       string
	SupplierUSCC string
	RequestKey   string
	// Lang is the language the applicant was shown the consent statement
	// in (ConsentLang): zh-CN or en.
	Lang string
	// Answered, if set, is called in the transaction that writes the
	// application, once it is written, so that the caller can store its
	// answer to the request in the same commit. An error rolls it back.
	Answered func(ctx context.Context, tx *postgres.Tx, a Application) error
}

func (s *Service) validate(in ApplyInput) []errs.FieldError {
	var fe []errs.FieldError
	if !ids.Valid(in.ContractID) {
		fe = append(fe, errs.Field("contract_id", errs.FieldInvalid))
	}
	if strings.TrimSpace(in.BankID) == "" {
		fe = append(fe, errs.Field("bank_id", errs.FieldRequired))
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
	if in.CreditLineID != nil {
		if !ids.Valid(*in.CreditLineID) {
			fe = append(fe, errs.Field("credit_line_id", errs.FieldInvalid))
		}
	}
	switch {
	case strings.TrimSpace(in.Purpose) == "":
		fe = append(fe, errs.Field("purpose", errs.FieldRequired))
	case len(in.Purpose) > 500:
		fe = append(fe, errs.Field("purpose", errs.FieldTooLong, 500))
	}
	return fe
}

// Apply verifies the contract for the applicant and, in one transaction,
// creates the application, takes its share of the contract's financing,
// reserves the amount on the credit line if one is named, records the
// supplier's consent to send the data to the bank, queues the message for
// the bank and writes the audit trail. Returns invalid (fields),
// verification_failed (with the report in Extra["verification"]) or
// unavailable.
func (s *Service) Apply(ctx context.Context, who Applicant, in ApplyInput) (Application, error) {
	if fe := s.validate(in); len(fe) > 0 {
		return Application{}, errs.InvalidFields(fe...)
	}
	in.ContractID = canonicalID(in.ContractID) // one spelling in SQL and in the batch's maps
	if in.CreditLineID != nil {
		line := canonicalID(*in.CreditLineID)
		in.CreditLineID = &line
	}
	created, err := s.intake.apply(ctx, who, in)
	if err != nil {
		if prior, found, perr := s.priorAnswer(ctx, who, func(p Application) bool {
			return p.ContractID == in.ContractID && p.BankID == in.BankID && p.Amount.Equal(*in.Amount)
		}); found || perr != nil {
			return prior, perr
		}
	}
	return created, err
}

// priorAnswer looks, for a request that failed, for the application its
// applicant made under the same Idempotency-Key: perhaps the request is a
// retry of one whose application committed but whose answer was lost (a
// crash between the two, or a commit whose outcome never reached us), and
// then the answer is that application, whatever this attempt met (its own
// hold may now fill the contract). same says whether that application is
// this request's; if not, idempotency_key_reused. found is false when
// there is none (or no key). Looked for only on failure, so a first
// attempt pays nothing for it.
func (s *Service) priorAnswer(ctx context.Context, who Applicant, same func(Application) bool) (a Application, found bool, err error) {
	if who.RequestKey == "" {
		return Application{}, false, nil
	}
	var prior Application
	err = s.db.GetContext(ctx, &prior, `SELECT * FROM applications WHERE submitted_by = $1 AND request_key = $2`,
		"user:"+who.UserID, who.RequestKey)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Application{}, false, nil
	case err != nil:
		return Application{}, false, postgres.Translate(err)
	case !same(prior):
		return Application{}, true, errs.E(errs.IdempotencyReused, "this Idempotency-Key was used for a different application")
	}
	a, err = s.Application(ctx, Scope{}, prior.ID)
	return a, true, err
}

// errRequestKeyUsed: the applicant already has an application under this
// Idempotency-Key; Apply answers with it.
var errRequestKeyUsed = errs.E(errs.Conflict, "an application was already made under this Idempotency-Key")

// applyMany writes the applications of items in tx, in their order, in a
// fixed number of round trips however many they are: lock their contracts
// (in id order) and read their evidence, in one statement; lock the credit
// lines named; read the suppliers barred (supplier.not_overdue) and, under
// the contracts' locks, the banks financing them (contract.single_bank),
// one statement each; then, every check made in Go on what was read, one statement
// writes the accepted applications with their consents and first
// transitions, one takes their share of the contracts' financing, one
// reserves their amounts on the credit lines; the banks' messages, the
// audit rows and the callers' answers (Applicant.Answered) are written
// together just before tx commits (tx.BeforeCommit). Applications of
// one contract or line are checked in turn, each seeing what those before
// it took.
//
// An application refused on what was read gets the refusal as its answer
// (it.err) and writes nothing; the others go on. An error returned means tx
// must roll back: it may hold part of the batch.
func (s *Service) applyMany(ctx context.Context, tx *postgres.Tx, items []*intakeItem) error {
	// Every statement of the batch finds its rows by id.
	if err := postgres.GenericPlans(ctx, tx); err != nil {
		return err
	}
	now := tx.Now() // the batch's one instant: its rows', its messages' and its day (s.now's, in the intake's transactions)
	contractIDs := make([]string, 0, len(items))
	var lineIDs []string
	for _, it := range items {
		it.app, it.err = Application{}, nil
		contractIDs = append(contractIDs, it.in.ContractID)
		if it.in.CreditLineID != nil {
			lineIDs = append(lineIDs, *it.in.CreditLineID)
		}
	}
	cs, evidence, err := s.contracts.ContractsForUpdate(ctx, tx, contractIDs)
	if err != nil {
		return err
	}
	lines, err := linesForUpdate(ctx, tx, lineIDs)
	if err != nil {
		return err
	}
	offers, err := lockOffers(ctx, tx, items) // no statement without an offer
	if err != nil {
		return err
	}
	if err := s.banks.learn(ctx, tx, items); err != nil {
		return err
	}
	usccs := make([]string, 0, len(items))
	for _, it := range items {
		if !slices.Contains(usccs, it.who.SupplierUSCC) {
			usccs = append(usccs, it.who.SupplierUSCC)
		}
	}
	bars, err := s.supplierBars(ctx, tx, usccs, money.DateOf(now))
	if err != nil {
		return err
	}
	locked := make([]string, 0, len(cs))
	for id := range cs {
		locked = append(locked, id)
	}
	financing, err := otherBanks(ctx, tx, locked)
	if err != nil {
		return err
	}

	// The checks, in order; what each accepted application takes moves its
	// contract and line on for the next.
	var accepted []accepted
	contractHolds, lineHolds := map[string]money.Amount{}, map[string]money.Amount{}
	var taken map[string]bool // the intents an offer of which this batch accepts
	for _, it := range items {
		who, in := it.who, it.in
		c, ok := cs[canonicalID(in.ContractID)]
		if !ok || c.SupplierUSCC != who.SupplierUSCC {
			it.err = errs.InvalidFields(errs.Field("contract_id", errs.FieldNotFound))
			continue
		}
		var offer *lockedOffer
		if in.offer != nil {
			o, err := checkOffer(it, offers, taken, now)
			if err != nil {
				it.err = err
				continue
			}
			offer = &o
		}
		ev, ok := evidence[c.ID]
		if !ok {
			it.err = errs.E(errs.NotFound, "no award notice %s", c.NoticeID)
			continue
		}
		report, checked := s.contracts.CheckContract(c, ev, contracts.VerifyRequest{ApplicantUSCC: who.SupplierUSCC, Amount: in.Amount}, now)
		bar, barred := bars[who.SupplierUSCC]
		if !barred {
			bar = contracts.Because("not_overdue")
		}
		report.AddReason(contracts.CheckSupplierNotOverdue, !barred, bar)
		oneBank, reason := singleBank(in.BankID, financing[c.ID])
		report.AddReason(contracts.CheckContractSingleBank, oneBank, reason)
		var line *CreditLine
		if in.CreditLineID != nil {
			l, ok := lines[canonicalID(*in.CreditLineID)]
			if !ok || l.SupplierUSCC != who.SupplierUSCC {
				it.err = errs.InvalidFields(errs.Field("credit_line_id", errs.FieldNotFound))
				continue
			}
			line = l
			ok, reason := l.canDraw(in.BankID, *in.Amount, money.DateOf(now))
			report.AddReason(contracts.CheckCreditLineAvailable, ok, reason)
		}
		if !report.Passed {
			it.err = verificationFailed(report)
			continue
		}
		if !s.banks.known(in.BankID) {
			it.err = errs.InvalidFields(errs.FieldError{Field: "bank_id", Code: "unknown", Message: fmt.Sprintf("no partner bank %q", in.BankID)})
			continue
		}
		c.Financed = c.Financed.Add(*in.Amount)
		cs[c.ID] = c
		if !slices.Contains(financing[c.ID], in.BankID) {
			financing[c.ID] = append(financing[c.ID], in.BankID)
		}
		contractHolds[c.ID] = contractHolds[c.ID].Add(*in.Amount)
		if line != nil {
			line.Used = line.Used.Add(*in.Amount)
			line.derive()
			lineHolds[line.ID] = lineHolds[line.ID].Add(*in.Amount)
		}
		a := s.prepare(it, c, checked, report, line, now)
		if offer != nil {
			a.offer = offer
			a.consentID = *offer.ConsentID
			a.submission.BankOfferID = &offer.BankOfferID
			if taken == nil {
				taken = map[string]bool{}
			}
			taken[offer.IntentID] = true
		}
		accepted = append(accepted, a)
	}
	if len(accepted) == 0 {
		return nil
	}

	apps, err := s.insertApplications(ctx, tx, accepted, now)
	if err != nil {
		return err
	}
	if len(apps) < len(accepted) {
		// An Idempotency-Key used before (by a committed application, or by
		// another in this batch). With nothing written the applications
		// keep that as their answer; else the batch is rolled back and its
		// applications written alone.
		if len(apps) > 0 {
			return errs.E(errs.Conflict, "an Idempotency-Key was used twice in one batch")
		}
		for _, a := range accepted {
			a.item.err = errRequestKeyUsed
		}
		return nil
	}
	if err := s.contracts.HoldFinancing(ctx, tx, cs, contractHolds); err != nil {
		return err
	}
	if err := holdLines(ctx, tx, lineHolds); err != nil {
		return err
	}
	for _, a := range accepted {
		if o := a.offer; o != nil {
			if err := s.closeIntent(ctx, tx, o.IntentID, IntentAccepted, a.actor,
				&acceptedOffer{OfferID: o.OfferID, BankID: o.BankID, BankOfferID: o.BankOfferID, ApplicationID: a.id}); err != nil {
				return err
			}
		}
	}
	subs := make([]Submission, len(accepted))
	for i, a := range accepted {
		subs[i] = a.submission
	}
	if err := s.outbox.Enqueue(ctx, tx, subs...); err != nil {
		return err
	}
	for _, a := range accepted {
		app := apps[a.id]
		app.derive()
		state, err := app.JSON()
		if err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: a.actor, Action: "application.submitted",
			EntityType: "application", EntityID: a.id, After: json.RawMessage(state)}); err != nil {
			return err
		}
		// The answer is what this transaction wrote: no need to read it back.
		app.History = []Transition{{N: 1, At: app.CreatedAt, To: Submitted, Actor: a.actor, Cause: CauseSubmitted, CauseArgs: CauseArgs{}}}
		app.Consent = &Consent{ID: a.consentID, BankID: app.BankID, DataItems: consentItems(a.lang), Statement: a.statement,
			Lang: a.lang, GivenBy: a.actor, GivenAt: app.CreatedAt, ExpiresAt: now.Add(s.limits.ConsentTTL)}
		if a.offer != nil {
			app.Consent = a.offer.consent()
		}
		if answered := a.item.who.Answered; answered != nil {
			if err := answered(ctx, tx, app); err != nil {
				return err
			}
		}
		a.item.app = app
	}
	return nil
}

// accepted is an application that passed its checks, ready to write.
type accepted struct {
	item         *intakeItem
	id, actor    string
	contractID   string
	lineHeld     money.Amount
	verification []byte
	consentID    string
	lang         string // of the consent's statement
	statement    string
	submission   Submission
	// offer is the offer it accepts, read under its intent's lock; its
	// intent's consent to the bank becomes the application's (consentID).
	offer *lockedOffer
}

// prepare builds what is written for an accepted application: its row's
// values, its consent statement and what its bank is told.
func (s *Service) prepare(it *intakeItem, c contracts.Contract, checked contracts.Checked, report contracts.Report, line *CreditLine, now time.Time) accepted {
	in := it.in
	verification, _ := json.Marshal(report)
	a := accepted{item: it, id: uuid.NewString(), actor: "user:" + it.who.UserID, contractID: c.ID, lineHeld: money.Zero, verification: verification,
		consentID: uuid.NewString(), lang: ConsentLang(it.who.Lang)}
	a.statement = ConsentStatement(a.lang, in.BankID, s.banks.name(in.BankID))
	var lineRef *string
	if line != nil {
		a.lineHeld = *in.Amount
		lineRef = &line.BankLineID
	}
	a.submission = Submission{
		ApplicationID: a.id, BankID: in.BankID, SubmittedAt: now,
		Supplier: checked.Supplier, Notice: checked.Notice, Contract: c,
		Amount: *in.Amount, TermDays: *in.TermDays, BankLineID: lineRef, Purpose: strings.TrimSpace(in.Purpose),
		Verification: report,
	}
	return a
}

// insertApplications writes the accepted applications with their consents
// and first transitions in one statement, and returns those written keyed
// by id: an application whose Idempotency-Key its applicant used before is
// not.
func (s *Service) insertApplications(ctx context.Context, tx *postgres.Tx, accepted []accepted, now time.Time) (map[string]Application, error) {
	n := len(accepted)
	ids, usccs, contractIDs, banks := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	lineIDs, requestKeys := make([]sql.NullString, n), make([]sql.NullString, n)
	amounts, lineHelds, purposes := make([]string, n), make([]string, n), make([]string, n)
	var verifications postgres.Packed // 1.5 KB of JSON each: not an array parameter
	terms := make([]int64, n)
	actors, statements, langs, consentIDs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	offerIDs := make([]sql.NullString, n)
	intentConsents := []string{} // the consents accepted offers' applications take
	for i, a := range accepted {
		if a.offer != nil {
			offerIDs[i] = sql.NullString{String: a.offer.OfferID, Valid: true}
			intentConsents = append(intentConsents, a.consentID)
		}
		it := a.item
		ids[i], usccs[i], contractIDs[i], banks[i] = a.id, it.who.SupplierUSCC, a.contractID, it.in.BankID
		if it.in.CreditLineID != nil {
			lineIDs[i] = sql.NullString{String: *it.in.CreditLineID, Valid: true}
		}
		if it.who.RequestKey != "" {
			requestKeys[i] = sql.NullString{String: it.who.RequestKey, Valid: true}
		}
		amounts[i], lineHelds[i] = it.in.Amount.String(), a.lineHeld.String()
		purposes[i], terms[i] = strings.TrimSpace(it.in.Purpose), int64(*it.in.TermDays)
		verifications.Add(a.verification)
		actors[i], statements[i], langs[i], consentIDs[i] = a.actor, a.statement, a.lang, a.consentID
	}
	var rows []Application
	err := tx.SelectContext(ctx, &rows, `
		WITH v AS (
			SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::uuid[], $6::numeric[], $7::int[],
				$8::text[], $9::numeric[], $10::int[], $17::int[], $11::text[], $12::text[], $13::text[], $19::text[], $20::uuid[], $22::uuid[])
				WITH ORDINALITY AS v(id, supplier_uscc, contract_id, bank_id, credit_line_id, amount, term_days,
					purpose, line_held, verification_at, verification_len, submitted_by, request_key, statement, lang, consent_id, offer_id, i)
		), app AS (
			INSERT INTO applications (id, supplier_uscc, contract_id, bank_id, credit_line_id, amount, term_days,
				purpose, status, financing_held, line_held, verification, submitted_by, request_key, offer_id)
			SELECT id, supplier_uscc, contract_id, bank_id, credit_line_id, amount, term_days,
				purpose, 'submitted', amount, line_held,
				convert_from(substring($18::bytea FROM verification_at FOR verification_len), 'UTF8')::jsonb, submitted_by, request_key, offer_id
			FROM v ORDER BY i
			ON CONFLICT (submitted_by, request_key) WHERE request_key IS NOT NULL DO NOTHING
			RETURNING *
		), consent AS (
			INSERT INTO consents (id, application_id, supplier_uscc, bank_id, data_items, statement, lang, given_by, expires_at)
			SELECT v.consent_id, app.id, app.supplier_uscc, app.bank_id, CASE WHEN v.lang = 'en' THEN $21::text[] ELSE $14::text[] END,
				v.statement, v.lang, app.submitted_by, $15
			FROM app JOIN v ON v.id = app.id WHERE v.offer_id IS NULL
		), intent_consent AS (
			-- An accepted offer's application takes its intent's consent to
			-- the bank; found by id = ANY, none for direct applications.
			UPDATE consents c SET application_id = app.id
			FROM app JOIN v ON v.id = app.id WHERE c.id = ANY($23::uuid[]) AND c.id = v.consent_id
		), transition AS (
			INSERT INTO application_transitions (application_id, n, from_status, to_status, actor, cause)
			SELECT id, 1, '', 'submitted', submitted_by, $16 FROM app
		)
		SELECT * FROM app`,
		pq.Array(ids), pq.Array(usccs), pq.Array(contractIDs), pq.Array(banks), pq.Array(lineIDs),
		pq.Array(amounts), pq.Array(terms), pq.Array(purposes), pq.Array(lineHelds), verifications.Starts(),
		pq.Array(actors), pq.Array(requestKeys), pq.Array(statements),
		pq.StringArray(consentItems(LangZH)), now.Add(s.limits.ConsentTTL), CauseSubmitted, verifications.Lengths(), verifications.Bytes(),
		pq.Array(langs), pq.Array(consentIDs), pq.StringArray(consentItems(LangEN)), pq.Array(offerIDs), pq.Array(intentConsents))
	if err != nil {
		return nil, postgres.Translate(err)
	}
	apps := make(map[string]Application, len(rows))
	for _, a := range rows {
		apps[a.ID] = a
	}
	return apps, nil
}

// canonicalID is a UUID in its stored form (lower case, with hyphens); a
// string that is not one stays as it is, matching nothing stored.
func canonicalID(id string) string {
	if u, ok := ids.Parse(id); ok {
		return u.String()
	}
	return id
}

func verificationFailed(r contracts.Report) error { return failedVerification("the application", r) }

// failedVerification is verification_failed for what (the application, the
// financing need) with report r in Extra["verification"].
func failedVerification(what string, r contracts.Report) error {
	var failed []string
	for _, c := range r.Checks {
		if c.Result == "fail" {
			failed = append(failed, c.Name+": "+c.Reason)
		}
	}
	e := errs.E(errs.VerificationFailed, "%s failed verification: %s", what, strings.Join(failed, "; "))
	e.Extra = map[string]any{"verification": r}
	return e
}

// Scope limits what a caller sees: a supplier its own applications, a bank
// those sent to it, officers all (both empty).
type Scope struct {
	SupplierUSCC string
	BankID       string
	// PurchaserIssuerID and PurchaserID, when set, limit the scope to the
	// contracts of that purchaser (a purchaser user or signing system).
	PurchaserIssuerID string
	PurchaserID       string
}

// purchaserScoped reports whether the scope is a purchaser's. A
// purchaser's scope sees no application, loan, credit line or consent here
// (an application does not carry its purchaser); it reads its contracts'
// receivables and payments through receivables.go and payments.go.
func (sc Scope) purchaserScoped() bool { return sc.PurchaserID != "" || sc.PurchaserIssuerID != "" }

func (sc Scope) allows(a Application) bool {
	return !sc.purchaserScoped() &&
		(sc.SupplierUSCC == "" || sc.SupplierUSCC == a.SupplierUSCC) && (sc.BankID == "" || sc.BankID == a.BankID)
}

// lockApplication locks the application for the rest of tx
// (lockApplications); not_found when absent or outside scope.
func (s *Service) lockApplication(ctx context.Context, tx *postgres.Tx, sc Scope, id string) (Application, error) {
	canon, isID := ids.Canonical(id)
	if !isID {
		return Application{}, errs.E(errs.NotFound, "no application %s", id)
	}
	apps, err := s.lockApplications(ctx, tx, []string{canon})
	if err != nil {
		return Application{}, err
	}
	if len(apps) == 0 || !sc.allows(apps[0]) {
		return Application{}, errs.E(errs.NotFound, "no application %s", canon)
	}
	return apps[0], nil
}

// lockApplications locks the applications ids (UUIDs) for the rest of tx
// (lockRows) and returns those that exist, in id order; it does not check
// scope.
func (s *Service) lockApplications(ctx context.Context, tx *postgres.Tx, ids []string) ([]Application, error) {
	rows, err := s.lockRows(ctx, tx, ids, nil)
	if err != nil {
		return nil, err
	}
	apps := make([]Application, len(rows))
	for i := range rows {
		apps[i] = rows[i].Application
		apps[i].derive()
	}
	return apps, nil
}

// Application returns the application with its history, consent and
// repayment account; not_found when absent or outside scope.
func (s *Service) Application(ctx context.Context, sc Scope, id string) (Application, error) {
	canon, isID := ids.Canonical(id)
	if !isID {
		return Application{}, errs.E(errs.NotFound, "no application %s", id)
	}
	id = canon
	// One round trip: the row with its history, consent and repayment
	// account as JSON.
	var row struct {
		Application
		HistoryJSON []byte `db:"history_json"`
		ConsentJSON []byte `db:"consent_json"`
		AccountJSON []byte `db:"account_json"`
	}
	err := s.db.GetContext(ctx, &row, `
		SELECT a.*,
			(SELECT COALESCE(json_agg(json_build_object('n', t.n, 'at', t.at, 'from', t.from_status,
				'to', t.to_status, 'actor', t.actor, 'cause', t.cause, 'cause_args', t.cause_args) ORDER BY t.n), '[]')
			 FROM application_transitions t WHERE t.application_id = a.id) AS history_json,
			(SELECT json_build_object('id', c.id, 'bank_id', c.bank_id, 'data_items', c.data_items,
				'statement', c.statement, 'lang', c.lang, 'given_by', c.given_by, 'given_at', c.given_at,
				'expires_at', c.expires_at, 'revoked_at', c.revoked_at)
			 FROM consents c WHERE c.application_id = a.id LIMIT 1) AS consent_json,
			(SELECT json_build_object('bank_name', r.bank_name, 'account_no', r.account_no,
				'account_name', r.account_name, 'status', r.status, 'updated_at', r.updated_at)
			 FROM repayment_accounts r WHERE r.application_id = a.id) AS account_json
		FROM applications a WHERE a.id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !sc.allows(row.Application)) {
		return Application{}, errs.E(errs.NotFound, "no application %s", id)
	}
	if err != nil {
		return Application{}, postgres.Translate(err)
	}
	a := row.Application
	a.derive()
	a.History = []Transition{}
	if err := json.Unmarshal(row.HistoryJSON, &a.History); err != nil {
		return Application{}, errs.Wrap(errs.Internal, err, "application history")
	}
	if row.ConsentJSON != nil {
		a.Consent = &Consent{}
		if err := json.Unmarshal(row.ConsentJSON, a.Consent); err != nil {
			return Application{}, errs.Wrap(errs.Internal, err, "application consent")
		}
	}
	if row.AccountJSON != nil {
		a.RepaymentAccount = &RepaymentAccount{}
		if err := json.Unmarshal(row.AccountJSON, a.RepaymentAccount); err != nil {
			return Application{}, errs.Wrap(errs.Internal, err, "repayment account")
		}
	}
	return a, nil
}

// Filter narrows a list of applications.
type Filter struct {
	Status Status
	BankID string
	From   *money.Date // created on or after (Shanghai calendar)
	To     *money.Date // created on or before
}

// Applications lists applications in scope matching f, newest first, with
// seq below before (0: from the newest), at most limit.
func (s *Service) Applications(ctx context.Context, sc Scope, f Filter, before int64, limit int) ([]Application, error) {
	list := []Application{}
	if sc.purchaserScoped() {
		return list, nil
	}
	var from, to any
	if f.From != nil {
		from = f.From.String()
	}
	if f.To != nil {
		to = f.To.AddDays(1).String()
	}
	bank := f.BankID
	if sc.BankID != "" {
		bank = sc.BankID
	}
	err := s.db.SelectContext(ctx, &list, `
		SELECT * FROM applications
		WHERE ($1 = '' OR supplier_uscc = $1) AND ($2 = '' OR bank_id = $2) AND ($3 = '' OR status = $3)
		  AND ($4::date IS NULL OR created_at >= ($4::date)::timestamp AT TIME ZONE 'Asia/Shanghai')
		  AND ($5::date IS NULL OR created_at < ($5::date)::timestamp AT TIME ZONE 'Asia/Shanghai')
		  AND ($6 = 0 OR seq < $6)
		ORDER BY seq DESC LIMIT $7`, sc.SupplierUSCC, bank, string(f.Status), from, to, before, limit)
	for i := range list {
		list[i].derive()
	}
	return list, postgres.Translate(err)
}

// Cancel withdraws an application before the bank decides, releasing what
// it holds (cause cancelled_by_supplier): nothing is sent if its credit
// application was not attempted yet, else a withdrawal is (withdraw).
// Returns not_found (absent or another's) or invalid_transition (the bank
// decided).
func (s *Service) Cancel(ctx context.Context, sc Scope, id, actor string) (Application, error) {
	err := postgres.Transact(postgres.WithClock(ctx, s.now), s.db, func(tx *postgres.Tx) error {
		a, err := s.lockApplication(ctx, tx, sc, id)
		if err != nil {
			return err
		}
		return s.withdraw(ctx, tx, &a, actor, CauseCancelledBySupplier)
	})
	if err != nil {
		return Application{}, err
	}
	return s.Application(ctx, sc, id)
}

// transition moves a (locked) application to a new state: transitionMany
// for one. It also writes a.BankReference, so a caller that has just learnt
// it sets it first.
func (s *Service) transition(ctx context.Context, tx *postgres.Tx, a *Application, to Status, actor string, why Cause) error {
	return s.transitionMany(ctx, tx, []change{{app: a, to: to, actor: actor, cause: why}})
}

// change is one locked application's move to a new state, by actor for
// cause.
type change struct {
	app   *Application
	to    Status
	actor string
	cause Cause
	// reference, if set, is the bank's reference learnt with this change:
	// written with it, and not in the audit entry's state before it.
	reference *string
}

// transitionMany is the one way an application changes state. Each
// change is checked against the table, releases what its application holds
// when it reaches a final state, and is recorded with time, actor and
// cause, and audited. The new states (with each application's
// BankReference) and their history rows are one statement however many
// the changes; the audit rows are written before the commit. Each
// application appears at most once, locked by the caller (lockApplication,
// or in id order for a batch). On success each app is in its new state.
func (s *Service) transitionMany(ctx context.Context, tx *postgres.Tx, cs []change) error {
	n := len(cs)
	if n == 0 {
		return nil
	}
	ids, froms, tos, refs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	actors, causes, args := make([]string, n), make([]string, n), make([]string, n)
	befores := make([]Application, n)
	for i, c := range cs {
		if err := checkTransition(c.app.Status, c.to); err != nil {
			return err
		}
		for _, id := range ids[:i] {
			if id == c.app.ID { // its history's n would be taken twice
				return errs.E(errs.Internal, "application %s changes twice in one transitionMany", id)
			}
		}
		befores[i] = *c.app
		if c.reference != nil {
			c.app.BankReference = *c.reference
		}
		ids[i], froms[i], tos[i], refs[i] = c.app.ID, string(c.app.Status), string(c.to), c.app.BankReference
		actors[i], causes[i], args[i] = c.actor, c.cause.Code, c.cause.argsJSON()
	}
	for _, c := range cs {
		if releasesHolds(c.to) {
			if err := s.release(ctx, tx, c.app, c.app.FinancingHeld, c.app.LineHeld.Sub(c.app.lineKept())); err != nil {
				return err
			}
		}
	}
	// The update finds its rows by id = ANY, never by a join with the
	// arrays: a generic plan (the batch transactions use them) then keeps
	// to the primary key whatever the table's size, as id = $1 did.
	_, err := tx.ExecContext(ctx, `
		WITH moved AS (
			UPDATE applications AS a SET status = ($3::text[])[array_position($1::uuid[], a.id)],
				bank_reference = ($4::text[])[array_position($1::uuid[], a.id)], updated_at = now()
			WHERE a.id = ANY($1::uuid[]))
		INSERT INTO application_transitions (application_id, n, from_status, to_status, actor, cause, cause_args)
		SELECT v.id, (SELECT coalesce(max(n), 0) + 1 FROM application_transitions t WHERE t.application_id = v.id),
			v.from_status, v.to_status, v.actor, v.cause, v.args
		FROM unnest($1::uuid[], $2::text[], $3::text[], $5::text[], $6::text[], $7::jsonb[]) WITH ORDINALITY AS v(id, from_status, to_status, actor, cause, args, i)
		ORDER BY v.i`, pq.Array(ids), pq.Array(froms), pq.Array(tos), pq.Array(refs), pq.Array(actors), pq.Array(causes), pq.Array(args))
	if err != nil {
		return postgres.Translate(err)
	}
	entries := make([]audit.Entry, n)
	for i, c := range cs {
		c.app.Status = c.to
		if entries[i], err = applicationEntry(c.actor, "application."+string(c.to), befores[i], *c.app, c.cause.String()); err != nil {
			return err
		}
	}
	return audit.RecordMany(ctx, tx, entries)
}

// applicationEntry is the audit entry of a change of an application, its
// states written with Application.JSON.
func applicationEntry(actor, action string, before, after Application, reason string) (audit.Entry, error) {
	b, err := before.JSON()
	if err != nil {
		return audit.Entry{}, err
	}
	a, err := after.JSON()
	if err != nil {
		return audit.Entry{}, err
	}
	return audit.Entry{Actor: actor, Action: action, EntityType: "application",
		EntityID: after.ID, Before: json.RawMessage(b), After: json.RawMessage(a), Reason: reason}, nil
}

// release gives back part of what an application holds of its contract's
// financing and of its credit line.
func (s *Service) release(ctx context.Context, tx *postgres.Tx, a *Application, financing, line money.Amount) error {
	if err := s.contracts.ReleaseFinancing(ctx, tx, a.ContractID, financing); err != nil {
		return err
	}
	if line.IsPositive() && a.CreditLineID != nil {
		if err := holdLines(ctx, tx, map[string]money.Amount{*a.CreditLineID: money.Zero.Sub(line)}); err != nil {
			return err
		}
	}
	a.FinancingHeld = a.FinancingHeld.Sub(financing)
	a.LineHeld = a.LineHeld.Sub(line)
	_, err := tx.ExecContext(ctx, `UPDATE applications SET financing_held = $2, line_held = $3 WHERE id = $1`, a.ID, a.FinancingHeld, a.LineHeld)
	return postgres.Translate(err)
}
