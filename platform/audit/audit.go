// Package audit owns the audit trail (全程留痕): an append-only,
// hash-chained log of every change procfin makes, written in the same
// transaction as the change it records. Verify walks the chain and finds
// any edited, inserted or deleted row.
//
// A row is written to audit_log unsealed: with its contents but no place
// in the chain, and a trigger queues its id in audit_unsealed. Seal, run
// by a Sealer in every procfin process, takes the queued rows once they are
// committed and appends one row per row to audit_chain, in the order it
// finds them: its place (seq), the previous row's hash and its own hash.
// Sealers serialise on the single audit_head row. The change's own
// transaction so never waits on a shared row, no row of the trail is ever
// updated, and a row is sealed within about a second of its commit. Until
// then it is protected by the append-only trigger alone. The chain proves
// the log was not changed after the fact by anyone short of rewriting it
// whole from the edit onwards; publishing the head hash (procfin audit
// verify prints it) makes even that detectable.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"procfin/platform/errs"
	"procfin/platform/postgres"
)

// Entry is one change to record.
type Entry struct {
	Actor      string // who: "user:<id>", "bank:<id>", "issuer:<id>", "cli", "system"
	Action     string // what: "user.created", "contract.version_added", …
	EntityType string // which entity: "user", "contract", …
	EntityID   string
	Before     any    // the entity before the change (nil when created); only its digest is kept
	After      any    // the entity after the change (nil when deleted); kept, so it must hold no secrets; a json.RawMessage is kept as it is
	Reason     string // why, when a person gave a reason (an override, a rejection)
}

// Row is one row of the trail as read back. Until it is sealed, Seq is 0
// and PrevHash and Hash are empty.
type Row struct {
	ID           int64           `db:"id" json:"id"`
	Seq          int64           `db:"seq" json:"seq"`
	At           time.Time       `db:"at" json:"at"`
	Actor        string          `db:"actor" json:"actor"`
	Action       string          `db:"action" json:"action"`
	EntityType   string          `db:"entity_type" json:"entity_type"`
	EntityID     string          `db:"entity_id" json:"entity_id"`
	BeforeDigest string          `db:"before_digest" json:"before_digest,omitempty"`
	AfterDigest  string          `db:"after_digest" json:"after_digest,omitempty"`
	AfterState   string          `db:"after_state" json:"-"`
	After        json.RawMessage `db:"-" json:"after,omitempty"`
	Reason       string          `db:"reason" json:"reason,omitempty"`
	PrevHash     string          `db:"prev_hash" json:"prev_hash"`
	Hash         string          `db:"hash" json:"hash"`
}

const timeLayout = "2006-01-02T15:04:05.000000Z"

// Record appends e to the trail inside tx, unsealed: the row commits or
// rolls back with the change it records, at the transaction's clock, and a
// Sealer chains it after commit. It takes no lock another writer waits on.
// The states are captured now; the transaction's rows are written
// together, in one statement, just before it commits.
// Returns internal when e lacks a field or on database failure.
func Record(ctx context.Context, tx *postgres.Tx, e Entry) error {
	r, err := newRow(e)
	if err != nil {
		return err
	}
	p := tx.Value(pendingKey{}, func() any {
		p := &pending{}
		tx.BeforeCommit(func() (postgres.Write, error) { return insertRows(p.rows), nil })
		return p
	}).(*pending)
	p.rows = append(p.rows, r)
	return nil
}

