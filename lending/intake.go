package lending

import (
	"context"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"procfin/platform/batch"
	"procfin/platform/errs"
	"procfin/platform/postgres"
)

// intake writes the applications of concurrent requests together (group
// commit): each request queues its application, and a few writers each take
// whatever is queued (up to maxBatch), in the order it came, and write it in
// one transaction with a fixed number of statements (applyMany), committing
// once. Under load a BEGIN, each statement and a commit (one WAL flush)
// serve many applications; alone, an application is a batch of one.
//
// Every application of a batch is checked under the same locks and rules as
// alone, after those before it in the batch. One refused on what was read
// (verification failed, unknown contract, bank or line) gets its answer and
// the batch goes on without it. Any other error rolls the whole transaction
// back and each application is written again in a transaction of its own,
// so one application's failure never becomes another's; a database that is
// out of reach answers all of them unavailable instead, as it would each
// alone.
type intake struct {
	s     *Service
	queue batch.Queue[*intakeItem]
}

// intakeItem is one queued application and, once written, its answer.
type intakeItem struct {
	ctx  context.Context // the request's: if done before the item is written, it is not
	who  Applicant
	in   ApplyInput
	app  Application
	err  error
	done chan struct{}
}

// intakeTimeout bounds one batch's transaction: a request waits no longer
// than its own context allows in any case.
const intakeTimeout = 30 * time.Second

// newIntake returns the intake: workers writers at most at once, each
// holding one connection, batches of maxBatch at most.
func newIntake(s *Service, workers, maxBatch int) *intake {
	q := &intake{s: s}
	q.queue = batch.Queue[*intakeItem]{Writers: workers, MaxBatch: maxBatch, Write: q.write}
	return q
}

// apply queues the application and waits for its answer or for ctx.
func (q *intake) apply(ctx context.Context, who Applicant, in ApplyInput) (Application, error) {
	it := &intakeItem{ctx: ctx, who: who, in: in, done: make(chan struct{})}
	q.queue.Add(it)
	select {
	case <-it.done:
		return it.app, it.err
	case <-ctx.Done():
		// The application may still be written: a retry with the same
		// Idempotency-Key finds it.
		return Application{}, errs.Wrap(errs.Unavailable, ctx.Err(), "the request ended before the application was written")
	}
}

// write writes items (a batch) in one transaction, or each alone if that fails,
// and answers every item.
func (q *intake) write(items []*intakeItem) {
	defer func() {
		// A bug must not take the process down with the batch, nor leave
		// its requests waiting: they answer internal, and the writer goes
		// on with the next batch.
		if p := recover(); p != nil {
			slog.Error("intake writer panicked", "panic", p, "stack", string(debug.Stack()))
			for _, it := range items {
				it.err = errs.E(errs.Internal, "the application could not be written")
			}
		}
		for _, it := range items {
			close(it.done)
		}
	}()
	live := items[:0:0]
	for _, it := range items {
		if err := it.ctx.Err(); err != nil {
			it.err = errs.Wrap(errs.Unavailable, err, "the request ended before the application was written")
			continue
		}
		live = append(live, it)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), intakeTimeout)
	defer cancel()
	err := postgres.Transact(postgres.WithClock(ctx, q.s.now), q.s.db, func(tx *postgres.Tx) error { return q.s.applyMany(ctx, tx, live) })
	switch {
	case err == nil:
	case len(live) == 1 || errs.Is(err, errs.Unavailable):
		// Alone already, or the database is out of reach (a commit's
		// outcome may then be unknown): every item gets the error, and a
		// retry with the same Idempotency-Key finds what did commit.
		for _, it := range live {
			it.app, it.err = Application{}, err
		}
	default:
		// Rolled back: whatever was decided in it stands for nothing.
		for _, it := range live {
			err := postgres.Transact(postgres.WithClock(ctx, q.s.now), q.s.db, func(tx *postgres.Tx) error { return q.s.applyMany(ctx, tx, []*intakeItem{it}) })
			if err != nil {
				it.app, it.err = Application{}, err
			}
		}
	}
}

// bankSet remembers which banks exist, with their names (for the consent
// statement). Banks are never removed (migration 00015), so a bank once
// found stays found, and intake asks the database only about banks it has
// not met; a bank renamed later is named as first found until the process
// restarts.
type bankSet struct {
	mu    sync.RWMutex
	names map[string]string
}

func (b *bankSet) known(id string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.names[id]
	return ok
}

// name is the bank's name ("" for a bank not found).
func (b *bankSet) name(id string) string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.names[id]
}

// learn looks up the banks items name that are not known yet.
func (b *bankSet) learn(ctx context.Context, q sqlx.QueryerContext, items []*intakeItem) error {
	var unknown []string
	for _, it := range items {
		if !b.known(it.in.BankID) && !slices.Contains(unknown, it.in.BankID) {
			unknown = append(unknown, it.in.BankID)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	var found []struct {
		ID   string `db:"id"`
		Name string `db:"name"`
	}
	if err := sqlx.SelectContext(ctx, q, &found, `SELECT id, name FROM banks WHERE id = ANY($1)`, pq.Array(unknown)); err != nil {
		return postgres.Translate(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.names == nil {
		b.names = map[string]string{}
	}
	for _, f := range found {
		b.names[f.ID] = f.Name
	}
	return nil
}

// The intake's writers and batch size. Two writers keep the database busy
// while one of them waits for its commit's WAL flush; more make smaller
// batches and, on two cores, fewer applications a second
// (docs/performance.md, "Tried and rejected").
const (
	intakeWriters  = 2
	intakeMaxBatch = 64
)
