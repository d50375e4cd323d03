package banking

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"procfin/lending"
	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/postgres"
)

// Delivery is one queued message to a bank, as administrators see it.
type Delivery struct {
	ID            int64      `db:"id" json:"id"`
	ApplicationID *string    `db:"application_id" json:"application_id"` // nil for a message about an intent
	IntentID      *string    `db:"intent_id" json:"intent_id"`           // nil for a message about an application
	MessageID     string     `db:"message_id" json:"message_id"`
	Kind          string     `db:"kind" json:"kind"`
	BankID        string     `db:"bank_id" json:"bank_id"`
	BankName      string     `db:"bank_name" json:"-"` // for the pages (List only)
	Status        string     `db:"status" json:"status"`
	Attempts      int        `db:"attempts" json:"attempts"`
	NextAttemptAt time.Time  `db:"next_attempt_at" json:"next_attempt_at"`
	LastStatus    *int       `db:"last_status" json:"last_status"`
	LastError     string     `db:"last_error" json:"last_error,omitempty"`
	BankReference string     `db:"bank_reference" json:"bank_reference,omitempty"`
	CreatedAt     time.Time  `db:"created_at" json:"created_at"`
	DeliveredAt   *time.Time `db:"delivered_at" json:"delivered_at"`
}

// Deliveries is the administrators' view of the outbox.
type Deliveries struct {
	db      *sqlx.DB
	lending *lending.Service
}

// NewDeliveries returns the view.
func NewDeliveries(db *sqlx.DB, ls *lending.Service) *Deliveries {
	return &Deliveries{db: db, lending: ls}
}

// List returns deliveries with the status ("" for all), newest first, with
// id below before (0: from the newest).
func (d *Deliveries) List(ctx context.Context, status string, before int64, limit int) ([]Delivery, error) {
	switch status {
	case "", "pending", "delivered", "failed", "dead":
	default:
		return nil, errs.InvalidFields(errs.Field("status", errs.FieldOneOf, "pending, delivered, failed, dead"))
	}
	list := []Delivery{}
	err := d.db.SelectContext(ctx, &list, `
		SELECT d.id, d.application_id, d.intent_id, d.message_id, d.kind, d.bank_id, coalesce(b.name, '') AS bank_name, d.status,
			d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.bank_reference, d.created_at, d.delivered_at
		FROM deliveries d LEFT JOIN banks b ON b.id = d.bank_id
		WHERE ($1 = '' OR d.status = $1) AND ($2 = 0 OR d.id < $2) ORDER BY d.id DESC LIMIT $3`, status, before, limit)
	return list, postgres.Translate(err)
}

// Requeue sends a dead or failed delivery again, from a fresh 24 hours
// (its attempts still counted, so a delivery never attempted is one with
// none). Returns not_found; invalid_transition when it is not dead or
// failed, or it is a credit application whose application is no longer
// submitted or delivery_failed; consent_expired when it carries the
// supplier's data and the consent to its bank (of its application, or of
// its intent and bank) has expired or was revoked.
func (d *Deliveries) Requeue(ctx context.Context, id int64, actor string) (Delivery, error) {
	var out Delivery
	err := postgres.Transact(ctx, d.db, func(tx *postgres.Tx) error {
		var cur Delivery
		err := tx.GetContext(ctx, &cur, `
			SELECT id, application_id, intent_id, message_id, kind, bank_id, status, attempts, next_attempt_at, last_status, last_error, bank_reference, created_at, delivered_at
			FROM deliveries WHERE id = $1 FOR UPDATE`, id)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(errs.NotFound, "no delivery %d", id)
		}
		if err != nil {
			return postgres.Translate(err)
		}
		if cur.Status != "dead" && cur.Status != "failed" {
			return errs.E(errs.InvalidTransition, "the delivery is %s: only dead or failed deliveries are re-queued", cur.Status)
		}
		kind := outboundKinds[cur.Kind]
		entityType, entityID := "application", ""
		if cur.ApplicationID != nil {
			entityID = *cur.ApplicationID
		} else if cur.IntentID != nil {
			entityType, entityID = "financing_intent", *cur.IntentID
		}
		if kind.requeued != nil && cur.ApplicationID != nil {
			a, err := d.lending.Application(ctx, lending.Scope{}, entityID)
			if err != nil {
				return err
			}
			if a.Status != lending.DeliveryFailed && a.Status != lending.Submitted {
				return errs.E(errs.InvalidTransition, "the application is %s", a.Status)
			}
		}
		switch {
		case kind.carriesData && cur.ApplicationID != nil:
			if c, err := d.lending.ConsentOf(ctx, entityID); err != nil {
				return err
			} else if c.State(tx.Now()) != lending.ConsentGiven {
				return errs.E(errs.ConsentExpired, "the supplier's consent to send its data to %s is %s: the message cannot be sent again", cur.BankID, c.State(tx.Now()))
			}
		case kind.carriesData:
			var given bool
			err := tx.GetContext(ctx, &given, `
				SELECT coalesce(bool_or(expires_at > now() AND revoked_at IS NULL), false) FROM consents
				WHERE intent_id = $1 AND bank_id = $2`, entityID, cur.BankID)
			if err != nil {
				return postgres.Translate(err)
			}
			if !given {
				return errs.E(errs.ConsentExpired, "the supplier's consent to send its data to %s has expired or was revoked: the message cannot be sent again", cur.BankID)
			}
		}
		err = tx.GetContext(ctx, &out, `
			UPDATE deliveries SET status = 'pending', next_attempt_at = now(), created_at = now(),
				locked_until = NULL, last_error = ''
			WHERE id = $1
			RETURNING id, application_id, intent_id, message_id, kind, bank_id, status, attempts, next_attempt_at, last_status, last_error, bank_reference, created_at, delivered_at`, id)
		if err != nil {
			return postgres.Translate(err)
		}
		if kind.requeued != nil && cur.ApplicationID != nil {
			if err := kind.requeued(d.lending, ctx, tx, entityID, actor); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "delivery.requeued", EntityType: entityType,
			EntityID: entityID, Before: cur, After: out})
	})
	return out, err
}