// RecordMany appends es to the trail inside tx, as Record does each.
func RecordMany(ctx context.Context, tx *postgres.Tx, es []Entry) error {
	for _, e := range es {
		if err := Record(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}

// pending is a transaction's rows not yet written.
type pending struct{ rows []entryRow }

type pendingKey struct{}

// entryRow is an entry as stored: its states reduced to digests when it
// was recorded.
type entryRow struct {
	actor, action, entityType, entityID, before, after, state, reason string
}

func newRow(e Entry) (entryRow, error) {
	if e.Actor == "" || e.Action == "" || e.EntityType == "" || e.EntityID == "" {
		return entryRow{}, errs.E(errs.Internal, "audit entry lacks actor, action or entity")
	}
	beforeDigest, _, err := digest(e.Before)
	if err != nil {
		return entryRow{}, err
	}
	afterDigest, afterState, err := digest(e.After)
	if err != nil {
		return entryRow{}, err
	}
	return entryRow{e.Actor, e.Action, e.EntityType, e.EntityID, beforeDigest, afterDigest, afterState, e.Reason}, nil
}

// insertRows is the statement writing rows, in their order.
func insertRows(rows []entryRow) postgres.Write {
	if len(rows) == 0 {
		return postgres.Write{}
	}
	n := len(rows)
	actors, actions, types, ids := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	befores, afters, reasons := make([]string, n), make([]string, n), make([]string, n)
	var states postgres.Packed // kilobytes of JSON each: not an array parameter
	for i, r := range rows {
		actors[i], actions[i], types[i], ids[i] = r.actor, r.action, r.entityType, r.entityID
		befores[i], afters[i], reasons[i] = r.before, r.after, r.reason
		states.AddString(r.state)
	}
	return postgres.Write{Query: `
		INSERT INTO audit_log (at, actor, action, entity_type, entity_id,
			before_digest, after_digest, after_state, reason)
		SELECT now(), actor, action, entity_type, entity_id, before_digest, after_digest,
			convert_from(substring($10::bytea FROM state_at FOR state_len), 'UTF8'), reason
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[], $9::text[])
			WITH ORDINALITY AS v(actor, action, entity_type, entity_id, before_digest, after_digest, state_at, state_len, reason, i)
		ORDER BY i`,
		Args: []any{pq.Array(actors), pq.Array(actions), pq.Array(types), pq.Array(ids),
			pq.Array(befores), pq.Array(afters), states.Starts(), states.Lengths(), pq.Array(reasons), states.Bytes()}}
}

// Seal chains up to limit committed unsealed rows after the head, in one
// transaction holding audit_head's row lock, and reports how many it
// sealed. Any number of processes may seal at once: they take turns on
// that lock, and each sees the rows the previous one sealed. Returns
// internal on database failure.
func Seal(ctx context.Context, db *sqlx.DB, limit int) (int, error) {
	sealed := 0
	err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
		var head struct {
			Seq  int64  `db:"seq"`
			Hash string `db:"hash"`
		}
		if err := tx.GetContext(ctx, &head, `SELECT seq, hash FROM audit_head WHERE id FOR UPDATE`); err != nil {
			return postgres.Translate(fmt.Errorf("audit head: %w", err))
		}
		var rows []Row
		// A new statement, so a new snapshot: it sees what sealers before
		// us took from the queue while we waited for the lock, and only
		// rows whose transaction committed. Not after_state: its digest is
		// what the chain hashes.
		err := tx.SelectContext(ctx, &rows, `
			WITH taken AS (
				DELETE FROM audit_unsealed
				WHERE ctid = ANY(ARRAY(SELECT ctid FROM audit_unsealed LIMIT $1))
				RETURNING id)
			SELECT a.id, a.at, a.actor, a.action, a.entity_type, a.entity_id, a.before_digest,
			       a.after_digest, a.reason
			FROM taken JOIN audit_log a ON a.id = taken.id ORDER BY a.id`, limit)
		if err != nil || len(rows) == 0 {
			return postgres.Translate(err)
		}
		ids, seqs := make([]int64, len(rows)), make([]int64, len(rows))
		prevs, hashes := make([]string, len(rows)), make([]string, len(rows))
		for i := range rows {
			r := &rows[i]
			r.Seq, r.PrevHash = head.Seq+1, head.Hash
			r.Hash = chainHash(*r)
			ids[i], seqs[i], prevs[i], hashes[i] = r.ID, r.Seq, r.PrevHash, r.Hash
			head.Seq, head.Hash = r.Seq, r.Hash
		}
		_, err = tx.ExecContext(ctx, `
			WITH chained AS (
				INSERT INTO audit_chain (seq, audit_id, prev_hash, hash)
				SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]))
			UPDATE audit_head SET seq = $5, hash = $6 WHERE id`,
			pq.Array(seqs), pq.Array(ids), pq.Array(prevs), pq.Array(hashes), head.Seq, head.Hash)
		if err != nil {
			return postgres.Translate(fmt.Errorf("audit seal: %w", err))
		}
		sealed = len(rows)
		return nil
	})
	return sealed, err
}

// SealAll seals until no committed row is left unsealed.
func SealAll(ctx context.Context, db *sqlx.DB) error {
	for {
		n, err := Seal(ctx, db, sealBatch)
		if err != nil || n < sealBatch {
			return err
		}
	}
}

const sealBatch = 2000

// Sealer seals the trail in the background, every Interval (250 ms when
// zero), and at once again while there is a backlog.
type Sealer struct {
	DB       *sqlx.DB
	Interval time.Duration
	Logger   *slog.Logger
}

// Run seals until ctx ends. A failure (the database away, say) is logged
// and retried at the next tick; nothing is lost, as unsealed rows wait.
func (s Sealer) Run(ctx context.Context) {
	interval := s.Interval
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	t := time.NewTimer(interval)
	defer t.Stop()
	failing := false
	for {
		n, err := Seal(ctx, s.DB, sealBatch)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			s.Logger.Warn("audit seal failed; retrying", "err", err)
			failing = true
		case err == nil:
			failing = false
		}
		if err == nil && n == sealBatch {
			continue
		}
		t.Reset(interval)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// digest returns the hex SHA-256 of v's JSON and the JSON itself; nil is "".
// A json.RawMessage is taken as it is: the caller wrote it, as valid JSON.
func digest(v any) (string, string, error) {
	if v == nil {
		return "", "", nil
	}
	b, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return "", "", errs.Wrap(errs.Internal, err, "audit: encode state")
		}
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), string(b), nil
}

// chainHash hashes the row's fields, each length-prefixed so that no two
// different rows encode alike, after the previous row's hash.
func chainHash(r Row) string {
	h := sha256.New()
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], uint64(r.Seq))
	h.Write(seq[:])
	for _, f := range []string{r.PrevHash, r.At.UTC().Format(timeLayout), r.Actor, r.Action,
		r.EntityType, r.EntityID, r.BeforeDigest, r.AfterDigest, r.Reason} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Report is the outcome of a full verification.
