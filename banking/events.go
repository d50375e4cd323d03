package banking

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/platform/jsonbody"
	"procfin/platform/money"
	"procfin/platform/postgres"
	"procfin/platform/signature"
	"procfin/platform/text"
)

// Event types of the bank protocol.
const (
	EventApplicationReceived = "application.received"
	EventApplicationApproved = "application.approved"
	EventApplicationRejected = "application.rejected"
	EventLoanDisbursed       = "loan.disbursed"
	EventLoanRepaid          = "loan.repaid"
	EventLoanOverdue         = "loan.overdue"
	EventLineGranted         = "credit_line.granted"
	EventLineChanged         = "credit_line.changed"
	EventLineRevoked         = "credit_line.revoked"
)

var eventTypes = map[string]bool{
	EventApplicationReceived: true, EventApplicationApproved: true, EventApplicationRejected: true,
	EventLoanDisbursed: true, EventLoanRepaid: true, EventLoanOverdue: true,
	EventLineGranted: true, EventLineChanged: true, EventLineRevoked: true,
}

// Envelope is a bank event as it arrives (bank-protocol.md).
type Envelope struct {
	EventID       string          `json:"event_id"`
	Type          string          `json:"type"`
	OccurredAt    time.Time       `json:"occurred_at"`
	ApplicationID string          `json:"application_id"`
	BankReference string          `json:"bank_reference"`
	Data          json.RawMessage `json:"data"`
}

// Event data, one shape per type. Fields are pointers where the protocol
// requires them, so a missing one is told from a zero one.
type (
	approvedData struct {
		ApprovedAmount   *money.Amount             `json:"approved_amount"`
		AnnualRate       *money.Rate               `json:"annual_rate"`
		TermDays         *int                      `json:"term_days"`
		RepaymentAccount *lending.RepaymentAccount `json:"repayment_account"`
	}
	rejectedData struct {
		ReasonCode string `json:"reason_code"`
		Reason     string `json:"reason"`
	}
	disbursedData struct {
		LoanID         string        `json:"loan_id"`
		DisbursementID string        `json:"disbursement_id"`
		Amount         *money.Amount `json:"amount"`
		ValueDate      *money.Date   `json:"value_date"`
		MaturityDate   *money.Date   `json:"maturity_date"`
		AnnualRate     *money.Rate   `json:"annual_rate"`
	}
	repaidData struct {
		LoanID         string        `json:"loan_id"`
		RepaymentID    string        `json:"repayment_id"`
		DisbursementID *string       `json:"disbursement_id"` // 1.1: the tranche; absent: the whole loan
		Principal      *money.Amount `json:"principal"`
		Interest       *money.Amount `json:"interest"`
		PaidOn         *money.Date   `json:"paid_on"`
		InterestPeriod *struct {
			Start *money.Date `json:"start"`
			End   *money.Date `json:"end"`
		} `json:"interest_period"` // may be absent when interest is 0
	}
	overdueData struct {
		LoanID           string        `json:"loan_id"`
		OverduePrincipal *money.Amount `json:"overdue_principal"`
		Since            *money.Date   `json:"since"`
	}
	lineData struct {
		CreditLineID      string        `json:"credit_line_id"`
		SupplierUSCC      string        `json:"supplier_uscc"`
		Limit             *money.Amount `json:"limit"`
		ValidFrom         *money.Date   `json:"valid_from"`
		ValidUntil        *money.Date   `json:"valid_until"`
		Revolving         *bool         `json:"revolving"`
		AnnualRateCeiling *money.Rate   `json:"annual_rate_ceiling"`
	}
	revokedData struct {
		CreditLineID string `json:"credit_line_id"`
		Reason       string `json:"reason"`
	}
)

