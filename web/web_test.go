package web

import (
	"io/fs"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"procfin/platform/i18n"

	"github.com/google/uuid"
)

func TestLoginLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()

	t.Run("AnonymousGoesToLogin", func(t *testing.T) {
		p := c.get("/portal")
		wantStatus(t, p, http.StatusSeeOther)
		if loc := p.header.Get("Location"); loc != "/login?next=%2Fportal" {
			t.Fatalf("Location %q", loc)
		}
	})
	t.Run("WrongPassword", func(t *testing.T) {
		p := c.get("/login")
		res := c.post("/login", url.Values{"csrf": {c.csrf(p)}, "username": {"quancheng"}, "password": {"not the password"}})
		wantStatus(t, res, http.StatusUnauthorized)
		wantContains(t, res, "用户名或密码不正确", `id="login-error"`)
	})
	t.Run("OK", func(t *testing.T) {
		res := c.login("quancheng")
		if loc := res.header.Get("Location"); loc != "/portal" {
			t.Fatalf("Location %q, want /portal", loc)
		}
		var session *http.Cookie
		for _, ck := range res.header.Values("Set-Cookie") {
			if strings.HasPrefix(ck, sessionCookie+"=") {
				session = &http.Cookie{Raw: ck}
				if !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Lax") || strings.Contains(ck, "Secure") {
					t.Fatalf("session cookie %q: want HttpOnly, SameSite=Lax, not Secure over plain http", ck)
				}
			}
		}
		if session == nil {
			t.Fatal("no session cookie")
		}
		var stored int
		if err := e.db.Get(&stored, `SELECT count(*) FROM web_sessions`); err != nil || stored != 1 {
			t.Fatalf("web_sessions rows %d, %v", stored, err)
		}
		p := c.get("/portal")
		wantStatus(t, p, http.StatusOK)
		wantContains(t, p, "quancheng", "供应商", "HT-JNCG-2026-0815")
	})
	t.Run("Logout", func(t *testing.T) {
		p := c.get("/portal")
		res := c.post("/logout", url.Values{"csrf": {c.csrf(p)}})
		wantStatus(t, res, http.StatusSeeOther)
		wantStatus(t, c.get("/portal"), http.StatusSeeOther)
		var stored int
		if err := e.db.Get(&stored, `SELECT count(*) FROM web_sessions`); err != nil || stored != 0 {
			t.Fatalf("web_sessions rows %d after logout, %v", stored, err)
		}
	})
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	c.login("quancheng")
	apply := "/portal/contracts/" + e.contract[quancheng] + "/apply"
	form := url.Values{"bank_id": {"nobank"}, "amount": {"1000.00"}, "term_days": {"90"}, "purpose": {"materials"}}

	t.Run("Missing", func(t *testing.T) {
		p := c.post(apply, form)
		wantStatus(t, p, http.StatusForbidden)
		wantContains(t, p, "表单已过期或来源不明")
	})
	t.Run("Wrong", func(t *testing.T) {
		form.Set("csrf", "x"+c.csrf(c.get(apply)))
		wantStatus(t, c.post(apply, form), http.StatusForbidden)
	})
	t.Run("Logout", func(t *testing.T) {
		wantStatus(t, c.post("/logout", url.Values{}), http.StatusForbidden)
	})
	t.Run("LoginWithoutCookie", func(t *testing.T) {
		anon := e.client()
		p := anon.get("/login")
		other := e.client() // the token of someone else's form, without its cookie
		wantStatus(t, other.post("/login", url.Values{"csrf": {anon.csrf(p)}, "username": {"quancheng"}, "password": {password}}), http.StatusForbidden)
	})
	t.Run("WithToken", func(t *testing.T) {
		form.Set("csrf", c.csrf(c.get(apply)))
		p := c.post(apply, form)
		wantStatus(t, p, http.StatusUnprocessableEntity) // past the CSRF check, refused by lending: no such bank
		wantContains(t, p, `id="bank_id-error"`)
	})
}

func TestRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		user, path string
		status     int
	}{
		{"quancheng", "/console", http.StatusForbidden},
		{"quancheng", "/console/claims", http.StatusForbidden},
		{"quancheng", "/admin/users", http.StatusForbidden},
		{"officer", "/portal", http.StatusForbidden},
		{"officer", "/admin", http.StatusForbidden},
		{"admin", "/console/claims", http.StatusForbidden},
		{"officer", "/console", http.StatusOK},
		{"officer", "/console/claims", http.StatusOK},
		{"officer", "/console/batches", http.StatusOK},
		{"officer", "/console/audit?type=contract&id=" + e.contract[quancheng], http.StatusOK},
		{"officer", "/console/applications", http.StatusOK},
		{"admin", "/admin", http.StatusOK},
		{"admin", "/admin/issuers", http.StatusOK},
		{"admin", "/admin/banks", http.StatusOK},
		{"admin", "/admin/suppliers", http.StatusOK},
		{"admin", "/admin/users", http.StatusOK},
		{"admin", "/admin/deliveries", http.StatusOK},
		{"admin", "/console/audit", http.StatusOK},
		{"quancheng", "/portal/subsidies", http.StatusOK},
		{"quancheng", "/portal/applications", http.StatusOK},
		{"quancheng", "/console/alerts", http.StatusForbidden},
		{"quancheng", "/console/contracts/" + e.contract[quancheng], http.StatusForbidden},
		{"officer", "/console/alerts", http.StatusOK},
		{"officer", "/console/contracts/" + e.contract[quancheng], http.StatusOK},
		{"admin", "/console/alerts", http.StatusOK},
		{"officer", "/purchaser/contracts/" + e.contract[quancheng], http.StatusForbidden},
		{"quancheng", "/portal/intents", http.StatusOK},
		{"quancheng", "/portal/contracts/" + e.contract[quancheng] + "/intent", http.StatusOK},
		{"lixia", "/portal/contracts/" + e.contract[quancheng] + "/intent", http.StatusNotFound},
		{"quancheng", "/console/intents", http.StatusForbidden},
		{"officer", "/portal/intents", http.StatusForbidden},
		{"officer", "/console/intents", http.StatusOK},
		{"admin", "/console/intents", http.StatusOK},
	} {
		t.Run(tc.user+tc.path, func(t *testing.T) {
			c := e.client()
			c.login(tc.user)
			p := c.get(tc.path)
			wantStatus(t, p, tc.status)
			if tc.status == http.StatusForbidden {
				wantContains(t, p, "您的角色不能打开此页面", `data-status="403"`)
			}
		})
	}
}

func TestOtherSuppliersRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	c.login("lixia")
	wantStatus(t, c.get("/portal/contracts/"+e.contract[lixia]), http.StatusOK)
	for _, path := range []string{
		"/portal/contracts/" + e.contract[quancheng],
		"/portal/contracts/" + e.contract[quancheng] + "/apply",
		"/portal/applications/" + uuid.NewString(),
		"/portal/contracts/not-a-uuid",
		"/no/such/page",
	} {
		t.Run(path, func(t *testing.T) {
			p := c.get(path)
			wantStatus(t, p, http.StatusNotFound)
			wantContains(t, p, `data-status="404"`)
		})
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	for _, path := range []string{"/login", "/static/style.css", "/no/such/page"} {
		p := c.get(path)
		if got := p.header.Get("Content-Security-Policy"); !strings.HasPrefix(got, "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'") {
			t.Fatalf("%s: CSP %q", path, got)
		}
		if p.header.Get("X-Content-Type-Options") != "nosniff" || p.header.Get("Referrer-Policy") == "" {
			t.Fatalf("%s: headers %v", path, p.header)
		}
	}
	if p := c.get("/static/style.css"); p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), "text/css") {
		t.Fatalf("style.css: %d %s", p.status, p.header.Get("Content-Type"))
	}
	// The API keeps its own answers.
	if p := c.get("/v1/no-such-thing"); p.status != http.StatusNotFound || p.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("API 404: %d %s", p.status, p.header.Get("Content-Type"))
	}
	if p := c.get("/healthz"); p.status != http.StatusOK || !strings.Contains(p.body, "ok") {
		t.Fatalf("healthz: %d %s", p.status, p.body)
	}
	// No inline script or style anywhere: the CSP would block them.
	inline := regexp.MustCompile(`<script>|<script [^>]*>[^<]|style="|<style`)
	err := fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := templateFS.ReadFile(path)
		if inline.Match(b) {
			t.Errorf("%s has inline script or style", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLanguageSwitch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	wantContains(t, c.get("/login"), `<html lang="zh-CN">`, "登录")
	p := c.get("/lang/en?next=%2Flogin")
	wantStatus(t, p, http.StatusSeeOther)
	if loc := p.header.Get("Location"); loc != "/login" {
		t.Fatalf("Location %q", loc)
	}
	wantContains(t, c.get("/login"), `<html lang="en">`, "Log in", "Username")
	if loc := c.get("/lang/en?next=%2F%2Fevil.example").header.Get("Location"); loc != "/" {
		t.Fatalf("open redirect: Location %q", loc)
	}
	c.get("/lang/zh-CN?next=%2F")
	wantContains(t, c.get("/login"), "用户名")
}

func TestApplyForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, _, err := e.banks.Register(t.Context(), bankRegistration("qilu-sandbox", "http://127.0.0.1:1"), "test"); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	c.login("quancheng")
	apply := "/portal/contracts/" + e.contract[quancheng] + "/apply"
	p := c.get(apply)
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, "数据授权", "1,020,000.00", `<label for="amount">`)

	t.Run("BadAmount", func(t *testing.T) {
		res := c.post(apply, url.Values{"csrf": {c.csrf(p)}, "bank_id": {"qilu-sandbox"}, "amount": {"lots"}, "term_days": {"90"}, "purpose": {"materials"}})
		wantStatus(t, res, http.StatusUnprocessableEntity)
		wantContains(t, res, `id="amount-error"`, `aria-invalid="true"`, `value="lots"`)
	})
	t.Run("TooMuch", func(t *testing.T) {
		res := c.post(apply, url.Values{"csrf": {c.csrf(p)}, "bank_id": {"qilu-sandbox"}, "amount": {"0"}, "term_days": {"900"}, "purpose": {""}})
		wantStatus(t, res, http.StatusUnprocessableEntity)
		wantContains(t, res, `id="amount-error"`, `id="term_days-error"`, `id="purpose-error"`)
	})
	t.Run("OK", func(t *testing.T) {
		res := c.post(apply, url.Values{"csrf": {c.csrf(p)}, "bank_id": {"qilu-sandbox"}, "amount": {"300,000.00"}, "term_days": {"90"}, "purpose": {"materials"}})
		wantStatus(t, res, http.StatusSeeOther)
		loc := res.header.Get("Location")
		if !strings.HasPrefix(loc, "/portal/applications/") {
			t.Fatalf("Location %q", loc)
		}
		app := c.get(loc)
		wantStatus(t, app, http.StatusOK)
		wantContains(t, app, "300,000.00", `data-status="submitted"`, "申请已提交", `id="timeline"`)
		// Another supplier does not see it.
		other := e.client()
		other.login("lixia")
		wantStatus(t, other.get(loc), http.StatusNotFound)
	})
}

// TestMessagesComplete: every key a template uses is in the catalogue
// (package i18n checks that each is in both languages).
func TestMessagesComplete(t *testing.T) {
	t.Parallel()
	used := regexp.MustCompile(`T "([a-z_0-9.]+)"`)
	err := fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := templateFS.ReadFile(path)
		for _, m := range used.FindAllStringSubmatch(string(b), -1) {
			if !i18n.Has(m[1]) {
				t.Errorf("%s uses %q, which has no message", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFormatMoney(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"0.00": "0.00", "999.10": "999.10", "1000.00": "1,000.00", "1234567.89": "1,234,567.89", "-1000.00": "-1,000.00"} {
		if got := formatMoney(mustAmount(in)); got != want {
			t.Errorf("formatMoney(%s) = %s, want %s", in, got, want)
		}
	}
}

// The administrators see who is registered: issuers and users, with a new
// one listed at once after its form.
func TestAdminListsIssuersAndUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	c.login("admin")
	p := c.get("/admin/issuers")
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, `id="issuers"`, "<code>jinan-pprc</code>", "济南市公共资源交易中心")
	p = c.get("/admin/users")
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, `id="users"`, "quancheng", "officer2", "<code>"+quancheng+"</code>")
	form := url.Values{"csrf": {c.csrf(p)}, "username": {"officer3"}, "password": {"a long enough password"}, "role": {"officer"}}
	p = c.post("/admin/users", form)
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, `id="users"`, "<td>officer3</td>")
}
