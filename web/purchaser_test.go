package web

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/auth"
	"procfin/platform/i18n"
	"procfin/platform/money"
	"procfin/platform/signature"
)

// lockedAccount is the repayment account the bank approves in approve.
var lockedAccount = lending.Account{BankName: "齐鲁银行济南分行", AccountNo: "6222 0216 0009 8765", AccountName: "泉城软件有限公司"}

// approve applies through the portal as quancheng for 800000.00 of its
// contract (1200000.00, purchaser jn-edu) at the bank qilu (齐鲁银行), and
// has the bank receive and approve it with lockedAccount; then it applies
// the further bank events given. It returns the application's id.
func (e *env) approve(c *client, more ...string) string {
	e.t.Helper()
	reg := bankRegistration("qilu", "http://127.0.0.1:1")
	reg.Name = "齐鲁银行"
	if _, _, err := e.banks.Register(e.t.Context(), reg, "test"); err != nil {
		e.t.Fatal(err)
	}
	apply := "/portal/contracts/" + e.contract[quancheng] + "/apply"
	res := c.post(apply, url.Values{"csrf": {c.csrf(c.get(apply))}, "bank_id": {"qilu"}, "amount": {"800000.00"},
		"term_days": {"180"}, "purpose": {"materials"}})
	wantStatus(e.t, res, http.StatusSeeOther)
	appID, _, _ := strings.Cut(strings.TrimPrefix(res.header.Get("Location"), "/portal/applications/"), "?")
	events := append([]string{`"application.received", "data": {}`,
		`"application.approved", "data": {"approved_amount": "800000.00", "annual_rate": "0.0345", "term_days": 180,
			"repayment_account": {"bank_name": "齐鲁银行济南分行", "account_no": "6222 0216 0009 8765", "account_name": "泉城软件有限公司"}}`},
		more...)
	for _, ev := range events {
		e.bankEvent(appID, ev)
	}
	return appID
}

// bankEvent applies the bank qilu's event of the application: its type
// and data as `"type", "data": {...}`.
func (e *env) bankEvent(appID, ev string) {
	e.t.Helper()
	body := fmt.Sprintf(`{"event_id": %q, "occurred_at": "2026-11-21T02:00:00Z", "application_id": %q, "bank_reference": "REF", "type": %s}`,
		uuid.NewString(), appID, ev)
	if _, _, err := e.events.Apply(e.t.Context(), "qilu", []byte(body), nil); err != nil {
		e.t.Fatalf("%s: %v", ev, err)
	}
}

// disbursed is a loan.disbursed event for approve.
const disbursed = `"loan.disbursed", "data": {"loan_id": "LN-1", "disbursement_id": "D1", "amount": "800000.00",
	"value_date": "2026-11-22", "maturity_date": "2027-05-21", "annual_rate": "0.0345"}`

// purchaserUser registers the purchaser under jinan-pprc (jn-edu, the seed
// contracts' purchaser, is known from them) and makes a user of role
// purchaser for it.
func (e *env) purchaserUser(username, purchaserID, name string) {
	e.t.Helper()
	if _, _, err := e.contracts.RegisterPurchaser(e.t.Context(), contracts.PurchaserRegistration{ID: purchaserID, Name: name,
		IssuerID: "jinan-pprc"}, "test"); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.auth.CreateUser(e.t.Context(), auth.NewUser{Username: username, Password: password, Role: string(auth.RolePurchaser),
		PurchaserIssuerID: "jinan-pprc", PurchaserID: purchaserID}, "test"); err != nil {
		e.t.Fatal(err)
	}
}

