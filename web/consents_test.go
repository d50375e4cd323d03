package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"procfin/lending"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// TestConsentsPage: the supplier's consents page lists each consent with
// its bank's name, statement (zh-CN, as shown when applying), state and
// expiry, and a revoke form for those in force. Revoking before the bank
// decides withdraws the application, once however often the form is sent;
// revoking after approval is refused (409) with why, and changes nothing;
// another supplier's consent is not found.
func TestConsentsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	reg := bankRegistration("qilu-sandbox", "http://127.0.0.1:1")
	reg.Name = "齐鲁银行沙箱"
	if _, _, err := e.banks.Register(ctx, reg, "test"); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	c.login("quancheng")
	apply := "/portal/contracts/" + e.contract[quancheng] + "/apply"
	p := c.get(apply)
	res := c.post(apply, url.Values{"csrf": {c.csrf(p)}, "form_key": {formKey(t, p)}, "bank_id": {"qilu-sandbox"},
		"amount": {"1000.00"}, "term_days": {"90"}, "purpose": {"materials"}})
	wantStatus(t, res, http.StatusSeeOther)
	pending := strings.TrimPrefix(res.header.Get("Location"), "/portal/applications/")
	pending = strings.TrimSuffix(pending, "?ok=applied")

	// A second application, approved by the bank.
	amount, days := money.MustAmount("2000.00"), 90
	approved, err := e.lending.Apply(ctx, lending.Applicant{UserID: "u", SupplierUSCC: quancheng},
		lending.ApplyInput{ContractID: e.contract[quancheng], BankID: "qilu-sandbox", Amount: &amount, TermDays: &days, Purpose: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.Transact(ctx, e.db, func(tx *postgres.Tx) error {
		return e.lending.Approve(ctx, tx, "qilu-sandbox", approved.ID, lending.Approval{ApprovedAmount: amount, AnnualRate: money.MustRate("0.035"),
			TermDays: 90, RepaymentAccount: lending.RepaymentAccount{BankName: "齐鲁银行", AccountNo: "6222", AccountName: "泉城软件"}}, "bank:qilu-sandbox")
	}); err != nil {
		t.Fatal(err)
	}
	consentOf := func(appID string) lending.SupplierConsent {
		t.Helper()
		list, err := e.lending.Consents(ctx, lending.Scope{SupplierUSCC: quancheng}, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range list {
			if c.ApplicationID == appID {
				return c
			}
		}
		t.Fatalf("no consent of %s", appID)
		return lending.SupplierConsent{}
	}
	pc, ac := consentOf(pending), consentOf(approved.ID)
	if pc.Lang != "zh-CN" || ac.Lang != "zh-CN" {
		t.Fatalf("langs %s %s, want zh-CN", pc.Lang, ac.Lang)
	}

	list := c.get("/portal/consents")
	wantStatus(t, list, http.StatusOK)
	wantContains(t, list, `href="/portal/consents"`, "我的数据授权", "齐鲁银行沙箱", "本企业同意平台将以下资料发送给齐鲁银行沙箱（qilu-sandbox），",
		`data-consent="`+pc.ID+`" data-state="given"`, `action="/portal/consents/`+pc.ID+`/revoke"`, `action="/portal/consents/`+ac.ID+`/revoke"`, "撤回授权", "有效至")

	revoke := url.Values{"csrf": {c.csrf(list)}, "form_key": {formKeyFor(t, list, pc.ID)}}
	res = c.post("/portal/consents/"+pc.ID+"/revoke", revoke)
	wantStatus(t, res, http.StatusSeeOther)
	if loc := res.header.Get("Location"); loc != "/portal/consents?ok=consent_revoked" {
		t.Fatalf("Location %q", loc)
	}
	again := c.post("/portal/consents/"+pc.ID+"/revoke", revoke) // a double click
	wantStatus(t, again, http.StatusSeeOther)
	after := c.get("/portal/consents?ok=consent_revoked")
	wantContains(t, after, "授权已撤回", `data-consent="`+pc.ID+`" data-state="revoked"`)
	if strings.Contains(after.body, `action="/portal/consents/`+pc.ID+`/revoke"`) {
		t.Fatal("a revoked consent still has its revoke form")
	}
	a, err := e.lending.Application(ctx, lending.Scope{}, pending)
	if err != nil || a.Status != lending.Cancelled || a.History[len(a.History)-1].Cause != lending.CauseConsentRevoked || len(a.History) != 2 {
		t.Fatalf("application %+v, %v", a.History, err)
	}
	wantContains(t, c.get("/portal/applications/"+pending), `data-to="cancelled"`, "供应商撤回了数据授权")

	refused := c.post("/portal/consents/"+ac.ID+"/revoke", url.Values{"csrf": {c.csrf(after)}, "form_key": {formKeyFor(t, after, ac.ID)}})
	wantStatus(t, refused, http.StatusConflict)
	wantContains(t, refused, `id="refusal"`, "贷款尚未结清，银行和平台仍需要这些资料")
	if got := consentOf(approved.ID); got.State != lending.ConsentGiven || got.ApplicationStatus != lending.Approved {
		t.Fatalf("after the refusal: %+v", got)
	}

	other := e.client()
	other.login("lixia")
	op := other.get("/portal/consents")
	wantStatus(t, op, http.StatusOK)
	if strings.Contains(op.body, ac.ID) {
		t.Fatal("another supplier sees the consent")
	}
	wantStatus(t, other.post("/portal/consents/"+ac.ID+"/revoke", url.Values{"csrf": {other.csrf(op)}}), http.StatusNotFound)
}

// formKeyFor is the form_key of the revoke form of the consent on the page.
func formKeyFor(t *testing.T, p page, consentID string) string {
	t.Helper()
	m := regexp.MustCompile(`action="/portal/consents/` + consentID + `/revoke"[^>]*>\s*<input type="hidden" name="csrf" value="[^"]+">\s*<input type="hidden" name="form_key" value="([^"]+)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no revoke form for %s:\n%s", consentID, p.body)
	}
	return m[1]
}
