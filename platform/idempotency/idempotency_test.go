package idempotency_test

import (
	"context"
	"testing"
	"time"

	"procfin/platform/errs"
	"procfin/platform/idempotency"
	"procfin/platform/postgres/pgtest"
)

func TestStore(t *testing.T) {
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
