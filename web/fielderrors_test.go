package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestFormsNameEveryFieldAtOnce: a form with four bad fields shows each
// beside its input, in Chinese from the catalogue, in one answer: the
// form's own parse problems (an amount in words, days that are no number)
// with the service's checks of the rest (no bank, no purpose); the
// English page words the same kinds in English. Nothing is written.
func TestFormsNameEveryFieldAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	c.login("quancheng")
	apply := "/portal/contracts/" + e.contract[quancheng] + "/apply"
	p := c.get(apply)
	bad := url.Values{"csrf": {c.csrf(p)}, "form_key": {formKey(t, p)}, "amount": {"三十万"}, "term_days": {"九十"}, "purpose": {" "}}
	res := c.post(apply, bad)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantContains(t, res, `id="amount-error"`, "请输入金额，最多两位小数", `id="term_days-error"`, "请输入整数",
		`id="purpose-error"`, `id="bank_id-error"`, "必填", "三十万")
	for _, english := range []string{"is required", "must be", "not valid"} {
		if strings.Contains(res.body, english) {
			t.Fatalf("English %q on a Chinese page:\n%s", english, res.body)
		}
	}
	// Too large, however written: the one kind with its maximum.
	bad.Set("form_key", formKey(t, p))
	bad.Set("amount", "100000000000000000000000")
	res = c.post(apply, bad)
	wantContains(t, res, `id="amount-error"`, "超过上限 999999999999999.99")

	c.get("/lang/en?next=%2F")
	bad.Set("form_key", formKey(t, p))
	bad.Set("amount", "三十万")
	res = c.post(apply, bad)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantContains(t, res, "must be an amount with at most two decimal places", "must be a whole number", "is required")
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM applications`); err != nil || n != 0 {
		t.Fatalf("%d applications, %v", n, err)
	}
}
