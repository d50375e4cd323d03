package banking

import (
	"context"
	"encoding/json"

	"github.com/jmoiron/sqlx"

	"procfin/lending"
	"procfin/platform/postgres"
)

// Outbox queues credit applications for their banks in the application's
// own transaction (table deliveries). The relay delivers them.
type Outbox struct{}

// Enqueue stores the message exactly as it will be sent, so that every
// retry carries the same body under the same Idempotency-Key.
func (Outbox) Enqueue(ctx context.Context, tx *sqlx.Tx, m lending.Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO deliveries (application_id, bank_id, payload) VALUES ($1, $2, $3)`,
		m.ApplicationID, m.BankID, body)
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