// pay records a treasury payment of quancheng's contract by the payment
// system gk (registered if it is not yet) into the account.
func (e *env) pay(paymentID, contractNo, amount string, into lending.Account) lending.ContractPayment {
	e.t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	jwks, _ := json.Marshal(signature.Signer{ID: "gk", KeyID: "gk-1", Key: key, Algorithm: "EdDSA"}.PublicJWKS())
	if _, _, err := e.contracts.RegisterPaymentSystem(e.t.Context(), contracts.PaymentSystemRegistration{ID: "gk", Name: "济南市财政国库支付中心",
		JWKS: jwks, Algorithms: []string{"EdDSA"}}, "test"); err != nil {
		e.t.Fatal(err)
	}
	p, _, err := e.lending.RecordPayment(e.t.Context(), "gk", lending.PaymentRecord{PaymentID: paymentID, ContractNo: contractNo,
		IssuerID: "jinan-pprc", PurchaserID: "jn-edu", Amount: money.MustAmount(amount), PaidOn: money.MustDate("2026-12-01"),
		PayeeAccount: into}, "payment_system:gk")
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// TestPurchaserConfirms: the purchaser's user sees the receivable waiting
// for it, opens what it is asked to confirm, is told each bad field of
// its forms in Chinese, and confirms; the page then shows it confirmed and
// the lock confirmed. Another purchaser's user is not found the contract;
// a supplier may not open the purchaser's pages.
func TestPurchaserConfirms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	supplier := e.client()
	supplier.login("quancheng")
	e.approve(supplier)
	id := e.contract[quancheng]
	e.purchaserUser("jn-edu", "jn-edu", "济南市教育局")
	e.purchaserUser("jn-health", "jn-health", "济南市卫生健康委员会")

	wantStatus(t, supplier.get("/purchaser"), http.StatusForbidden)
	wantStatus(t, supplier.get("/purchaser/contracts/"+id), http.StatusForbidden)

	c := e.client()
	c.login("jn-edu")
	p := c.get("/purchaser")
	wantStatus(t, p, http.StatusOK)
	// Pending first, then confirmed and refused; names beside ids.
	wantContains(t, p, "应收账款确权", `id="receivables-pending"`, "待确权", `<a href="/purchaser/contracts/`+id+`">HT-JNCG-2026-0815</a>`,
		"泉城软件有限公司", quancheng, "齐鲁银行", "800,000.00", "1,200,000.00", "待采购人确权")
	if i, j := strings.Index(p.body, `id="receivables-pending"`), strings.Index(p.body, `id="receivables-confirmed"`); i < 0 || j < i {
		t.Fatalf("the pending receivables are not first:\n%s", p.body)
	}
	if strings.Contains(p.body, "HT-JNCG-2026-0816") { // lixia's contract: no approved financing, nothing to confirm
		t.Fatalf("a contract without approved financing is listed:\n%s", p.body)
	}

	page := "/purchaser/contracts/" + id
	p = c.get(page)
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, "请确认的内容", "济南市教育局", "贵单位应付金额", `<dd class="strong" id="owed">1,200,000.00 元</dd>`,
		"2026-01-01 – 2099-12-31", "付款安排", `<td>2099-12-31</td><td class="num">1,200,000.00</td>`,
		"银行的还款账户", "齐鲁银行济南分行", "6222 0216 0009 8765", `data-lock="proposed">待采购人确认</span>`,
		`id="confirmed_amount" name="confirmed_amount" inputmode="decimal" value="1200000.00"`,
		`name="repayment_account.account_no" readonly value="6222 0216 0009 8765"`, "还没有付款记录")

	// Another purchaser: not found, on the page and the forms.
	other := e.client()
	other.login("jn-health")
	p2 := other.get("/purchaser")
	wantStatus(t, p2, http.StatusOK)
	if strings.Contains(p2.body, "HT-JNCG-2026-0815") {
		t.Fatalf("another purchaser sees the receivable:\n%s", p2.body)
	}
	wantStatus(t, other.get(page), http.StatusNotFound)
	wantStatus(t, other.post(page+"/confirm", url.Values{"csrf": {other.csrf(p2)}, "confirmed_amount": {"1200000.00"}}), http.StatusNotFound)
	wantStatus(t, other.post(page+"/refuse", url.Values{"csrf": {other.csrf(p2)}, "reason": {"not ours"}}), http.StatusNotFound)

	form := func(amount string) url.Values {
		return url.Values{"csrf": {c.csrf(p)}, "confirmed_amount": {amount}, "repayment_account.bank_name": {lockedAccount.BankName},
			"repayment_account.account_no": {lockedAccount.AccountNo}, "repayment_account.account_name": {lockedAccount.AccountName},
			"payment_terms": {`[{"due_on": "2099-12-31", "amount": "1200000.00"}]`}}
	}
	wantStatus(t, c.post(page+"/confirm", url.Values{"confirmed_amount": {"1200000.00"}}), http.StatusForbidden) // no CSRF token

	res := c.post(page+"/confirm", form("一百二十万"))
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantContains(t, res, `role="alert"`, `<li data-field="confirmed_amount">确认金额（元）：请输入金额，最多两位小数`, `id="confirmed_amount-error"`, "一百二十万")
	res = c.post(page+"/refuse", url.Values{"csrf": {c.csrf(p)}, "reason": {"  "}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantContains(t, res, `<li data-field="reason">拒绝理由：必填</li>`, `id="reason-error"`)
	// Below the 800000.00 approved: the service refuses it.
	res = c.post(page+"/confirm", form("100000.00"))
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantContains(t, res, `role="alert"`, "确认内容与融资不符", `<li data-field="confirmed_amount">确认金额（元）：须在 800000.00 到 1200000.00 之间</li>`)
	// Another account than the bank approved.
	bad := form("1200000.00")
	bad.Set("repayment_account.account_no", "6222 0000 0000 0001")
	res = c.post(page+"/confirm", bad)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantContains(t, res, `role="alert"`, "确认内容与融资不符", `<li data-field="repayment_account.account_no">账号：须为银行批准的还款账户</li>`,
		`id="repayment_account.account_no-error"`)
	if got, err := e.lending.Receivable(t.Context(), lending.Scope{}, id); err != nil || got.Status != lending.ReceivablePending {
		t.Fatalf("after refused forms: %+v %v", got, err)
	}

	res = c.post(page+"/confirm", form("1,200,000.00"))
	wantStatus(t, res, http.StatusSeeOther)
	if loc := res.header.Get("Location"); loc != page+"?ok=receivable_confirmed" {
		t.Fatalf("Location %q", loc)
	}
	p = c.get(page + "?ok=receivable_confirmed")
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, "已确认应收账款", `id="rcv-status" data-status="confirmed">采购人已确权</span>`,
		`data-lock="confirmed">采购人已确认</span>`, "确认金额", "1,200,000.00")
	if strings.Contains(p.body, `id="confirm-form"`) || strings.Contains(p.body, `id="refuse-form"`) {
		t.Fatalf("forms still offered after the confirmation:\n%s", p.body)
	}
	got, err := e.lending.Receivable(t.Context(), lending.Scope{}, id)
	if err != nil || got.Status != lending.ReceivableConfirmed || got.ConfirmedAmount == nil || got.ConfirmedAmount.String() != "1200000.00" ||
		got.ConfirmedBy == "" {
		t.Fatalf("after the confirmation: %+v %v", got, err)
	}
	p = c.get("/purchaser")
	wantContains(t, p, `id="receivables-confirmed"`, `data-status="confirmed">采购人已确权</span>`)

	// English is one click away.
	c.get("/lang/en?next=%2F")
	p = c.get(page)
	wantContains(t, p, "What you are asked to confirm", "confirmed by the purchaser", "The bank&#39;s repayment account")
}

