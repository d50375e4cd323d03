package auth

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"procfin/platform/errs"
	"procfin/platform/postgres/pgtest"
)

// testMasterKey is a fixed master key for tests.
var testMasterKey = bytes.Repeat([]byte{0x42}, 32)

// fastPassword makes argon2id cheap so tests run quickly.
var fastPassword = PasswordParams{Memory: 1024, Time: 1, Threads: 1}

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func testConfig() Config {
	return Config{MasterKey: testMasterKey, Password: fastPassword}
}

// MustService returns a Service on db with cfg (zero MasterKey and Password
// filled for tests) and clock.
func MustService(tb testing.TB, db *sqlx.DB, cfg Config, clock *testClock) *Service {
	tb.Helper()
	if cfg.MasterKey == nil {
		cfg.MasterKey = testMasterKey
	}
	if cfg.Password == (PasswordParams{}) {
		cfg.Password = fastPassword
	}
	s, err := NewService(db, cfg, clock.Now)
	if err != nil {
		tb.Fatalf("NewService: %v", err)
	}
	return s
}

// MustReadyService returns a Service on a fresh database with a signing key.
func MustReadyService(tb testing.TB, cfg Config) (*Service, *sqlx.DB, *testClock) {
	tb.Helper()
	db := pgtest.NewDB(tb)
	clock := newTestClock()
	s := MustService(tb, db, cfg, clock)
	if err := s.EnsureSigningKey(context.Background()); err != nil {
		tb.Fatalf("EnsureSigningKey: %v", err)
	}
	return s, db, clock
}

func MustCreateUser(tb testing.TB, s *Service, n NewUser) User {
	tb.Helper()
	u, err := s.CreateUser(context.Background(), n, "system")
	if err != nil {
		tb.Fatalf("CreateUser(%q): %v", n.Username, err)
	}
	return u
}

// wantErr checks err is an *errs.Error with code and, when msg is not
// empty, that message.
func wantErr(tb testing.TB, err error, code errs.Code, msg string) *errs.Error {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want %s %q", code, msg)
	}
	e, ok := err.(*errs.Error)
	if !ok {
		tb.Fatalf("got %T %v, want *errs.Error", err, err)
	}
	if e.Code != code {
		tb.Fatalf("got code %s (%v), want %s", e.Code, err, code)
	}
	if msg != "" && e.Message != msg {
		tb.Fatalf("got message %q, want %q", e.Message, msg)
	}
	return e
}
