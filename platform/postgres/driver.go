package postgres

import (
	"context"
	"database/sql/driver"
	"errors"

	"github.com/lib/pq"
)

// maxPreparedPerConn bounds the statements kept prepared on one
// connection. procfin's SQL is fixed text, so a few hundred cover it;
// past the bound, new query texts run unprepared.
const maxPreparedPerConn = 500

// preparingConnector opens lib/pq connections that prepare each statement
// with arguments once per connection and run it by name from then on, as
// pgx's statement cache does: PostgreSQL then parses and plans a query once
// per connection instead of on every request, which halved the database's
// CPU per read (docs/performance-log.md, second round). A statement
// without arguments goes as a simple query, as before. Callers see plain database/sql: the SQL
// stays in plain sight where it runs.
type preparingConnector struct {
	pq *pq.Connector
}

func (c preparingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	cn, err := c.pq.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &preparingConn{Conn: cn, stmts: map[string]driver.Stmt{}}, nil
}

func (c preparingConnector) Driver() driver.Driver { return c.pq.Driver() }

// preparingConn is one lib/pq connection with its prepared statements. Like
// the connection, it is used by one goroutine at a time (database/sql's
// rule), so the map needs no lock.
type preparingConn struct {
	driver.Conn
	stmts map[string]driver.Stmt
}

// the interfaces of lib/pq's connection that database/sql looks for.
var (
	_ driver.ConnBeginTx          = (*preparingConn)(nil)
	_ driver.ConnPrepareContext   = (*preparingConn)(nil)
	_ driver.ExecerContext        = (*preparingConn)(nil)
	_ driver.QueryerContext       = (*preparingConn)(nil)
	_ driver.Pinger               = (*preparingConn)(nil)
	_ driver.SessionResetter      = (*preparingConn)(nil)
	_ driver.Validator            = (*preparingConn)(nil)
	_ driver.NamedValueChecker    = (*preparingConn)(nil)
	_ driver.StmtExecContext      = (stmtContext)(nil)
	_ driver.StmtQueryContext     = (stmtContext)(nil)
	_ interface{ NumInput() int } = (stmtContext)(nil)
)

type stmtContext interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// prepared returns query's statement on this connection, preparing it the
// first time; nil when the connection holds as many as it may.
func (c *preparingConn) prepared(ctx context.Context, query string) (stmtContext, error) {
	if s, ok := c.stmts[query]; ok {
		return s.(stmtContext), nil
	}
	if len(c.stmts) >= maxPreparedPerConn {
		return nil, nil
	}
	s, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	sc, ok := s.(stmtContext)
	if !ok {
		_ = s.Close()
		return nil, nil
	}
	c.stmts[query] = sc
	return sc, nil
}

// forget drops query's statement after an error that says it is stale: a
// migration changed a table it reads while this connection kept it
// ("cached plan must not change result type"), or the server no longer
// has it (a pooler in front of PostgreSQL that does not keep prepared
// statements, or a DEALLOCATE). The next use prepares it again; the
// failed call's error stands.
func (c *preparingConn) forget(query string, err error) {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && (pqErr.Code == "0A000" || pqErr.Code == "26000") {
		delete(c.stmts, query)
	}
}

func (c *preparingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) > 0 {
		s, err := c.prepared(ctx, query)
		if err != nil {
			return nil, err
		}
		if s != nil {
			rows, err := s.QueryContext(ctx, args)
			c.forget(query, err)
			return rows, err
		}
	}
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

func (c *preparingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) > 0 {
		s, err := c.prepared(ctx, query)
		if err != nil {
			return nil, err
		}
		if s != nil {
			res, err := s.ExecContext(ctx, args)
			c.forget(query, err)
			return res, err
		}
	}
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (c *preparingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *preparingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *preparingConn) Ping(ctx context.Context) error {
	return c.Conn.(driver.Pinger).Ping(ctx)
}

func (c *preparingConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *preparingConn) IsValid() bool {
	return c.Conn.(driver.Validator).IsValid()
}

func (c *preparingConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.Conn.(driver.NamedValueChecker).CheckNamedValue(nv)
}
