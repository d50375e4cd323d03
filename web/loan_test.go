package web

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/xuri/excelize/v2"
)

// loan applies through the portal as quancheng and has the bank qilu
// approve it, disburse two tranches (D1 500000.00, D2 300000.00, both
// valued 2026-11-22) and take two repayments: R1 names D2 (100000.00 of
// principal, 862.50 of interest for 2026-11-22 to 2026-12-01), R2 repays
// 50000.00 of the whole loan, which comes off D1 first. It returns the
// application's id. The purchaser confirms the receivable once the bank
// approved.
func (e *env) loan(c *client) string {
	e.t.Helper()
	return e.loanConfirmed(c, true)
}

// loanConfirmed is loan, with the purchaser's confirmation or (a bank
// disbursing before it) without.
func (e *env) loanConfirmed(c *client, confirm bool) string {
	e.t.Helper()
	if _, _, err := e.banks.Register(e.t.Context(), bankRegistration("qilu", "http://127.0.0.1:1"), "test"); err != nil {
		e.t.Fatal(err)
	}
	apply := "/portal/contracts/" + e.contract[quancheng] + "/apply"
	res := c.post(apply, url.Values{"csrf": {c.csrf(c.get(apply))}, "bank_id": {"qilu"}, "amount": {"800000.00"},
		"term_days": {"180"}, "purpose": {"materials"}})
	wantStatus(e.t, res, http.StatusSeeOther)
	appID, _, _ := strings.Cut(strings.TrimPrefix(res.header.Get("Location"), "/portal/applications/"), "?")
	for _, ev := range []struct{ typ, data string }{
		{"application.received", `{}`},
		{"application.approved", `{"approved_amount": "800000.00", "annual_rate": "0.0345", "term_days": 180,
			"repayment_account": {"bank_name": "齐鲁银行济南分行", "account_no": "6222 0216 0009 8765", "account_name": "泉城软件有限公司"}}`},
		{"loan.disbursed", `{"loan_id": "LN-1", "disbursement_id": "D1", "amount": "500000.00", "value_date": "2026-11-22", "maturity_date": "2027-05-21", "annual_rate": "0.0345"}`},
		{"loan.disbursed", `{"loan_id": "LN-1", "disbursement_id": "D2", "amount": "300000.00", "value_date": "2026-11-22", "maturity_date": "2027-05-21", "annual_rate": "0.0345"}`},
		{"loan.repaid", `{"loan_id": "LN-1", "repayment_id": "R1", "disbursement_id": "D2", "principal": "100000.00", "interest": "862.50",
			"paid_on": "2026-12-01", "interest_period": {"start": "2026-11-22", "end": "2026-12-01"}}`},
		{"loan.repaid", `{"loan_id": "LN-1", "repayment_id": "R2", "principal": "50000.00", "interest": "0.00", "paid_on": "2026-12-01"}`},
	} {
		body := fmt.Sprintf(`{"event_id": %q, "type": %q, "occurred_at": "2026-11-21T02:00:00Z", "application_id": %q, "bank_reference": "REF", "data": %s}`,
			uuid.NewString(), ev.typ, appID, ev.data)
		if _, _, err := e.events.Apply(e.t.Context(), "qilu", []byte(body), nil); err != nil {
			e.t.Fatalf("%s: %v", ev.typ, err)
		}
		if ev.typ == "application.approved" && confirm {
			e.confirmReceivable(appID) // the purchaser confirms before the bank disburses
		}
	}
	return appID
}

// TestLoanPage: the supplier's application page shows the loan's tranches
// with what each has outstanding, its repayments with their tranche (or
// the whole loan), and the repayment account with its lock's state, in
// zh-CN first and in English; another supplier gets 404.
func TestLoanPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	c.login("quancheng")
	appID := e.loan(c)

	p := c.get("/portal/applications/" + appID)
	wantStatus(t, p, http.StatusOK)
	// Outstanding: D1 500000.00 − 50000.00 (R2, oldest tranche first) =
	// 450000.00; D2 300000.00 − 100000.00 (R1) = 200000.00; the loan
	// 800000.00 − 150000.00 = 650000.00.
	wantContains(t, p, "分笔放款", "放款编号", "未还本金", "计息期间",
		`<tr data-tranche="D1"><td>D1</td><td class="num">500,000.00</td>`, `<td class="num">3.45%</td><td class="num">450,000.00</td>`,
		`<tr data-tranche="D2"><td>D2</td><td class="num">300,000.00</td>`, `<td class="num">200,000.00</td>`,
		"2027-05-21", `<dd class="strong">650,000.00 元</dd>`,
		`<tr data-repayment="R1"><td>D2</td><td class="num">100,000.00</td>`, `<td class="num">862.50</td><td>2026-11-22 – 2026-12-01</td><td>2026-12-01</td>`,
		`<tr data-repayment="R2"><td>整笔</td><td class="num">50,000.00</td>`,
		"还款账户", "齐鲁银行济南分行", "6222 0216 0009 8765", "泉城软件有限公司",
		`id="account-lock" data-lock="locked">已锁定</span>`)

	c.get("/lang/en?next=%2F")
	p = c.get("/portal/applications/" + appID)
	wantContains(t, p, "Tranches", "Repayment account", `data-lock="locked">locked</span>`, `<td>Whole loan</td>`)

	other := e.client()
	other.login("lixia")
	wantStatus(t, other.get("/portal/applications/"+appID), http.StatusNotFound)
}

