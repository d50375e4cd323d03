// Package postgres owns procfin's access to PostgreSQL: opening the pool,
// the one Transact helper, translating PostgreSQL errors into errs codes,
// the embedded migrations, and the private cluster procfin runs when no
// DATABASE_URL is given. Business packages keep their own SQL; they use this
// package only for connections and transactions.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"procfin/platform/errs"
)

// PoolConfig sizes the connection pool.
type PoolConfig struct {
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
}

// Open connects to the database at dsn and checks it answers.
func Open(ctx context.Context, dsn string, pool PoolConfig) (*sqlx.DB, error) {
	connector, err := pq.NewConnector(withOneRoundTrip(dsn))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", Redact(dsn), err)
	}
	db := sqlx.NewDb(sql.OpenDB(preparingConnector{pq: connector}), "postgres")
	if pool.MaxOpenConns > 0 {
		db.SetMaxOpenConns(pool.MaxOpenConns)
	}
	if pool.MaxIdleConns > 0 {
		db.SetMaxIdleConns(pool.MaxIdleConns)
	}
	if pool.ConnMaxLifetime > 0 {
		db.SetConnMaxLifetime(pool.ConnMaxLifetime)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database %s: %w", Redact(dsn), err)
	}
	dsns.Store(db, dsn)
	return db, nil
}

// withOneRoundTrip turns on lib/pq's binary_parameters, which sends each
// parameterised statement in one round trip (parse, bind and execute
// together) instead of two. Under it []byte arguments travel as binary, so
// JSON for jsonb columns is passed as string, never []byte.
func withOneRoundTrip(dsn string) string {
	if strings.Contains(dsn, "binary_parameters") {
		return dsn
	}
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		q := u.Query()
		q.Set("binary_parameters", "yes")
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " binary_parameters=yes"
}

// Tx is a transaction of Transact: its SQL (the embedded *sqlx.Tx), its
// clock, the work to run just before and just after its commit, and
// values kept for its length. Every business function that writes takes
// one; a Tx is used by one goroutine at a time.
type Tx struct {
	*sqlx.Tx
	now    time.Time
	hooks  []func() (Write, error)
	after  []func()
	values map[any]any
}

// Now is the transaction's one clock: the instant it began (UTC, to the
// microsecond, as PostgreSQL keeps it), by the clock of its context
// (WithClock). Ids and times made in Go for the rows and messages of a
// transaction take it, as now() does in its SQL.
func (tx *Tx) Now() time.Time { return tx.now }

// Write is a data-modifying statement (INSERT, UPDATE or DELETE) with its
// own placeholders from $1 and their arguments. An empty Query writes
// nothing.
type Write struct {
	Query string
	Args  []any
}

// BeforeCommit schedules f to run after the transaction's own work, just
// before it commits, in the order scheduled. The statements the fs return
// run together as one statement (each a WITH query of it), in one round
// trip, so rows collected during the transaction (the audit trail's, the
// stored answers, the claims) cost one round trip together.
func (tx *Tx) BeforeCommit(f func() (Write, error)) { tx.hooks = append(tx.hooks, f) }

// AfterCommit schedules f to run once the transaction has committed, in
// the order scheduled; it never runs if the transaction rolls back, nor
// for an attempt Transact retries.
func (tx *Tx) AfterCommit(f func()) { tx.after = append(tx.after, f) }

// Value returns the value kept under key for the transaction's length,
// made by make on first use: what a package collects over a transaction
// to write before its commit (the audit trail's rows, the stored answers).
func (tx *Tx) Value(key any, make func() any) any {
	if tx.values == nil {
		tx.values = map[any]any{}
	}
	v, ok := tx.values[key]
	if !ok {
		v = make()
		tx.values[key] = v
	}
	return v
}

type clockKey struct{}

// WithClock returns ctx carrying now as the clock of the transactions
// Transact begins under it: their Now is now() when each attempt begins.
// A service with a clock of its own (one a test may fake) begins its
// transactions so, and its rows and its idea of the day agree. Without
// one, a transaction's clock is time.Now.
func WithClock(ctx context.Context, now func() time.Time) context.Context {
	return context.WithValue(ctx, clockKey{}, now)
}

// clockOf is the clock WithClock put in ctx, else time.Now.
func clockOf(ctx context.Context) func() time.Time {
	if now, ok := ctx.Value(clockKey{}).(func() time.Time); ok && now != nil {
		return now
	}
	return time.Now
}

// Retry policy of Transact: PostgreSQL's own conflicts (a serialization
// failure, a deadlock) are retried up to maxAttempts in all, after a
// jittered back-off that doubles from retryBase.
const (
	maxAttempts = 5
	retryBase   = 4 * time.Millisecond
)

