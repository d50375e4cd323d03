package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"procfin/platform/money"
	"procfin/platform/postgres"
)

// The bank's state in the database (Config.DB; migration 00040, tables
// sandbox_*, keyed by the bank's id): what it took, where each life
// stands, the events it built, its lines and its offers. The bank works on
// its state in memory and writes each change through before it acts on
// it; New reads it all back, and Run carries on every life that is not
// over. Without a database every method here does nothing.

// storeTimeout bounds each write and the reload.
const storeTimeout = 30 * time.Second

// The kinds of sandbox_messages.
const (
	kindWithdrawal    = "withdrawal"
	kindContractEvent = "contract_event"
	kindIntent        = "intent"
	kindDecision      = "decision"
)

// store writes a bank's state to its tables; a nil db writes nothing.
type store struct {
	db   *sqlx.DB
	bank string
}

func (s store) on() bool { return s.db != nil }

func (s store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), storeTimeout)
}

func (s store) exec(query string, args ...any) error {
	if !s.on() {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.db.ExecContext(ctx, query, append([]any{s.bank}, args...)...)
	return err
}

func (s store) transact(fn func(ctx context.Context, tx *postgres.Tx) error) error {
	if !s.on() {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	return postgres.Transact(ctx, s.db, func(tx *postgres.Tx) error { return fn(ctx, tx) })
}

// decisionState is what the bank decided of an application, as stored.
type decisionState struct {
	Approved bool         `json:"approved"`
	Amount   money.Amount `json:"amount"`
	LineID   string       `json:"line_id,omitempty"`
	Rate     money.Rate   `json:"rate"`
	TermDays int          `json:"term_days"`
	LoanID   string       `json:"loan_id,omitempty"`
	Plan     storedPlan   `json:"plan"`
}

type storedPlan struct {
	Tranches []storedTranche `json:"tranches"`
	Steps    [][]storedEvent `json:"steps"`
	// Undisbursed is the part of the approval never disbursed.
	Undisbursed money.Amount `json:"undisbursed"`
}

type storedTranche struct {
	Amount    money.Amount `json:"amount"`
	ValueDate money.Date   `json:"value_date"`
}

// storedEvent is a planned event (its occurred_at is set when it is sent).
type storedEvent struct {
	EventID       string          `json:"event_id"`
	Type          string          `json:"type"`
	ApplicationID string          `json:"application_id"`
	BankReference string          `json:"bank_reference"`
	Data          json.RawMessage `json:"data"`
}

// decisionOf is what the bank stores of a's decision; b.mu is held.
func decisionOf(a *application) (string, error) {
	d := decisionState{Approved: a.approved, Amount: a.amount, Rate: a.rate, TermDays: a.termDays, LoanID: a.loanID,
		Plan: storedPlan{Undisbursed: a.plan.undisbursed, Tranches: []storedTranche{}, Steps: [][]storedEvent{}}}
	if a.line != nil {
		d.LineID = a.line.id
	}
	for _, t := range a.plan.tranches {
		d.Plan.Tranches = append(d.Plan.Tranches, storedTranche{t.amount, t.valueDate})
	}
	for _, step := range a.plan.steps {
		var out []storedEvent
		for _, e := range step {
			data, err := json.Marshal(e.Data)
			if err != nil {
				return "", err
			}
			out = append(out, storedEvent{e.EventID, e.Type, e.ApplicationID, e.BankReference, data})
		}
		d.Plan.Steps = append(d.Plan.Steps, out)
	}
	b, err := json.Marshal(d)
	return string(b), err
}

// restoreDecision sets a's decision from its stored form.
func (b *Bank) restoreDecision(a *application, raw []byte) error {
	var d decisionState
	if err := json.Unmarshal(raw, &d); err != nil {
		return err
	}
	a.decided, a.approved, a.amount, a.rate, a.termDays, a.loanID = true, d.Approved, d.Amount, d.Rate, d.TermDays, d.LoanID
	if d.LineID != "" {
		a.line = b.lines[d.LineID]
		if a.line == nil { // revoked since: measured no more
			a.line = &creditLine{id: d.LineID}
		}
	}
	a.plan.undisbursed = d.Plan.Undisbursed
	for _, t := range d.Plan.Tranches {
		a.plan.tranches = append(a.plan.tranches, tranche{t.Amount, t.ValueDate})
	}
	for _, step := range d.Plan.Steps {
		var out []Event
		for _, e := range step {
			out = append(out, Event{EventID: e.EventID, Type: e.Type, ApplicationID: e.ApplicationID, BankReference: e.BankReference, Data: e.Data})
		}
		a.plan.steps = append(a.plan.steps, out)
	}
	return nil
}

// takeApplication stores an accepted application; b.mu is held.
func (s store) takeApplication(a *application, body []byte, nextAt time.Time) error {
	return s.exec(`
		INSERT INTO sandbox_applications (bank_id, idempotency_key, application_id, body, body_hash, bank_reference,
			received_at, life, next_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		a.rec.IdempotencyKey, a.rec.ApplicationID, body, a.rec.BodyHash, a.rec.BankReference, a.rec.ReceivedAt, string(a.life), nextAt)
}

// resent counts another delivery of an application (kind "") or a
// message taken before.
func (s store) resent(kind, key string) error {
	if kind == "" {
		return s.exec(`UPDATE sandbox_applications SET deliveries = deliveries + 1 WHERE bank_id = $1 AND idempotency_key = $2`, key)
	}
	return s.exec(`UPDATE sandbox_messages SET deliveries = deliveries + 1 WHERE bank_id = $1 AND kind = $2 AND message_id = $3`, kind, key)
}

// storeBatch stores batch k of a's events, with a's decision when k is 0
// and the change of a credit line's use, if any (used: by how much).
func (s store) storeBatch(a *application, k int, events []outEvent, decision string, line string, used money.Amount) error {
	return s.transact(func(ctx context.Context, tx *postgres.Tx) error {
		if decision != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE sandbox_applications SET decision = $3 WHERE bank_id = $1 AND idempotency_key = $2`,
				s.bank, a.rec.IdempotencyKey, decision); err != nil {
				return err
			}
		}
		if err := s.useLine(ctx, tx, line, used); err != nil {
			return err
		}
		for i, e := range events {
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO sandbox_events (bank_id, idempotency_key, batch, seq, event_id, type, body)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, s.bank, a.rec.IdempotencyKey, k, i, e.EventID, e.Type, e.body); err != nil {
				return err
			}
		}
		return nil
	})
}

