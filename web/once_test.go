package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var formKeyInput = regexp.MustCompile(`name="form_key" value="([^"]+)"`)

// formKey is the key the page rendered into its first state-changing form.
func formKey(t *testing.T, p page) string {
	t.Helper()
	m := formKeyInput.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no form key in the page:\n%s", p.body)
	}
	return m[1]
}

// TestApplyFormPostedTwice: the apply form posted twice (one after the
// other, then twice at once) under its key creates one application and
// holds the contract's headroom once; each repeat is answered with the
// first one's redirect.
func TestApplyFormPostedTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, _, err := e.banks.Register(t.Context(), bankRegistration("qilu-sandbox", "http://127.0.0.1:1"), "test"); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	c.login("quancheng")
	apply := "/portal/contracts/" + e.contract[quancheng] + "/apply"
	financed := func() string {
		t.Helper()
		var s string
		if err := e.db.Get(&s, `SELECT financed::text FROM contracts WHERE id = $1`, e.contract[quancheng]); err != nil {
			t.Fatal(err)
		}
		return s
	}
	count := func() int {
		t.Helper()
		var n int
		if err := e.db.Get(&n, `SELECT count(*) FROM applications`); err != nil {
			t.Fatal(err)
		}
		return n
	}

	p := c.get(apply)
	form := url.Values{"csrf": {c.csrf(p)}, "form_key": {formKey(t, p)}, "bank_id": {"qilu-sandbox"}, "amount": {"300,000.00"},
		"term_days": {"90"}, "purpose": {"materials"}}
	first := c.post(apply, form)
	wantStatus(t, first, http.StatusSeeOther)
	again := c.post(apply, form)
	wantStatus(t, again, http.StatusSeeOther)
	if a, b := first.header.Get("Location"), again.header.Get("Location"); a != b || !strings.HasPrefix(a, "/portal/applications/") {
		t.Fatalf("first went to %q, the repeat to %q", a, b)
	}
	// 300,000.00 held once, not 600,000.00.
	if n, f := count(), financed(); n != 1 || f != "300000.00" {
		t.Fatalf("%d applications, contract financed %s; want 1 and 300000.00", n, f)
	}

	// A double click: two submissions of a new form at once.
	p = c.get(apply)
	form.Set("form_key", formKey(t, p))
	form.Set("amount", "100000.00")
	var wg sync.WaitGroup
	answers := make([]page, 2)
	for i := range answers {
		wg.Add(1)
		go func() { defer wg.Done(); answers[i] = c.post(apply, form) }()
	}
	wg.Wait()
	if answers[0].status != http.StatusSeeOther || answers[1].status != http.StatusSeeOther ||
		answers[0].header.Get("Location") != answers[1].header.Get("Location") {
		t.Fatalf("double click: %d %q and %d %q", answers[0].status, answers[0].header.Get("Location"),
			answers[1].status, answers[1].header.Get("Location"))
	}
	// 300,000.00 + 100,000.00 = 400,000.00.
	if n, f := count(), financed(); n != 2 || f != "400000.00" {
		t.Fatalf("%d applications, contract financed %s; want 2 and 400000.00", n, f)
	}

	// The same key with other contents is refused and changes nothing.
	form.Set("amount", "1.00")
	wantStatus(t, c.post(apply, form), http.StatusConflict)
	if n := count(); n != 2 {
		t.Fatalf("%d applications", n)
	}
	// A refused form (its errors shown) keeps nothing: corrected under the
	// same key it goes through.
	p = c.get(apply)
	form.Set("form_key", formKey(t, p))
	form.Set("amount", "lots")
	wantStatus(t, c.post(apply, form), http.StatusUnprocessableEntity)
	form.Set("amount", "1000.00")
	wantStatus(t, c.post(apply, form), http.StatusSeeOther)
	if n := count(); n != 3 {
		t.Fatalf("%d applications, want 3", n)
	}
}

// TestCancelAndCreateUserFormsPostedTwice: the cancel form and the
// administrators' new-user form, posted twice, act once and answer the
// repeat as the first time (not "already cancelled", not "name taken").
func TestCancelAndCreateUserFormsPostedTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, _, err := e.banks.Register(t.Context(), bankRegistration("qilu-sandbox", "http://127.0.0.1:1"), "test"); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	c.login("quancheng")
	apply := "/portal/contracts/" + e.contract[quancheng] + "/apply"
	p := c.get(apply)
	res := c.post(apply, url.Values{"csrf": {c.csrf(p)}, "form_key": {formKey(t, p)}, "bank_id": {"qilu-sandbox"},
		"amount": {"1000.00"}, "term_days": {"90"}, "purpose": {"materials"}})
	wantStatus(t, res, http.StatusSeeOther)
	appPage := strings.TrimSuffix(res.header.Get("Location"), "?ok=applied")
	p = c.get(appPage)
	cancel := url.Values{"csrf": {c.csrf(p)}, "form_key": {formKey(t, p)}}
	for i := 0; i < 2; i++ {
		res := c.post(appPage+"/cancel", cancel)
		wantStatus(t, res, http.StatusSeeOther)
		if loc := res.header.Get("Location"); loc != appPage+"?ok=cancelled" {
			t.Fatalf("cancel %d: Location %q", i+1, loc)
		}
	}
	var transitions int
	if err := e.db.Get(&transitions, `SELECT count(*) FROM application_transitions WHERE to_status = 'cancelled'`); err != nil || transitions != 1 {
		t.Fatalf("%d cancellations recorded (%v), want 1", transitions, err)
	}

	admin := e.client()
	admin.login("admin")
	p = admin.get("/admin/users")
	form := url.Values{"csrf": {admin.csrf(p)}, "form_key": {formKey(t, p)}, "username": {"officer3"},
		"password": {"a long enough password"}, "role": {"officer"}}
	for i := 0; i < 2; i++ {
		res := admin.post("/admin/users", form)
		wantStatus(t, res, http.StatusOK)
		wantContains(t, res, "<td>officer3</td>")
	}
	var users int
	if err := e.db.Get(&users, `SELECT count(*) FROM users WHERE username = 'officer3'`); err != nil || users != 1 {
		t.Fatalf("%d users officer3 (%v)", users, err)
	}
	var hashes int
	if err := e.db.Get(&hashes, `SELECT count(*) FROM idempotency_keys WHERE scope LIKE 'web:%'`); err != nil || hashes < 3 {
		t.Fatalf("%d forms' answers kept (%v)", hashes, err)
	}
}