// ParseEvent reads and checks an event body: a known type, an event id,
// an instant, an application id where the type needs one, and the data the
// type requires (amounts present and not negative, dates valid), and
// every text procfin stores of it (ids, bank_reference, reasons, the
// repayment account) valid UTF-8 without NUL or control characters and
// bounded. Every failure is invalid (422, naming each field) or
// malformed_request (400; a NUL anywhere is one); it never panics.
func ParseEvent(body []byte) (Envelope, any, error) {
	var env Envelope
	if err := jsonbody.Decode(bytes.NewReader(body), &env); err != nil {
		return env, nil, err
	}
	var fe []errs.FieldError
	bad := func(field, code, msg string) {
		fe = append(fe, errs.FieldError{Field: field, Code: code, Message: msg})
	}
	if env.EventID == "" || len(env.EventID) > 200 {
		bad("event_id", "required", "is required, at most 200 bytes")
	}
	words(bad, "event_id", env.EventID, 0)
	words(bad, "bank_reference", env.BankReference, maxWords)
	if !eventTypes[env.Type] {
		bad("type", "unknown_type", fmt.Sprintf("%q is not an event type of the protocol", env.Type))
	}
	if env.OccurredAt.IsZero() {
		bad("occurred_at", "required", "is required (RFC 3339)")
	}
	if !strings.HasPrefix(env.Type, "credit_line.") {
		if id, ok := ids.Canonical(env.ApplicationID); ok {
			env.ApplicationID = id // one spelling from here on
		} else {
			bad("application_id", "invalid", "must be the id of an application procfin sent")
		}
	}
	if len(fe) > 0 {
		return env, nil, errs.InvalidFields(fe...)
	}
	data, fe := parseData(env.Type, env.Data)
	if len(fe) > 0 {
		return env, nil, errs.InvalidFields(fe...)
	}
	return env, data, nil
}

// maxWords bounds the free texts of an event that procfin stores (a
// bank_reference, a rejection's or revocation's reason, the parts of a
// repayment account); ids are bounded to 200 bytes.
const (
	maxWords  = 200
	maxReason = 1000
)

// words refuses a text of an event that procfin would store unless it is
// valid UTF-8 without NUL or other control characters (but tab and
// newline), and at most max bytes (0: the field's own check bounds it).
// The bank is told which field, and nothing is stored.
func words(bad func(field, code, msg string), field, v string, max int) {
	switch {
	case !text.Valid(v):
		bad(field, "invalid_text", "must be text: valid UTF-8 without NUL or control characters")
	case max > 0 && len(v) > max:
		bad(field, "too_long", fmt.Sprintf("is at most %d bytes", max))
	}
}

