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
	"github.com/lib/pq"

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
		row, err := s.read(ctx, scope, key)
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
			return row.response(), nil
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

// Lookup returns the stored answer to key without claiming it, for a route
// whose answer is stored in its own transaction (Keep): (nil, nil) when
// there is none (or it expired), idempotency_key_reused when the key
// answered another request, idempotency_in_progress when a request that
// claimed the key with Begin is still running. It writes nothing unless it
// removes an expired answer.
func (s *Store) Lookup(ctx context.Context, scope, key, requestHash string) (*Response, error) {
	row, err := s.read(ctx, scope, key)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, postgres.Translate(err)
	case row.Expired:
		_, err := s.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND expires_at < now()`, scope, key)
		return nil, postgres.Translate(err)
	case row.RequestHash != requestHash:
		return nil, errs.E(errs.IdempotencyReused, "this Idempotency-Key was used for a different request")
	case !row.Status.Valid:
		return nil, errs.E(errs.IdempotencyPending, "a request with this Idempotency-Key is still running; retry shortly")
	}
	return row.response(), nil
}

// storedRow is a key's row as Begin and Lookup read it.
type storedRow struct {
	RequestHash string        `db:"request_hash"`
	Status      sql.NullInt64 `db:"status"` // null: a request that claimed it runs
	ContentType string        `db:"content_type"`
	Location    string        `db:"location"`
	Body        []byte        `db:"body"`
	Expired     bool          `db:"expired"`
	Stale       bool          `db:"stale"` // its claim's lease ran out
}

// read reads key's row; sql.ErrNoRows when there is none.
func (s *Store) read(ctx context.Context, scope, key string) (storedRow, error) {
	var row storedRow
	err := s.db.GetContext(ctx, &row, `
		SELECT request_hash, status, content_type, location, body,
		       expires_at < now() AS expired, locked_until < now() AS stale
		FROM idempotency_keys WHERE scope = $1 AND key = $2`, scope, key)
	return row, err
}

func (r storedRow) response() *Response {
	return &Response{Status: int(r.Status.Int64), ContentType: r.ContentType, Location: r.Location, Body: r.Body}
}

// Claim is a request running under an Idempotency-Key whose answer is
// stored with Keep or Put rather than claimed with Begin first.
type Claim struct {
	Scope, Key, RequestHash string
}

// Keep stores r as the answer to cl inside tx, so that the answer commits
// with the change it reports, or neither does. The answers of one
// transaction are written together, in one statement, just before it
// commits. An answer already stored under the key stays,
// unless it expired, or it was a refusal (4xx) and this one is not: two
// requests racing under one key may meet different outcomes, and a change
// that committed is what a retry must be told of.
func (s *Store) Keep(ctx context.Context, tx *postgres.Tx, cl Claim, r Response) error {
	a := kept{cl, r}
	p := tx.Value(keptKey{}, func() any {
		p := &keptAnswers{}
		tx.BeforeCommit(func() (postgres.Write, error) { return s.insert(p.answers), nil })
		return p
	}).(*keptAnswers)
	p.answers = append(p.answers, a)
	return nil
}

// Put stores r as the answer to cl on its own (an answer that changed
// nothing, such as a refusal), as Keep does.
func (s *Store) Put(ctx context.Context, cl Claim, r Response) error {
	return s.exec(ctx, s.db, []kept{{cl, r}})
}

type kept struct {
	claim Claim
	r     Response
}

type keptAnswers struct{ answers []kept }

type keptKey struct{}

func (s *Store) exec(ctx context.Context, q sqlx.ExecerContext, answers []kept) error {
	w := s.insert(answers)
	_, err := q.ExecContext(ctx, w.Query, w.Args...)
	return postgres.Translate(err)
}

// insert is the statement storing answers, the first of each key.
func (s *Store) insert(answers []kept) postgres.Write {
	if len(answers) == 0 {
		return postgres.Write{}
	}
	seen := make(map[[2]string]bool, len(answers))
	unique := answers[:0:0]
	for _, a := range answers { // one answer a key: the first
		if k := [2]string{a.claim.Scope, a.claim.Key}; !seen[k] {
			seen[k] = true
			unique = append(unique, a)
		}
	}
	answers = unique
	n := len(answers)
	scopes, keys, hashes, statuses := make([]string, n), make([]string, n), make([]string, n), make([]int64, n)
	types, locations := make([]string, n), make([]string, n)
	var bodies postgres.Packed // kilobytes each: not an array parameter
	for i, a := range answers {
		scopes[i], keys[i], hashes[i], statuses[i] = a.claim.Scope, a.claim.Key, a.claim.RequestHash, int64(a.r.Status)
		types[i], locations[i] = a.r.ContentType, a.r.Location
		bodies.Add(a.r.Body)
	}
	return postgres.Write{Query: `
		INSERT INTO idempotency_keys AS k (scope, key, request_hash, status, content_type, location, body, locked_until, expires_at)
		SELECT scope, key, request_hash, status, content_type, location, substring($10::bytea FROM body_at FOR body_len),
			now(), now() + $9 * interval '1 microsecond'
		FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::int[], $8::int[])
			AS v(scope, key, request_hash, status, content_type, location, body_at, body_len)
		ON CONFLICT (scope, key) DO UPDATE SET request_hash = excluded.request_hash, status = excluded.status,
			content_type = excluded.content_type, location = excluded.location, body = excluded.body,
			locked_until = excluded.locked_until, expires_at = excluded.expires_at
		WHERE k.expires_at < now() OR (k.status >= 400 AND excluded.status < 400)`,
		Args: []any{pq.Array(scopes), pq.Array(keys), pq.Array(hashes), pq.Array(statuses),
			pq.Array(types), pq.Array(locations), bodies.Starts(), bodies.Lengths(), s.ttl.Microseconds(), bodies.Bytes()}}
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