// TestLoanPageStates: overdue, drawdown ended and closed show when set.
func TestLoanPageStates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	c.login("quancheng")
	appID := e.loan(c)
	p := c.get("/portal/applications/" + appID)
	if strings.Contains(p.body, `id="loan-overdue"`) || strings.Contains(p.body, `id="loan-closed"`) || strings.Contains(p.body, `id="loan-drawdown-ended"`) {
		t.Fatalf("states shown before they are set:\n%s", p.body)
	}
	// Set as the bank's events would (another part records them).
	if _, err := e.db.Exec(`UPDATE loans SET overdue_since = '2026-12-02', overdue_principal = 650000.00,
		drawdown_ended_on = '2026-12-03', closed_on = '2026-12-04', close_reason = 'written_off'`); err != nil {
		t.Fatal(err)
	}
	p = c.get("/portal/applications/" + appID)
	wantContains(t, p, "逾期，自", `<span class="badge badge-overdue">2026-12-02</span>`, "650,000.00",
		`<dd id="loan-drawdown-ended">2026-12-03</dd>`, `<dd id="loan-closed">2026-12-04 · 已核销</dd>`)
}

// TestAdminSettlementAccount: an administrator registers a supplier's
// settlement account on the suppliers' page, sees it on the supplier's
// view, and a partly filled account names each missing field.
func TestAdminSettlementAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	c.login("admin")
	p := c.get("/admin/suppliers")
	wantContains(t, p, "结算账户（贴息收款）", `<label for="settlement_account.account_no">账号</label>`)
	form := url.Values{"csrf": {c.csrf(p)}, "uscc": {quancheng}, "name": {"泉城软件有限公司"}, "industry": {"software_it"},
		"employees": {"40"}, "annual_revenue": {"8000000.00"}, "total_assets": {"5000000.00"}}

	partial := url.Values{}
	for k, v := range form {
		partial[k] = v
	}
	partial.Set("settlement_account.bank_name", "齐鲁银行")
	res := c.post("/admin/suppliers", partial)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantContains(t, res, `id="settlement_account.account_no-error">必填`, `id="settlement_account.account_name-error">必填`, `value="齐鲁银行"`)
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM suppliers WHERE settlement_account IS NOT NULL`); err != nil || n != 0 {
		t.Fatalf("%d accounts stored after a refusal, %v", n, err)
	}

	form.Set("settlement_account.bank_name", "齐鲁银行济南分行")
	form.Set("settlement_account.account_no", "6222021600012345")
	form.Set("settlement_account.account_name", "泉城软件有限公司")
	res = c.post("/admin/suppliers", form)
	wantStatus(t, res, http.StatusOK)
	wantContains(t, res, `<dd id="settlement-account">齐鲁银行济南分行 · 6222021600012345 · 泉城软件有限公司</dd>`)

	p = c.get("/admin/suppliers?uscc=" + strings.ToLower(quancheng))
	wantContains(t, p, `<dd id="settlement-account">齐鲁银行济南分行 · 6222021600012345 · 泉城软件有限公司</dd>`,
		`name="settlement_account.account_no" type="text" value="6222021600012345"`)
	wantContains(t, c.get("/admin/suppliers?uscc="+lixia), `<dd id="settlement-account" class="muted">尚未登记</dd>`)
	wantStatus(t, c.get("/admin/suppliers?uscc=91350100M000100Y4X"), http.StatusNotFound)
}

// TestBatchFileLanguage: the console's payment files are headed in the
// officer's page language unless ?lang= says otherwise.
func TestBatchFileLanguage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sup := e.client()
	sup.login("quancheng")
	e.loan(sup) // R1 paid 862.50 of interest: a claim
	var claimID, amount string
	if err := e.db.QueryRow(`SELECT id, amount FROM subsidy_claims`).Scan(&claimID, &amount); err != nil {
		t.Fatal(err)
	}
	if _, err := e.subsidies.Approve(t.Context(), claimID, "officer-test"); err != nil {
		t.Fatal(err)
	}
	b, err := e.subsidies.CreateBatch(t.Context(), "test")
	if err != nil {
		t.Fatal(err)
	}
	c := e.client()
	c.login("officer")
	header := func(path string) []string {
		t.Helper()
		p := c.get(path)
		wantStatus(t, p, http.StatusOK)
		if strings.HasSuffix(strings.Split(path, "?")[0], ".xlsx") {
			f, err := excelize.OpenReader(bytes.NewReader([]byte(p.body)))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rows, err := f.GetRows(f.GetSheetList()[0])
			if err != nil {
				t.Fatal(err)
			}
			return rows[0]
		}
		body, ok := strings.CutPrefix(p.body, "\uFEFF")
		if !ok {
			t.Fatalf("%s: no UTF-8 byte order mark", path)
		}
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if rows[1][0] != claimID || rows[1][6] != amount || rows[1][13] != "待补充结算账户" && rows[1][13] != "settlement account missing" {
			t.Fatalf("claim line %q, want %s %s flagged", rows[1], claimID, amount)
		}
		return rows[0]
	}
	file := "/console/batches/" + b.ID
	if h := header(file + ".csv"); h[0] != "贴息申请编号" || h[4] != "结算账号" {
		t.Fatalf("default header %q", h)
	}
	if h := header(file + ".xlsx?lang=en"); h[0] != "Claim id" || h[4] != "Settlement account no." {
		t.Fatalf("?lang=en header %q", h)
	}
	c.get("/lang/en?next=%2F")
	if h := header(file + ".csv"); h[0] != "Claim id" {
		t.Fatalf("header in the officer's English %q", h)
	}
	if h := header(file + ".csv?lang=zh-CN"); h[0] != "贴息申请编号" {
		t.Fatalf("?lang=zh-CN header %q", h)
	}
	wantStatus(t, c.get(file+".csv?lang=fr"), http.StatusUnprocessableEntity)

	// The bank report, from the dashboard's form (last month by default),
	// in the page's language unless ?lang= says otherwise.
	c.get("/lang/zh-CN?next=%2F")
	wantContains(t, c.get("/console"), `action="/console/bank-report"`,
		`name="month" value="`+lastMonth(time.Now())+`"`, `name="format" value="csv"`, `name="format" value="xlsx"`)
	report := func(query, wantSheet, wantFirst, wantTotal string) {
		t.Helper()
		p := c.get("/console/bank-report?" + query)
		wantStatus(t, p, http.StatusOK)
		sheet := ""
		var rows [][]string
		if strings.Contains(query, "format=xlsx") {
			f, err := excelize.OpenReader(strings.NewReader(p.body))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sheet = f.GetSheetList()[0]
			if rows, err = f.GetRows(sheet); err != nil {
				t.Fatal(err)
			}
		} else {
			body, ok := strings.CutPrefix(p.body, "\uFEFF")
			if !ok {
				t.Fatalf("%s: no UTF-8 byte order mark", query)
			}
			var err error
			if rows, err = csv.NewReader(strings.NewReader(body)).ReadAll(); err != nil {
				t.Fatal(err)
			}
		}
		if sheet != wantSheet || rows[0][0] != wantFirst || rows[len(rows)-1][0] != wantTotal {
			t.Fatalf("%s: sheet %q rows %q", query, sheet, rows)
		}
	}
	report("month=2026-11&format=csv", "", "月份", "合计")
	report("month=2026-11&format=xlsx", "银行月报", "月份", "合计")
	report("month=2026-11&format=xlsx&lang=en", "Bank report", "Month", "Total")
	c.get("/lang/en?next=%2F")
	report("month=2026-11&format=csv", "", "Month", "Total")
	wantStatus(t, c.get("/console/bank-report?month=2026-11&format=pdf"), http.StatusNotFound)
	wantStatus(t, c.get("/console/bank-report?month=2026-13&format=csv"), http.StatusUnprocessableEntity)
}

// TestLastMonth: the bank report offered is the month before today's in
// Asia/Shanghai (UTC+8).
func TestLastMonth(t *testing.T) {
	t.Parallel()
	for now, want := range map[string]string{
		"2027-01-15T00:00:00Z": "2026-12", // across the year
		"2026-11-30T16:30:00Z": "2026-11", // 2026-12-01 00:30 in Shanghai
		"2026-11-30T15:30:00Z": "2026-10", // still 2026-11-30 in Shanghai
		"2026-03-31T00:00:00Z": "2026-02",
	} {
		at, _ := time.Parse(time.RFC3339, now)
		if got := lastMonth(at); got != want {
			t.Errorf("lastMonth(%s) = %s, want %s", now, got, want)
		}
	}
}