// TestPurchaserConfirmsNewAccount: after the bank consents to a new
// repayment account of the locked loan, the purchaser's page shows it
// waiting beside the old one, and the form confirms it.
func TestPurchaserConfirmsNewAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	supplier := e.client()
	supplier.login("quancheng")
	appID := e.approve(supplier)
	id := e.contract[quancheng]
	e.purchaserUser("jn-edu", "jn-edu", "济南市教育局")
	e.confirm()
	e.bankEvent(appID, disbursed)
	e.bankEvent(appID, `"account.change_consented", "data": {"loan_id": "LN-1",
		"repayment_account": {"bank_name": "齐鲁银行历下支行", "account_no": "6222 0216 0001 2345", "account_name": "泉城软件有限公司"}}`)

	c := e.client()
	c.login("jn-edu")
	page := "/purchaser/contracts/" + id
	p := c.get(page)
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, `id="new-account"`, "银行同意变更的新还款账户", "齐鲁银行历下支行 · 6222 0216 0001 2345", "原账户仍然锁定",
		`data-lock="locked">已锁定</span>`, "确认新的还款账户",
		`name="repayment_account.account_no" readonly value="6222 0216 0001 2345"`, `name="confirmed_amount" inputmode="decimal" value="1200000.00"`)
	if strings.Contains(p.body, `id="refuse-form"`) {
		t.Fatalf("a confirmed receivable offers the refusal:\n%s", p.body)
	}
	res := c.post(page+"/confirm", url.Values{"csrf": {c.csrf(p)}, "confirmed_amount": {"1200000.00"},
		"repayment_account.bank_name": {"齐鲁银行历下支行"}, "repayment_account.account_no": {"6222 0216 0001 2345"},
		"repayment_account.account_name": {"泉城软件有限公司"}, "payment_terms": {`[{"due_on": "2099-12-31", "amount": "1200000.00"}]`}})
	wantStatus(t, res, http.StatusSeeOther)
	p = c.get(page)
	wantContains(t, p, `data-status="confirmed">采购人已确权</span>`, "<dd>6222 0216 0001 2345</dd>")
	if strings.Contains(p.body, `id="new-account"`) || strings.Contains(p.body, `id="confirm-form"`) {
		t.Fatalf("the new account still waits after its confirmation:\n%s", p.body)
	}
}

