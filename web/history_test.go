package web

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"procfin/lending"
	"procfin/platform/i18n"
)

// section is the text of the list of p with id, its tags taken out, its
// entities read and its spaces made one.
func section(t *testing.T, p page, id string) string {
	t.Helper()
	start := strings.Index(p.body, `id="`+id+`"`)
	if start < 0 {
		t.Fatalf("no #%s in\n%s", id, p.body)
	}
	start += strings.Index(p.body[start:], ">") + 1
	end := strings.Index(p.body[start:], "</ol>")
	if end < 0 {
		end = len(p.body) - start
	}
	text := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(p.body[start:start+end], " ")
	return strings.Join(strings.Fields(html.UnescapeString(text)), " ")
}

// TestHistoryInTheReadersLanguage: the application page's history words
// every entry from the catalogue in the page's language — the approval
// with its figures, each tranche, both repayments of one day (each with
// its tranche, or the whole loan, and its figures), the overdue and its
// cure, the last repayment, the repaid state and the closing — amounts in
// 元 with separators and the rate as a percentage; in zh-CN it holds no
// English word but the bank's ids, in English the same entries in
// English (by the language cookie). The officers' audit page words the
// application's reasons the same way.
func TestHistoryInTheReadersLanguage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	c.login("quancheng")
	appID := e.loan(c) // 800,000.00 approved; D1 500,000.00 and D2 300,000.00; R1 and R2 both paid on 2026-12-01
	e.bankEvent(appID, `"loan.overdue", "data": {"loan_id": "LN-1", "overdue_principal": "100000.00", "since": "2026-12-02"}`)
	e.bankEvent(appID, `"loan.overdue_cured", "data": {"loan_id": "LN-1", "cured_on": "2026-12-03"}`)
	// The rest: 800,000.00 − 100,000.00 (R1) − 50,000.00 (R2) = 650,000.00;
	// all was disbursed, so the loan closes by itself.
	e.bankEvent(appID, `"loan.repaid", "data": {"loan_id": "LN-1", "repayment_id": "R3", "principal": "650000.00", "interest": "0.00", "paid_on": "2026-12-04"}`)

	p := c.get("/portal/applications/" + appID)
	wantStatus(t, p, http.StatusOK)
	zh := section(t, p, "timeline")
	for _, s := range []string{
		"批准 800,000.00 元，年利率 3.45%，期限 180 天",
		"贷款 LN-1 放款 D1：500,000.00 元，起息日 2026-11-22",
		"贷款 LN-1 放款 D2：300,000.00 元，起息日 2026-11-22",
		"还款 贷款 LN-1 还款 R1（D2）：本金 100,000.00 元，利息 862.50 元，还款日 2026-12-01",
		"还款 贷款 LN-1 还款 R2（整笔贷款）：本金 50,000.00 元，利息 0.00 元，还款日 2026-12-01",
		"逾期 贷款 LN-1 自 2026-12-02 起逾期，逾期本金 100,000.00 元",
		"逾期结束 贷款 LN-1 自 2026-12-02 起的逾期已于 2026-12-03 结束",
		"还款 贷款 LN-1 还款 R3（整笔贷款）：本金 650,000.00 元，利息 0.00 元，还款日 2026-12-04",
		"还清 已放本金全部还清",
		"结清 贷款 LN-1 于 2026-12-04 还清结清",
	} {
		if !strings.Contains(zh, s) {
			t.Errorf("the zh-CN history has no %q:\n%s", s, zh)
		}
	}
	if i, j := strings.Index(zh, "还款 R1"), strings.Index(zh, "还款 R2"); i < 0 || j < i {
		t.Errorf("R1 and R2 not both there in the order recorded:\n%s", zh)
	}
	// No English: what is left once the ids are taken out has no Latin
	// letter.
	rest := regexp.MustCompile(`\b(LN-1|D1|D2|R1|R2|R3)\b`).ReplaceAllString(zh, "")
	if w := regexp.MustCompile(`[A-Za-z]+`).FindAllString(rest, -1); len(w) > 0 {
		t.Errorf("English words %q in the zh-CN history:\n%s", w, zh)
	}

	c.get("/lang/en?next=%2F")
	en := section(t, c.get("/portal/applications/"+appID), "timeline")
	for _, s := range []string{
		"approved 800,000.00 yuan at 3.45% a year for 180 days",
		"loan LN-1, tranche D1: 500,000.00 yuan disbursed, value date 2026-11-22",
		"Repayment loan LN-1, repayment R1 (D2): principal 100,000.00 yuan, interest 862.50 yuan, paid on 2026-12-01",
		"Repayment loan LN-1, repayment R2 (the whole loan): principal 50,000.00 yuan, interest 0.00 yuan, paid on 2026-12-01",
		"Overdue loan LN-1 overdue since 2026-12-02, 100,000.00 yuan of principal",
		"No longer overdue loan LN-1, overdue since 2026-12-02, no longer overdue on 2026-12-03",
		"Closed loan LN-1 closed on 2026-12-04, repaid",
	} {
		if !strings.Contains(en, s) {
			t.Errorf("the English history has no %q:\n%s", s, en)
		}
	}
	if regexp.MustCompile(`\p{Han}`).MatchString(en) {
		t.Errorf("Chinese in the English history:\n%s", en)
	}

	o := e.client()
	o.login("officer")
	audit := o.get("/console/audit?type=application&id=" + appID)
	wantStatus(t, audit, http.StatusOK)
	wantContains(t, audit, "批准 800,000.00 元，年利率 3.45%，期限 180 天", "已放款：回款账户已锁定",
		"贷款 LN-1 还款 R1（D2）：本金 100,000.00 元，利息 862.50 元，还款日 2026-12-01",
		"贷款 LN-1 自 2026-12-02 起逾期，逾期本金 100,000.00 元", "已放本金均已还清：回款账户解除锁定")
	if strings.Contains(audit.body, `{&#34;`) || strings.Contains(audit.body, "repaid_in_full") {
		t.Errorf("an audit reason shown as its code:\n%s", audit.body)
	}
}

