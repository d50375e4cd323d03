package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestCreateUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, admin := e.user("root", "admin", "")
	r := e.do("POST", "/v1/admin/users", admin, map[string]string{
		"username": "Bob", "password": "a long enough password", "role": "supplier", "supplier_uscc": "91350100M000100Y43",
	})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	u := r.json(t)
	if u["username"] != "bob" || u["role"] != "supplier" || r.header.Get("Location") != "/v1/admin/users/"+u["id"].(string) {
		t.Fatalf("created %v, Location %q", u, r.header.Get("Location"))
	}
	// The new user can log in.
	if r := e.do("POST", "/v1/auth/token", "", map[string]string{"username": "bob", "password": "a long enough password"}); r.status != 200 {
		t.Fatalf("new user cannot log in: %d %s", r.status, r.body)
	}
	wantProblem(t, e.do("POST", "/v1/admin/users", admin, map[string]string{
		"username": "bob", "password": "a long enough password", "role": "officer",
	}), 409, "conflict")
}

func TestCreateUserBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, admin := e.user("root", "admin", "")
	cases := []struct {
		name, body, field string
		status            int
		typ               string
	}{
		{"Malformed", `{"username": "x"`, "", 400, "malformed_request"},
		{"WrongType", `{"username": "carol", "password": 12345678901, "role": "officer"}`, "password", 422, "invalid"},
		{"UnknownField", `{"username": "carol", "password": "a long enough password", "role": "officer", "is_root": true}`, "is_root", 422, "invalid"},
		{"MissingRole", `{"username": "carol", "password": "a long enough password"}`, "role", 422, "invalid"},
		{"UnknownRole", `{"username": "carol", "password": "a long enough password", "role": "god"}`, "role", 422, "invalid"},
		{"ShortPassword", `{"username": "carol", "password": "short", "role": "officer"}`, "password", 422, "invalid"},
		{"BadUsername", `{"username": "a b", "password": "a long enough password", "role": "officer"}`, "username", 422, "invalid"},
		{"SupplierWithoutUSCC", `{"username": "carol", "password": "a long enough password", "role": "supplier"}`, "supplier_uscc", 422, "invalid"},
		{"OfficerWithUSCC", `{"username": "carol", "password": "a long enough password", "role": "officer", "supplier_uscc": "91350100M000100Y43"}`, "supplier_uscc", 422, "invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.count("users") + e.count("audit_log")
			p := wantProblem(t, e.do("POST", "/v1/admin/users", admin, tc.body), tc.status, tc.typ)
			if tc.field != "" && !strings.Contains(fmt.Sprint(p["errors"]), "field:"+tc.field) {
				t.Fatalf("errors %v do not name %s", p["errors"], tc.field)
			}
			if e.count("users")+e.count("audit_log") != before {
				t.Fatal("a refused request changed something")
			}
		})
	}
}

func TestRolesAreEnforced(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, officer := e.user("olga", "officer", "")
	_, supplier := e.user("sam", "supplier", "91350100M000100Y43")
	body := map[string]string{"username": "eve", "password": "a long enough password", "role": "admin"}
	wantProblem(t, e.do("POST", "/v1/admin/users", officer, body), http.StatusForbidden, "forbidden")
	wantProblem(t, e.do("POST", "/v1/admin/users", supplier, body), http.StatusForbidden, "forbidden")
	wantProblem(t, e.do("POST", "/v1/admin/users", "", body), http.StatusUnauthorized, "unauthorized")
	wantProblem(t, e.do("GET", "/v1/audit?entity=user:x", supplier, nil), http.StatusForbidden, "forbidden")
	if r := e.do("GET", "/v1/audit?entity=user:x", officer, nil); r.status != 200 {
		t.Fatalf("officer reading audit: %d %s", r.status, r.body)
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, admin := e.user("root", "admin", "")
	body := `{"username": "dave", "password": "a long enough password", "role": "officer"}`

	first := e.do("POST", "/v1/admin/users", admin, body, "Idempotency-Key", "k1")
	again := e.do("POST", "/v1/admin/users", admin, body, "Idempotency-Key", "k1")
	if first.status != 201 || again.status != 201 || string(first.body) != string(again.body) {
		t.Fatalf("replay differs: %d %s / %d %s", first.status, first.body, again.status, again.body)
	}
	if again.header.Get("Idempotent-Replayed") != "true" || again.header.Get("Location") != first.header.Get("Location") {
		t.Fatalf("replay headers %v", again.header)
	}
	wantProblem(t, e.do("POST", "/v1/admin/users", admin, strings.Replace(body, "dave", "erin", 1), "Idempotency-Key", "k1"), 409, "idempotency_key_reused")
	// Without the key, the same body is a new request: the username is taken.
	wantProblem(t, e.do("POST", "/v1/admin/users", admin, body), 409, "conflict")
	// A refused answer (4xx) is stored too and replayed.
	bad := `{"username": "x"}`
	r1 := e.do("POST", "/v1/admin/users", admin, bad, "Idempotency-Key", "k2")
	r2 := e.do("POST", "/v1/admin/users", admin, bad, "Idempotency-Key", "k2")
	if r1.status != 422 || r2.status != 422 || r2.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("4xx replay: %d %d %v", r1.status, r2.status, r2.header)
	}
	wantProblem(t, e.do("POST", "/v1/admin/users", admin, body, "Idempotency-Key", strings.Repeat("k", 300)), 422, "invalid")
	var users int
	e.db.Get(&users, `SELECT count(*) FROM users WHERE username = 'dave'`)
	if users != 1 {
		t.Fatalf("%d users dave, want 1", users)
	}
}

