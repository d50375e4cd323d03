package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"procfin/platform/audit"
	"procfin/platform/money"
	"procfin/subsidies"
)

// TestSubsidyPolicyPage: administrators see the policy's versions with
// their LPR table and add a version through the form, pre-filled with the
// version in force; bad input shows every bad field at 422 and stores
// nothing; the form posted twice adds one version; officers read the page
// but cannot post, suppliers neither.
func TestSubsidyPolicyPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	versions := func() []subsidies.Policy {
		t.Helper()
		list, err := e.subsidies.Policies(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return list
	}

	a := e.client()
	a.login("admin")
	wantContains(t, a.get("/admin"), `href="/admin/subsidy-policies"`)
	p := a.get("/admin/subsidy-policies")
	wantStatus(t, p, http.StatusOK)
	// Version 1 is the test's configuration: ratio 0.5 = 50.00 %, one rate
	// cap 0.0310 = 3.10 % from 2020-01-01, classes micro, small, medium.
	wantContains(t, p, `id="policy-1"`, `<li data-from="2020-01-01"><span>2020-01-01</span> → <span class="num">3.10%</span></li>`,
		"50.00%", "200,000.00", "50,000,000.00", "微型企业、小型企业、中型企业", `<span class="tag">现行</span>`, "system:config",
		`id="policy-form"`, `name="subsidy_ratio" type="text" value="0.5"`, `name="supplier_yearly_cap" type="text" value="200000.00"`,
		`id="lpr_from-0" name="lpr_from" type="text" value="2020-01-01"`, `id="lpr_from-1" name="lpr_from" type="text" value=""`,
		`name="eligible_size_classes" value="small" checked`)
	if strings.Contains(p.body, `value="large" checked`) {
		t.Fatal("the form ticks a class the policy in force does not subsidise")
	}

	// A rate "abc" dated before the row above it (after an empty row, which
	// is ignored), a negative cap and no size class: each named, at once.
	bad := url.Values{"csrf": {a.csrf(p)}, "form_key": {formKey(t, p)}, "effective_from": {"2025-01-01"}, "subsidy_ratio": {"0.5"},
		"supplier_yearly_cap": {"-1.00"}, "programme_budget": {"50000000.00"}, "four_eyes_threshold": {"50000.00"},
		"lpr_from": {"2020-01-01", "", "2019-06-01"}, "lpr_rate": {"0.0310", "", "abc"}}
	res := a.post("/admin/subsidy-policies", bad)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantContains(t, res, `id="lpr_from-2-error"`, "日期须晚于上一行", `id="lpr_rate-2-error"`, "请输入 0 到 1 之间的利率", `value="abc"`,
		`id="supplier_yearly_cap-error"`, "不能为负数", `id="eligible_size_classes-error"`, "必填", "请修改下面标出的内容")
	for _, ok := range []string{`id="lpr_from-0-error"`, `id="lpr_rate-0-error"`, `id="lpr_from-1-error"`, `id="subsidy_ratio-error"`} {
		if strings.Contains(res.body, ok) {
			t.Fatalf("a good field is marked bad (%s):\n%s", ok, res.body)
		}
	}
	if n := len(versions()); n != 1 {
		t.Fatalf("%d versions after a refused form, want 1", n)
	}

	// A new version from 2025-01-01 with a second LPR row: 0.0290 = 2.90 %
	// from 2025-06-01.
	good := url.Values{"csrf": {a.csrf(res)}, "form_key": {formKey(t, res)}, "effective_from": {"2025-01-01"}, "subsidy_ratio": {"0.6"},
		"supplier_yearly_cap": {"150000.00"}, "programme_budget": {"60000000.00"}, "four_eyes_threshold": {"40000.00"},
		"eligible_size_classes": {"micro", "small"}, "lpr_from": {"2020-01-01", "2025-06-01", ""}, "lpr_rate": {"0.0310", "0.0290", ""}}
	for range 2 { // a double submission adds one version
		res = a.post("/admin/subsidy-policies", good)
		wantStatus(t, res, http.StatusSeeOther)
		if loc := res.header.Get("Location"); loc != "/admin/subsidy-policies?ok=policy_added#policy-2" {
			t.Fatalf("Location %q", loc)
		}
	}
	list := versions()
	if len(list) != 2 {
		t.Fatalf("%d versions, want 2", len(list))
	}
	after := a.get("/admin/subsidy-policies?ok=policy_added")
	wantContains(t, after, "已新增贴息政策版本", `id="policy-2"`, `<li data-from="2025-06-01"><span>2025-06-01</span> → <span class="num">2.90%</span></li>`,
		"60.00%", "150,000.00", `name="subsidy_ratio" type="text" value="0.6"`, `id="lpr_from-1" name="lpr_from" type="text" value="2025-06-01"`)
	if i := strings.Index(after.body, `<span class="tag">现行</span>`); i < 0 || i < strings.Index(after.body, `id="policy-2"`) ||
		i > strings.Index(after.body, `id="policy-1"`) {
		t.Fatal("version 2 is not marked in force")
	}

	// The API lists it, as given.
	admin, err := e.auth.UserByName(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := e.auth.IssueToken(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/v1/admin/subsidy-policies", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	got := a.do(req)
	wantStatus(t, got, http.StatusOK)
	var body struct{ Items []subsidies.Policy }
	if err := json.Unmarshal([]byte(got.body), &body); err != nil {
		t.Fatal(err)
	}
	v2 := body.Items[0]
	if v2.Version != 2 || !v2.EffectiveFrom.Equal(money.MustDate("2025-01-01")) || v2.SubsidyRatio.String() != "0.6" ||
		v2.SupplierYearlyCap.String() != "150000.00" || v2.ProgrammeBudget.String() != "60000000.00" ||
		v2.FourEyesThreshold.String() != "40000.00" || strings.Join(v2.EligibleSizeClasses, ",") != "micro,small" ||
		len(v2.LPR1Y) != 2 || !v2.LPR1Y[1].From.Equal(money.MustDate("2025-06-01")) || v2.LPR1Y[1].Rate.String() != "0.029" ||
		v2.CreatedBy != "user:"+admin.ID {
		t.Fatalf("the API lists %+v", v2)
	}
	rows, err := audit.List(ctx, e.db, "subsidy_policy", "2", 0, 10)
	if err != nil || len(rows) != 1 || rows[0].Action != "subsidy_policy.created" || rows[0].Actor != "user:"+admin.ID {
		t.Fatalf("audit %+v, %v", rows, err)
	}

	// Officers read the page, without the form, and cannot post.
	o := e.client()
	o.login("officer")
	op := o.get("/admin/subsidy-policies")
	wantStatus(t, op, http.StatusOK)
	wantContains(t, op, `id="policy-2"`, `href="/admin/subsidy-policies"`)
	if strings.Contains(op.body, `id="policy-form"`) {
		t.Fatal("an officer is shown the form")
	}
	good.Set("csrf", o.csrf(op))
	good.Set("form_key", "officer-form-key-0001")
	wantStatus(t, o.post("/admin/subsidy-policies", good), http.StatusForbidden)

	s := e.client()
	s.login("quancheng")
	sp := s.get("/portal")
	wantStatus(t, s.get("/admin/subsidy-policies"), http.StatusForbidden)
	good.Set("csrf", s.csrf(sp))
	good.Set("form_key", "supplier-form-key-001")
	wantStatus(t, s.post("/admin/subsidy-policies", good), http.StatusForbidden)
	if n := len(versions()); n != 2 {
		t.Fatalf("%d versions, want 2", n)
	}
}

// TestCurrentPolicy: the version in force is the newest of the latest
// effective date on or before the day; before any, the newest version.
func TestCurrentPolicy(t *testing.T) {
	t.Parallel()
	v := func(n int, from string) subsidies.Policy {
		return subsidies.Policy{Version: n, EffectiveFrom: money.MustDate(from)}
	}
	list := []subsidies.Policy{v(4, "2027-01-01"), v(3, "2025-01-01"), v(2, "2026-01-01"), v(1, "2025-01-01")}
	for day, want := range map[string]int{"2024-12-31": 4, "2025-01-01": 3, "2025-12-31": 3, "2026-06-30": 2, "2027-01-01": 4} {
		if got, ok := currentPolicy(list, money.MustDate(day)); !ok || got.Version != want {
			t.Errorf("on %s: version %d, want %d", day, got.Version, want)
		}
	}
	if _, ok := currentPolicy(nil, money.MustDate("2026-01-01")); ok {
		t.Error("a version in force with none")
	}
}