// useLine adds used (negative: gives back) to a line's use, never below
// zero.
func (s store) useLine(ctx context.Context, tx *postgres.Tx, line string, used money.Amount) error {
	if line == "" || used.IsZero() {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE sandbox_credit_lines SET used = greatest(used + $3, 0) WHERE bank_id = $1 AND id = $2`,
		s.bank, line, used)
	return err
}

// batch reads batch k of an application's events, nil when it was not
// built.
func (s store) batch(key string, k int) ([]outEvent, error) {
	if !s.on() {
		return nil, nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	var rows []struct {
		EventID string `db:"event_id"`
		Type    string `db:"type"`
		Body    []byte `db:"body"`
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT event_id, type, body FROM sandbox_events
		WHERE bank_id = $1 AND idempotency_key = $2 AND batch = $3 ORDER BY seq`, s.bank, key, k)
	if err != nil {
		return nil, err
	}
	var out []outEvent
	for _, r := range rows {
		out = append(out, outEvent{Event{EventID: r.EventID, Type: r.Type}, r.Body})
	}
	return out, nil
}

// batchSent records that procfin took batch k of an application: the next
// is due at nextAt, or the life is over (done).
func (s store) batchSent(key string, k int, nextAt time.Time, done bool) error {
	return s.exec(`UPDATE sandbox_applications SET batches_sent = $3, next_at = $4, done = $5
		WHERE bank_id = $1 AND idempotency_key = $2`, key, k+1, nextAt, done)
}

