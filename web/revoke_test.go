package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// sessionCount counts the stored web sessions.
func (e *env) sessionCount() (n int) {
	e.t.Helper()
	if err := e.db.Get(&n, `SELECT count(*) FROM web_sessions`); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// A disabled officer's web session ends at once: a page sends them to the
// log-in, a form (a claim's approval) is refused before it does anything,
// and they cannot log in again.
func TestDisabledUserSessionEnds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.client()
	c.login("officer")
	p := c.get("/console")
	wantStatus(t, p, http.StatusOK)
	csrf := c.csrf(p)
	officer, err := e.auth.UserByName(ctx, "officer")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := e.auth.UserByName(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.DisableUser(ctx, officer.ID, admin.ID); err != nil {
		t.Fatal(err)
	}
	// A claim that does not exist: with a live session this is 404; a
	// disabled officer is refused before the claim is looked up.
	res := c.post("/console/claims/"+uuid.NewString()+"/approve", url.Values{"csrf": {csrf}})
	wantStatus(t, res, http.StatusForbidden)
	wantContains(t, res, "登录已过期")
	p = c.get("/console")
	wantStatus(t, p, http.StatusSeeOther)
	if loc := p.header.Get("Location"); loc != "/login?next=%2Fconsole" {
		t.Fatalf("Location %q", loc)
	}
	if n := e.sessionCount(); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
	lp := c.get("/login")
	res = c.post("/login", url.Values{"csrf": {c.csrf(lp)}, "username": {"officer"}, "password": {password}})
	wantStatus(t, res, http.StatusUnauthorized)

	// Another officer's session is not affected: the same missing claim
	// is a 404 to them.
	o2 := e.client()
	o2.login("officer2")
	p = o2.get("/console")
	wantStatus(t, p, http.StatusOK)
	wantStatus(t, o2.post("/console/claims/"+uuid.NewString()+"/approve", url.Values{"csrf": {o2.csrf(p)}}), http.StatusNotFound)
}

// A password change ends the user's web sessions (and revokes their
// tokens); logging in with the new password works.
func TestPasswordChangeEndsSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.client()
	c.login("quancheng")
	wantStatus(t, c.get("/portal"), http.StatusOK)
	u, err := e.auth.UserByName(ctx, "quancheng")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.auth.ChangePassword(ctx, u.ID, "a brand new passphrase", "user:"+u.ID); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, c.get("/portal"), http.StatusSeeOther)
	lp := c.get("/login")
	res := c.post("/login", url.Values{"csrf": {c.csrf(lp)}, "username": {"quancheng"}, "password": {"a brand new passphrase"}})
	wantStatus(t, res, http.StatusSeeOther)
	wantStatus(t, c.get("/portal"), http.StatusOK)
}

// Logging out ends the session for good: a copy of its cookie kept from
// before (a stolen one) no longer opens anything.
func TestLogoutRevokesSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	c.login("quancheng")
	base, _ := url.Parse(e.srv.URL)
	stolen := e.client()
	stolen.jar.SetCookies(base, c.jar.Cookies(base))
	wantStatus(t, stolen.get("/portal"), http.StatusOK)
	p := c.get("/portal")
	wantStatus(t, c.post("/logout", url.Values{"csrf": {c.csrf(p)}}), http.StatusSeeOther)
	wantStatus(t, stolen.get("/portal"), http.StatusSeeOther)
}

// An administrator disables an officer from the users' page: the officer's
// open session ends at once. The administrator's own row has no button,
// and posting it anyway is refused.
func TestAdminDisablesUserFromPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	o := e.client()
	o.login("officer")
	wantStatus(t, o.get("/console"), http.StatusOK)
	a := e.client()
	a.login("admin")
	p := a.get("/admin/users")
	wantStatus(t, p, http.StatusOK)
	officer, _ := e.auth.UserByName(ctx, "officer")
	admin, _ := e.auth.UserByName(ctx, "admin")
	wantContains(t, p, `action="/admin/users/`+officer.ID+`/disable"`, "停用")
	if strings.Contains(p.body, `action="/admin/users/`+admin.ID+`/disable"`) {
		t.Fatal("the administrator is offered to disable themselves")
	}
	csrf := a.csrf(p)
	res := a.post("/admin/users/"+officer.ID+"/disable", url.Values{"csrf": {csrf}})
	wantStatus(t, res, http.StatusSeeOther)
	if loc := res.header.Get("Location"); loc != "/admin/users?ok=user_disabled" {
		t.Fatalf("Location %q", loc)
	}
	p = a.get("/admin/users?ok=user_disabled")
	wantContains(t, p, "用户已停用", "已停用 ")
	wantStatus(t, o.get("/console"), http.StatusSeeOther)
	wantStatus(t, a.post("/admin/users/"+admin.ID+"/disable", url.Values{"csrf": {csrf}}), http.StatusConflict)
	wantStatus(t, a.post("/admin/users/"+officer.ID+"/disable", url.Values{"csrf": {csrf}}), http.StatusConflict)
	// Not an administrator: refused.
	q := e.client()
	q.login("officer2")
	cp := q.get("/console")
	wantStatus(t, q.post("/admin/users/"+admin.ID+"/disable", url.Values{"csrf": {q.csrf(cp)}}), http.StatusForbidden)
}
