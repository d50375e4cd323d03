package idempotency_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"procfin/platform/errs"
	"procfin/platform/idempotency"
	"procfin/platform/postgres"
	"procfin/platform/postgres/pgtest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	s := idempotency.NewStore(db, time.Hour)
	h1 := idempotency.RequestHash("POST", "/x", []byte(`{"a":1}`))
	h2 := idempotency.RequestHash("POST", "/x", []byte(`{"a":2}`))

	if r, err := s.Begin(ctx, "user:1", "k", h1); r != nil || err != nil {
		t.Fatalf("first Begin = %v, %v; want to own the key", r, err)
	}
	if _, err := s.Begin(ctx, "user:1", "k", h1); !errs.Is(err, errs.IdempotencyPending) {
		t.Fatalf("Begin while running = %v, want in progress", err)
	}
	if _, err := s.Begin(ctx, "user:1", "k", h2); !errs.Is(err, errs.IdempotencyReused) {
		t.Fatalf("Begin with another body = %v, want reused", err)
	}
	if r, err := s.Begin(ctx, "user:2", "k", h2); r != nil || err != nil {
		t.Fatalf("another caller's same key = %v, %v; want its own", r, err)
	}
	if err := s.Complete(ctx, "user:1", "k", idempotency.Response{Status: 201, ContentType: "application/json", Location: "/x/1", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Begin(ctx, "user:1", "k", h1)
	if err != nil || r == nil || r.Status != 201 || r.Location != "/x/1" || string(r.Body) != `{}` {
		t.Fatalf("replay = %+v, %v", r, err)
	}

	t.Run("ReleaseLetsARetryRun", func(t *testing.T) {
		s.Begin(ctx, "user:3", "k", h1)
		if err := s.Release(ctx, "user:3", "k"); err != nil {
			t.Fatal(err)
		}
		if r, err := s.Begin(ctx, "user:3", "k", h1); r != nil || err != nil {
			t.Fatalf("Begin after Release = %v, %v", r, err)
		}
	})
	t.Run("CrashedAttemptIsTakenOver", func(t *testing.T) {
		s.Begin(ctx, "user:4", "k", h1)
		db.MustExec(`UPDATE idempotency_keys SET locked_until = now() - interval '1 second' WHERE scope = 'user:4'`)
		if r, err := s.Begin(ctx, "user:4", "k", h1); r != nil || err != nil {
			t.Fatalf("Begin after a crashed attempt = %v, %v; want to take over", r, err)
		}
	})
	t.Run("ExpiredAnswerIsForgotten", func(t *testing.T) {
		db.MustExec(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE scope = 'user:1'`)
		if r, err := s.Begin(ctx, "user:1", "k", h2); r != nil || err != nil {
			t.Fatalf("Begin on an expired key = %v, %v; want a fresh run", r, err)
		}
		db.MustExec(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE scope = 'user:2'`)
		if n, err := s.Purge(ctx); err != nil || n != 1 {
			t.Fatalf("Purge = %d, %v; want 1", n, err)
		}
	})
}

// TestKeptAnswers: an answer kept in a transaction exists once that
// commits and not if it rolls back; Lookup replays it, refuses another
// body, and an answer stored first stays (an expired one is replaced).
func TestKeptAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	s := idempotency.NewStore(db, time.Hour)
	h1 := idempotency.RequestHash("POST", "/x", []byte(`{"a":1}`))
	h2 := idempotency.RequestHash("POST", "/x", []byte(`{"a":2}`))
	cl := idempotency.Claim{Scope: "user:1", Key: "k", RequestHash: h1}
	answer := func(body string) idempotency.Response {
		return idempotency.Response{Status: 201, ContentType: "application/json", Location: "/x/1", Body: []byte(body)}
	}

	rollback := errors.New("roll back")
	err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
		if err := s.Keep(ctx, tx, cl, answer(`{"n":0}`)); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	if r, err := s.Lookup(ctx, cl.Scope, cl.Key, h1); r != nil || err != nil {
		t.Fatalf("after a rollback: %+v, %v; want nothing stored", r, err)
	}
	err = postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
		if err := s.Keep(ctx, tx, cl, answer(`{"n":1}`)); err != nil {
			return err
		}
		// The same key twice in one transaction: the first answer counts.
		return s.Keep(ctx, tx, cl, answer(`{"n":2}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.Lookup(ctx, cl.Scope, cl.Key, h1); err != nil || r == nil || string(r.Body) != `{"n":1}` || r.Location != "/x/1" {
		t.Fatalf("after the commit: %+v, %v", r, err)
	}
	if _, err := s.Lookup(ctx, cl.Scope, cl.Key, h2); !errs.Is(err, errs.IdempotencyReused) {
		t.Fatalf("another body: %v, want reused", err)
	}
	if err := s.Put(ctx, cl, answer(`{"n":3}`)); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Lookup(ctx, cl.Scope, cl.Key, h1); r == nil || string(r.Body) != `{"n":1}` {
		t.Fatalf("a later Put replaced the first answer: %+v", r)
	}
	refusal := idempotency.Response{Status: 422, ContentType: "application/problem+json", Body: []byte(`{"type":"invalid"}`)}
	if err := s.Put(ctx, cl, refusal); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Lookup(ctx, cl.Scope, cl.Key, h1); r == nil || r.Status != 201 {
		t.Fatalf("a refusal replaced a stored success: %+v", r)
	}
	// A refusal stored first gives way to a success: racing under one key,
	// one request was refused and the other made its change.
	raced := idempotency.Claim{Scope: "user:1", Key: "raced", RequestHash: h1}
	if err := s.Put(ctx, raced, refusal); err != nil {
		t.Fatal(err)
	}
	if err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error { return s.Keep(ctx, tx, raced, answer(`{"n":5}`)) }); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Lookup(ctx, raced.Scope, raced.Key, h1); r == nil || r.Status != 201 || string(r.Body) != `{"n":5}` {
		t.Fatalf("after a success over a refusal: %+v", r)
	}
	if _, err := db.Exec(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, idempotency.Claim{Scope: "user:1", Key: "k", RequestHash: h2}, answer(`{"n":4}`)); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Lookup(ctx, cl.Scope, cl.Key, h2); err != nil || r == nil || string(r.Body) != `{"n":4}` {
		t.Fatalf("over an expired answer: %+v, %v", r, err)
	}
}
