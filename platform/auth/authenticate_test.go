package auth

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"procfin/platform/errs"
	"procfin/platform/postgres/pgtest"
)

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	s := MustService(t, db, Config{LoginPerMinute: 1000, LoginPerMinutePerAddr: 1000}, newTestClock())
	ctx := context.Background()
	alice := MustCreateUser(t, s, NewUser{Username: "alice", Password: goodPassword, Role: "officer"})
	acme := MustCreateUser(t, s, NewUser{Username: "acme", Password: goodPassword, Role: "supplier", SupplierUSCC: goodUSCC})
	bob := MustCreateUser(t, s, NewUser{Username: "bob", Password: goodPassword, Role: "officer"})
	if _, err := db.Exec(`UPDATE users SET disabled_at = now() WHERE id = $1`, bob.ID); err != nil {
		t.Fatal(err)
	}

	const badLogin = "invalid username or password"
	cases := []struct {
		name, username, password string
		want                     User // zero: want Unauthorized
	}{
		{"OK", "alice", goodPassword, alice},
		{"OKSupplier", "acme", goodPassword, acme},
		{"OKUsernameAnyCase", "ALICE", goodPassword, alice},
		{"ErrWrongPassword", "alice", goodPassword + "x", User{}},
		{"ErrPasswordWrongCase", "alice", strings.ToUpper(goodPassword), User{}},
		{"ErrEmptyPassword", "alice", "", User{}},
		{"ErrUnknownUser", "mallory", goodPassword, User{}},
		{"ErrDisabledUser", "bob", goodPassword, User{}},
		{"ErrHugePassword", "alice", strings.Repeat("p", 10000), User{}},
		{"ErrHugeUsername", strings.Repeat("a", 1000), goodPassword, User{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Authenticate(ctx, tc.username, tc.password, "192.0.2.1")
			if tc.want.ID == "" {
				// One code and one message for every failure, so the
				// answer does not tell which part was wrong.
				wantErr(t, err, errs.Unauthorized, badLogin)
				return
			}
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if got.ID != tc.want.ID || got.Username != tc.want.Username || got.Role != tc.want.Role ||
				got.SupplierUSCC != tc.want.SupplierUSCC || !got.CreatedAt.Equal(tc.want.CreatedAt) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// An unknown user costs a password hash too, so its timing resembles a
// wrong password's.
func TestAuthenticateUnknownUserSpendsHash(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	s := MustService(t, db, testConfig(), newTestClock())
	if s.dummyHash != "" {
		t.Fatal("dummy hash made before any login")
	}
	_, err := s.Authenticate(context.Background(), "nobody", goodPassword, "192.0.2.1")
	wantErr(t, err, errs.Unauthorized, "invalid username or password")
	if !strings.HasPrefix(s.dummyHash, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("unknown user did not verify against a dummy hash of the configured cost: %q", s.dummyHash)
	}
}

func TestAuthenticateRateLimit(t *testing.T) {
	t.Parallel()
	const perUser, perAddr = 3, 5
	ctx := context.Background()
	setupWith := func(t *testing.T, perAddr int) (*Service, *testClock) {
		db := pgtest.NewDB(t)
		clock := newTestClock()
		s := MustService(t, db, Config{LoginPerMinute: perUser, LoginPerMinutePerAddr: perAddr}, clock)
		MustCreateUser(t, s, NewUser{Username: "alice", Password: goodPassword, Role: "officer"})
		return s, clock
	}
	setup := func(t *testing.T) (*Service, *testClock) { return setupWith(t, perAddr) }
	wantLimited := func(t *testing.T, err error) {
		t.Helper()
		e := wantErr(t, err, errs.RateLimited, "")
		if secs, _ := e.Extra["retry_after"].(int); secs < 1 || secs > 60 {
			t.Fatalf("retry_after = %v, want 1..60 seconds", e.Extra["retry_after"])
		}
	}

	// Nobody can lock a user out: eleven wrong passwords from address A
	// (perUser pass at once, then back-off) slow only A; the right
	// password from address B works meanwhile. A waits 1 s, then 2 s,
	// then 4 s, ... and a success forgets its failures.
	t.Run("PerUsernameAndAddress", func(t *testing.T) {
		t.Parallel()
		s, clock := setupWith(t, 1000)
		const a, b = "192.0.2.1", "198.51.100.1"
		wrong := 0
		for range perUser {
			_, err := s.Authenticate(ctx, "alice", "wrong password", a)
			wantErr(t, err, errs.Unauthorized, "")
			wrong++
		}
		// From A, the next attempt waits for the back-off, whatever the
		// username's case; the wait doubles with each failure after it.
		wait := time.Second
		for ; wrong < 11; wait *= 2 {
			_, err := s.Authenticate(ctx, "ALICE", goodPassword, a)
			if e := wantErr(t, err, errs.RateLimited, ""); e.Extra["retry_after"] != int(wait/time.Second) {
				t.Fatalf("after %d failures: retry_after %v, want %v", wrong, e.Extra["retry_after"], wait)
			}
			clock.Advance(wait - time.Millisecond)
			_, err = s.Authenticate(ctx, "alice", "wrong password", a)
			wantErr(t, err, errs.RateLimited, "")
			clock.Advance(time.Millisecond)
			_, err = s.Authenticate(ctx, "alice", "wrong password", a)
			wantErr(t, err, errs.Unauthorized, "")
			wrong++
		}
		// The right password from B works at once.
		if _, err := s.Authenticate(ctx, "alice", goodPassword, b); err != nil {
			t.Fatalf("right password from another address: %v", err)
		}
		// Another user from A is not slowed by alice's back-off.
		_, err := s.Authenticate(ctx, "carol", "wrong password", a)
		wantErr(t, err, errs.Unauthorized, "")
		// After its back-off (1 s << 8 = 256 s now), A's right password
		// works, and forgets A's failures: perUser wrong ones pass at once
		// again.
		if wait != 256*time.Second {
			t.Fatalf("back-off %v, want 256s", wait)
		}
		clock.Advance(wait)
		if _, err := s.Authenticate(ctx, "alice", goodPassword, a); err != nil {
			t.Fatalf("after the back-off: %v", err)
		}
		for range perUser {
			_, err := s.Authenticate(ctx, "alice", "wrong password", a)
			wantErr(t, err, errs.Unauthorized, "")
		}
	})

	// Attempts racing from one address cannot slip past the count: each
	// is counted when it starts.
	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		s, _ := setupWith(t, 1000)
		var wg sync.WaitGroup
		var mu sync.Mutex
		passed := 0
		for range 4 * perUser {
			wg.Go(func() {
				_, err := s.Authenticate(ctx, "alice", "wrong password", "192.0.2.77")
				if !errs.Is(err, errs.RateLimited) {
					mu.Lock()
					passed++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if passed != perUser {
			t.Fatalf("%d attempts were checked, want %d", passed, perUser)
		}
	})

	t.Run("PerAddress", func(t *testing.T) {
		t.Parallel()
		s, clock := setup(t)
		for i := range perAddr {
			_, err := s.Authenticate(ctx, fmt.Sprintf("user%d", i), "wrong password", "203.0.113.7")
			wantErr(t, err, errs.Unauthorized, "")
		}
		_, err := s.Authenticate(ctx, "alice", goodPassword, "203.0.113.7")
		wantLimited(t, err)
		// Another address is not affected.
		if _, err := s.Authenticate(ctx, "alice", goodPassword, "203.0.113.8"); err != nil {
			t.Fatalf("other address: %v", err)
		}
		clock.Advance(time.Minute)
		if _, err := s.Authenticate(ctx, "alice", goodPassword, "203.0.113.7"); err != nil {
			t.Fatalf("after a minute: %v", err)
		}
	})

	// The limit is checked before the password work: a user whose stored
	// hash cannot even be parsed gets rate_limited, not internal, once over.
	t.Run("BeforePasswordWork", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		s := MustService(t, db, Config{LoginPerMinute: perUser, LoginPerMinutePerAddr: perAddr}, newTestClock())
		u := MustCreateUser(t, s, NewUser{Username: "broken", Password: goodPassword, Role: "officer"})
		if _, err := db.Exec(`UPDATE users SET password_hash = 'garbage' WHERE id = $1`, u.ID); err != nil {
			t.Fatal(err)
		}
		for range perUser {
			_, err := s.Authenticate(ctx, "broken", goodPassword, "192.0.2.9")
			wantErr(t, err, errs.Internal, "")
		}
		_, err := s.Authenticate(ctx, "broken", goodPassword, "192.0.2.9")
		wantLimited(t, err)
	})
}

func TestLimiterSet(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	t.Run("Burst", func(t *testing.T) {
		l := newLimiterSet(2, 100)
		for i := range 2 {
			if ok, _ := l.allow("k", t0); !ok {
				t.Fatalf("attempt %d refused", i+1)
			}
		}
		ok, retry := l.allow("k", t0)
		if ok || retry != 30*time.Second {
			t.Fatalf("third attempt: ok=%v retry=%v, want refused, 30s", ok, retry)
		}
		// A refused attempt does not spend a token.
		if ok, _ := l.allow("k", t0.Add(30*time.Second)); !ok {
			t.Fatalf("refused after refill")
		}
	})

	t.Run("IdleEvicted", func(t *testing.T) {
		l := newLimiterSet(1, 100)
		l.allow("a", t0)
		l.allow("b", t0.Add(30*time.Second))
		if n := l.len(); n != 2 {
			t.Fatalf("len = %d, want 2", n)
		}
		l.allow("c", t0.Add(time.Minute)) // a idle a minute: dropped
		if _, found := l.entries.byKey["a"]; found || l.len() != 2 {
			t.Fatalf("idle entry kept: len %d", l.len())
		}
	})

	t.Run("BoundedLRU", func(t *testing.T) {
		l := newLimiterSet(1, 3)
		for i, k := range []string{"a", "b", "c"} {
			l.allow(k, t0.Add(time.Duration(i)*time.Second))
		}
		l.allow("a", t0.Add(3*time.Second)) // a is now the most recent
		l.allow("d", t0.Add(4*time.Second)) // full: drops b, the least recent
		if l.len() != 3 {
			t.Fatalf("len = %d, want 3", l.len())
		}
		if _, found := l.entries.byKey["b"]; found {
			t.Fatalf("least recently used entry kept")
		}
		if ok, _ := l.allow("a", t0.Add(5*time.Second)); ok {
			t.Fatalf("recently used entry was reset")
		}
	})

	t.Run("LongKeyTruncated", func(t *testing.T) {
		l := newLimiterSet(1, 10)
		long := strings.Repeat("x", 10000)
		l.allow(long, t0)
		for k := range l.entries.byKey {
			if len(k) > maxLimiterKeyLen {
				t.Fatalf("kept a %d-byte key", len(k))
			}
		}
	})
}

func TestBackoffSet(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	t.Run("DoublesToTheCap", func(t *testing.T) {
		b := newBackoffSet(2, 100)
		now := t0
		// The wait after each failure: none after the first (free), then
		// from the second (the last free one) 1 s, 2 s, ... 512 s, then
		// the cap, 900 s.
		want := []time.Duration{0}
		for d := time.Second; d < maxBackoff; d *= 2 {
			want = append(want, d)
		}
		want = append(want, maxBackoff, maxBackoff)
		for i, w := range want {
			if ok, retry := b.attempt("k", now); !ok {
				t.Fatalf("attempt %d refused (retry %v)", i+1, retry)
			}
			if got := b.entries.byKey["k"].Value.(*lruItem[backoffEntry]).v.next.Sub(now); got != w {
				t.Fatalf("after failure %d: wait %v, want %v", i+1, got, w)
			}
			if w > 0 {
				if ok, retry := b.attempt("k", now.Add(w-time.Nanosecond)); ok || retry != time.Nanosecond {
					t.Fatalf("after failure %d: ok=%v retry=%v before the back-off ended", i+1, ok, retry)
				}
			}
			now = now.Add(w)
		}
	})

	t.Run("SuccessForgets", func(t *testing.T) {
		b := newBackoffSet(1, 100)
		b.attempt("k", t0)
		if ok, _ := b.attempt("k", t0); ok {
			t.Fatal("second failure not slowed")
		}
		b.succeeded("k")
		if ok, _ := b.attempt("k", t0); !ok {
			t.Fatal("refused after a success")
		}
	})

	t.Run("IdleEvicted", func(t *testing.T) {
		b := newBackoffSet(1, 100)
		b.attempt("a", t0) // waits until t0+1s
		b.attempt("b", t0.Add(10*time.Minute))
		b.attempt("c", t0.Add(time.Second+maxBackoff)) // a's back-off ended maxBackoff ago
		if _, found := b.entries.byKey["a"]; found || b.entries.lru.Len() != 2 {
			t.Fatalf("idle entry kept: %d entries", b.entries.lru.Len())
		}
	})

	t.Run("BoundedLRU", func(t *testing.T) {
		b := newBackoffSet(1, 2)
		b.attempt("a", t0)
		b.attempt("b", t0)
		b.attempt("c", t0) // full: drops a
		if _, found := b.entries.byKey["a"]; found || b.entries.lru.Len() != 2 {
			t.Fatalf("len %d", b.entries.lru.Len())
		}
	})

	t.Run("LongKeyTruncated", func(t *testing.T) {
		if k := backoffKey(strings.Repeat("u", 1000), strings.Repeat("a", 1000)); len(k) > maxLimiterKeyLen+1 {
			t.Fatalf("a %d-byte key", len(k))
		}
	})
}
