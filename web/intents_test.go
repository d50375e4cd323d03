package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"procfin/lending"
)

// intentBanks registers the three banks a need is published to.
func (e *env) intentBanks() {
	e.t.Helper()
	for id, name := range map[string]string{"qilu": "齐鲁银行", "jnrcb": "济南农商银行", "weihai": "威海银行"} {
		reg := bankRegistration(id, "http://127.0.0.1:1")
		reg.Name = name
		if _, _, err := e.banks.Register(e.t.Context(), reg, "test"); err != nil {
			e.t.Fatal(err)
		}
	}
}

// publishIntent publishes a need of 800000.00 for 180 days through the
// page as c, on the contract of uscc, to the banks; it returns the
// intent's id.
func (e *env) publishIntent(c *client, uscc string, banks ...string) string {
	e.t.Helper()
	path := "/portal/contracts/" + e.contract[uscc] + "/intent"
	p := c.get(path)
	wantStatus(e.t, p, http.StatusOK)
	res := c.post(path, url.Values{"csrf": {c.csrf(p)}, "form_key": {formKey(e.t, p)}, "amount": {"300000.00"},
		"term_days": {"180"}, "purpose": {"采购交换机"}, "bank_ids": banks})
	wantStatus(e.t, res, http.StatusSeeOther)
	id, ok := strings.CutPrefix(res.header.Get("Location"), "/portal/intents/")
	if !ok || !strings.HasSuffix(id, "?ok=intent_published") {
		e.t.Fatalf("published to %q", res.header.Get("Location"))
	}
	return strings.TrimSuffix(id, "?ok=intent_published")
}

// offer has the bank make an offer on the intent with a signed-event body
// as the bank would post it (offer.made, application_id null), valid for
// two days; it returns procfin's id of the offer.
func (e *env) offer(bankID, intentID, bankOfferID, amount, rate string) string {
	e.t.Helper()
	body := fmt.Sprintf(`{"event_id": %q, "occurred_at": %q, "application_id": null, "type": "offer.made",
		"data": {"intent_id": %q, "offer_id": %q, "amount": %q, "annual_rate": %q, "term_days": 180, "valid_until": %q, "conditions": "需采购人确权"}}`,
		uuid.NewString(), time.Now().UTC().Format(time.RFC3339), intentID, bankOfferID, amount, rate,
		time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339))
	if _, _, err := e.events.Apply(e.t.Context(), bankID, []byte(body), nil); err != nil {
		e.t.Fatalf("offer.made by %s: %v", bankID, err)
	}
	it, err := e.lending.Intent(e.t.Context(), lending.Scope{}, intentID)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, o := range it.Offers {
		if o.BankID == bankID && o.BankOfferID == bankOfferID && o.Status == lending.OfferMadeStatus {
			return o.ID
		}
	}
	e.t.Fatalf("no current offer %s of %s on %s", bankOfferID, bankID, intentID)
	return ""
}

// formKeyOf is the form key of the form posting to action.
func formKeyOf(t *testing.T, p page, action string) string {
	t.Helper()
	_, rest, ok := strings.Cut(p.body, `action="`+action+`"`)
	if !ok {
		t.Fatalf("no form posting to %s:\n%s", action, p.body)
	}
	return formKey(t, page{body: rest})
}

