package banking

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"procfin/lending"
	"procfin/platform/postgres"
)

// Outbox queues messages for banks in the transaction of the change they
// tell of (table deliveries). The relay delivers them.
type Outbox struct{}

// Enqueue queues the credit application of each accepted application for
// its bank (lending's Outbox).
func (o Outbox) Enqueue(ctx context.Context, tx *postgres.Tx, ss ...lending.Submission) error {
	ms := make([]Outbound, len(ss))
	for i, s := range ss {
		ms[i] = NewApplicationMessage(s)
	}
	return o.queue(tx, ms...)
}

// ContractEvents queues contract events, each for its application's bank
// (lending's Outbox). An event without an id gets a new one.
func (o Outbox) ContractEvents(ctx context.Context, tx *postgres.Tx, es ...lending.ContractEvent) error {
	ms := make([]Outbound, len(es))
	for i, e := range es {
		if e.EventID == "" {
			e.EventID = uuid.NewString()
		}
		if e.OccurredAt.IsZero() {
			e.OccurredAt = tx.Now()
		}
		ms[i] = NewContractEventMessage(e)
	}
	return o.queue(tx, ms...)
}

// queue stores the messages exactly as they will be sent, so that every
// retry carries the same body under the same Idempotency-Key, in their
// order, each with its kind and what it concerns (its application, or its
// intent with application_id NULL). The rows are written just before the
// transaction commits, with its other such writes, in one statement per
// kind.
func (Outbox) queue(tx *postgres.Tx, ms ...Outbound) error {
	type rows struct {
		ids, intents, banks, messageIDs []string
		bodies                          postgres.Packed
	}
	var kinds []string
	byKind := map[string]*rows{}
	for _, m := range ms {
		kind := m.Kind()
		if _, ok := outboundKinds[kind]; !ok {
			return fmt.Errorf("banking: %T is of no registered kind (%q)", m, kind)
		}
		body, err := json.Marshal(m)
		if err != nil {
			return err
		}
		r := byKind[kind]
		if r == nil {
			r = &rows{}
			byKind[kind] = r
			kinds = append(kinds, kind)
		}
		a := m.Delivery()
		if (a.ApplicationID == "") == (a.IntentID == "") {
			return fmt.Errorf("banking: a %s message must name its application or its intent, not both or neither", kind)
		}
		r.ids, r.intents, r.banks, r.messageIDs = append(r.ids, a.ApplicationID), append(r.intents, a.IntentID), append(r.banks, a.BankID),
			append(r.messageIDs, a.MessageID)
		r.bodies.Add(body)
	}
	for _, kind := range kinds {
		r := byKind[kind]
		w := postgres.Write{Query: `
		INSERT INTO deliveries (application_id, intent_id, message_id, bank_id, kind, payload)
		SELECT NULLIF(application_id, '')::uuid, NULLIF(intent_id, '')::uuid, message_id, bank_id, $6::text,
			substring($5::bytea FROM payload_at FOR payload_len)
		FROM unnest($1::text[], $8::text[], $7::uuid[], $2::text[], $3::int[], $4::int[])
			WITH ORDINALITY AS v(application_id, intent_id, message_id, bank_id, payload_at, payload_len, i)
		ORDER BY i`, Args: []any{pq.Array(r.ids), pq.Array(r.banks), r.bodies.Starts(), r.bodies.Lengths(), r.bodies.Bytes(), kind,
			pq.Array(r.messageIDs), pq.Array(r.intents)}}
		tx.BeforeCommit(func() (postgres.Write, error) { return w, nil })
	}
	return nil
}

// Withdraw stops what the bank was to be told of a cancelled application
// (the caller holds its lock), and tells the bank if it may have heard of
// it (bank-protocol.md 1.1, "What each event does to an application"):
//
//   - the application still submitted and its credit application not
//     attempted yet (pending, no attempt, not leased): the delivery is
//     deleted and nothing is sent;
//   - otherwise a pending retry is stopped (failed, "withdrawn"; one under
//     way keeps its lease until the relay records its answer) and a
//     withdrawal is queued, which the relay sends once the application's
//     delivery has ended.
//
// It reports whether a withdrawal was queued.
func (o Outbox) Withdraw(ctx context.Context, tx *postgres.Tx, w lending.Withdrawal) (bool, error) {
	if !w.Known {
		var deleted []int64
		err := tx.SelectContext(ctx, &deleted, `
			DELETE FROM deliveries
			WHERE application_id = $1 AND kind = $2 AND status = 'pending' AND attempts = 0
				AND (locked_until IS NULL OR locked_until < now())
			RETURNING id`, w.ApplicationID, KindCreditApplication)
		if err != nil {
			return false, postgres.Translate(err)
		}
		if len(deleted) > 0 {
			return false, nil
		}
	}
	_, err := tx.ExecContext(ctx, `
		UPDATE deliveries SET status = 'failed', last_error = 'withdrawn: the application was cancelled'
		WHERE application_id = $1 AND kind = $2 AND status = 'pending'`, w.ApplicationID, KindCreditApplication)
	if err != nil {
		return false, postgres.Translate(err)
	}
	return true, o.queue(tx, Withdrawal{ApplicationID: w.ApplicationID, BankID: w.BankID, Reason: w.Reason,
		WithdrawnAt: tx.Now().UTC().Truncate(time.Second), MessageID: uuid.NewString()})
}

// Intents queues a financing-intents message for each bank asked
// (lending's Outbox), with only the data its consent names.
func (o Outbox) Intents(ctx context.Context, tx *postgres.Tx, ms ...lending.IntentMessage) error {
	out := make([]Outbound, len(ms))
	for i, m := range ms {
		if m.MessageID == "" {
			m.MessageID = uuid.NewString()
		}
		out[i] = NewIntentMessage(m)
	}
	return o.queue(tx, out...)
}

// Decisions queues the decision on an intent for each bank asked
// (lending's Outbox).
func (o Outbox) Decisions(ctx context.Context, tx *postgres.Tx, ds ...lending.Decision) error {
	out := make([]Outbound, len(ds))
	for i, d := range ds {
		if d.MessageID == "" {
			d.MessageID = uuid.NewString()
		}
		out[i] = NewDecisionMessage(d)
	}
	return o.queue(tx, out...)
}
