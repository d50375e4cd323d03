package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"procfin/platform/postgres"
)

// watch makes e's auth service listen for users' changes, as serve does, so
// that tokens are checked against its in-memory users' states.
func (e *env) watch() {
	e.t.Helper()
	if _, ok := postgres.DSN(e.db); !ok {
		e.t.Fatal("no DSN for the test database")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.auth.Watch(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Watch: %v", err)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for !e.auth.Watching() {
		if time.Now().After(deadline) {
			e.t.Fatal("Watch does not listen")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDisableUser: POST /v1/admin/users/{id}/disable, administrators only;
// the user's token, just used and remembered, is refused at once.
func TestDisableUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.watch()
	root, admin := e.user("root", "admin", "")
	_, officer := e.user("olga", "officer", "")
	sam, supplier := e.user("sam", "supplier", "91350100M000100Y43")
	path := "/v1/admin/users/" + sam.ID + "/disable"

	wantProblem(t, e.do("POST", path, officer, nil), http.StatusForbidden, "forbidden")
	wantProblem(t, e.do("POST", path, supplier, nil), http.StatusForbidden, "forbidden")
	wantProblem(t, e.do("POST", path, "", nil), http.StatusUnauthorized, "unauthorized")
	p := wantProblem(t, e.do("POST", "/v1/admin/users/"+root.ID+"/disable", admin, nil), http.StatusConflict, "conflict")
	if !strings.Contains(p["detail"].(string), "cannot disable yourself") {
		t.Fatalf("problem %v", p)
	}
	wantProblem(t, e.do("POST", "/v1/admin/users/nobody/disable", admin, nil), http.StatusNotFound, "not_found")
	wantProblem(t, e.do("POST", "/v1/admin/users/6f1c6f1c-0000-4000-8000-000000000000/disable", admin, nil), http.StatusNotFound, "not_found")

	// sam's token works, twice (the second time from memory).
	for range 2 {
		if r := e.do("GET", "/v1/me", supplier, nil); r.status != 200 {
			t.Fatalf("me: %d %s", r.status, r.body)
		}
	}
	r := e.do("POST", path, admin, nil, "Idempotency-Key", "disable-sam")
	if r.status != 200 || r.json(t)["disabled_at"] == nil {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	p = wantProblem(t, e.do("GET", "/v1/me", supplier, nil), http.StatusUnauthorized, "token_invalid")
	if p["detail"] != "token revoked" {
		t.Fatalf("problem %v", p)
	}
	wantProblem(t, e.do("GET", "/v1/contracts", supplier, nil), http.StatusUnauthorized, "token_invalid")
	wantProblem(t, e.do("POST", "/v1/auth/token", "", map[string]string{"username": "sam", "password": "correct horse battery"}),
		http.StatusUnauthorized, "unauthorized")
	// The same key replays the answer; another key finds sam disabled.
	if again := e.do("POST", path, admin, nil, "Idempotency-Key", "disable-sam"); again.status != 200 || string(again.body) != string(r.body) {
		t.Fatalf("replay: %d %s", again.status, again.body)
	}
	wantProblem(t, e.do("POST", path, admin, nil, "Idempotency-Key", "disable-sam-2"), http.StatusConflict, "conflict")
	// Others are not affected.
	if r := e.do("GET", "/v1/me", officer, nil); r.status != 200 {
		t.Fatalf("officer: %d %s", r.status, r.body)
	}
}

// login asks for a token from the address addr.
func (e *env) loginFrom(addr, username, password string) resp {
	e.t.Helper()
	req := httptest.NewRequest("POST", "/v1/auth/token",
		strings.NewReader(`{"username": "`+username+`", "password": "`+password+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = addr + ":40000"
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// TestLoginThrottleCannotLockOut: eleven wrong passwords from one address
// slow that address (429 with Retry-After, growing), and the right password
// from another address works meanwhile. The env allows 5 failures before
// back-off.
func TestLoginThrottleCannotLockOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.user("olga", "officer", "")
	const attacker, olga = "203.0.113.66", "198.51.100.7"
	wrong := 0
	for range 5 {
		wantProblem(t, e.loginFrom(attacker, "olga", "guess guess guess"), http.StatusUnauthorized, "unauthorized")
		wrong++
	}
	for wait := 1; wrong < 11; wait *= 2 {
		r := e.loginFrom(attacker, "olga", "guess guess guess")
		wantProblem(t, r, http.StatusTooManyRequests, "rate_limited")
		if got := r.header.Get("Retry-After"); got != strconv.Itoa(wait) {
			t.Fatalf("after %d failures Retry-After %q, want %d", wrong, got, wait)
		}
		e.advance(time.Duration(wait) * time.Second)
		wantProblem(t, e.loginFrom(attacker, "olga", "guess guess guess"), http.StatusUnauthorized, "unauthorized")
		wrong++
	}
	// The right password from olga's own address works at once.
	if r := e.loginFrom(olga, "olga", "correct horse battery"); r.status != 200 {
		t.Fatalf("olga locked out: %d %s", r.status, r.body)
	}
	// The attacker still waits, even with the right password.
	wantProblem(t, e.loginFrom(attacker, "olga", "correct horse battery"), http.StatusTooManyRequests, "rate_limited")
}

// TestSubsidyFourEyesDisabledOfficer: a first approval by an officer
// disabled since no longer counts; the next officer's approval is then the
// first, and a third officer's makes two. The claim is TestSubsidyFourEyes's
// (3100.00, threshold 3100.00: two approvals).
func TestSubsidyFourEyesDisabledOfficer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.watch()
	qilu, appID, _ := e.disbursedLoan()
	_, admin := e.user("subsidy-admin", "admin", "")
	ua, a := e.user("officer-a", "officer", "")
	_, b := e.user("officer-b", "officer", "")
	_, c := e.user("officer-c", "officer", "")
	if r := e.addPolicy(admin, map[string]any{"four_eyes_threshold": "3100.00"}); r.status != 201 {
		t.Fatalf("policy: %d %s", r.status, r.body)
	}
	qilu.repay(appID, "R1", "800000.00", "6900.00", "2026-11-22", "2027-02-20")
	cl := e.claims(b, "")[0]
	if cl.Amount != "3100.00" || cl.ApprovalsRequired != 2 {
		t.Fatalf("claim %+v", cl)
	}
	approve := func(tok string) resp { return e.do("POST", "/v1/subsidy-claims/"+cl.ID+"/approve", tok, nil) }

	if got := decodeClaim(t, approve(a)); got.Status != "pending" || got.Approvals != 1 {
		t.Fatalf("first approval: %+v", got)
	}
	if r := e.do("POST", "/v1/admin/users/"+ua.ID+"/disable", admin, nil); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	// a can no longer act.
	wantProblem(t, approve(a), http.StatusUnauthorized, "token_invalid")
	// b's approval is the only one that counts: still pending, no budget.
	r := approve(b)
	if got := decodeClaim(t, r); r.status != 200 || got.Status != "pending" || got.Approvals != 1 {
		t.Fatalf("b's approval after a was disabled: %d %s", r.status, r.body)
	}
	if used := e.budgetUsed(2027); used != "0.00" {
		t.Fatalf("budget used %s with one approval in office", used)
	}
	r = approve(c)
	if got := decodeClaim(t, r); r.status != 200 || got.Status != "approved" || got.Approvals != 2 {
		t.Fatalf("c's approval: %d %s", r.status, r.body)
	}
	if used := e.budgetUsed(2027); used != "3100.00" {
		t.Fatalf("budget used %s", used)
	}
}