// finish records that an application's life is over.
func (s store) finish(key string) error {
	return s.exec(`UPDATE sandbox_applications SET done = true WHERE bank_id = $1 AND idempotency_key = $2`, key)
}

// takeMessage stores a message the bank took; b.mu is held. receivable,
// when set, is the receivable of the application keyed appKey it settles.
func (s store) takeMessage(kind, key, hash string, record any, appKey, receivable string) error {
	if !s.on() {
		return nil
	}
	rec, err := json.Marshal(record)
	if err != nil {
		return err
	}
	return s.transact(func(ctx context.Context, tx *postgres.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sandbox_messages (bank_id, kind, message_id, body_hash, record)
			VALUES ($1, $2, $3, $4, $5)`, s.bank, kind, key, hash, string(rec)); err != nil {
			return err
		}
		if receivable == "" {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE sandbox_applications SET receivable = $3 WHERE bank_id = $1 AND idempotency_key = $2`,
			s.bank, appKey, receivable)
		return err
	})
}

// grantLine stores a line procfin took.
func (s store) grantLine(l *creditLine) error {
	return s.exec(`INSERT INTO sandbox_credit_lines (bank_id, id, supplier_uscc, credit_limit, revolving, valid_from, valid_until)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, l.id, l.uscc, l.limit, l.revolving, l.validFrom, l.validUntil)
}

// changeLine stores a line's new terms; changes counts credit_line.changed
// built.
func (s store) changeLine(id string, limit money.Amount, revolving bool, changes int) error {
	return s.exec(`UPDATE sandbox_credit_lines SET credit_limit = $3, revolving = $4, changes = $5 WHERE bank_id = $1 AND id = $2`,
		id, limit, revolving, changes)
}

// countChange stores that a credit_line.changed was built.
func (s store) countChange(id string, changes int) error {
	return s.exec(`UPDATE sandbox_credit_lines SET changes = greatest(changes, $3) WHERE bank_id = $1 AND id = $2`, id, changes)
}

// revokeLine stores that procfin took a line's revocation.
func (s store) revokeLine(id string) error {
	return s.exec(`UPDATE sandbox_credit_lines SET revoked = true WHERE bank_id = $1 AND id = $2`, id)
}

// answerIntent stores how the bank answered an intent, with its offer and
// the offer.made built, if any.
func (s store) answerIntent(intentID, answer string, o *OfferSent, event []byte) error {
	var offer any
	if o != nil {
		b, err := json.Marshal(o.OfferMade)
		if err != nil {
			return err
		}
		offer = string(b)
	}
	return s.exec(`INSERT INTO sandbox_intents (bank_id, intent_id, answer, offer, offer_event) VALUES ($1, $2, $3, $4, $5)`,
		intentID, answer, offer, event)
}

// offerAnswered stores procfin's answer to an offer.made.
func (s store) offerAnswered(intentID string, status int) error {
	return s.exec(`UPDATE sandbox_intents SET offer_status = $3 WHERE bank_id = $1 AND intent_id = $2`, intentID, status)
}

// load reads the bank's state back into b (New, before anything runs):
// lines, applications (those whose life is not over queued for Run),
// messages, answers to intents and offers (those procfin has not answered
// queued to be sent again).
func (b *Bank) load() error {
	s := b.store
	if !s.on() {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	var lines []struct {
		ID         string       `db:"id"`
		USCC       string       `db:"supplier_uscc"`
		Limit      money.Amount `db:"credit_limit"`
		Used       money.Amount `db:"used"`
		Revolving  bool         `db:"revolving"`
		ValidFrom  money.Date   `db:"valid_from"`
		ValidUntil money.Date   `db:"valid_until"`
		Changes    int          `db:"changes"`
	}
	if err := s.db.SelectContext(ctx, &lines, `SELECT id, supplier_uscc, credit_limit, used, revolving, valid_from, valid_until, changes
		FROM sandbox_credit_lines WHERE bank_id = $1 AND NOT revoked`, s.bank); err != nil {
		return fmt.Errorf("sandbox: load credit lines: %w", err)
	}
	for _, l := range lines {
		b.lines[l.ID] = &creditLine{id: l.ID, uscc: l.USCC, limit: l.Limit, used: l.Used, revolving: l.Revolving,
			validFrom: l.ValidFrom, validUntil: l.ValidUntil, changes: l.Changes}
	}

	var apps []struct {
		Key           string    `db:"idempotency_key"`
		ApplicationID string    `db:"application_id"`
		Body          []byte    `db:"body"`
		BodyHash      string    `db:"body_hash"`
		BankReference string    `db:"bank_reference"`
		ReceivedAt    time.Time `db:"received_at"`
		Deliveries    int       `db:"deliveries"`
		Life          string    `db:"life"`
		Decision      []byte    `db:"decision"`
		Receivable    string    `db:"receivable"`
		BatchesSent   int       `db:"batches_sent"`
		NextAt        time.Time `db:"next_at"`
		Done          bool      `db:"done"`
	}
	if err := s.db.SelectContext(ctx, &apps, `SELECT idempotency_key, application_id, body, body_hash, bank_reference, received_at,
			deliveries, life, decision, receivable, batches_sent, next_at, done
		FROM sandbox_applications WHERE bank_id = $1 ORDER BY seq`, s.bank); err != nil {
		return fmt.Errorf("sandbox: load applications: %w", err)
	}
	for _, r := range apps {
		var msg incoming
		if err := json.Unmarshal(r.Body, &msg); err != nil {
			return fmt.Errorf("sandbox: load application %s: %w", r.ApplicationID, err)
		}
		a := &application{msg: msg, life: Life(r.Life), settled: make(chan struct{}), receivable: r.Receivable,
			sent: r.BatchesSent, nextAt: r.NextAt, rec: Received{
				ApplicationID: r.ApplicationID, IdempotencyKey: r.Key, BodyHash: r.BodyHash, BankReference: r.BankReference,
				ReceivedAt: r.ReceivedAt, Deliveries: r.Deliveries, Life: Life(r.Life)}}
		if r.Receivable != "" {
			close(a.settled)
		}
		if r.Decision != nil {
			if err := b.restoreDecision(a, r.Decision); err != nil {
				return fmt.Errorf("sandbox: load application %s: %w", r.ApplicationID, err)
			}
		}
		b.apps[r.Key] = a
		b.order = append(b.order, a)
		if !r.Done {
			b.pending = append(b.pending, a)
		}
	}

	var msgs []struct {
		Kind       string `db:"kind"`
		ID         string `db:"message_id"`
		Deliveries int    `db:"deliveries"`
		Record     []byte `db:"record"`
	}
	if err := s.db.SelectContext(ctx, &msgs, `SELECT kind, message_id, deliveries, record FROM sandbox_messages
		WHERE bank_id = $1 ORDER BY seq`, s.bank); err != nil {
		return fmt.Errorf("sandbox: load messages: %w", err)
	}
	for _, m := range msgs {
		if err := b.restoreMessage(m.Kind, m.Deliveries, m.Record); err != nil {
			return fmt.Errorf("sandbox: load %s %s: %w", m.Kind, m.ID, err)
		}
	}

	var answers []struct {
		IntentID string `db:"intent_id"`
		Answer   string `db:"answer"`
		Offer    []byte `db:"offer"`
		Event    []byte `db:"offer_event"`
		Status   int    `db:"offer_status"`
	}
	if err := s.db.SelectContext(ctx, &answers, `SELECT intent_id, answer, offer, offer_event, offer_status FROM sandbox_intents
		WHERE bank_id = $1 ORDER BY seq`, s.bank); err != nil {
		return fmt.Errorf("sandbox: load answers to intents: %w", err)
	}
	answered := map[string]bool{}
	for _, r := range answers {
		st := b.intentState(r.IntentID)
		st.answer, answered[r.IntentID] = r.Answer, true
		if r.Offer == nil {
			continue
		}
		o := &OfferSent{Status: r.Status}
		if err := json.Unmarshal(r.Offer, &o.OfferMade); err != nil {
			return fmt.Errorf("sandbox: load offer on intent %s: %w", r.IntentID, err)
		}
		st.offer, st.offerEvent = o, r.Event
		b.offers[o.OfferID] = o
		b.oOrder = append(b.oOrder, o)
	}
	for _, rec := range b.iOrder {
		st := b.intents[rec.IntentID]
		switch {
		case st.msg == nil || st.queued:
		case !answered[rec.IntentID], st.offer != nil && st.offer.Status == 0 && st.decision == "":
			st.queued = true
			b.pendingIntents = append(b.pendingIntents, st)
		}
	}
	return nil
}

// restoreMessage puts a stored message back as the bank took it.
func (b *Bank) restoreMessage(kind string, deliveries int, record []byte) error {
	switch kind {
	case kindWithdrawal:
		var rec WithdrawalReceived
		if err := json.Unmarshal(record, &rec); err != nil {
			return err
		}
		rec.Deliveries = deliveries
		b.withdrawals[rec.MessageID] = &rec
		b.wOrder = append(b.wOrder, &rec)
		if _, ok := b.withdrawnApps[rec.ApplicationID]; !ok {
			b.withdrawnApps[rec.ApplicationID] = &rec
		}
	case kindContractEvent:
		var rec ContractEventReceived
		if err := json.Unmarshal(record, &rec); err != nil {
			return err
		}
		rec.Deliveries = deliveries
		b.cEvents[rec.EventID] = &rec
		b.cOrder = append(b.cOrder, &rec)
	case kindIntent:
		var rec IntentReceived
		if err := json.Unmarshal(record, &rec); err != nil {
			return err
		}
		rec.Deliveries = deliveries
		b.intentMsgs[rec.MessageID] = &rec
		b.iOrder = append(b.iOrder, &rec)
		if st := b.intentState(rec.IntentID); st.msg == nil {
			st.msg = rec.message()
		}
	case kindDecision:
		var rec DecisionReceived
		if err := json.Unmarshal(record, &rec); err != nil {
			return err
		}
		rec.Deliveries = deliveries
		b.decisions[rec.MessageID] = &rec
		b.dOrder = append(b.dOrder, &rec)
		if st := b.intentState(rec.IntentID); st.decision == "" {
			st.decision = rec.Decision
		}
	default:
		return errors.New("unknown kind")
	}
	return nil
}

// message is what the bank needs of an intent message to answer it.
func (r *IntentReceived) message() *intentMessage {
	m := &intentMessage{IntentID: r.IntentID, PublishedAt: r.PublishedAt, RespondBy: r.RespondBy}
	amount := r.Amount
	m.Request = &struct {
		Amount   *money.Amount `json:"amount"`
		Currency string        `json:"currency"`
		TermDays int           `json:"term_days"`
		Purpose  string        `json:"purpose"`
	}{&amount, r.Currency, r.TermDays, r.Purpose}
	return m
}

// intentState returns the intent's state, made when the bank had not
// heard of it; b.mu is held (or the bank is not running yet).
func (b *Bank) intentState(id string) *intentState {
	st, ok := b.intents[id]
	if !ok {
		st = &intentState{id: id}
		b.intents[id] = st
	}
	return st
}
