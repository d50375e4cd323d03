package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"procfin/platform/auth"
)

// purchaserClerk creates a user of role purchaser for jn-edu, the seed
// contracts' purchaser under jinan-pprc.
func (e *env) purchaserClerk(username string) auth.User {
	e.t.Helper()
	u, err := e.auth.CreateUser(context.Background(), auth.NewUser{Username: username, Password: password, Role: "purchaser",
		PurchaserID: "jn-edu"}, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// TestPurchaserLogIn: a purchaser user logs in to /purchaser, and the
// other roles' pages refuse it as they refuse each other.
func TestPurchaserLogIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if u := e.purchaserClerk("jn-clerk"); u.PurchaserIssuerID != "jinan-pprc" {
		t.Fatalf("user %+v", u)
	}
	c := e.client()
	if res := c.login("jn-clerk"); res.header.Get("Location") != "/purchaser" {
		t.Fatalf("log-in lands on %q", res.header.Get("Location"))
	}
	p := c.get("/")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/purchaser" {
		t.Fatalf("home: %d %q", p.status, p.header.Get("Location"))
	}
	p = c.get("/purchaser")
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, "<h1>应收账款确权</h1>", `<a href="/purchaser">应收账款确权</a>`, `<span class="role">采购人</span>`)
	for _, path := range []string{"/portal", "/portal/applications", "/console", "/console/claims", "/console/applications", "/admin", "/admin/purchasers", "/console/audit"} {
		p := c.get(path)
		wantStatus(t, p, http.StatusForbidden)
		wantContains(t, p, "您的角色不能打开此页面", `data-status="403"`)
	}
	for _, user := range []string{"quancheng", "officer", "admin"} {
		c := e.client()
		c.login(user)
		wantStatus(t, c.get("/purchaser"), http.StatusForbidden)
	}
	// The English page, one click away.
	c.get("/lang/en?next=/purchaser")
	wantContains(t, c.get("/purchaser"), "<h1>Receivable confirmation</h1>")
}

func TestAdminPurchasers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	c.login("admin")
	p := c.get("/admin")
	wantContains(t, p, `href="/admin/purchasers"`)
	p = c.get("/admin/purchasers")
	wantStatus(t, p, http.StatusOK)
	// jn-edu is known from the seed's documents.
	wantContains(t, p, `id="purchasers"`, "<code>jn-edu</code>", "济南市教育局", "无（由采购人用户操作）", `<option value="jinan-pprc">`)

	count := func() (n int) {
		if err := e.db.Get(&n, `SELECT count(*) FROM purchasers`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	bad := c.post("/admin/purchasers", url.Values{"csrf": {c.csrf(p)}, "id": {""}, "name": {""}, "issuer_id": {""}, "jwks": {"{"}})
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	wantContains(t, bad, "不是有效的 JSON")
	bad = c.post("/admin/purchasers", url.Values{"csrf": {c.csrf(p)}, "id": {""}, "name": {""}, "issuer_id": {""}})
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	wantContains(t, bad, `id="id-error"`, `id="name-error"`, `id="issuer_id-error"`)
	if count() != before {
		t.Fatal("a refused form kept a purchaser")
	}
	ok := c.post("/admin/purchasers", url.Values{"csrf": {c.csrf(p)}, "id": {"jn-health"}, "name": {"济南市卫生健康委员会"}, "issuer_id": {"jinan-pprc"}})
	wantStatus(t, ok, http.StatusOK)
	wantContains(t, ok, "<code>jn-health</code>", "济南市卫生健康委员会")

	// The users' form offers the role purchaser with its purchaser's id.
	p = c.get("/admin/users")
	wantContains(t, p, `<option value="purchaser">采购人</option>`, `name="purchaser_id"`)
	res := c.post("/admin/users", url.Values{"csrf": {c.csrf(p)}, "username": {"health-clerk"}, "password": {"a long enough password"},
		"role": {"purchaser"}, "purchaser_id": {"nobody"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantContains(t, res, "没有这个采购人")
	res = c.post("/admin/users", url.Values{"csrf": {c.csrf(p)}, "username": {"health-clerk"}, "password": {"a long enough password"},
		"role": {"purchaser"}, "purchaser_id": {"jn-health"}})
	wantStatus(t, res, http.StatusOK)
	wantContains(t, res, "<td>health-clerk</td>", "<code>jinan-pprc / jn-health</code>")
	if !strings.Contains(res.body, "采购人") {
		t.Fatal("the role is not named")
	}
}
