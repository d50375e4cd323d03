package auth

import (
	"context"
	"testing"
	"time"

	"procfin/platform/errs"
	"procfin/platform/postgres/pgtest"
	"procfin/platform/waitfor"
)

// startWatch runs s.Watch until the test ends and waits until it listens.
func startWatch(t *testing.T, s *Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	eventually(t, "Watch to listen", s.Watching)
}

// eventually waits (up to 5 s) for cond: for what crosses processes through
// a notification. The users' cache's own safety net expires after
// userStateTTL (10 s), so what happens within 5 s is the notification's
// doing.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitfor.True(t, 5*time.Second, what, cond)
}

func mustIssue(t *testing.T, s *Service, u User) string {
	t.Helper()
	tok, _, err := s.IssueToken(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Disabling a user refuses their access token at once, although it was
// just verified and is remembered (verifiedTokens, the users' cache),
// with or without the process listening for changes; they cannot log in.
func TestDisableRevokesTokensAtOnce(t *testing.T) {
	t.Parallel()
	for _, watch := range []bool{false, true} {
		name := "Unwatched"
		if watch {
			name = "Watched"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, _, _ := MustReadyService(t, testConfig())
			if watch {
				startWatch(t, s)
			}
			ctx := context.Background()
			admin := MustCreateUser(t, s, NewUser{Username: "root", Password: goodPassword, Role: "admin"})
			li := MustCreateUser(t, s, NewUser{Username: "officer.li", Password: goodPassword, Role: "officer"})
			wang := MustCreateUser(t, s, NewUser{Username: "officer.wang", Password: goodPassword, Role: "officer"})
			tok, other := mustIssue(t, s, li), mustIssue(t, s, wang)
			for range 2 { // the second time from memory
				if _, err := s.VerifyToken(ctx, tok); err != nil {
					t.Fatal(err)
				}
			}
			u, err := s.DisableUser(ctx, li.ID, admin.ID)
			if err != nil {
				t.Fatal(err)
			}
			if u.DisabledAt == nil || u.TokenGeneration != 1 {
				t.Fatalf("disabled user %+v", u)
			}
			_, err = s.VerifyToken(ctx, tok)
			wantErr(t, err, errs.InvalidToken, "token revoked")
			_, err = s.Authenticate(ctx, "officer.li", goodPassword, "192.0.2.1")
			wantErr(t, err, errs.Unauthorized, "")
			// Someone else's token still works.
			if _, err := s.VerifyToken(ctx, other); err != nil {
				t.Fatalf("another user's token: %v", err)
			}
		})
	}
}

// A second process sharing the database refuses the token as soon as the
// notification arrives, though it had the user's state in memory: whether
// procfin disabled the user or an operator's SQL did.
func TestRevocationAcrossProcesses(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	clock := newTestClock()
	ctx := context.Background()
	a := MustService(t, openSeparateDB(t, url), testConfig(), clock)
	bDB := openSeparateDB(t, url)
	b := MustService(t, bDB, testConfig(), clock)
	if err := a.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	startWatch(t, b)
	li := MustCreateUser(t, a, NewUser{Username: "officer.li", Password: goodPassword, Role: "officer"})
	wang := MustCreateUser(t, a, NewUser{Username: "officer.wang", Password: goodPassword, Role: "officer"})
	tokLi, tokWang := mustIssue(t, a, li), mustIssue(t, a, wang)
	for _, tok := range []string{tokLi, tokWang} {
		if _, err := b.VerifyToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.DisableUser(ctx, li.ID, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "refusal in b", func() bool {
		_, err := b.VerifyToken(ctx, tokLi)
		return errs.Is(err, errs.InvalidToken)
	})
	if _, err := bDB.Exec(`UPDATE users SET disabled_at = now() WHERE id = $1`, wang.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "refusal after an operator's SQL", func() bool {
		_, err := b.VerifyToken(ctx, tokWang)
		return errs.Is(err, errs.InvalidToken)
	})
}

// A listener that loses its connection stops trusting its cache (every
// check reads the database) and trusts it again once it listens again.
func TestWatchReconnects(t *testing.T) {
	t.Parallel()
	s, db, _ := MustReadyService(t, testConfig())
	startWatch(t, s)
	ctx := context.Background()
	li := MustCreateUser(t, s, NewUser{Username: "officer.li", Password: goodPassword, Role: "officer"})
	tok := mustIssue(t, s, li)
	if _, err := s.VerifyToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%'`); err != nil {
		t.Fatal(err)
	}
	eventually(t, "loss of the listener noticed", func() bool { return !s.Watching() })
	// Meanwhile a change is not missed.
	if _, err := db.Exec(`UPDATE users SET disabled_at = now() WHERE id = $1`, li.ID); err != nil {
		t.Fatal(err)
	}
	_, err := s.VerifyToken(ctx, tok)
	wantErr(t, err, errs.InvalidToken, "token revoked")
	eventually(t, "listening again", s.Watching)
}

// A password change revokes the tokens issued before it; a token issued
// after works. Only the new password logs in.
func TestChangePasswordRevokesTokens(t *testing.T) {
	t.Parallel()
	s, _, _ := MustReadyService(t, testConfig())
	startWatch(t, s)
	ctx := context.Background()
	li := MustCreateUser(t, s, NewUser{Username: "officer.li", Password: goodPassword, Role: "officer"})
	old := mustIssue(t, s, li)
	if _, err := s.VerifyToken(ctx, old); err != nil {
		t.Fatal(err)
	}
	const newPassword = "a brand new passphrase"
	err := s.ChangePassword(ctx, li.ID, "short", "user:"+li.ID)
	if e := wantErr(t, err, errs.Invalid, ""); len(e.Fields) != 1 || e.Fields[0].Field != "password" {
		t.Fatalf("fields %+v", e.Fields)
	}
	if _, err := s.VerifyToken(ctx, old); err != nil {
		t.Fatalf("a refused change revoked: %v", err)
	}
	if err := s.ChangePassword(ctx, li.ID, newPassword, "user:"+li.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.VerifyToken(ctx, old)
	wantErr(t, err, errs.InvalidToken, "token revoked")
	_, err = s.Authenticate(ctx, "officer.li", goodPassword, "192.0.2.1")
	wantErr(t, err, errs.Unauthorized, "")
	u, err := s.Authenticate(ctx, "officer.li", newPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyToken(ctx, mustIssue(t, s, u)); err != nil {
		t.Fatalf("a token issued after the change: %v", err)
	}
}

func TestDisableUserRules(t *testing.T) {
	t.Parallel()
	s, db, _ := MustReadyService(t, testConfig())
	ctx := context.Background()
	admin := MustCreateUser(t, s, NewUser{Username: "root", Password: goodPassword, Role: "admin"})
	li := MustCreateUser(t, s, NewUser{Username: "officer.li", Password: goodPassword, Role: "officer"})
	count := func() (n int) {
		if err := db.Get(&n, `SELECT (SELECT count(*) FROM audit_log) + (SELECT sum(token_generation) FROM users)`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	_, err := s.DisableUser(ctx, admin.ID, admin.ID)
	wantErr(t, err, errs.Conflict, "you cannot disable yourself: another administrator must do it")
	_, err = s.DisableUser(ctx, "not-a-uuid", admin.ID)
	wantErr(t, err, errs.NotFound, "")
	_, err = s.DisableUser(ctx, "6f1c6f1c-0000-4000-8000-000000000000", admin.ID)
	wantErr(t, err, errs.NotFound, "")
	if count() != before {
		t.Fatal("a refused disable changed something")
	}
	if _, err := s.DisableUser(ctx, li.ID, admin.ID); err != nil {
		t.Fatal(err)
	}
	var action, actor string
	if err := db.QueryRow(`SELECT action, actor FROM audit_log WHERE entity_id = $1 ORDER BY id DESC LIMIT 1`, li.ID).Scan(&action, &actor); err != nil {
		t.Fatal(err)
	}
	if action != "user.disabled" || actor != "user:"+admin.ID {
		t.Fatalf("audit %s by %s", action, actor)
	}
	before = count()
	_, err = s.DisableUser(ctx, li.ID, admin.ID)
	wantErr(t, err, errs.Conflict, "user officer.li is already disabled")
	if count() != before {
		t.Fatal("disabling twice changed something")
	}
	err = s.ChangePassword(ctx, li.ID, "a brand new passphrase", "cli")
	wantErr(t, err, errs.Conflict, "")
	got, err := s.UserByName(ctx, "OFFICER.LI")
	if err != nil || got.DisabledAt == nil {
		t.Fatalf("UserByName: %+v %v", got, err)
	}
	disabled, err := DisabledUsers(ctx, db, []string{"user:" + li.ID, "user:" + admin.ID, admin.ID, li.ID, "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if len(disabled) != 2 || !disabled["user:"+li.ID] || !disabled[li.ID] {
		t.Fatalf("DisabledUsers: %v", disabled)
	}
}

// BenchmarkVerifyTokenRemembered: the hot path of every authenticated
// request. Watched, the revocation check is a map lookup; unwatched, it
// reads the user's row each time.
func BenchmarkVerifyTokenRemembered(b *testing.B) {
	for _, watch := range []bool{true, false} {
		name := "Unwatched"
		if watch {
			name = "Watched"
		}
		b.Run(name, func(b *testing.B) {
			s, _, _ := MustReadyService(b, testConfig())
			if watch {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go func() { _ = s.Watch(ctx) }()
				waitfor.True(b, 5*time.Second, "Watch to listen", s.Watching)
			}
			u := MustCreateUser(b, s, NewUser{Username: "officer.li", Password: goodPassword, Role: "officer"})
			tok, _, err := s.IssueToken(context.Background(), u)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.VerifyToken(ctx, tok); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
