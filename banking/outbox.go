package banking

import (
	"context"
	"encoding/json"
	"fmt"

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

// queue stores the messages exactly as they will be sent, so that every
// retry carries the same body under the same Idempotency-Key, in their
// order, each with its kind. The rows are written just before the
// transaction commits, with its other such writes, in one statement per
// kind.
func (Outbox) queue(tx *postgres.Tx, ms ...Outbound) error {
	type rows struct {
		ids, banks []string
		bodies     postgres.Packed
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
		bankID, applicationID := m.Delivery()
		r.ids, r.banks = append(r.ids, applicationID), append(r.banks, bankID)
		r.bodies.Add(body)
	}
	for _, kind := range kinds {
		r := byKind[kind]
		w := postgres.Write{Query: `
		INSERT INTO deliveries (application_id, bank_id, kind, payload)
		SELECT application_id, bank_id, $6::text, substring($5::bytea FROM payload_at FOR payload_len)
		FROM unnest($1::uuid[], $2::text[], $3::int[], $4::int[]) WITH ORDINALITY AS v(application_id, bank_id, payload_at, payload_len, i)
		ORDER BY i`, Args: []any{pq.Array(r.ids), pq.Array(r.banks), r.bodies.Starts(), r.bodies.Lengths(), r.bodies.Bytes(), kind}}
		tx.BeforeCommit(func() (postgres.Write, error) { return w, nil })
	}
	return nil
}

// Withdraw stops a message not delivered yet (the application was
// cancelled). A message in flight may still arrive; the bank's later
// events then meet a cancelled application and are refused.
func (Outbox) Withdraw(ctx context.Context, tx *postgres.Tx, applicationID string) error {
	_, err := tx.ExecContext(ctx, `
		UPDATE deliveries SET status = 'failed', last_error = 'withdrawn: the application was cancelled'
		WHERE application_id = $1 AND status = 'pending'`, applicationID)
	return postgres.Translate(err)
}