// TestPurchaserRefuses: the refusal with its reason shows on the
// purchaser's page and on the supplier's contract and application pages,
// and no form is offered any more.
func TestPurchaserRefuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	supplier := e.client()
	supplier.login("quancheng")
	appID := e.approve(supplier)
	id := e.contract[quancheng]
	e.purchaserUser("jn-edu", "jn-edu", "济南市教育局")
	c := e.client()
	c.login("jn-edu")
	page := "/purchaser/contracts/" + id
	p := c.get(page)
	res := c.post(page+"/refuse", url.Values{"csrf": {c.csrf(p)}, "reason": {"合同尚未验收，付款金额待定"}})
	wantStatus(t, res, http.StatusSeeOther)
	p = c.get(page)
	wantContains(t, p, `data-status="refused">采购人已拒绝</span>`, `<dd id="refusal-reason">合同尚未验收，付款金额待定</dd>`, `data-lock="refused"`)
	if strings.Contains(p.body, `id="confirm-form"`) || strings.Contains(p.body, `id="refuse-form"`) {
		t.Fatalf("forms still offered after the refusal:\n%s", p.body)
	}
	p = supplier.get("/portal/contracts/" + id)
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, "回款控制", `id="receivable-status" data-status="refused">采购人已拒绝</span>`, "合同尚未验收，付款金额待定")
	p = supplier.get("/portal/applications/" + appID)
	wantContains(t, p, `id="app-receivable" data-status="refused">采购人已拒绝</span>`)
}

// confirm has jn-edu confirm quancheng's contract at 1200000.00 into
// lockedAccount, as its user's form does.
func (e *env) confirm() {
	e.t.Helper()
	_, _, err := e.lending.Confirm(e.t.Context(), lending.Scope{PurchaserIssuerID: "jinan-pprc", PurchaserID: "jn-edu"}, e.contract[quancheng],
		lending.Confirmation{ConfirmedAmount: money.MustAmount("1200000.00"), RepaymentAccount: lockedAccount,
			PaymentTerms: []byte(`[{"due_on": "2099-12-31", "amount": "1200000.00"}]`)}, "user:jn-edu")
	if err != nil {
		e.t.Fatal(err)
	}
}

// otherAccount is the supplier's own account, not the locked one.
var otherAccount = lending.Account{BankName: "招商银行济南分行", AccountNo: "5319 0000 1111", AccountName: "泉城软件有限公司"}

