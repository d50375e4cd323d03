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
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
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

// Transact runs fn in a transaction. It commits when fn returns nil and
// rolls back when fn returns an error or panics (the panic goes on). Work
// scheduled with BeforeCommit runs after fn, before the commit; work
// scheduled with AfterCommit runs once the commit succeeded. A failed
// commit is returned as an error.
func Transact(ctx context.Context, db *sqlx.DB, fn func(tx *sqlx.Tx) error) (err error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return Translate(fmt.Errorf("begin transaction: %w", err))
	}
	st := &txState{}
	txStates.Store(tx, st)
	defer txStates.Delete(tx)
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	var writes []Write
	for _, h := range st.hooks {
		w, herr := h()
		if herr != nil {
			return herr
		}
		if w.Query != "" {
			writes = append(writes, w)
		}
	}
	if err = execWrites(ctx, tx, writes); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return Translate(fmt.Errorf("commit: %w", err))
	}
	for _, f := range st.after {
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
func GenericPlans(ctx context.Context, tx *sqlx.Tx) error {
	_, err := tx.ExecContext(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`)
	return Translate(err)
}

// txState is what a transaction of Transact carries besides its SQL: work
// to do just before commit, and values kept for its length.
type txState struct {
	hooks  []func() (Write, error)
	after  []func()
	values map[any]any
}

// txStates holds the state of each open transaction of Transact. A
// transaction is used by one goroutine at a time, so its state needs no
// lock of its own.
var txStates sync.Map // *sqlx.Tx → *txState

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
// stored answers) cost one round trip together. It reports false when tx
// was not begun by Transact; the caller then does the work at once.
func BeforeCommit(tx *sqlx.Tx, f func() (Write, error)) bool {
	st, ok := stateOf(tx)
	if ok {
		st.hooks = append(st.hooks, f)
	}
	return ok
}

// stateOf returns the state of tx, if Transact began it.
func stateOf(tx *sqlx.Tx) (*txState, bool) {
	v, ok := txStates.Load(tx)
	if !ok {
		return nil, false
	}
	return v.(*txState), true
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

// AfterCommit schedules f to run once tx has committed, in the order
// scheduled; it never runs if tx rolls back. It reports false when tx was
// not begun by Transact.
func AfterCommit(tx *sqlx.Tx, f func()) bool {
	st, ok := stateOf(tx)
	if ok {
		st.after = append(st.after, f)
	}
	return ok
}

// TxValue returns the value kept under key for tx's length, made by make
// on first use. It reports false when tx was not begun by Transact.
func TxValue(tx *sqlx.Tx, key any, make func() any) (any, bool) {
	st, ok := stateOf(tx)
	if !ok {
		return nil, false
	}
	if st.values == nil {
		st.values = map[any]any{}
	}
	val, ok := st.values[key]
	if !ok {
		val = make()
		st.values[key] = val
	}
	return val, true
}

// PostgreSQL error codes procfin reacts to.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeCheckViolation       = "23514"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// Translate turns a database error into an *errs.Error: unique violations
// become Conflict, serialization failures Conflict (the client may retry),
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
