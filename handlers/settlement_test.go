package handlers

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const supplierBody = `{"uscc": "91350100M000100Y43", "name": "Quancheng Software Co.", "industry": "software_it",
	"employees": 42, "annual_revenue": "8000000.00", "total_assets": "5000000.00"%s}`

// TestSupplierSettlementAccount: an administrator registers, keeps and
// changes a supplier's settlement account; each change is audited; bad
// fields are all named in one 422 and change nothing.
func TestSupplierSettlementAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, admin := e.user("root", "admin", "")
	account := func(r resp) any {
		t.Helper()
		if r.status != 200 && r.status != 201 {
			t.Fatalf("register: %d %s", r.status, r.body)
		}
		return r.json(t)["settlement_account"]
	}
	audited := func() int {
		return e.count(`audit_log WHERE entity_type = 'supplier' AND entity_id = '` + usccA + `'`)
	}

	// Registered without an account: none.
	if a := account(e.do("POST", "/v1/admin/suppliers", admin, fmt.Sprintf(supplierBody, ""))); a != nil {
		t.Fatalf("account %v, want none", a)
	}
	// With one: trimmed and kept.
	body := fmt.Sprintf(supplierBody, `, "settlement_account": {"bank_name": " 齐鲁银行济南分行 ", "account_no": "6222 0216 0001 2345", "account_name": "泉城软件有限公司"}`)
	want := map[string]any{"bank_name": "齐鲁银行济南分行", "account_no": "6222 0216 0001 2345", "account_name": "泉城软件有限公司"}
	before := audited()
	if diff := cmp.Diff(want, account(e.do("POST", "/v1/admin/suppliers", admin, body))); diff != "" {
		t.Fatalf("account (-want +got):\n%s", diff)
	}
	if n := audited(); n != before+1 {
		t.Fatalf("audit rows %d, want %d", n, before+1)
	}
	// A registration without settlement_account keeps it, and changes nothing.
	before = audited()
	if diff := cmp.Diff(want, account(e.do("POST", "/v1/admin/suppliers", admin, fmt.Sprintf(supplierBody, "")))); diff != "" {
		t.Fatalf("account after a registration without one (-want +got):\n%s", diff)
	}
	if n := audited(); n != before {
		t.Fatalf("audit rows %d after no change, want %d", n, before)
	}

	// Bad fields, all named at once; nothing changes.
	before = audited()
	for _, c := range []struct {
		name, body string
		fields     []string
	}{
		{"AllThree", `, "settlement_account": {"bank_name": "", "account_no": "=1+1", "account_name": "x\u0007y"}`,
			[]string{"settlement_account.account_name", "settlement_account.account_no", "settlement_account.bank_name"}},
		{"Missing", `, "settlement_account": {"bank_name": "齐鲁银行"}`,
			[]string{"settlement_account.account_name", "settlement_account.account_no"}},
		{"TooLong", `, "settlement_account": {"bank_name": "` + strings.Repeat("行", 101) + `", "account_no": "1234", "account_name": "` + strings.Repeat("a", 201) + `"}`,
			[]string{"settlement_account.account_name", "settlement_account.bank_name"}},
		{"AccountNoShape", `, "settlement_account": {"bank_name": "b", "account_no": "12  34", "account_name": "n"}`,
			[]string{"settlement_account.account_no"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := wantProblem(t, e.do("POST", "/v1/admin/suppliers", admin, fmt.Sprintf(supplierBody, c.body)), 422, "invalid")
			var got []string
			for _, f := range p["errors"].([]any) {
				got = append(got, f.(map[string]any)["field"].(string))
			}
			slices.Sort(got)
			if diff := cmp.Diff(c.fields, got); diff != "" {
				t.Fatalf("fields named (-want +got):\n%s", diff)
			}
		})
	}
	// A bad USCC is named with the account's fields, in the same answer.
	p := wantProblem(t, e.do("POST", "/v1/admin/suppliers", admin, strings.Replace(fmt.Sprintf(supplierBody, `, "settlement_account": {}`), usccA, "91350100M000100Y4X", 1)), 422, "invalid")
	if n := len(p["errors"].([]any)); n < 4 {
		t.Fatalf("a bad USCC and three missing fields named in %d errors: %v", n, p)
	}
	wantProblem(t, e.do("POST", "/v1/admin/suppliers", admin, fmt.Sprintf(supplierBody, `, "settlement_account": {"bank_name": "b", "account_no": "1234", "account_name": "n", "iban": "x"}`)), 422, "invalid")
	var stored string
	if err := e.db.Get(&stored, `SELECT settlement_account->>'account_no' FROM suppliers WHERE uscc = $1`, usccA); err != nil || stored != "6222 0216 0001 2345" {
		t.Fatalf("stored account no %q, %v", stored, err)
	}
	if n := audited(); n != before {
		t.Fatalf("audit rows %d after refusals, want %d", n, before)
	}
}