// TestSupplierSeesLockAndPayments: the supplier's contract page shows the
// lock and the treasury's payments with where each went; another supplier
// is not found the contract; the purchaser sees the same payments.
func TestSupplierSeesLockAndPayments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	supplier := e.client()
	supplier.login("quancheng")
	id := e.contract[quancheng]
	p := supplier.get("/portal/contracts/" + id)
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, "回款控制", "尚无银行批准的融资", "还没有付款记录")

	appID := e.approve(supplier)
	e.purchaserUser("jn-edu", "jn-edu", "济南市教育局")
	e.confirm()
	e.pay("GK-2026-0001", "HT-JNCG-2026-0815", "300000.00", lockedAccount)
	e.pay("GK-2026-0002", "HT-JNCG-2026-0815", "200000.00", otherAccount)

	p = supplier.get("/portal/contracts/" + id)
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, `id="receivable-status" data-status="confirmed">采购人已确权</span>`, `data-lock="confirmed">采购人已确认</span>`,
		"齐鲁银行济南分行", "6222 0216 0009 8765", "合同付款（国库集中支付）",
		`<tr data-payment="GK-2026-0001" data-status="matched">`, "300,000.00", "付入锁定的还款账户（用于还款）",
		`<tr data-payment="GK-2026-0002" data-status="misdirected">`, "200,000.00", "付入其他账户（不是锁定的还款账户）",
		"招商银行济南分行", "5319 0000 1111")
	if strings.Contains(p.body, `id="disbursed-early"`) {
		t.Fatalf("a disbursement before confirmation shown with none:\n%s", p.body)
	}
	p = supplier.get("/portal/applications/" + appID)
	wantContains(t, p, `id="app-receivable" data-status="confirmed">采购人已确权</span>`, `href="/portal/contracts/`+id+`#contract-payments"`)

	other := e.client()
	other.login("lixia")
	wantStatus(t, other.get("/portal/contracts/"+id), http.StatusNotFound)

	c := e.client()
	c.login("jn-edu")
	p = c.get("/purchaser/contracts/" + id)
	wantContains(t, p, `data-payment="GK-2026-0001" data-status="matched"`, `data-payment="GK-2026-0002" data-status="misdirected"`)
}

// TestDisbursedBeforeConfirmationShown: a bank's disbursement before the
// purchaser confirmed shows on the purchaser's and the supplier's pages,
// with the lock locked, and raises the officers' alert.
func TestDisbursedBeforeConfirmationShown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	supplier := e.client()
	supplier.login("quancheng")
	appID := e.approve(supplier, disbursed)
	id := e.contract[quancheng]
	e.purchaserUser("jn-edu", "jn-edu", "济南市教育局")
	for _, p := range []page{supplier.get("/portal/contracts/" + id), func() page {
		c := e.client()
		c.login("jn-edu")
		return c.get("/purchaser/contracts/" + id)
	}()} {
		wantStatus(t, p, http.StatusOK)
		wantContains(t, p, `data-status="pending">待采购人确权</span>`, `data-lock="locked">已锁定</span>`,
			`<p class="alert" id="disbursed-early">银行在采购人确认之前已经放款`)
	}
	c := e.client()
	c.login("officer")
	p := c.get("/console/alerts?kind=disbursed_before_confirmation")
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, `data-kind="disbursed_before_confirmation"`, "确权前放款", "银行在采购人确权之前放款",
		"HT-JNCG-2026-0815", `href="/console/contracts/`+id+`"`, `href="/console/audit?type=application&amp;id=`+appID+`"`)
}

// TestAlertLinks: each kind of alert links to what it concerns, the dead
// deliveries only for administrators, who alone may open that page.
func TestAlertLinks(t *testing.T) {
	t.Parallel()
	contract, app := "c1", "a1"
	officer := &view{Lang: defaultLang, User: &auth.User{Role: auth.RoleOfficer}}
	admin := &view{Lang: defaultLang, User: &auth.User{Role: auth.RoleAdmin}}
	for _, tc := range []struct {
		v    *view
		a    lending.Alert
		want string
	}{
		{officer, lending.Alert{Kind: lending.AlertMisdirectedPayment, ContractID: &contract, ApplicationID: &app}, "/console/contracts/c1 /console/audit?type=application&id=a1"},
		{officer, lending.Alert{Kind: lending.AlertUnmatchedPayment}, ""},
		{officer, lending.Alert{Kind: lending.AlertDisbursedBeforeConfirmation, ContractID: &contract, ApplicationID: &app}, "/console/contracts/c1 /console/audit?type=application&id=a1"},
		{officer, lending.Alert{Kind: lending.AlertAmendmentPending, ContractID: &contract}, "/console/amendments"},
		{officer, lending.Alert{Kind: lending.AlertOverdueLoan, ApplicationID: &app}, "/console/audit?type=application&id=a1"},
		{officer, lending.Alert{Kind: lending.AlertDeadDelivery, ApplicationID: &app}, "/console/audit?type=application&id=a1"},
		{admin, lending.Alert{Kind: lending.AlertDeadDelivery, ApplicationID: &app}, "/admin/deliveries?status=dead /console/audit?type=application&id=a1"},
	} {
		var got []string
		for _, l := range alertLinks(tc.v, tc.a) {
			if !i18n.Has(l.Key) {
				t.Errorf("%s: link words %q not in the catalogue", tc.a.Kind, l.Key)
			}
			got = append(got, l.Href)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s as %s: links %q, want %q", tc.a.Kind, tc.v.User.Role, got, tc.want)
		}
	}
}

