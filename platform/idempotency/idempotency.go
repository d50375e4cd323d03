// Package idempotency owns the stored first answers to state-changing
// requests (the Idempotency-Key header): the same key and request replay
// the first answer, the same key with another request is a conflict, and
// concurrent requests with one key run once.
package idempotency

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"procfin/platform/errs"
	"procfin/platform/postgres"
)

// Response is a stored answer.
type Response struct {
	Status      int    `db:"status"`
	ContentType string `db:"content_type"`
	Location    string `db:"location"`
	Body        []byte `db:"body"`
}

// Store keeps the answers.
type Store struct {
	db  *sqlx.DB
	ttl time.Duration // how long an answer is kept
	// lease is how long a running request holds its key before another
	// attempt may take over (the first one is presumed crashed).
	lease time.Duration
}

// NewStore returns a Store keeping answers for ttl.
func NewStore(db *sqlx.DB, ttl time.Duration) *Store {
	return &Store{db: db, ttl: ttl, lease: time.Minute}
}

// RequestHash identifies a request by method, path and exact body bytes.
func RequestHash(method, path string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Begin claims key for the request. It returns (nil, nil) when the caller
// now owns the key and must run the request, then call Complete or
// Release; or the stored answer to replay. Returns idempotency_key_reused
// when the key was used for another request, idempotency_in_progress when
// the first request with the key is still running.
func (s *Store) Begin(ctx context.Context, scope, key, requestHash string) (*Response, error) {
	for attempt := 0; attempt < 2; attempt++ {
		res, err := s.db.ExecContext(ctx, `
			INSERT INTO idempotency_keys (scope, key, request_hash, locked_until, expires_at)
			VALUES ($1, $2, $3, now() + $4 * interval '1 microsecond', now() + $5 * interval '1 microsecond')
			ON CONFLICT (scope, key) DO NOTHING`,
			scope, key, requestHash, s.lease.Microseconds(), s.ttl.Microseconds())
		if err != nil {
			return nil, postgres.Translate(err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil, nil
		}
		var row struct {
			RequestHash string        `db:"request_hash"`
			Status      sql.NullInt64 `db:"status"`
			ContentType string        `db:"content_type"`
			Location    string        `db:"location"`
			Body        []byte        `db:"body"`
			Expired     bool          `db:"expired"`
			Stale       bool          `db:"stale"`
		}
		err = s.db.GetContext(ctx, &row, `
			SELECT request_hash, status, content_type, location, body,
			       expires_at < now() AS expired, locked_until < now() AS stale
			FROM idempotency_keys WHERE scope = $1 AND key = $2`, scope, key)
		if errors.Is(err, sql.ErrNoRows) {
			continue // released meanwhile: claim again
		}
		if err != nil {
			return nil, postgres.Translate(err)
		}
		switch {
		case row.Expired:
			if _, err := s.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND expires_at < now()`, scope, key); err != nil {
				return nil, postgres.Translate(err)
			}
			continue
		case row.RequestHash != requestHash:
			return nil, errs.E(errs.IdempotencyReused, "this Idempotency-Key was used for a different request")
		case row.Status.Valid:
			return &Response{Status: int(row.Status.Int64), ContentType: row.ContentType, Location: row.Location, Body: row.Body}, nil
		case row.Stale:
			// The first attempt died mid-request: take the key over.
			res, err := s.db.ExecContext(ctx, `
				UPDATE idempotency_keys SET locked_until = now() + $3 * interval '1 microsecond'
				WHERE scope = $1 AND key = $2 AND status IS NULL AND locked_until < now()`,
				scope, key, s.lease.Microseconds())
			if err != nil {
				return nil, postgres.Translate(err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				return nil, nil
			}
		}
		return nil, errs.E(errs.IdempotencyPending, "a request with this Idempotency-Key is still running; retry shortly")
	}
	return nil, errs.E(errs.IdempotencyPending, "a request with this Idempotency-Key is still running; retry shortly")
}

// Complete stores the answer to the claimed key.
func (s *Store) Complete(ctx context.Context, scope, key string, r Response) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE idempotency_keys SET status = $3, content_type = $4, location = $5, body = $6
		WHERE scope = $1 AND key = $2`, scope, key, r.Status, r.ContentType, r.Location, r.Body)
	return postgres.Translate(err)
}

// Release gives the key up without an answer (the request failed in a way
// worth retrying), so the next attempt runs afresh.
func (s *Store) Release(ctx context.Context, scope, key string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status IS NULL`, scope, key)
	return postgres.Translate(err)
}

// Purge deletes expired answers and returns how many.
func (s *Store) Purge(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE expires_at < now()`)
	if err != nil {
		return 0, postgres.Translate(err)
	}
	return res.RowsAffected()
}