// TestLoanJSONTranchesAndAccount: GET /v1/loans/{id} shows each tranche's
// outstanding principal, each repayment's tranche and interest period,
// and the repayment account with its lock's state.
func TestLoanJSONTranchesAndAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu, appID, tok := e.disbursedLoan() // D1 500000.00 and D2 300000.00, both valued 2026-11-22
	e.repaidOn("2026-12-22")
	r := qilu.send("ev-R1", "loan.repaid", appID, `{"loan_id": "LN-1", "repayment_id": "R1", "disbursement_id": "D2",
		"principal": "100000.00", "interest": "862.50", "paid_on": "2026-12-22", "interest_period": {"start": "2026-11-22", "end": "2026-12-22"}}`)
	if r.status != 200 {
		t.Fatalf("tranche repayment: %d %s", r.status, r.body)
	}
	// A whole-loan repayment reduces the oldest tranche first: D1 (same
	// value date, recorded first).
	qilu.repay(appID, "R2", "50000.00", "0.00", "2026-12-22", "2026-12-23")

	var list struct{ Items []map[string]any }
	json.Unmarshal(e.do("GET", "/v1/loans", tok, nil).body, &list)
	if len(list.Items) != 1 {
		t.Fatalf("loans %v", list.Items)
	}
	id := list.Items[0]["id"].(string)
	var loan struct {
		Outstanding   string `json:"outstanding"`
		Disbursements []struct {
			ID          string `json:"disbursement_id"`
			Amount      string `json:"amount"`
			Outstanding string `json:"outstanding"`
			ValueDate   string `json:"value_date"`
			Maturity    string `json:"maturity_date"`
			Rate        string `json:"annual_rate"`
		} `json:"disbursements"`
		Repayments []struct {
			ID       string                       `json:"repayment_id"`
			Tranche  string                       `json:"disbursement_id"`
			Period   *struct{ Start, End string } `json:"interest_period"`
			Interest string                       `json:"interest"`
		} `json:"repayments"`
		Account *struct {
			BankName  string `json:"bank_name"`
			AccountNo string `json:"account_no"`
			Status    string `json:"status"`
		} `json:"repayment_account"`
	}
	r = e.do("GET", "/v1/loans/"+id, tok, nil)
	if err := json.Unmarshal(r.body, &loan); err != nil || r.status != 200 {
		t.Fatalf("loan: %d %s %v", r.status, r.body, err)
	}
	// 800000.00 − 100000.00 − 50000.00 = 650000.00; D1 500000.00 − 50000.00
	// = 450000.00; D2 300000.00 − 100000.00 = 200000.00.
	got := fmt.Sprint(loan.Outstanding, " ", loan.Disbursements[0].ID, "=", loan.Disbursements[0].Outstanding, " ",
		loan.Disbursements[1].ID, "=", loan.Disbursements[1].Outstanding)
	if got != "650000.00 D1=450000.00 D2=200000.00" {
		t.Fatalf("outstanding %s\n%s", got, r.body)
	}
	if d := loan.Disbursements[0]; d.Amount != "500000.00" || d.ValueDate != "2026-11-22" || d.Maturity != "2027-05-21" || d.Rate != "0.034500" && d.Rate != "0.0345" {
		t.Fatalf("tranche %+v", d)
	}
	if len(loan.Repayments) != 2 || loan.Repayments[0].Tranche != "D2" || loan.Repayments[1].Tranche != "" ||
		loan.Repayments[0].Period == nil || loan.Repayments[0].Period.Start != "2026-11-22" || loan.Repayments[0].Period.End != "2026-12-22" {
		t.Fatalf("repayments %s", r.body)
	}
	// The first disbursement locked the account.
	if a := loan.Account; a == nil || a.BankName != "Qilu Bank" || a.AccountNo != "6222" || a.Status != "locked" {
		t.Fatalf("repayment account %s", r.body)
	}
	_, other := e.user("other-supplier", "supplier", "91110000600037341L")
	wantProblem(t, e.do("GET", "/v1/loans/"+id, other, nil), 404, "not_found")
}