// Transact runs fn in a transaction. It commits when fn returns nil and
// rolls back when fn returns an error or panics (the panic goes on). Work
// scheduled with BeforeCommit runs after fn, before the commit; work
// scheduled with AfterCommit runs once the commit succeeded. A failed
// commit is returned as an error.
//
// When PostgreSQL aborts the transaction for a serialization failure or a
// deadlock (SQLSTATE 40001, 40P01), in fn or at the commit, Transact rolls
// back and runs fn again in a new transaction, at most maxAttempts times
// in all, after a jittered back-off: clients never see the database's own
// conflict. fn must therefore set everything it hands out afresh on each
// run (assign, never append to what lives outside it).
func Transact(ctx context.Context, db *sqlx.DB, fn func(tx *Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := transactOnce(ctx, db, fn)
		if err == nil || attempt == maxAttempts || !retryable(err) {
			return err
		}
		// Full jitter: a random wait up to retryBase·2^(attempt-1).
		wait := time.Duration(rand.Int64N(int64(retryBase << (attempt - 1))))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// retryable reports whether err is PostgreSQL's own conflict, which a new
// attempt of the same transaction may pass.
func retryable(err error) bool {
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		return false
	}
	return pqErr.Code == codeSerializationFailure || pqErr.Code == codeDeadlockDetected
}

func transactOnce(ctx context.Context, db *sqlx.DB, fn func(tx *Tx) error) (err error) {
	stx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return Translate(fmt.Errorf("begin transaction: %w", err))
	}
	tx := &Tx{Tx: stx, now: clockOf(ctx)().UTC().Truncate(time.Microsecond)}
	defer func() {
		if p := recover(); p != nil {
			_ = stx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = stx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	var writes []Write
	for i := 0; i < len(tx.hooks); i++ { // a hook may schedule another
		w, herr := tx.hooks[i]()
		if herr != nil {
			return herr
		}
		if w.Query != "" {
			writes = append(writes, w)
		}
	}
	if err = execWrites(ctx, stx, writes); err != nil {
		return err
	}
	if err = stx.Commit(); err != nil {
		return Translate(fmt.Errorf("commit: %w", err))
	}
	for _, f := range tx.after {
		f()
	}
	return nil
}

// GenericPlans makes tx run its prepared statements with their generic
// plans, planned once per connection, for the rest of the transaction.
// PostgreSQL otherwise plans a statement anew at each run (a custom plan)
// whenever it estimates that the custom plan is the cheaper, which it did
// for half the runs of the intake's batch statements: planning was 14 % of
// its CPU under load. Use it only in transactions whose statements find
// their rows by keys (ids, arrays of ids), which a generic plan serves as
// well; a query with optional filters needs its custom plan.
func GenericPlans(ctx context.Context, tx *Tx) error {
	_, err := tx.ExecContext(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`)
	return Translate(err)
}

// execWrites runs writes as one statement.
func execWrites(ctx context.Context, tx *sqlx.Tx, writes []Write) error {
	switch len(writes) {
	case 0:
		return nil
	case 1:
		_, err := tx.ExecContext(ctx, writes[0].Query, writes[0].Args...)
		return Translate(err)
	}
	var b strings.Builder
	var args []any
	b.WriteString("WITH ")
	for i, w := range writes {
		if i > 0 {
			b.WriteString(", ")
		}
		offset := len(args)
		query := placeholder.ReplaceAllStringFunc(w.Query, func(p string) string {
			n, _ := strconv.Atoi(p[1:])
			return "$" + strconv.Itoa(n+offset)
		})
		fmt.Fprintf(&b, "w%d AS (%s)", i, query)
		args = append(args, w.Args...)
	}
	b.WriteString(" SELECT")
	_, err := tx.ExecContext(ctx, b.String(), args...)
	return Translate(err)
}

// placeholder is a statement's parameter placeholder ($1, $2, …). Writes
// hold no $ in their literals.
var placeholder = regexp.MustCompile(`\$[0-9]+`)

// PostgreSQL error codes procfin reacts to.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeCheckViolation       = "23514"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// Translate turns a database error into an *errs.Error: unique violations
// become Conflict, serialization failures and deadlocks Conflict (Transact
// retries them first; they reach a client only when every attempt met one),
// lost connections Unavailable, and anything else Internal (with the cause
// kept for the log, never shown). An *errs.Error passes through unchanged.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch string(pqErr.Code) {
		case codeUniqueViolation:
			return errs.Wrap(errs.Conflict, err, "the resource already exists")
		case codeForeignKeyViolation, codeCheckViolation:
			return errs.Wrap(errs.Invalid, err, "the request breaks a data rule")
		case codeSerializationFailure, codeDeadlockDetected:
			return errs.Wrap(errs.Conflict, err, "a concurrent change got there first; retry")
		}
		switch pqErr.Code {
		case "22021", "22P05", "22001", "22003": // NUL or unencodable text, too long, numeric overflow
			return errs.Wrap(errs.Invalid, err, "the request holds a value that cannot be stored")
		}
		switch pqErr.Code.Class() {
		case "08", "57", "53": // connection, operator intervention, resources
			return errs.Wrap(errs.Unavailable, err, "the database is unavailable")
		}
		return errs.Wrap(errs.Internal, err, "database error")
	}
	if IsUnavailable(err) {
		return errs.Wrap(errs.Unavailable, err, "the database is unavailable")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errs.Wrap(errs.Unavailable, err, "the request was cancelled or timed out")
	}
	return errs.Wrap(errs.Internal, err, "database error")
}

// IsUnavailable reports whether err means the database could not be reached.
func IsUnavailable(err error) bool {
	var netErr net.Error
	var opErr *net.OpError
	return errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ENOENT) && strings.Contains(err.Error(), ".s.PGSQL") ||
		errors.Is(err, sql.ErrConnDone) ||
		errors.As(err, &opErr) ||
		errors.As(err, &netErr)
}

// Redact returns dsn with any password replaced, for logs and messages.
func Redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	// key=value form
	fields := strings.Fields(dsn)
	for i, f := range fields {
		if strings.HasPrefix(f, "password=") {
			fields[i] = "password=xxxxx"
		}
	}
	return strings.Join(fields, " ")
}

// WithDatabase returns dsn (URL form) pointing at database name.
func WithDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("database URL must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String(), nil
}
