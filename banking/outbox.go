package banking

import (
	"context"
	"encoding/json"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"procfin/lending"
	"procfin/platform/postgres"
)

// Outbox queues credit applications for their banks in the application's
// own transaction (table deliveries). The relay delivers them.
type Outbox struct{}

// Enqueue stores the messages exactly as they will be sent, so that every
// retry carries the same body under the same Idempotency-Key, in their
// order. In a transaction of postgres.Transact the rows are written just
// before it commits, with its other such writes, in one statement.
func (Outbox) Enqueue(ctx context.Context, tx *sqlx.Tx, ms ...lending.Message) error {
	if len(ms) == 0 {
		return nil
	}
	ids, banks, bodies := make([]string, len(ms)), make([]string, len(ms)), make([][]byte, len(ms))
	for i, m := range ms {
		body, err := json.Marshal(m)
		if err != nil {
			return err
		}
		ids[i], banks[i], bodies[i] = m.ApplicationID, m.BankID, body
	}
	w := postgres.Write{Query: `
		INSERT INTO deliveries (application_id, bank_id, payload)
		SELECT application_id, bank_id, payload
		FROM unnest($1::uuid[], $2::text[], $3::bytea[]) WITH ORDINALITY AS v(application_id, bank_id, payload, i)
		ORDER BY i`, Args: []any{pq.Array(ids), pq.Array(banks), pq.ByteaArray(bodies)}}
	if postgres.BeforeCommit(tx, func() (postgres.Write, error) { return w, nil }) {
		return nil
	}
	_, err := tx.ExecContext(ctx, w.Query, w.Args...)
	return postgres.Translate(err)
}

// Withdraw stops a message not delivered yet (the application was
// cancelled). A message in flight may still arrive; the bank's later
// events then meet a cancelled application and are refused.
func (Outbox) Withdraw(ctx context.Context, tx *sqlx.Tx, applicationID string) error {
	_, err := tx.ExecContext(ctx, `
		UPDATE deliveries SET status = 'failed', last_error = 'withdrawn: the application was cancelled'
		WHERE application_id = $1 AND status = 'pending'`, applicationID)
	return postgres.Translate(err)
}