// TestSubsidyPaymentFile: the payment files carry each claim's settlement
// account, headed in zh-CN by default and in English with ?lang=en; a
// claim whose supplier has no account is listed, flagged, with empty
// account cells; a closed batch keeps the account it was paid into.
func TestSubsidyPaymentFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu, appID, _ := e.disbursedLoan()
	_, officer := e.user("officer-li", "officer", "")
	_, admin := e.user("root2", "admin", "")
	qilu.repay(appID, "R1", "0.00", "2000.00", "2027-01-01", "2027-01-08")
	claims := e.claims(officer, "?status=pending")
	if len(claims) != 1 {
		t.Fatalf("claims %+v", claims)
	}
	claim := claims[0]
	if r := e.do("POST", "/v1/subsidy-claims/"+claim.ID+"/approve", officer, nil); r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	r := e.do("POST", "/v1/subsidy-batches", officer, nil)
	if r.status != 201 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	batch := r.json(t)["id"].(string)

	readCSV := func(query string) [][]string {
		t.Helper()
		r := e.do("GET", "/v1/subsidy-batches/"+batch+".csv"+query, officer, nil)
		if r.status != 200 {
			t.Fatalf("csv: %d %s", r.status, r.body)
		}
		return csvRows(t, r.body)
	}
	readXLSX := func(query string) [][]string {
		t.Helper()
		r := e.do("GET", "/v1/subsidy-batches/"+batch+".xlsx"+query, officer, nil)
		if r.status != 200 {
			t.Fatalf("xlsx: %d %s", r.status, r.body)
		}
		_, rows := xlsxRows(t, r.body)
		return rows
	}
	// col returns the cell of row under the header named h.
	col := func(rows [][]string, row int, h string) string {
		t.Helper()
		i := slices.Index(rows[0], h)
		if i < 0 {
			t.Fatalf("no column %q in %q", h, rows[0])
		}
		return rows[row][i]
	}

	// No settlement account yet: listed, flagged, account cells empty.
	for name, rows := range map[string][][]string{"csv": readCSV(""), "xlsx": readXLSX("")} {
		if len(rows) != 3 || col(rows, 1, "贴息申请编号") != claim.ID || col(rows, 1, "贴息金额（元）") != claim.Amount ||
			col(rows, 1, "结算账号") != "" || col(rows, 1, "备注") != "待补充结算账户" || col(rows, 1, "贷款银行") != "Bank qilu-bank" ||
			col(rows, 1, "统一社会信用代码") != usccA || col(rows, 2, "贴息金额（元）") != claim.Amount || rows[2][0] != "合计" {
			t.Fatalf("%s without an account: %q", name, rows)
		}
	}
	wantProblem(t, e.do("GET", "/v1/subsidy-batches/"+batch+".csv?lang=fr", officer, nil), 422, "invalid")

	// The administrator registers the account: the open batch's files carry it.
	if r := e.do("POST", "/v1/admin/suppliers", admin, fmt.Sprintf(supplierBody,
		`, "settlement_account": {"bank_name": "齐鲁银行济南分行", "account_no": "6222021600012345", "account_name": "泉城软件有限公司"}`)); r.status != 200 {
		t.Fatalf("register account: %d %s", r.status, r.body)
	}
	for name, rows := range map[string][][]string{"csv": readCSV("?lang=en"), "xlsx": readXLSX("?lang=EN")} {
		want := map[string]string{"Claim id": claim.ID, "Supplier USCC": usccA, "Supplier name": "Quancheng Software Co.",
			"Settlement bank": "齐鲁银行济南分行", "Settlement account no.": "6222021600012345", "Settlement account name": "泉城软件有限公司",
			"Subsidy amount (yuan)": claim.Amount, "Lending bank id": "qilu-bank", "Lending bank": "Bank qilu-bank", "Application id": appID,
			"Repaid on": "2027-01-08", "Interest paid (yuan)": "2000.00", "Policy version": fmt.Sprint(*claim.PolicyVersion), "Note": ""}
		if name == "xlsx" {
			want["Repaid on"] = "46395" // Excel's day serial: 2027-01-01 is 46388, + 7
		}
		got := map[string]string{}
		for h := range want {
			got[h] = col(rows, 1, h)
		}
		if diff := cmp.Diff(want, got); diff != "" || rows[2][0] != "Total" || col(rows, 2, "Note") != "claims: 1" {
			t.Fatalf("%s with ?lang=en (-want +got):\n%s\n%q", name, diff, rows)
		}
	}

	// Closed, the batch keeps the account it was paid into.
	if r := e.do("POST", "/v1/subsidy-batches/"+batch+"/close", officer, nil); r.status != 200 {
		t.Fatalf("close: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/admin/suppliers", admin, fmt.Sprintf(supplierBody,
		`, "settlement_account": {"bank_name": "中国银行", "account_no": "9999888877776666", "account_name": "泉城软件有限公司"}`)); r.status != 200 {
		t.Fatalf("change account: %d %s", r.status, r.body)
	}
	if rows := readCSV(""); col(rows, 1, "结算账号") != "6222021600012345" || col(rows, 1, "结算账户开户行") != "齐鲁银行济南分行" {
		t.Fatalf("closed batch after the account changed: %q", rows)
	}
}