func TestIdempotencyKeysAreNotShared(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, a1 := e.user("root", "admin", "")
	_, a2 := e.user("root2", "admin", "")
	r1 := e.do("POST", "/v1/admin/users", a1, `{"username": "user1", "password": "a long enough password", "role": "officer"}`, "Idempotency-Key", "same")
	r2 := e.do("POST", "/v1/admin/users", a2, `{"username": "user2", "password": "a long enough password", "role": "officer"}`, "Idempotency-Key", "same")
	if r1.status != 201 || r2.status != 201 || string(r1.body) == string(r2.body) {
		t.Fatalf("one caller's key answered another's request: %s / %s", r1.body, r2.body)
	}
}

func TestIdempotencyConcurrentRunsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, admin := e.user("root", "admin", "")
	body := `{"username": "frank", "password": "a long enough password", "role": "officer"}`
	const n = 12
	var wg sync.WaitGroup
	results := make([]resp, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = e.do("POST", "/v1/admin/users", admin, body, "Idempotency-Key", "race")
		}(i)
	}
	wg.Wait()
	ids := map[string]bool{}
	for _, r := range results {
		switch r.status {
		case 201:
			var u map[string]any
			json.Unmarshal(r.body, &u)
			ids[u["id"].(string)] = true
		case 409:
			wantProblem(t, r, 409, "idempotency_in_progress")
		default:
			t.Fatalf("concurrent answer %d %s", r.status, r.body)
		}
	}
	var users, audits int
	e.db.Get(&users, `SELECT count(*) FROM users WHERE username = 'frank'`)
	e.db.Get(&audits, `SELECT count(*) FROM audit_log WHERE action = 'user.created' AND after_state LIKE '%frank%'`)
	if users != 1 || audits != 1 || len(ids) != 1 {
		t.Fatalf("ran %d times (%d audits, %d distinct answers), want once", users, audits, len(ids))
	}
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, admin := e.user("root", "admin", "")
	r := e.do("POST", "/v1/admin/users", admin, `{"username": "gina", "password": "a long enough password", "role": "officer"}`)
	id := r.json(t)["id"].(string)
	trail := e.do("GET", "/v1/audit?entity=user:"+id, admin, nil)
	if trail.status != 200 {
		t.Fatalf("audit: %d %s", trail.status, trail.body)
	}
	var page struct {
		Items []struct {
			Action, Actor, Hash string
			After               map[string]any
		}
		NextCursor *string `json:"next_cursor"`
	}
	json.Unmarshal(trail.body, &page)
	if len(page.Items) != 1 || page.Items[0].Action != "user.created" || !strings.HasPrefix(page.Items[0].Actor, "user:") ||
		page.Items[0].After["username"] != "gina" || page.NextCursor != nil {
		t.Fatalf("trail %s", trail.body)
	}
	if strings.Contains(string(trail.body), "argon2") {
		t.Fatal("the audit trail holds a password hash")
	}
	wantProblem(t, e.do("GET", "/v1/audit", admin, nil), 422, "invalid")
	wantProblem(t, e.do("GET", "/v1/audit?entity=user:"+id+"&limit=0", admin, nil), 422, "invalid")
	wantProblem(t, e.do("GET", "/v1/audit?entity=user:"+id+"&cursor=!!", admin, nil), 422, "invalid")
}

func TestAuditTrailPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, admin := e.user("root", "admin", "")
	for i := 0; i < 3; i++ { // three rotations: three rows on one entity type
		if _, err := e.auth.RotateSigningKey(t.Context(), "test"); err != nil {
			t.Fatal(err)
		}
	}
	var entity string
	e.db.Get(&entity, `SELECT entity_type || ':' || entity_id FROM audit_log WHERE action = 'signing_key.rotated' LIMIT 1`)
	var n int
	e.db.Get(&n, `SELECT count(*) FROM audit_log WHERE entity_type || ':' || entity_id = $1`, entity)
	seen, cursor := 0, ""
	for pages := 0; pages < 10; pages++ {
		r := e.do("GET", "/v1/audit?limit=1&entity="+entity+cursor, admin, nil)
		var page struct {
			Items      []map[string]any
			NextCursor *string `json:"next_cursor"`
		}
		json.Unmarshal(r.body, &page)
		seen += len(page.Items)
		if page.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *page.NextCursor
	}
	if seen != n || n == 0 {
		t.Fatalf("paged through %d of %d rows", seen, n)
	}
}
