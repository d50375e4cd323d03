package banking

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"log/slog"
	"runtime/debug"
	"time"

	"procfin/platform/batch"
	"procfin/platform/errs"
	"procfin/platform/postgres"
)

// inbox applies the bank events of concurrent requests together (group
// commit), as lending's intake writes applications: each request queues
// its parsed event, and a writer takes whatever is queued (up to maxBatch),
// in the order it came, and applies it in one transaction (Events.applyAll),
// each event under the same locks and rules as alone, after those before
// it. Under load a BEGIN, the replay checks of the messages, the inbox
// rows, the audit trail and a commit (one WAL flush) each cost one
// statement for many events; alone, an event is a batch of one.
//
// Events go to one of a few writers by what they act on (the application,
// or the credit line), so the events of one application are applied in the
// order they came, one writer never waits for another on that
// application's row, and the writers still run side by side.
//
// An event refused before it changed anything but its replay check (a
// replayed message, an event id reused with another body) gets its answer
// and the batch goes on without it. Any other error rolls the whole
// transaction back and each event is applied again in a transaction of its
// own, so one event's failure never becomes another's; a database that is
// out of reach answers all of them unavailable instead, as it would each
// alone.
type inbox struct {
	ev     *Events
	shards []batch.Queue[*inboxItem] // one writer each
}

// inboxItem is one queued event and, once applied, its outcome.
type inboxItem struct {
	ctx     context.Context // the request's: if done before the event is applied, it is not
	bankID  string
	env     Envelope
	data    eventData
	subject subject // data.subject(env)
	hash    string
	consume *Consume
	outcome string
	err     error
	done    chan struct{}
}

// newInboxItem is the item of an event parsed from body.
func newInboxItem(ctx context.Context, bankID string, env Envelope, data eventData, body []byte, consume *Consume) *inboxItem {
	sum := sha256.Sum256(body)
	return &inboxItem{ctx: ctx, bankID: bankID, env: env, data: data, subject: data.subject(env),
		hash: hex.EncodeToString(sum[:]), consume: consume}
}

// inboxTimeout bounds one batch's transaction: a request waits no longer
// than its own context allows in any case.
const inboxTimeout = 30 * time.Second

// The inbox's writers and batch size, and how long a writer that has
// just written a batch of two or more waits for inboxFill events
// (docs/performance-log.md, seventh round: at 32 clients batches went
// from 3.7 events to 6.2, and events from about 2 200 a second to about
// 2 500).
const (
	inboxWriters  = 4
	inboxMaxBatch = 64
	inboxLinger   = time.Millisecond
	inboxFill     = 8
)

// newInbox returns the inbox: writers shards of one writer each, batches
// of maxBatch at most, each lingering up to inboxLinger (batch.Queue).
func newInbox(ev *Events, writers, maxBatch int) *inbox {
	q := &inbox{ev: ev, shards: make([]batch.Queue[*inboxItem], max(writers, 1))}
	for i := range q.shards {
		q.shards[i] = batch.Queue[*inboxItem]{Writers: 1, MaxBatch: maxBatch, Write: q.write, Linger: inboxLinger, Fill: inboxFill}
	}
	return q
}

// shardOf returns the writer of what it acts on (its subject): its
// application, a credit line or a financing intent.
func (q *inbox) shardOf(it *inboxItem) *batch.Queue[*inboxItem] {
	key := it.env.ApplicationID // canonical (ParseEvent): one spelling of it, one shard
	switch {
	case it.subject.line:
		key = it.subject.lineID
	case it.subject.intent:
		key = it.subject.intentID
	}
	h := fnv.New32a()
	h.Write([]byte(it.bankID))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return &q.shards[h.Sum32()%uint32(len(q.shards))]
}

// apply queues the event and waits for its outcome or for ctx.
func (q *inbox) apply(it *inboxItem) (string, error) {
	it.done = make(chan struct{})
	q.shardOf(it).Add(it)
	select {
	case <-it.done:
		return it.outcome, it.err
	case <-it.ctx.Done():
		// The event may still be applied: the bank's retry of it is then a
		// duplicate.
		return "", errs.Wrap(errs.Unavailable, it.ctx.Err(), "the request ended before the event was applied")
	}
}

// write applies items (a batch) in one transaction, or each event alone if that
// fails, and answers every event.
func (q *inbox) write(items []*inboxItem) {
	defer func() {
		// A bug must not take the process down with the batch, nor leave
		// its requests waiting: they answer internal, and the writer goes
		// on with the next batch.
		if p := recover(); p != nil {
			slog.Error("inbox writer panicked", "panic", p, "stack", string(debug.Stack()))
			for _, it := range items {
				it.err = errs.E(errs.Internal, "the event could not be written")
			}
		}
		for _, it := range items {
			close(it.done)
		}
	}()
	live := items[:0:0]
	for _, it := range items {
		if err := it.ctx.Err(); err != nil {
			it.err = errs.Wrap(errs.Unavailable, err, "the request ended before the event was applied")
			continue
		}
		live = append(live, it)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), inboxTimeout)
	defer cancel()
	err := postgres.Transact(ctx, q.ev.db, func(tx *postgres.Tx) error { return q.ev.applyAll(ctx, tx, live) })
	switch {
	case err == nil:
	case len(live) == 1 || errs.Is(err, errs.Unavailable):
		// Alone already, or the database is out of reach (a commit's
		// outcome may then be unknown): every event gets the error, and
		// the bank's retry of one that did commit is a duplicate.
		for _, it := range live {
			it.outcome, it.err = "", err
		}
	default:
		// Rolled back: whatever was decided in it stands for nothing.
		for _, it := range live {
			one := []*inboxItem{it}
			if err := postgres.Transact(ctx, q.ev.db, func(tx *postgres.Tx) error { return q.ev.applyAll(ctx, tx, one) }); err != nil {
				it.outcome, it.err = "", err
			}
		}
	}
}