// TestReasonsAsTheyWere: a reason that is no cause (a person's words, or
// words written before codes) shows as it is; a cause with arguments is
// worded in the page's language.
func TestReasonsAsTheyWere(t *testing.T) {
	t.Parallel()
	zh, en := &view{Lang: "zh-CN"}, &view{Lang: "en"}
	for _, tc := range []struct {
		v            *view
		reason, want string
	}{
		{zh, "funds disbursed: the repayment account is locked", "funds disbursed: the repayment account is locked"},
		{zh, "合同金额有误", "合同金额有误"},
		{zh, "override", "override"},
		{zh, "", ""},
		{zh, lending.CauseAccountLocked, "已放款：回款账户已锁定"},
		{en, `lapsed {"reason":"receivable_refused"}`, "the approval lapsed: the purchaser refused the receivable"},
		{zh, `lapsed {"reason":"receivable_refused"}`, "批准已失效：采购人拒绝确权"},
		{zh, `approved {"amount":"1234567.5","rate":"0.035","term_days":"90"}`, "批准 1,234,567.50 元，年利率 3.50%，期限 90 天"},
		{zh, `receivable_repended {"application":"A","bank":"qilu","receivable_status":"refused"}`,
			"银行 qilu 批准了申请 A，应收账款（采购人已拒绝）不覆盖它：需要采购人重新确权"},
		{en, `receivable_covers {"account":"6222","amount":"800000.00"}`,
			"the purchaser's confirmation of 800,000.00 yuan into account 6222 covers this approval"},
	} {
		if got := tc.v.Reason(tc.reason); got != tc.want {
			t.Errorf("%s Reason(%q) = %q, want %q", tc.v.Lang, tc.reason, got, tc.want)
		}
	}
}

// TestCauseWordsComplete: every code procfin writes has its words in both
// languages, with the same {arguments} in each.
func TestCauseWordsComplete(t *testing.T) {
	t.Parallel()
	args := func(lang, key string) string {
		return fmt.Sprint(slices.Sorted(slices.Values(placeholder.FindAllString(i18n.T(lang, key), -1))))
	}
	for _, code := range lending.CauseCodes {
		key := "cause." + code
		if !i18n.HasIn(i18n.ZH, key) || !i18n.HasIn(i18n.EN, key) {
			t.Errorf("%s has no words", key)
			continue
		}
		if zh, en := args(i18n.ZH, key), args(i18n.EN, key); zh != en {
			t.Errorf("%s: zh-CN takes %s, en %s", key, zh, en)
		}
	}
	for _, key := range []string{"consent.statement", "consent.intent_statement", "consent.bank"} {
		if zh, en := args(i18n.ZH, key), args(i18n.EN, key); zh != en {
			t.Errorf("%s: zh-CN takes %s, en %s", key, zh, en)
		}
	}
}

// TestApplyShowsTheStatementStored: the apply page shows, for each bank,
// the statement of consent naming it by its name with its id beside it,
// in the page's language; the consent stores exactly the chosen bank's.
func TestApplyShowsTheStatementStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for id, name := range map[string]string{"qilu": "齐鲁银行", "weihai": "威海银行"} {
		reg := bankRegistration(id, "http://127.0.0.1:1")
		reg.Name = name
		if _, _, err := e.banks.Register(e.t.Context(), reg, "test"); err != nil {
			t.Fatal(err)
		}
	}
	c := e.client()
	c.login("quancheng")
	apply := "/portal/contracts/" + e.contract[quancheng] + "/apply"
	p := c.get(apply)
	wantStatus(t, p, http.StatusOK)
	zh := "本企业同意平台将以下资料发送给威海银行（weihai），仅用于本次融资申请：企业身份与规模、中标通知书、合同及付款条款、采购人、申请金额、期限和用途、中标核实报告。"
	wantContains(t, p, `<p class="statement" data-bank="weihai">`+zh+`</p>`, `data-bank="qilu">本企业同意平台将以下资料发送给齐鲁银行（qilu），`)
	res := c.post(apply, url.Values{"csrf": {c.csrf(p)}, "form_key": {uuid.NewString()}, "bank_id": {"weihai"}, "amount": {"100000.00"},
		"term_days": {"180"}, "purpose": {"materials"}})
	wantStatus(t, res, http.StatusSeeOther)
	appID, _, _ := strings.Cut(strings.TrimPrefix(res.header.Get("Location"), "/portal/applications/"), "?")
	a, err := e.lending.Application(t.Context(), lending.Scope{}, appID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Consent == nil || a.Consent.Statement != zh || a.Consent.Lang != "zh-CN" {
		t.Fatalf("consent %+v, want the statement shown:\n%s", a.Consent, zh)
	}
	wantContains(t, c.get("/portal/applications/"+appID), zh)

	c.get("/lang/en?next=%2F")
	wantContains(t, c.get(apply), `data-bank="qilu">I consent to procfin sending supplier identity and size class, award notice, contract and its payment terms, `+
		`purchaser, requested amount, term and purpose, verification report to 齐鲁银行 (qilu) for this credit application.</p>`)
}
