package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded, numbered migration files.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

func provider(db *sql.DB, logger *slog.Logger) (*goose.Provider, error) {
	// A session-level advisory lock: several replicas starting at once
	// apply each migration exactly once, the others wait.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{goose.WithSessionLocker(locker)}
	if logger != nil {
		opts = append(opts, goose.WithSlog(logger))
	}
	return goose.NewProvider(goose.DialectPostgres, db, Migrations(), opts...)
}

// Migrate applies every pending migration, each in its own transaction, and
// returns how many it applied.
func Migrate(ctx context.Context, db *sql.DB, logger *slog.Logger) (int, error) {
	p, err := provider(db, logger)
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return len(results), fmt.Errorf("migrations: %w", err)
	}
	return len(results), nil
}

// SchemaVersions returns the database's schema version and the version this
// code expects.
func SchemaVersions(ctx context.Context, db *sql.DB) (current, target int64, err error) {
	p, err := provider(db, nil)
	if err != nil {
		return 0, 0, err
	}
	return p.GetVersions(ctx)
}

// CheckSchema returns an error, in words an operator can act on, when the
// database's schema is behind (or ahead of) this code.
func CheckSchema(ctx context.Context, db *sql.DB) error {
	current, target, err := SchemaVersions(ctx, db)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	pending, err := hasPending(ctx, db)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	switch {
	case pending:
		return fmt.Errorf("database schema is at version %d but this procfin needs %d: run `procfin migrate` or start with `procfin serve --migrate`", current, target)
	case current > target:
		return fmt.Errorf("database schema is at version %d, newer than this procfin (%d): run a newer procfin", current, target)
	}
	return nil
}

func hasPending(ctx context.Context, db *sql.DB) (bool, error) {
	p, err := provider(db, nil)
	if err != nil {
		return false, err
	}
	return p.HasPending(ctx)
}