// TestPublishIntentFields: the contract page links to publishing a need;
// the form lists each bank with the consent given to it; every bad field
// is shown at once beside its input (zh-CN), and nothing is published.
func TestPublishIntentFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.intentBanks()
	c := e.client()
	c.login("quancheng")
	contract := c.get("/portal/contracts/" + e.contract[quancheng])
	wantContains(t, contract, `id="publish-intent" href="/portal/contracts/`+e.contract[quancheng]+`/intent"`, "向多家银行征集报价")
	path := "/portal/contracts/" + e.contract[quancheng] + "/intent"
	p := c.get(path)
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, `href="/portal/intents"`, "发布融资需求", "本计划的全部合作银行", `name="all_banks"`,
		`value="qilu"`, "齐鲁银行", `value="jnrcb"`, "济南农商银行", `value="weihai"`, "威海银行",
		lending.IntentConsentStatement("zh-CN", "qilu", "齐鲁银行"), lending.IntentConsentStatement("zh-CN", "weihai", "威海银行"), "发送给齐鲁银行（qilu），", "同意并发布")

	res := c.post(path, url.Values{"csrf": {c.csrf(p)}, "form_key": {formKey(t, p)}, "amount": {"三十万"},
		"term_days": {"半年"}, "purpose": {"采购"}, "respond_by": {"下周"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantContains(t, res, `id="form-problem"`, `id="amount-error"`, "请输入金额", `id="term_days-error"`, "请输入整数",
		`id="respond_by-error"`, `id="bank_ids-error"`, "请至少选择一家银行", `value="三十万"`)

	// The service's own refusals, beside their fields: an amount of
	// nothing and a bank that is not a partner.
	p = c.get(path)
	res = c.post(path, url.Values{"csrf": {c.csrf(p)}, "form_key": {formKey(t, p)}, "amount": {"0.00"},
		"term_days": {"180"}, "purpose": {"采购"}, "bank_ids": {"qilu", "no-such-bank"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantContains(t, res, `id="amount-error"`, `id="bank_ids-error"`)

	list, err := e.lending.Intents(t.Context(), lending.Scope{SupplierUSCC: quancheng}, lending.IntentFilter{}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("%d intents after refused forms, want none", len(list))
	}
}

// TestIntentCompareAccept walks a need: published to three banks once
// however often the form is sent; two banks offer; the comparison shows
// each offer's effective rate after the subsidy with the best marked;
// another supplier does not find it; accepting a replaced offer is
// refused in Chinese; accepting the best lands on the application to its
// bank; the need is then closed and cannot be cancelled.
func TestIntentCompareAccept(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.intentBanks()
	c := e.client()
	c.login("quancheng")
	path := "/portal/contracts/" + e.contract[quancheng] + "/intent"
	p := c.get(path)
	// Offers due in ten days, typed on a Beijing wall clock.
	due := time.Now().In(shanghai).Add(240 * time.Hour).Truncate(time.Minute)
	form := url.Values{"csrf": {c.csrf(p)}, "form_key": {formKey(t, p)}, "amount": {"800,000.00"}, "term_days": {"180"},
		"purpose": {"采购交换机"}, "respond_by": {due.Format("2006-01-02T15:04")}, "bank_ids": {"qilu", "jnrcb", "weihai"}}
	first := c.post(path, form)
	wantStatus(t, first, http.StatusSeeOther)
	again := c.post(path, form)
	if again.header.Get("Location") != first.header.Get("Location") {
		t.Fatalf("the same form again went to %q, first to %q", again.header.Get("Location"), first.header.Get("Location"))
	}
	id := strings.TrimSuffix(strings.TrimPrefix(first.header.Get("Location"), "/portal/intents/"), "?ok=intent_published")
	it, err := e.lending.Intent(t.Context(), lending.Scope{SupplierUSCC: quancheng}, id)
	if err != nil {
		t.Fatal(err)
	}
	if !it.RespondBy.Equal(due) || len(it.Banks) != 3 || !it.Amount.Decimal().Equal(mustAmount("800000.00").Decimal()) {
		t.Fatalf("respond_by %s (want %s), %d banks, amount %s", it.RespondBy, due, len(it.Banks), it.Amount)
	}
	list, err := e.lending.Intents(t.Context(), lending.Scope{SupplierUSCC: quancheng}, lending.IntentFilter{}, 0, 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("%d intents after the same form twice (%v), want 1", len(list), err)
	}

	// The rate cap is 3.10 % and the ratio 0.5 (newEnv); quancheng is a
	// small enterprise, subsidised:
	// qilu   0.0345 − min(0.0345, 0.0310) × 0.5 = 0.0345 − 0.0155 = 0.0190 (1.90%)
	// jnrcb  0.0330 − 0.0155 = 0.0175 (1.75%), the best
	// qilu's replacement 0.0340 − 0.0155 = 0.0185 (1.85%)
	oldQilu := e.offer("qilu", id, "QL-1", "800000.00", "0.0345")
	jnrcb := e.offer("jnrcb", id, "JN-7", "700000.00", "0.0330")
	qilu := e.offer("qilu", id, "QL-2", "800000.00", "0.0340")

	compare := c.get("/portal/intents/" + id)
	wantStatus(t, compare, http.StatusOK)
	wantContains(t, compare, `data-status="open"`, "征集报价中", `class="card offer best" data-offer="`+jnrcb+`"`, "最优",
		`data-effective="0.0175">1.75%`, `data-effective="0.0185">1.85%`, "银行报价年利率 3.30%", "700,000.00 元",
		"贴息后实际年利率", "min(银行年利率 0.033, LPR 0.031)", "需采购人确权", `data-bank="weihai"`, "已被新报价替代",
		`id="accept-`+jnrcb+`"`, `id="accept-`+qilu+`"`, `id="cancel-intent"`)
	if strings.Contains(compare.body, `id="accept-`+oldQilu+`"`) {
		t.Fatal("a replaced offer can be accepted from the page")
	}
	if strings.Index(compare.body, `data-offer="`+jnrcb+`"`) > strings.Index(compare.body, `data-offer="`+qilu+`"`) {
		t.Fatal("the best offer is not first")
	}
	mine := c.get("/portal/intents")
	wantContains(t, mine, `href="/portal/intents/`+id+`"`, "HT-JNCG-2026-0815", "800,000.00", "2 / 3", "1.75%")

	// Another supplier finds nothing, and can do nothing.
	other := e.client()
	other.login("lixia")
	wantStatus(t, other.get("/portal/intents/"+id), http.StatusNotFound)
	otherPage := other.get("/portal/intents")
	if strings.Contains(otherPage.body, id) {
		t.Fatal("another supplier's list shows the intent")
	}
	wantStatus(t, other.post("/portal/intents/"+id+"/accept", url.Values{"csrf": {other.csrf(otherPage)}, "offer_id": {jnrcb}}), http.StatusNotFound)
	wantStatus(t, other.post("/portal/intents/"+id+"/cancel", url.Values{"csrf": {other.csrf(otherPage)}}), http.StatusNotFound)

	// The replaced offer: refused, said in Chinese, nothing accepted.
	res := c.post("/portal/intents/"+id+"/accept", url.Values{"csrf": {c.csrf(compare)}, "offer_id": {oldQilu}})
	wantStatus(t, res, http.StatusConflict)
	wantContains(t, res, `id="intent-problem"`, "该银行已用新报价替代了这份报价", `data-status="open"`)

	// The best, accepted: the application to jnrcb, at the offer's terms.
	accept := "/portal/intents/" + id + "/accept"
	res = c.post(accept, url.Values{"csrf": {c.csrf(compare)}, "form_key": {formKeyOf(t, compare, accept)}, "offer_id": {jnrcb}})
	wantStatus(t, res, http.StatusSeeOther)
	loc := res.header.Get("Location")
	appID, ok := strings.CutPrefix(loc, "/portal/applications/")
	if !ok || !strings.HasSuffix(appID, "?ok=offer_accepted") {
		t.Fatalf("accepted to %q", loc)
	}
	appID = strings.TrimSuffix(appID, "?ok=offer_accepted")
	app := c.get(loc)
	wantStatus(t, app, http.StatusOK)
	wantContains(t, app, "已接受报价", "济南农商银行", "700,000.00", `id="accepted-offer"`, `href="/portal/intents/`+id+`"`,
		"所接受的报价", "银行报价年利率 3.30%", "贴息后实际年利率 1.75%")
	a, err := e.lending.Application(t.Context(), lending.Scope{SupplierUSCC: quancheng}, appID)
	if err != nil {
		t.Fatal(err)
	}
	if a.BankID != "jnrcb" || a.OfferID == nil || *a.OfferID != jnrcb {
		t.Fatalf("application to %s with offer %v, want jnrcb with %s", a.BankID, a.OfferID, jnrcb)
	}

	closed := c.get("/portal/intents/" + id)
	wantContains(t, closed, `data-status="accepted"`, `id="intent-application" href="/portal/applications/`+appID+`"`)
	if strings.Contains(closed.body, `id="accept-`) || strings.Contains(closed.body, `id="cancel-intent"`) {
		t.Fatal("a closed need still offers to accept or cancel")
	}
	res = c.post("/portal/intents/"+id+"/cancel", url.Values{"csrf": {c.csrf(closed)}})
	wantStatus(t, res, http.StatusConflict)
	wantContains(t, res, "融资需求已结束", `data-status="accepted"`)
}

// TestCancelIntentAndConsole: a supplier cancels its need (once however
// often the form is sent); the officers' list shows every need with its
// supplier, banks asked and answered and the best rate; a supplier may not
// open it.
func TestCancelIntentAndConsole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.intentBanks()
	q := e.client()
	q.login("quancheng")
	l := e.client()
	l.login("lixia")
	qid := e.publishIntent(q, quancheng, "qilu", "jnrcb")
	// lixia asks every bank of the programme.
	path := "/portal/contracts/" + e.contract[lixia] + "/intent"
	p := l.get(path)
	res := l.post(path, url.Values{"csrf": {l.csrf(p)}, "form_key": {formKey(t, p)}, "amount": {"100000.00"},
		"term_days": {"90"}, "purpose": {"进货"}, "all_banks": {"1"}})
	wantStatus(t, res, http.StatusSeeOther)
	lid := strings.TrimSuffix(strings.TrimPrefix(res.header.Get("Location"), "/portal/intents/"), "?ok=intent_published")
	if it, err := e.lending.Intent(t.Context(), lending.Scope{SupplierUSCC: lixia}, lid); err != nil || len(it.Banks) != 3 {
		t.Fatalf("every bank asked: %d banks (%v), want 3", len(it.Banks), err)
	}
	// 0.0345 − min(0.0345, 0.0310) × 0.5 = 0.0190 (1.90%).
	e.offer("qilu", qid, "QL-1", "300000.00", "0.0345")

	page := l.get("/portal/intents/" + lid)
	cancel := "/portal/intents/" + lid + "/cancel"
	form := url.Values{"csrf": {l.csrf(page)}, "form_key": {formKeyOf(t, page, cancel)}}
	res = l.post(cancel, form)
	wantStatus(t, res, http.StatusSeeOther)
	if loc := res.header.Get("Location"); loc != "/portal/intents/"+lid+"?ok=intent_cancelled" {
		t.Fatalf("cancelled to %q", loc)
	}
	wantStatus(t, l.post(cancel, form), http.StatusSeeOther) // the same form again: its first answer
	wantContains(t, l.get(res.header.Get("Location")), `data-status="cancelled"`, "融资需求已取消，已通知各银行")

	wantStatus(t, q.get("/console/intents"), http.StatusForbidden)
	o := e.client()
	o.login("officer")
	all := o.get("/console/intents")
	wantStatus(t, all, http.StatusOK)
	wantContains(t, all, `href="/console/intents"`, `data-intent="`+qid+`"`, `data-intent="`+lid+`"`, "泉城软件有限公司", "历下商贸有限公司",
		"齐鲁银行", "济南农商银行", "威海银行", `data-answered="1">1 / 2`, `data-answered="0">0 / 3`, "1.90%", `data-status="cancelled"`, `data-status="open"`)
	open := o.get("/console/intents?status=open")
	wantContains(t, open, `data-intent="`+qid+`"`)
	if strings.Contains(open.body, `data-intent="`+lid+`"`) {
		t.Fatal("the open needs list a cancelled one")
	}
}

// TestAcceptRefused: an offer past its valid_until is shown expired
// without its button, and accepting it anyway is refused in Chinese; an
// acceptance whose verification fails (the contract's headroom taken by
// an application meanwhile) is refused with the failed checks, and the
// need stays open.
func TestAcceptRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.intentBanks()
	c := e.client()
	c.login("quancheng")
	id := e.publishIntent(c, quancheng, "qilu", "jnrcb")
	late := e.offer("qilu", id, "QL-1", "300000.00", "0.0345")
	other := e.offer("jnrcb", id, "JN-1", "300000.00", "0.0350")
	// The bank's offer runs out: its valid_until is now past.
	if _, err := e.db.Exec(`UPDATE offers SET valid_until = now() - interval '1 minute' WHERE id = $1`, late); err != nil {
		t.Fatal(err)
	}
	p := c.get("/portal/intents/" + id)
	wantContains(t, p, `data-offer="`+late+`" data-bank="qilu" data-status="made" data-expired="true"`, "已过有效期", `id="accept-`+other+`"`)
	if strings.Contains(p.body, `id="accept-`+late+`"`) {
		t.Fatal("an expired offer can be accepted from the page")
	}
	res := c.post("/portal/intents/"+id+"/accept", url.Values{"csrf": {c.csrf(p)}, "offer_id": {late}})
	wantStatus(t, res, http.StatusConflict)
	wantContains(t, res, `id="intent-problem"`, "该报价已过有效期，不能再接受", `data-status="open"`)

	// The contract's headroom: 1200000.00 × 0.85 = 1020000.00; an
	// application of 800000.00 straight to jnrcb leaves 220000.00, below
	// the 300000.00 jnrcb offered.
	amount, days := mustAmount("800000.00"), 90
	if _, err := e.lending.Apply(t.Context(), lending.Applicant{UserID: "u", SupplierUSCC: quancheng},
		lending.ApplyInput{ContractID: e.contract[quancheng], BankID: "jnrcb", Amount: &amount, TermDays: &days, Purpose: "材料"}); err != nil {
		t.Fatal(err)
	}
	res = c.post("/portal/intents/"+id+"/accept", url.Values{"csrf": {c.csrf(p)}, "offer_id": {other}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantContains(t, res, `id="intent-problem"`, "核实未通过", `data-check="financing.headroom"`, `data-status="open"`, `id="accept-`+other+`"`)
}

// TestIntentConsents: the consents given with a need are listed with their
// need (a link, and its status) instead of an application, one per bank.
func TestIntentConsents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.intentBanks()
	c := e.client()
	c.login("quancheng")
	id := e.publishIntent(c, quancheng, "qilu", "jnrcb")
	p := c.get("/portal/consents")
	wantStatus(t, p, http.StatusOK)
	link := `<a href="/portal/intents/` + id + `">融资意向 ` + id[:8] + `</a> <span class="badge badge-open">征集报价中</span>`
	if n := strings.Count(p.body, link); n != 2 {
		t.Fatalf("%d consents linked to the need, want 2 (qilu, jnrcb):\n%s", n, p.body)
	}
	wantContains(t, p, lending.IntentConsentStatement("zh-CN", "qilu", "齐鲁银行"), lending.IntentConsentStatement("zh-CN", "jnrcb", "济南农商银行"))
}
