package banking

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
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

// Envelope is a bank event as it arrives (bank-protocol.md).
type Envelope struct {
	EventID       string          `json:"event_id"`
	Type          string          `json:"type"`
	OccurredAt    time.Time       `json:"occurred_at"`
	ApplicationID string          `json:"application_id"`
	BankReference string          `json:"bank_reference"`
	Data          json.RawMessage `json:"data"`
}

// ParseEvent reads and checks an event body: a known type, an event id,
// an instant, an application id where the type needs one (null for an
// offer event), and the data the type requires (amounts present and not
// negative, dates valid), and
// every text procfin stores of it (ids, bank_reference, reasons, the
// repayment account) valid UTF-8 without NUL or control characters and
// bounded. Every failure is invalid (422, naming each field) or
// malformed_request (400; a NUL anywhere is one); it never panics.
func ParseEvent(body []byte) (Envelope, eventData, error) {
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
	newData, known := eventTypes[env.Type]
	if !known {
		bad("type", "unknown_type", fmt.Sprintf("%q is not an event type of the protocol", env.Type))
	}
	if env.OccurredAt.IsZero() {
		bad("occurred_at", "required", "is required (RFC 3339)")
	}
	var sub subject // of an unknown type: an application, as most are
	if known {
		sub = newData().subject(env)
	}
	switch {
	case sub.line:
	case sub.intent:
		if env.ApplicationID != "" {
			bad("application_id", "must_be_null", "must be null: an offer event names its intent in data.intent_id")
		}
	default:
		if id, ok := ids.Canonical(env.ApplicationID); ok {
			env.ApplicationID = id // one spelling from here on
		} else {
			bad("application_id", "invalid", "must be the id of an application procfin sent")
		}
	}
	if len(fe) > 0 {
		return env, nil, errs.InvalidFields(fe...)
	}
	data := newData()
	c := &checker{raw: env.Data}
	data.check(c)
	if len(c.fe) > 0 {
		return env, nil, errs.InvalidFields(c.fe...)
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

// checker checks an event's data, naming each bad field under "data.".
type checker struct {
	raw json.RawMessage
	fe  []errs.FieldError
}

// bad names a problem of field, unless the field has one already (a value
// decode could not read is not also missing).
func (c *checker) bad(field, code, msg string) {
	for _, f := range c.fe {
		if f.Field == "data."+field {
			return
		}
	}
	c.fe = append(c.fe, errs.FieldError{Field: "data." + field, Code: code, Message: msg})
}

// decode reads the data into dst, and reports whether it is an object:
// every value of the wrong type, or that its parser refuses, is named and
// left zero, and the type's checks go on to name the others (once each).
func (c *checker) decode(dst any) bool {
	raw := c.raw
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage("{}")
	}
	if err := json.Unmarshal(raw, dst); err == nil {
		return true
	}
	if !json.Valid(raw) || bytes.TrimSpace(raw)[0] != '{' {
		c.fe = append(c.fe, errs.Field("data", errs.FieldWrongType, "object"))
		return false
	}
	for _, f := range jsonbody.Fields(raw, dst, false) {
		f.Field = "data." + f.Field
		c.fe = append(c.fe, f)
	}
	return true
}

// amount requires a, not negative, and above zero when positive.
func (c *checker) amount(field string, a *money.Amount, positive bool) {
	switch {
	case a == nil:
		c.bad(field, "required", "is required")
	case a.IsNegative(), positive && a.IsZero():
		c.bad(field, "not_positive", "must be above zero")
	}
}

// date requires d.
func (c *checker) date(field string, d *money.Date) {
	if d == nil || d.IsZero() {
		c.bad(field, "required", "is required (YYYY-MM-DD)")
	}
}

// text requires an id of at most 200 bytes, stored as text (words).
func (c *checker) text(field, v string) {
	if v == "" || len(v) > 200 {
		c.bad(field, "required", "is required, at most 200 bytes")
		return
	}
	c.words(field, v, 0)
}

// words is words for a field of the data.
func (c *checker) words(field, v string, max int) { words(c.bad, field, v, max) }

// Events applies bank events through the lending state machine.
type Events struct {
	db      *sqlx.DB
	lending *lending.Service
	inbox   *inbox
	// OnRepaid, when set, runs once a batch's events are applied, in its
	// transaction, with the repayments recorded in it in their order (a
	// lone repayment is a batch of one): their subsidy claims are made
	// there.
	OnRepaid func(ctx context.Context, tx *postgres.Tx, rs []lending.RepaymentResult) error
	// OnOverdue, when set, runs once a batch's events are applied, after
	// OnRepaid, in its transaction, with the loan.overdue events recorded
	// in it in their order: the pending subsidy claims they make
	// ineligible are rejected there.
	OnOverdue func(ctx context.Context, tx *postgres.Tx, os []lending.OverdueResult) error
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
	if d, ok := data.(prechecked); ok {
		if err := d.precheck(ev.lending); err != nil {
			return "", env, err
		}
	}
	outcome, err := ev.inbox.apply(newInboxItem(ctx, bankID, env, data, body, consume))
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
	locked, err := ev.lockApplications(ctx, tx, items)
	if err != nil {
		return err
	}
	e := &applying{ls: ev.lending}
	for _, it := range items {
		if it.err != nil || it.outcome == Duplicate {
			continue
		}
		e.bankID, e.env, e.locked = it.bankID, it.env, nil
		if it.subject.loanID != "" {
			// The application's first event takes what the batch read
			// with its lock; a later one locks and reads it again (a
			// batch of one), as the events before it changed it.
			var taken bool
			if e.locked, taken = locked[it.env.ApplicationID]; taken {
				delete(locked, it.env.ApplicationID)
			} else if e.locked, err = ev.lending.LockLoan(ctx, tx, lending.LoanKey{BankID: it.bankID,
				ApplicationID: it.env.ApplicationID, BankLoanID: it.subject.loanID}); err != nil {
				return err
			}
		}
		if err := it.data.apply(ctx, tx, e); err != nil {
			return err
		}
		it.outcome = Processed
	}
	if len(e.repaid) > 0 && ev.OnRepaid != nil {
		// The claims' (supplier, year) rows are locked here, after the
		// applications and what their events lock: the one order of
		// every transaction taking them.
		if err := ev.OnRepaid(ctx, tx, e.repaid); err != nil {
			return err
		}
	}
	if len(e.overdue) > 0 && ev.OnOverdue != nil {
		return ev.OnOverdue(ctx, tx, e.overdue)
	}
	return nil
}

// lockApplications locks, in id order, the applications that the items
// to apply name, when they are more than one or one is a loan event's:
// the order every other transaction locking several applications keeps
// (the intake, the relay), so that a batch of events never waits on one
// of them while it waits on the batch. With the lock it reads each
// application whose first event here is a loan event (a disbursement,
// repayment or overdue) together with that loan, and returns them by
// application id, for that event to act on. An id that names no
// application is left to the event to refuse.
func (ev *Events) lockApplications(ctx context.Context, tx *postgres.Tx, items []*inboxItem) (map[string]*lending.Locked, error) {
	var appIDs []string
	var loans []lending.LoanKey
	for _, it := range items {
		id := it.env.ApplicationID // canonical (ParseEvent)
		if it.err != nil || it.outcome == Duplicate || !it.subject.application() || slices.Contains(appIDs, id) {
			continue
		}
		appIDs = append(appIDs, id)
		if it.subject.loanID != "" {
			loans = append(loans, lending.LoanKey{BankID: it.bankID, ApplicationID: id, BankLoanID: it.subject.loanID})
		}
	}
	if len(appIDs) < 2 && len(loans) == 0 {
		return nil, nil
	}
	return ev.lending.LockApplications(ctx, tx, appIDs, loans)
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
		if it.subject.application() {
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