func parseData(typ string, raw json.RawMessage) (any, []errs.FieldError) {
	var fe []errs.FieldError
	bad := func(field, code, msg string) {
		fe = append(fe, errs.FieldError{Field: "data." + field, Code: code, Message: msg})
	}
	amount := func(field string, a *money.Amount, positive bool) {
		switch {
		case a == nil:
			bad(field, "required", "is required")
		case a.IsNegative(), positive && a.IsZero():
			bad(field, "not_positive", "must be above zero")
		}
	}
	date := func(field string, d *money.Date) {
		if d == nil || d.IsZero() {
			bad(field, "required", "is required (YYYY-MM-DD)")
		}
	}
	text := func(field, v string) {
		if v == "" || len(v) > 200 {
			bad(field, "required", "is required, at most 200 bytes")
			return
		}
		words(bad, field, v, 0)
	}
	decode := func(dst any) bool {
		if len(raw) == 0 || string(raw) == "null" {
			raw = json.RawMessage("{}")
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				msg := te.Value
				if te.Type != nil && te.Type.PkgPath() != "procfin/platform/money" {
					msg = "has the wrong type (" + te.Value + ")"
				}
				bad(te.Field, "invalid", msg)
				return false
			}
			bad("", "invalid", "does not match the event type")
			return false
		}
		return true
	}
	switch typ {
	case EventApplicationReceived:
		return nil, nil
	case EventApplicationApproved:
		var d approvedData
		if !decode(&d) {
			return nil, fe
		}
		amount("approved_amount", d.ApprovedAmount, true)
		if d.AnnualRate == nil {
			bad("annual_rate", "required", "is required")
		}
		if d.TermDays == nil || *d.TermDays < 1 {
			bad("term_days", "required", "is required, at least 1")
		}
		if d.RepaymentAccount == nil {
			bad("repayment_account", "required", "is required")
		} else {
			words(bad, "repayment_account.bank_name", d.RepaymentAccount.BankName, maxWords)
			words(bad, "repayment_account.account_no", d.RepaymentAccount.AccountNo, maxWords)
			words(bad, "repayment_account.account_name", d.RepaymentAccount.AccountName, maxWords)
		}
		return d, fe
	case EventApplicationRejected:
		var d rejectedData
		if !decode(&d) {
			return nil, fe
		}
		text("reason_code", d.ReasonCode)
		words(bad, "reason", d.Reason, maxReason)
		return d, fe
	case EventLoanDisbursed:
		var d disbursedData
		if !decode(&d) {
			return nil, fe
		}
		text("loan_id", d.LoanID)
		text("disbursement_id", d.DisbursementID)
		amount("amount", d.Amount, true)
		date("value_date", d.ValueDate)
		date("maturity_date", d.MaturityDate)
		if d.AnnualRate == nil {
			bad("annual_rate", "required", "is required")
		}
		return d, fe
	case EventLoanRepaid:
		var d repaidData
		if !decode(&d) {
			return nil, fe
		}
		text("loan_id", d.LoanID)
		text("repayment_id", d.RepaymentID)
		if d.DisbursementID != nil {
			text("disbursement_id", *d.DisbursementID)
		}
		amount("principal", d.Principal, false)
		amount("interest", d.Interest, false)
		date("paid_on", d.PaidOn)
		switch {
		case d.InterestPeriod == nil && d.Interest != nil && d.Interest.IsZero():
			// No interest, no period (domain.md, clarifications 1.1).
		case d.InterestPeriod == nil:
			bad("interest_period", "required", "start and end are required")
		default:
			date("interest_period.start", d.InterestPeriod.Start)
			date("interest_period.end", d.InterestPeriod.End)
		}
		return d, fe
	case EventLoanOverdue:
		var d overdueData
		if !decode(&d) {
			return nil, fe
		}
		text("loan_id", d.LoanID)
		amount("overdue_principal", d.OverduePrincipal, false)
		date("since", d.Since)
		return d, fe
	case EventLineGranted, EventLineChanged:
		var d lineData
		if !decode(&d) {
			return nil, fe
		}
		text("credit_line_id", d.CreditLineID)
		text("supplier_uscc", d.SupplierUSCC)
		amount("limit", d.Limit, false)
		date("valid_from", d.ValidFrom)
		date("valid_until", d.ValidUntil)
		if d.Revolving == nil {
			bad("revolving", "required", "is required")
		}
		return d, fe
	case EventLineRevoked:
		var d revokedData
		if !decode(&d) {
			return nil, fe
		}
		text("credit_line_id", d.CreditLineID)
		words(bad, "reason", d.Reason, maxReason)
		return d, fe
	}
	return nil, fe
}

// repayment is the repayment d describes (ParseEvent checked it).
func (d repaidData) repayment() lending.Repayment {
	r := lending.Repayment{BankRepaymentID: d.RepaymentID, Principal: *d.Principal, Interest: *d.Interest, PaidOn: *d.PaidOn}
	if d.DisbursementID != nil {
		r.BankDisbursementID = *d.DisbursementID
	}
	if p := d.InterestPeriod; p != nil {
		r.PeriodStart, r.PeriodEnd = *p.Start, *p.End
	}
	return r
}

// Events applies bank events through the lending state machine.
type Events struct {
	db      *sqlx.DB
	lending *lending.Service
	inbox   *inbox
	// OnRepaid, when set, runs in the repayment's own transaction (the
	// subsidy claim is computed there).
	OnRepaid func(ctx context.Context, tx *postgres.Tx, r lending.RepaymentResult) error
	// PrepareRepaid, when set, runs before a batch's events are applied,
	// with the supplier and payment date of its repayments with interest
	// (those whose supplier the batch's lock read): OnRepaid's reads for
	// them, done together.
	PrepareRepaid func(ctx context.Context, tx *postgres.Tx, suppliers []string, paidOn []money.Date) error
}