type Report struct {
	Rows     int64  `json:"rows"`     // sealed rows, all checked
	Unsealed int64  `json:"unsealed"` // rows not yet sealed when the walk ended
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash"`
}

// Verify walks the whole chain in order and checks every link: no gap in
// seq, each sealed row present, each prev_hash the previous row's hash,
// each hash recomputed from its row, each stored state matching its
// digest, and the head matching the last link. The error names the first
// broken row. Rows not yet sealed are counted, not checked: call SealAll
// first to check everything committed so far.
func Verify(ctx context.Context, db *sqlx.DB) (Report, error) {
	var rep Report
	prevHash := strings.Repeat("0", 64)
	var last int64
	for {
		var rows []Row
		// A sealed row that is gone from audit_log comes back with id 0.
		err := db.SelectContext(ctx, &rows, `
			SELECT COALESCE(a.id, 0) AS id, c.seq, COALESCE(a.at, 'epoch') AS at,
			       COALESCE(a.actor, '') AS actor, COALESCE(a.action, '') AS action,
			       COALESCE(a.entity_type, '') AS entity_type, COALESCE(a.entity_id, '') AS entity_id,
			       COALESCE(a.before_digest, '') AS before_digest, COALESCE(a.after_digest, '') AS after_digest,
			       COALESCE(a.after_state, '') AS after_state, COALESCE(a.reason, '') AS reason,
			       c.prev_hash, c.hash
			FROM audit_chain c LEFT JOIN audit_log a ON a.id = c.audit_id
			WHERE c.seq > $1 ORDER BY c.seq LIMIT 5000`, last)
		if err != nil {
			return rep, postgres.Translate(err)
		}
		for _, r := range rows {
			switch {
			case r.Seq != last+1:
				return rep, fmt.Errorf("audit row %d is followed by row %d: rows %d to %d were deleted", last, r.Seq, last+1, r.Seq-1)
			case r.ID == 0:
				return rep, fmt.Errorf("audit row %d was deleted: its place in the chain is left without it", r.Seq)
			case r.PrevHash != prevHash:
				return rep, fmt.Errorf("audit row %d does not link to row %d: a row was changed or replaced", r.Seq, last)
			case chainHash(r) != r.Hash:
				return rep, fmt.Errorf("audit row %d was edited: its hash does not match its contents", r.Seq)
			}
			if d, _, _ := digestRaw(r.AfterState); d != r.AfterDigest {
				return rep, fmt.Errorf("audit row %d was edited: its recorded state does not match its digest", r.Seq)
			}
			last, prevHash = r.Seq, r.Hash
			rep.Rows++
		}
		if len(rows) == 0 {
			break
		}
	}
	var head struct {
		Seq  int64  `db:"seq"`
		Hash string `db:"hash"`
	}
	if err := db.GetContext(ctx, &head, `SELECT seq, hash FROM audit_head WHERE id`); err != nil {
		return rep, postgres.Translate(err)
	}
	// Every row without a link, whether queued or not: a row taken out
	// of the queue is never sealed, and shows here.
	err := db.GetContext(ctx, &rep.Unsealed, `
		SELECT count(*) FROM audit_log a WHERE NOT EXISTS (SELECT FROM audit_chain c WHERE c.audit_id = a.id)`)
	if err != nil {
		return rep, postgres.Translate(err)
	}
	if head.Seq != last || head.Hash != prevHash {
		return rep, fmt.Errorf("audit head says row %d but the log ends at row %d: the newest rows were deleted or the head was changed", head.Seq, last)
	}
	rep.HeadSeq, rep.HeadHash = head.Seq, head.Hash
	return rep, nil
}

func digestRaw(s string) (string, string, error) {
	if s == "" {
		return "", "", nil
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:]), s, nil
}

// List returns an entity's trail, oldest first, at most limit rows after
// the row with id `after` (0 for the start), sealed or not. Returns
// internal on database failure.
func List(ctx context.Context, db sqlx.QueryerContext, entityType, entityID string, after int64, limit int) ([]Row, error) {
	rows := []Row{}
	err := sqlx.SelectContext(ctx, db, &rows, `
		SELECT a.id, COALESCE(c.seq, 0) AS seq, a.at, a.actor, a.action, a.entity_type, a.entity_id,
		       a.before_digest, a.after_digest, a.after_state, a.reason,
		       COALESCE(c.prev_hash, '') AS prev_hash, COALESCE(c.hash, '') AS hash
		FROM audit_log a LEFT JOIN audit_chain c ON c.audit_id = a.id
		WHERE a.entity_type = $1 AND a.entity_id = $2 AND a.id > $3
		ORDER BY a.id LIMIT $4`, entityType, entityID, after, limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	for i := range rows {
		if rows[i].AfterState != "" {
			rows[i].After = json.RawMessage(rows[i].AfterState)
		}
	}
	return rows, nil
}
