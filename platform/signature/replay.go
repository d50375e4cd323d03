package signature

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"procfin/platform/postgres"
)

// replayWindow is how long a verified message's jti is remembered (the
// protocol: "jti was not seen in the last 10 minutes"). It outlasts any
// message the Verifier accepts: exp - iat ≤ 300 s, iat ≤ now + 60 s, and exp
// is honoured for 60 s more.
const replayWindow = 10 * time.Minute

// ReplayStore remembers the messages already accepted.
type ReplayStore interface {
	// Remember records (sender, jti) as seen until expiresAt. It returns
	// false when the pair is already recorded and not yet expired at now: a
	// replay. It must be atomic: of two concurrent calls with the same pair,
	// one returns false.
	Remember(ctx context.Context, sender, jti string, expiresAt, now time.Time) (fresh bool, err error)
	// Purge forgets the pairs that expired before before, and returns how
	// many.
	Purge(ctx context.Context, before time.Time) (int64, error)
}

// DBReplayStore keeps seen messages in the table seen_messages.
type DBReplayStore struct {
	db *sqlx.DB
}

// NewDBReplayStore returns the store over db's seen_messages table.
func NewDBReplayStore(db *sqlx.DB) *DBReplayStore { return &DBReplayStore{db: db} }

// An expired row is taken over in place; a live one makes the statement
// return no row (a replay). ON CONFLICT serializes concurrent inserts of
// the same pair.
const rememberSQL = `
INSERT INTO seen_messages (sender, jti, expires_at)
VALUES ($1, $2, $3)
ON CONFLICT (sender, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
    WHERE seen_messages.expires_at <= $4
RETURNING true`

// Remember records (sender, jti) in its own statement, outside any caller
// transaction: a verified message is consumed even if its processing then
// fails. Returns unavailable or internal on a database failure.
func (s *DBReplayStore) Remember(ctx context.Context, sender, jti string, expiresAt, now time.Time) (bool, error) {
	return s.RememberIn(ctx, s.db, sender, jti, expiresAt, now)
}

// TxReplayStore is a ReplayStore that can also remember a message in the
// caller's transaction (Verifier.Consume).
type TxReplayStore interface {
	// RememberIn is Remember with q, the caller's transaction: the pair is
	// recorded if and when it commits, and a concurrent Remember of the
	// same pair waits for that.
	RememberIn(ctx context.Context, q sqlx.QueryerContext, sender, jti string, expiresAt, now time.Time) (bool, error)
	// RememberManyIn is RememberIn for several pairs in one statement:
	// fresh[i] tells of seen[i]. A pair given twice is fresh the first
	// time at most.
	RememberManyIn(ctx context.Context, q sqlx.QueryerContext, seen []Seen) (fresh []bool, err error)
}

// RememberIn records (sender, jti) with q.
func (s *DBReplayStore) RememberIn(ctx context.Context, q sqlx.QueryerContext, sender, jti string, expiresAt, now time.Time) (bool, error) {
	var fresh bool
	err := sqlx.GetContext(ctx, q, &fresh, rememberSQL, sender, jti, expiresAt, now)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, postgres.Translate(err)
	}
	return fresh, nil
}

// rememberManySQL is rememberSQL for arrays of distinct pairs: it returns
// the pairs that are fresh. A row expired before the earliest of the
// messages' checks is taken over, as rememberSQL does with its one.
const rememberManySQL = `
INSERT INTO seen_messages (sender, jti, expires_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
ON CONFLICT (sender, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
    WHERE seen_messages.expires_at <= $4
RETURNING sender, jti`

// RememberManyIn records the pairs of seen with q in one statement.
func (s *DBReplayStore) RememberManyIn(ctx context.Context, q sqlx.QueryerContext, seen []Seen) ([]bool, error) {
	fresh := make([]bool, len(seen))
	first := map[[2]string]int{} // each pair's first place in seen
	var senders, jtis []string
	var keeps []time.Time
	var now time.Time
	for i, m := range seen {
		key := [2]string{m.sender, m.jti}
		if _, ok := first[key]; ok {
			continue // given twice: a replay of the first
		}
		first[key] = i
		senders, jtis, keeps = append(senders, m.sender), append(jtis, m.jti), append(keeps, m.keep)
		if now.IsZero() || m.now.Before(now) {
			now = m.now
		}
	}
	if len(first) == 0 {
		return fresh, nil
	}
	rows, err := q.QueryxContext(ctx, rememberManySQL, pq.Array(senders), pq.Array(jtis), pq.Array(keeps), now)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var key [2]string
		if err := rows.Scan(&key[0], &key[1]); err != nil {
			return nil, postgres.Translate(err)
		}
		fresh[first[key]] = true
	}
	return fresh, postgres.Translate(rows.Err())
}

const purgeSQL = `DELETE FROM seen_messages WHERE expires_at < $1`

// Purge deletes the rows that expired before before. Returns unavailable
// or internal on a database failure.
func (s *DBReplayStore) Purge(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, purgeSQL, before)
	if err != nil {
		return 0, postgres.Translate(err)
	}
	return res.RowsAffected()
}

// MemoryReplayStore keeps seen messages in memory, for one process only:
// for tests and fuzzing, never for a replicated service.
type MemoryReplayStore struct {
	mu   sync.Mutex
	seen map[[2]string]time.Time
}

// NewMemoryReplayStore returns an empty in-memory store.
func NewMemoryReplayStore() *MemoryReplayStore {
	return &MemoryReplayStore{seen: map[[2]string]time.Time{}}
}

// Remember records (sender, jti); it never fails.
func (s *MemoryReplayStore) Remember(_ context.Context, sender, jti string, expiresAt, now time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := [2]string{sender, jti}
	if exp, ok := s.seen[key]; ok && exp.After(now) {
		return false, nil
	}
	s.seen[key] = expiresAt
	return true, nil
}

// Purge forgets the pairs that expired before before.
func (s *MemoryReplayStore) Purge(_ context.Context, before time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for k, exp := range s.seen {
		if exp.Before(before) {
			delete(s.seen, k)
			n++
		}
	}
	return n, nil
}
