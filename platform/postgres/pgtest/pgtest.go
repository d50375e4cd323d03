// Package pgtest gives each test its own freshly migrated PostgreSQL
// database, cloned from a template database (fast: a file copy, not a
// migration run). The server is TEST_DATABASE_URL's or, when that is unset,
// a private cluster started once and shared by every test process of a run
// (see scripts/test.sh, which stops it at the end). Each database has a
// random name and its own connections, so tests that use them may run in
// parallel (t.Parallel).
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"procfin/platform/postgres"
)

var (
	once       sync.Once
	serverURL  string
	templateDB string
	onceErr    error
)

// ClusterDir is where the shared test cluster lives when TEST_DATABASE_URL
// is unset: PROCFIN_TEST_PGDIR, or a directory under the temporary one.
func ClusterDir() string {
	if d := os.Getenv("PROCFIN_TEST_PGDIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "procfin-test-"+strconv.Itoa(os.Getuid()))
}

// TestCluster is the shared private cluster, tuned for tests (no fsync).
func TestCluster() *postgres.Cluster {
	return &postgres.Cluster{
		Dir:      ClusterDir(),
		Database: "postgres",
		Settings: map[string]string{
			"fsync":              "off",
			"synchronous_commit": "off",
			"full_page_writes":   "off",
			"max_connections":    "300",
			"shared_buffers":     "128MB",
		},
	}
}

func setup() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	serverURL = os.Getenv("TEST_DATABASE_URL")
	if serverURL == "" {
		c := TestCluster()
		if onceErr = c.Start(ctx); onceErr != nil {
			return
		}
		serverURL = c.URL()
	}
	templateDB, onceErr = ensureTemplate(ctx)
}

// migrationsHash names the template after the migrations it holds, so a
// changed migration gets a new template and stale ones are never used.
func migrationsHash() string {
	h := sha256.New()
	_ = fs.WalkDir(postgres.Migrations(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(postgres.Migrations(), path)
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func adminDB(ctx context.Context) (*sqlx.DB, error) {
	u, err := postgres.WithDatabase(serverURL, "postgres")
	if err != nil {
		return nil, err
	}
	return postgres.Open(ctx, u, postgres.PoolConfig{MaxOpenConns: 2})
}

func ensureTemplate(ctx context.Context) (string, error) {
	name := "procfin_tmpl_" + migrationsHash()
	admin, err := adminDB(ctx)
	if err != nil {
		return "", err
	}
	defer admin.Close()
	conn, err := admin.Connx(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	// One process builds the template; the others wait here, then find it.
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(727274)`); err != nil {
		return "", err
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(727274)`)
	var exists bool
	if err := conn.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	if _, err := conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+building+` WITH (FORCE)`); err != nil {
		return "", err
	}
	if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+building); err != nil {
		return "", err
	}
	u, err := postgres.WithDatabase(serverURL, building)
	if err != nil {
		return "", err
	}
	db, err := postgres.Open(ctx, u, postgres.PoolConfig{MaxOpenConns: 2})
	if err != nil {
		return "", err
	}
	_, err = postgres.Migrate(ctx, db.DB, nil)
	db.Close()
	if err != nil {
		return "", err
	}
	if _, err := conn.ExecContext(ctx, `ALTER DATABASE `+building+` RENAME TO `+name); err != nil {
		return "", err
	}
	return name, nil
}

// URL returns the URL of a new, freshly migrated database that is dropped
// when the test ends.
func URL(tb testing.TB) string {
	tb.Helper()
	return newDatabase(tb, false)
}

// EmptyURL returns the URL of a new database with no schema at all, dropped
// when the test ends: for testing migrations themselves.
func EmptyURL(tb testing.TB) string {
	tb.Helper()
	return newDatabase(tb, true)
}

func newDatabase(tb testing.TB, empty bool) string {
	tb.Helper()
	once.Do(setup)
	if onceErr != nil {
		tb.Fatalf("pgtest: no test database server: %v", onceErr)
	}
	ctx := context.Background()
	admin, err := adminDB(ctx)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "procfin_test_" + hex.EncodeToString(b[:])
	template := templateDB
	if empty {
		template = "template0"
	}
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name+` TEMPLATE `+template+` STRATEGY FILE_COPY`); err != nil {
		admin.Close()
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			tb.Errorf("pgtest: drop database: %v", err)
		}
	})
	u, err := postgres.WithDatabase(serverURL, name)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return u
}

// NewDB returns a connection pool to a new, freshly migrated database that
// is closed and dropped when the test ends.
func NewDB(tb testing.TB) *sqlx.DB {
	tb.Helper()
	u := URL(tb)
	db, err := postgres.Open(context.Background(), u, postgres.PoolConfig{MaxOpenConns: 20})
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}
