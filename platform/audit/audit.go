// Package audit owns the audit trail (全程留痕): an append-only,
// hash-chained log of every change procfin makes, written in the same
// transaction as the change it records. Verify walks the chain and finds
// any edited, inserted or deleted row.
//
// Writers serialise on the single audit_head row for the few microseconds
// between reading the previous hash and committing. The chain proves the log
// was not changed after the fact by anyone short of rewriting it whole from
// the edit onwards; publishing the head hash (procfin audit verify prints it)
// makes even that detectable.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

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
	After      any    // the entity after the change (nil when deleted); kept, so it must hold no secrets
	Reason     string // why, when a person gave a reason (an override, a rejection)
}

// Row is one row of the trail as read back.
type Row struct {
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

// Record appends e to the trail inside tx. The row commits or rolls back
// with the change it records. The states are captured now; the row itself
// is written just before the transaction commits (postgres.BeforeCommit),
// so the trail's head row is the last lock any transaction takes. Returns
// internal on database failure.
func Record(ctx context.Context, tx *sqlx.Tx, e Entry) error {
	if e.Actor == "" || e.Action == "" || e.EntityType == "" || e.EntityID == "" {
		return errs.E(errs.Internal, "audit entry lacks actor, action or entity")
	}
	beforeDigest, _, err := digest(e.Before)
	if err != nil {
		return err
	}
	afterDigest, afterState, err := digest(e.After)
	if err != nil {
		return err
	}
	write := func(ctx context.Context) error {
		return appendRow(ctx, tx, e, beforeDigest, afterDigest, afterState)
	}
	if postgres.BeforeCommit(tx, write) {
		return nil
	}
	return write(ctx)
}

// appendRow chains one row after the head, under the head's row lock.
func appendRow(ctx context.Context, tx *sqlx.Tx, e Entry, beforeDigest, afterDigest, afterState string) error {
	var head struct {
		Seq  int64     `db:"seq"`
		Hash string    `db:"hash"`
		Now  time.Time `db:"now"`
	}
	// The row lock orders writers; now() is the transaction's one clock.
	if err := tx.GetContext(ctx, &head, `SELECT seq, hash, now() AS now FROM audit_head WHERE id FOR UPDATE`); err != nil {
		return postgres.Translate(fmt.Errorf("audit head: %w", err))
	}
	r := Row{
		Seq: head.Seq + 1, At: head.Now.UTC().Truncate(time.Microsecond),
		Actor: e.Actor, Action: e.Action, EntityType: e.EntityType, EntityID: e.EntityID,
		BeforeDigest: beforeDigest, AfterDigest: afterDigest, AfterState: afterState,
		Reason: e.Reason, PrevHash: head.Hash,
	}
	r.Hash = chainHash(r)
	const insert = `
		INSERT INTO audit_log (seq, at, actor, action, entity_type, entity_id,
			before_digest, after_digest, after_state, reason, prev_hash, hash)
		VALUES (:seq, :at, :actor, :action, :entity_type, :entity_id,
			:before_digest, :after_digest, :after_state, :reason, :prev_hash, :hash)`
	if _, err := tx.NamedExecContext(ctx, insert, r); err != nil {
		return postgres.Translate(fmt.Errorf("audit insert: %w", err))
	}
	if _, err := tx.ExecContext(ctx, `UPDATE audit_head SET seq = $1, hash = $2 WHERE id`, r.Seq, r.Hash); err != nil {
		return postgres.Translate(fmt.Errorf("audit head update: %w", err))
	}
	return nil
}

// digest returns the hex SHA-256 of v's JSON and the JSON itself; nil is "".
func digest(v any) (string, string, error) {
	if v == nil {
		return "", "", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", "", errs.Wrap(errs.Internal, err, "audit: encode state")
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
	Rows     int64  `json:"rows"`
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash"`
}

// Verify walks the whole trail in order and checks every link: no gap in
// seq, each prev_hash the previous row's hash, each hash recomputed, each
// stored state matching its digest, and the head matching the last row.
// The error names the first broken row.
func Verify(ctx context.Context, db *sqlx.DB) (Report, error) {
	var rep Report
	prevHash := strings.Repeat("0", 64)
	var last int64
	for {
		var rows []Row
		err := db.SelectContext(ctx, &rows, `
			SELECT seq, at, actor, action, entity_type, entity_id, before_digest,
			       after_digest, after_state, reason, prev_hash, hash
			FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000`, last)
		if err != nil {
			return rep, postgres.Translate(err)
		}
		for _, r := range rows {
			switch {
			case r.Seq != last+1:
				return rep, fmt.Errorf("audit row %d is followed by row %d: rows %d to %d were deleted", last, r.Seq, last+1, r.Seq-1)
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
// seq `after` (0 for the start). Returns internal on database failure.
func List(ctx context.Context, db sqlx.QueryerContext, entityType, entityID string, after int64, limit int) ([]Row, error) {
	rows := []Row{}
	err := sqlx.SelectContext(ctx, db, &rows, `
		SELECT seq, at, actor, action, entity_type, entity_id, before_digest,
		       after_digest, after_state, reason, prev_hash, hash
		FROM audit_log
		WHERE entity_type = $1 AND entity_id = $2 AND seq > $3
		ORDER BY seq LIMIT $4`, entityType, entityID, after, limit)
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