// NewEvents returns the event handler.
func NewEvents(db *sqlx.DB, ls *lending.Service) *Events {
	ev := &Events{db: db, lending: ls}
	ev.inbox = newInbox(ev, inboxWriters, inboxMaxBatch)
	return ev
}

// Outcomes of Apply.
const (
	Processed = "processed"
	Duplicate = "duplicate"
)

// Consume is the replay check of an event's signed message: Verifier
// consumes Seen in the transaction that applies the event, so that the
// message is consumed in the same commit as its effect, and Done (when set)
// runs once that transaction committed.
type Consume struct {
	Verifier *signature.Verifier
	Seen     signature.Seen
	Done     func()
}

// Apply records and applies one event from bankID in one transaction: the
// replay check of its message (consume, when not nil), the inbox row, the
// change, the audit trail. The same event id with the same body is a
// Duplicate and changes nothing; with another body it is an
// event_conflict. A bank touching another bank's application gets
// not_found; an event that does not follow from the current state gets
// invalid_transition, and nothing changes (the bank may resend later). A
// message seen before is signature_invalid (reason replay).
//
// The transaction may be shared with other events applied at the same
// time (the inbox, inbox.go); each is applied as it would be alone.
func (ev *Events) Apply(ctx context.Context, bankID string, body []byte, consume *Consume) (string, Envelope, error) {
	env, data, err := ParseEvent(body)
	if err != nil {
		return "", env, err
	}
	if d, ok := data.(repaidData); ok {
		// Figures that cannot be true are refused before the inbox: they
		// cost no transaction, and disturb no batch.
		if err := ev.lending.CheckRepayment(d.repayment()); err != nil {
			return "", env, err
		}
	}
	sum := sha256.Sum256(body)
	it := &inboxItem{ctx: ctx, bankID: bankID, env: env, data: data, hash: hex.EncodeToString(sum[:]), consume: consume}
	outcome, err := ev.inbox.apply(it)
	return outcome, env, err
}

// applyAll applies items in tx, in their order, as each would be alone:
// first the replay checks of their messages and their inbox rows, a
// statement each for all of them; then the change of each that is neither
// a replay nor a duplicate. An item refused by the first two (a replay, an
// event id reused with another body) gets its error and the others go on;
// any other error is returned, and tx must be rolled back.
func (ev *Events) applyAll(ctx context.Context, tx *postgres.Tx, items []*inboxItem) error {
	// Every statement of the batch finds its rows by key.
	if err := postgres.GenericPlans(ctx, tx); err != nil {
		return err
	}
	for _, it := range items {
		it.outcome, it.err = "", nil
	}
	if err := consumeAll(ctx, tx, items); err != nil {
		return err
	}
	if err := ev.recordAll(ctx, tx, items); err != nil {
		return err
	}
	if err := ev.lockApplications(ctx, tx, items); err != nil {
		return err
	}
	for _, it := range items {
		if it.err != nil || it.outcome == Duplicate {
			continue
		}
		if err := ev.apply(ctx, tx, it.bankID, it.env, it.data); err != nil {
			return err
		}
		it.outcome = Processed
	}
	return nil
}

// lockApplications locks, in id order, the applications that the items
// to apply name, when they are more than one: the order every other
// transaction locking several applications keeps (the intake, the relay),
// so that a batch of events never waits on one of them while it waits on
// the batch. With the lock it reads each application whose first event
// here names a loan (a disbursement, repayment or overdue) together with
// that loan, which the event then takes instead of a read of its own. An
// id that names no application is left to the event to refuse.
func (ev *Events) lockApplications(ctx context.Context, tx *postgres.Tx, items []*inboxItem) error {
	var appIDs []string
	loans := map[string]string{}
	for _, it := range items {
		if it.err != nil || it.outcome == Duplicate || strings.HasPrefix(it.env.Type, "credit_line.") {
			continue
		}
		u, valid := ids.Parse(it.env.ApplicationID) // ParseEvent checked it
		id := u.String()
		if !valid || slices.Contains(appIDs, id) {
			continue
		}
		appIDs = append(appIDs, id)
		if loan, ok := loanOf(it.data); ok {
			loans[id] = loan
		}
	}
	if len(appIDs) < 2 && len(loans) == 0 {
		return nil
	}
	suppliers, err := ev.lending.LockApplications(ctx, tx, appIDs, loans)
	if err != nil || ev.PrepareRepaid == nil {
		return err
	}
	// The repayments with interest of the applications read: their
	// subsidy claims' policies and supplier years, read and locked
	// together.
	var usccs []string
	var paidOn []money.Date
	for _, it := range items {
		d, ok := it.data.(repaidData)
		if !ok || it.err != nil || it.outcome == Duplicate || d.Interest == nil || d.PaidOn == nil || !d.Interest.IsPositive() {
			continue
		}
		u, _ := ids.Parse(it.env.ApplicationID)
		if uscc, ok := suppliers[u.String()]; ok {
			usccs, paidOn = append(usccs, uscc), append(paidOn, *d.PaidOn)
		}
	}
	if len(usccs) == 0 {
		return nil
	}
	return ev.PrepareRepaid(ctx, tx, usccs, paidOn)
}