var nextPage = regexp.MustCompile(`href="(/console/alerts\?[^"]*)" id="next-page"`)

// TestAlertsPage: officers see the open alerts in words, newest first,
// with names beside ids and links to what they concern, filtered by kind
// and paged; the dashboard counts them; suppliers and purchasers may not
// open them.
func TestAlertsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	supplier := e.client()
	supplier.login("quancheng")
	e.approve(supplier)
	id := e.contract[quancheng]
	e.purchaserUser("jn-edu", "jn-edu", "济南市教育局")
	e.confirm()
	e.pay("GK-2026-0002", "HT-JNCG-2026-0815", "200000.00", otherAccount)
	e.pay("GK-2026-0003", "HT-NO-SUCH", "50000.00", lockedAccount)

	wantStatus(t, supplier.get("/console/alerts"), http.StatusForbidden)
	pc := e.client()
	pc.login("jn-edu")
	wantStatus(t, pc.get("/console/alerts"), http.StatusForbidden)
	wantStatus(t, pc.get("/console/contracts/"+id), http.StatusForbidden)

	c := e.client()
	c.login("officer")
	p := c.get("/console/alerts")
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, "预警", `<a href="/console/alerts">预警</a>`,
		`data-kind="misdirected_payment"`, "误付款项", "采购人的付款没有付入锁定的还款账户",
		`data-kind="unmatched_payment"`, "未匹配的付款", "收到一笔付款记录，但找不到对应的合同",
		"HT-JNCG-2026-0815", "泉城软件有限公司", "齐鲁银行", `href="/console/contracts/`+id+`"`)
	// Newest first: the unmatched payment, recorded last.
	if i, j := strings.Index(p.body, `data-kind="unmatched_payment"`), strings.Index(p.body, `data-kind="misdirected_payment"`); i > j {
		t.Fatalf("the alerts are not newest first:\n%s", p.body)
	}
	p = c.get("/console/alerts?kind=unmatched_payment")
	wantStatus(t, p, http.StatusOK)
	if strings.Contains(p.body, `data-kind="misdirected_payment"`) || !strings.Contains(p.body, `data-kind="unmatched_payment"`) {
		t.Fatalf("the filter by kind:\n%s", p.body)
	}
	// Two alerts: the misdirected and the unmatched payment.
	p = c.get("/console")
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, `<span class="tile-n" id="alert-count">2</span>`, "待处理的预警")

	p = c.get("/console/contracts/" + id)
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, "合同的回款控制与付款", "济南市教育局", "泉城软件有限公司", `data-lock="confirmed"`,
		`data-payment="GK-2026-0002" data-status="misdirected"`)

	// Paging: 49 more unmatched payments make 51 alerts, 50 on the first
	// page and the oldest, the misdirected payment, on the next.
	for i := 4; i <= 52; i++ {
		e.pay(fmt.Sprintf("GK-2026-%04d", i), "HT-NO-SUCH", "1000.00", lockedAccount)
	}
	p = c.get("/console")
	wantContains(t, p, `<span class="tile-n" id="alert-count">51</span>`)
	p = c.get("/console/alerts")
	if n := strings.Count(p.body, "<tr data-kind="); n != 50 {
		t.Fatalf("%d alerts on the first page, want 50", n)
	}
	next := nextPage.FindStringSubmatch(p.body)
	if next == nil {
		t.Fatalf("no next page:\n%s", p.body)
	}
	p = c.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	wantStatus(t, p, http.StatusOK)
	if n := strings.Count(p.body, "<tr data-kind="); n != 1 || !strings.Contains(p.body, `data-kind="misdirected_payment"`) {
		t.Fatalf("%d alerts on the second page, want the misdirected payment:\n%s", n, p.body)
	}
}
