package banking

import (
	"context"
	"encoding/json"

	"github.com/lib/pq"

	"procfin/lending"
	"procfin/platform/postgres"
)

// Outbox queues credit applications for their banks in the application's
// own transaction (table deliveries). The relay delivers them.
type Outbox struct{}

// Enqueue stores the messages exactly as they will be sent, so that every
// retry carries the same body under the same Idempotency-Key, in their
// order. The rows are written just before the transaction commits, with
// its other such writes, in one statement.
func (Outbox) Enqueue(ctx context.Context, tx *postgres.Tx, ms ...lending.Message) error {
	if len(ms) == 0 {
		return nil
	}
	ids, banks := make([]string, len(ms)), make([]string, len(ms))
	var bodies postgres.Packed
	for i, m := range ms {
		body, err := json.Marshal(m)
		if err != nil {
			return err
		}
		ids[i], banks[i] = m.ApplicationID, m.BankID
		bodies.Add(body)
	}
	w := postgres.Write{Query: `
		INSERT INTO deliveries (application_id, bank_id, payload)
		SELECT application_id, bank_id, substring($5::bytea FROM payload_at FOR payload_len)
		FROM unnest($1::uuid[], $2::text[], $3::int[], $4::int[]) WITH ORDINALITY AS v(application_id, bank_id, payload_at, payload_len, i)
		ORDER BY i`, Args: []any{pq.Array(ids), pq.Array(banks), bodies.Starts(), bodies.Lengths(), bodies.Bytes()}}
	tx.BeforeCommit(func() (postgres.Write, error) { return w, nil })
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