// loanOf is the bank's loan id an event's data names, if any.
func loanOf(data any) (string, bool) {
	switch d := data.(type) {
	case disbursedData:
		return d.LoanID, true
	case repaidData:
		return d.LoanID, true
	case overdueData:
		return d.LoanID, true
	}
	return "", false
}

// consumeAll consumes the messages of items in tx, a statement for each
// verifier (in practice one), and refuses the replayed ones.
func consumeAll(ctx context.Context, tx *postgres.Tx, items []*inboxItem) error {
	groups := map[*signature.Verifier][]*inboxItem{}
	var order []*signature.Verifier
	for _, it := range items {
		if it.consume == nil {
			continue
		}
		v := it.consume.Verifier
		if _, ok := groups[v]; !ok {
			order = append(order, v)
		}
		groups[v] = append(groups[v], it)
	}
	for _, v := range order {
		group := groups[v]
		seen := make([]signature.Seen, len(group))
		for i, it := range group {
			seen[i] = it.consume.Seen
		}
		refused, err := v.ConsumeMany(ctx, tx, seen)
		if err != nil {
			return err
		}
		for i, it := range group {
			if it.err = refused[i]; it.err == nil && it.consume.Done != nil {
				tx.AfterCommit(it.consume.Done)
			}
		}
	}
	return nil
}

// recordAll writes the inbox rows of the items not refused, in one
// statement, and marks the events that came before: Duplicate with the
// same body, event_conflict with another. Of an event id given twice, the
// first in order is written and the second compared with it.
func (ev *Events) recordAll(ctx context.Context, tx *postgres.Tx, items []*inboxItem) error {
	var banks, ids, hashes, types, apps []string
	var at []time.Time
	for _, it := range items {
		if it.err != nil {
			continue
		}
		var app string
		if it.env.ApplicationID != "" && !strings.HasPrefix(it.env.Type, "credit_line.") {
			app = it.env.ApplicationID
		}
		banks, ids, hashes = append(banks, it.bankID), append(ids, it.env.EventID), append(hashes, it.hash)
		types, apps, at = append(types, it.env.Type), append(apps, app), append(at, it.env.OccurredAt)
	}
	if len(ids) == 0 {
		return nil
	}
	var written []eventKey
	err := tx.SelectContext(ctx, &written, `
		INSERT INTO bank_events (bank_id, event_id, body_hash, type, application_id, occurred_at)
		SELECT bank_id, event_id, body_hash, type, NULLIF(application_id, '')::uuid, occurred_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
			WITH ORDINALITY AS v(bank_id, event_id, body_hash, type, application_id, occurred_at, i)
		ORDER BY i
		ON CONFLICT (bank_id, event_id) DO NOTHING
		RETURNING bank_id, event_id`,
		pq.Array(banks), pq.Array(ids), pq.Array(hashes), pq.Array(types), pq.Array(apps), pq.Array(at))
	if err != nil {
		return postgres.Translate(err)
	}
	isNew := map[eventKey]bool{}
	for _, k := range written {
		isNew[k] = true
	}
	hashOf := map[eventKey]string{} // of each event id in the inbox: its body's hash
	var earlier []*inboxItem        // events that came before this batch
	for _, it := range items {
		k := eventKey{it.bankID, it.env.EventID}
		switch _, known := hashOf[k]; {
		case it.err != nil:
		case isNew[k] && !known: // the one written now
			hashOf[k] = it.hash
		case known:
			it.outcome, it.err = compareBody(it, hashOf[k])
		default:
			earlier = append(earlier, it)
		}
	}
	if len(earlier) == 0 {
		return nil
	}
	var wantBanks, wantIDs []string
	for _, it := range earlier {
		wantBanks, wantIDs = append(wantBanks, it.bankID), append(wantIDs, it.env.EventID)
	}
	var found []struct {
		eventKey
		BodyHash string `db:"body_hash"`
	}
	err = tx.SelectContext(ctx, &found, `
		SELECT e.bank_id, e.event_id, e.body_hash FROM bank_events e
		JOIN unnest($1::text[], $2::text[]) AS v(bank_id, event_id) USING (bank_id, event_id)`,
		pq.Array(wantBanks), pq.Array(wantIDs))
	if err != nil {
		return postgres.Translate(err)
	}
	for _, f := range found {
		hashOf[f.eventKey] = f.BodyHash
	}
	for _, it := range earlier {
		it.outcome, it.err = compareBody(it, hashOf[eventKey{it.bankID, it.env.EventID}])
	}
	return nil
}

// eventKey names an event in the inbox.
type eventKey struct {
	BankID  string `db:"bank_id"`
	EventID string `db:"event_id"`
}

// compareBody is the outcome of an event whose id came before with a body
// hashing to hash.
func compareBody(it *inboxItem, hash string) (string, error) {
	if hash != it.hash {
		return "", errs.E(errs.EventConflict, "event %q came before with a different body", it.env.EventID)
	}
	return Duplicate, nil
}

func (ev *Events) apply(ctx context.Context, tx *postgres.Tx, bankID string, env Envelope, data any) error {
	actor := "bank:" + bankID
	ls := ev.lending
	switch d := data.(type) {
	case nil:
		return ls.Received(ctx, tx, bankID, env.ApplicationID, env.BankReference, actor)
	case approvedData:
		return ls.Approve(ctx, tx, bankID, env.ApplicationID, lending.Approval{ApprovedAmount: *d.ApprovedAmount,
			AnnualRate: *d.AnnualRate, TermDays: *d.TermDays, RepaymentAccount: *d.RepaymentAccount}, actor)
	case rejectedData:
		return ls.Reject(ctx, tx, bankID, env.ApplicationID, d.ReasonCode, d.Reason, actor)
	case disbursedData:
		return ls.Disburse(ctx, tx, bankID, env.ApplicationID, d.LoanID, lending.Disbursement{BankDisbursementID: d.DisbursementID,
			Amount: *d.Amount, ValueDate: *d.ValueDate, MaturityDate: *d.MaturityDate, AnnualRate: *d.AnnualRate}, actor)
	case repaidData:
		r, err := ls.Repay(ctx, tx, bankID, env.ApplicationID, d.LoanID, d.repayment(), actor)
		if err != nil || ev.OnRepaid == nil {
			return err
		}
		return ev.OnRepaid(ctx, tx, r)
	case overdueData:
		return ls.Overdue(ctx, tx, bankID, env.ApplicationID, d.LoanID, *d.OverduePrincipal, *d.Since, actor)
	case lineData:
		_, err := ls.SetLine(ctx, tx, bankID, lending.LineTerms{BankLineID: d.CreditLineID, SupplierUSCC: strings.ToUpper(d.SupplierUSCC),
			Limit: *d.Limit, ValidFrom: *d.ValidFrom, ValidUntil: *d.ValidUntil, Revolving: *d.Revolving, RateCeiling: d.AnnualRateCeiling},
			env.Type == EventLineGranted, actor)
		return err
	case revokedData:
		_, err := ls.RevokeLine(ctx, tx, bankID, d.CreditLineID, d.Reason, actor)
		return err
	}
	return errs.E(errs.Internal, "event type %s has no handler", env.Type)
}
