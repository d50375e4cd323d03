package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"procfin/platform/money"
)

// disbursedLoan sets up a small supplier's application to qilu-bank,
// approved at 3.45% and disbursed in full (800000.00 from 2026-11-22, loan
// LN-1), and returns the bank and the supplier's token.
func (e *env) disbursedLoan() (*bankSystem, string, string) {
	e.t.Helper()
	return e.disbursedLoanFrom("2026-11-22")
}

// disbursedLoanFrom is disbursedLoan with the second tranche (D2,
// 300000.00) valued valueDate2.
func (e *env) disbursedLoanFrom(valueDate2 string) (*bankSystem, string, string) {
	e.t.Helper()
	qilu := e.bank("qilu-bank")
	appID, tok := e.applied(qilu)
	for _, s := range []struct{ id, typ, data string }{
		{"e1", "application.received", `{}`},
		{"e2", "application.approved", approvedData},
		{"e3", "loan.disbursed", disbursed("D1", "500000.00")},
		{"e4", "loan.disbursed", strings.Replace(disbursed("D2", "300000.00"), "2026-11-22", valueDate2, 1)},
	} {
		if r := qilu.send(s.id, s.typ, appID, s.data); r.status != 200 {
			e.t.Fatalf("%s: %d %s", s.typ, r.status, r.body)
		}
		if s.typ == "application.approved" {
			e.confirmReceivable(appID) // the purchaser confirms before the bank disburses
		}
	}
	return qilu, appID, tok
}

// repay sends loan.repaid for LN-1 on the day paid; the interest period
// ends on paidOn.
func (b *bankSystem) repay(appID, id, principal, interest, start, paidOn string) resp {
	b.e.t.Helper()
	b.e.repaidOn(paidOn)
	data := fmt.Sprintf(`{"loan_id": "LN-1", "repayment_id": %q, "principal": %q, "interest": %q, "paid_on": %q, "interest_period": {"start": %q, "end": %q}}`,
		id, principal, interest, paidOn, start, paidOn)
	r := b.send("ev-"+id, "loan.repaid", appID, data)
	if r.status != 200 {
		b.e.t.Fatalf("repayment %s: %d %s", id, r.status, r.body)
	}
	return r
}

type claimJSON struct {
	ID                string `json:"id"`
	Status            string `json:"status"`
	Amount            string `json:"amount"`
	PolicyVersion     *int   `json:"policy_version"`
	Year              int    `json:"year"`
	Approvals         int    `json:"approvals"`
	ApprovalsRequired int    `json:"approvals_required"`
	IneligibleReason  string `json:"ineligible_reason"`
	RejectionReason   string `json:"rejection_reason"`
	Computation       struct {
		PolicyVersion int `json:"policy_version"`
		Days          int `json:"days"`
		Steps         []struct {
			Step, Formula, Value string
		} `json:"steps"`
	} `json:"computation"`
}

func (e *env) claims(token, query string) []claimJSON {
	e.t.Helper()
	r := e.do("GET", "/v1/subsidy-claims"+query, token, nil)
	if r.status != 200 {
		e.t.Fatalf("claims: %d %s", r.status, r.body)
	}
	var page struct{ Items []claimJSON }
	if err := json.Unmarshal(r.body, &page); err != nil {
		e.t.Fatal(err)
	}
	return page.Items
}

func decodeClaim(t *testing.T, r resp) claimJSON {
	t.Helper()
	var c claimJSON
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatalf("%s: %v", r.body, err)
	}
	return c
}

// addPolicy adds a policy version like the defaults, with changes.
func (e *env) addPolicy(admin string, changes map[string]any) resp {
	e.t.Helper()
	body := map[string]any{"effective_from": "2020-01-01", "subsidy_ratio": "0.5", "rate_cap": "0.0310",
		"supplier_yearly_cap": "200000.00", "programme_budget": "50000000.00",
		"eligible_size_classes": []string{"micro", "small", "medium"}, "four_eyes_threshold": "50000.00"}
	for k, v := range changes {
		body[k] = v
	}
	return e.do("POST", "/v1/admin/subsidy-policies", admin, body)
}

func (e *env) budgetUsed(year int) string {
	e.t.Helper()
	var used money.Amount
	if err := e.db.Get(&used, `SELECT coalesce((SELECT used FROM subsidy_budgets WHERE year = $1), 0)`, year); err != nil {
		e.t.Fatal(err)
	}
	return used.String()
}

// TestSubsidyClaimEndToEnd: a bank's loan.repaid makes a claim; an officer
// approves it, batches it, exports and closes the batch; the figures follow.
func TestSubsidyClaimEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu, appID, supplierTok := e.disbursedLoan()
	_, officer := e.user("officer-li", "officer", "")

	// 800000.00 × min(3.45%, 3.10%) × 90 days / 360 = 6200.00 ≤ 6900.00 paid; × 0.5 = 3100.00.
	qilu.repay(appID, "R1", "800000.00", "6900.00", "2026-11-22", "2027-02-20")
	list := e.claims(officer, "?status=pending")
	if len(list) != 1 {
		t.Fatalf("pending claims: %+v", list)
	}
	c := list[0]
	if c.Amount != "3100.00" || c.Year != 2027 || c.PolicyVersion == nil || *c.PolicyVersion != 1 || c.ApprovalsRequired != 1 ||
		c.Computation.Days != 90 || c.Computation.PolicyVersion != 1 {
		t.Fatalf("claim %+v", c)
	}
	if last := c.Computation.Steps[len(c.Computation.Steps)-1]; last.Value != "3100.00" {
		t.Fatalf("computation steps %+v", c.Computation.Steps)
	}
	// The supplier sees its own claim; another supplier's user sees none.
	if own := e.claims(supplierTok, ""); len(own) != 1 || own[0].ID != c.ID {
		t.Fatalf("supplier's claims %+v", own)
	}
	_, stranger := e.user("stranger", "supplier", "91110000600037341L")
	if other := e.claims(stranger, ""); len(other) != 0 {
		t.Fatalf("another supplier sees %+v", other)
	}
	wantProblem(t, e.do("GET", "/v1/subsidy-claims/"+c.ID, stranger, nil), 404, "not_found")
	// A supplier cannot approve.
	wantProblem(t, e.do("POST", "/v1/subsidy-claims/"+c.ID+"/approve", supplierTok, nil), 403, "forbidden")

	r := e.do("POST", "/v1/subsidy-claims/"+c.ID+"/approve", officer, nil)
	if got := decodeClaim(t, r); r.status != 200 || got.Status != "approved" || got.Approvals != 1 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	if used := e.budgetUsed(2027); used != "3100.00" {
		t.Fatalf("budget used %s", used)
	}
	wantProblem(t, e.do("POST", "/v1/subsidy-claims/"+c.ID+"/approve", officer, nil), 409, "conflict")

	r = e.do("POST", "/v1/subsidy-batches", officer, nil)
	if r.status != 201 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	batch := r.json(t)
	id := batch["id"].(string)
	if batch["total"] != "3100.00" || batch["claims"] != float64(1) || batch["status"] != "open" {
		t.Fatalf("batch %v", batch)
	}
	checkExports(t, e, officer, id, "3100.00")

	if r := e.do("POST", "/v1/subsidy-batches/"+id+"/close", officer, nil); r.status != 200 || r.json(t)["status"] != "closed" {
		t.Fatalf("close: %d %s", r.status, r.body)
	}
	if paid := e.claims(officer, "?status=paid"); len(paid) != 1 {
		t.Fatalf("paid claims %+v", paid)
	}
	// Acting on a closed batch; no approved claim left to batch.
	wantProblem(t, e.do("POST", "/v1/subsidy-batches/"+id+"/close", officer, nil), 409, "conflict")
	wantProblem(t, e.do("POST", "/v1/subsidy-batches", officer, nil), 409, "conflict")
	checkExports(t, e, officer, id, "3100.00") // a closed batch still exports

	// Statistics.
	r = e.do("GET", "/v1/stats", officer, nil)
	if r.status != 200 {
		t.Fatalf("stats: %d %s", r.status, r.body)
	}
	var st struct {
		Banks []struct {
			BankID      string `json:"bank_id"`
			Month       string `json:"month"`
			Financed    string `json:"financed"`
			Outstanding string `json:"outstanding"`
		}
		ApprovalTimes struct {
			Count      int    `json:"count"`
			P50Seconds *int64 `json:"p50_seconds"`
			P90Seconds *int64 `json:"p90_seconds"`
		} `json:"approval_times"`
		Subsidy struct {
			Paid    string `json:"paid"`
			Budgets []struct {
				Year               int
				Budget, Used, Left string
			}
		}
	}
	if err := json.Unmarshal(r.body, &st); err != nil {
		t.Fatal(err)
	}
	byMonth := map[string][2]string{}
	for _, b := range st.Banks {
		byMonth[b.BankID+" "+b.Month] = [2]string{b.Financed, b.Outstanding}
	}
	if byMonth["qilu-bank 2026-11"] != [2]string{"800000.00", "800000.00"} || byMonth["qilu-bank 2027-02"] != [2]string{"0.00", "0.00"} {
		t.Fatalf("per bank and month: %s", r.body)
	}
	if st.ApprovalTimes.Count != 1 || st.ApprovalTimes.P50Seconds == nil || st.ApprovalTimes.P90Seconds == nil {
		t.Fatalf("approval times: %s", r.body)
	}
	if st.Subsidy.Paid != "3100.00" || len(st.Subsidy.Budgets) != 1 || st.Subsidy.Budgets[0].Left != "49996900.00" {
		t.Fatalf("subsidy figures: %s", r.body)
	}
	if !strings.Contains(string(r.body), `"offers":[]`) || !strings.Contains(string(r.body), `"intents":[]`) {
		t.Fatalf("no financing intents: offers and intents should be empty arrays: %s", r.body)
	}
	wantProblem(t, e.do("GET", "/v1/stats", supplierTok, nil), 403, "forbidden")

	// The monthly bank report.
	r = e.do("GET", "/v1/stats/bank-report.csv?month=2026-11", officer, nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("bank report: %d %s", r.status, r.body)
	}
	rows := csvRows(t, r.body)
	want := []string{"2026-11", "qilu-bank", "Bank qilu-bank"}
	if len(rows) != 3 || strings.Join(rows[1][:3], ",") != strings.Join(want, ",") ||
		strings.Join(rows[1][5:], ",") != "800000.00,800000.00,0.00,0,0.00" || rows[2][0] != "合计" {
		t.Fatalf("bank report rows %q", rows)
	}
	wantProblem(t, e.do("GET", "/v1/stats/bank-report.csv?month=2026-13", officer, nil), 422, "invalid")
	wantProblem(t, e.do("GET", "/v1/stats/bank-report.csv", officer, nil), 422, "invalid")
}

// checkExports sums the CSV and XLSX exports of a batch and compares them
// with the database, to the 分.
func checkExports(t *testing.T, e *env, officer, batchID, wantTotal string) {
	t.Helper()
	var dbSum, dbTotal money.Amount
	if err := e.db.Get(&dbSum, `SELECT coalesce(sum(amount), 0) FROM subsidy_claims WHERE batch_id = $1`, batchID); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Get(&dbTotal, `SELECT total FROM subsidy_batches WHERE id = $1`, batchID); err != nil {
		t.Fatal(err)
	}
	if dbSum.String() != wantTotal || dbTotal.String() != wantTotal {
		t.Fatalf("database: claims sum %s, batch total %s, want %s", dbSum, dbTotal, wantTotal)
	}
	sum := func(rows [][]string) {
		t.Helper()
		// The amount column, headed in zh-CN by default.
		const amount = 6
		if len(rows) < 2 || rows[0][amount] != "贴息金额（元）" || rows[len(rows)-1][0] != "合计" {
			t.Fatalf("rows %q", rows)
		}
		s := decimal.Zero
		for _, row := range rows[1 : len(rows)-1] {
			d, err := decimal.NewFromString(row[amount])
			if err != nil {
				t.Fatal(err)
			}
			s = s.Add(d)
		}
		total, _ := decimal.NewFromString(rows[len(rows)-1][amount])
		if s.StringFixed(2) != wantTotal || !total.Equal(s) {
			t.Fatalf("lines sum to %s, TOTAL line says %s, database %s", s.StringFixed(2), total, wantTotal)
		}
	}
	r := e.do("GET", "/v1/subsidy-batches/"+batchID+".csv", officer, nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", r.status, r.body)
	}
	sum(csvRows(t, r.body))
	r = e.do("GET", "/v1/subsidy-batches/"+batchID+".xlsx", officer, nil)
	if r.status != 200 || !strings.Contains(r.header.Get("Content-Type"), "spreadsheetml") {
		t.Fatalf("xlsx: %d %s", r.status, r.body)
	}
	_, xrows := xlsxRows(t, r.body)
	sum(xrows)
}

// TestSubsidyBatchExportTotals: claims with odd 分 add up in the exports.
func TestSubsidyBatchExportTotals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu, appID, _ := e.disbursedLoan()
	_, officer := e.user("officer-li", "officer", "")
	// Interest-only repayments on 800000.00 at the 3.10% cap, × 0.5:
	//   7 days: 800000 × 0.031 × 7 / 360 = 482.2222…; / 2 = 241.1111… → 241.11
	//  11 days: 757.7777…; / 2 = 378.8888… → 378.89
	//  13 days: 895.5555…; / 2 = 447.7777… → 447.78
	// total 241.11 + 378.89 + 447.78 = 1067.78
	qilu.repay(appID, "R1", "0.00", "2000.00", "2027-01-01", "2027-01-08")
	qilu.repay(appID, "R2", "0.00", "2000.00", "2027-01-08", "2027-01-19")
	qilu.repay(appID, "R3", "0.00", "2000.00", "2027-01-19", "2027-02-01")
	var amounts []string
	for _, c := range e.claims(officer, "?status=pending") {
		amounts = append(amounts, c.Amount)
		if r := e.do("POST", "/v1/subsidy-claims/"+c.ID+"/approve", officer, nil); r.status != 200 {
			t.Fatalf("approve: %d %s", r.status, r.body)
		}
	}
	if strings.Join(amounts, " ") != "447.78 378.89 241.11" {
		t.Fatalf("amounts %v", amounts)
	}
	r := e.do("POST", "/v1/subsidy-batches", officer, nil)
	if r.status != 201 || r.json(t)["total"] != "1067.78" {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	checkExports(t, e, officer, id, "1067.78")

	// Only the documented export paths answer.
	for _, p := range []string{id + ".pdf", id, "not-a-uuid.csv", "7b0e5f7e-4a4b-4f57-9e55-8d8f8b0a0f00.csv"} {
		wantProblem(t, e.do("GET", "/v1/subsidy-batches/"+p, officer, nil), 404, "not_found")
	}
	_, sup := e.user("supplier-2", "supplier", usccA)
	wantProblem(t, e.do("GET", "/v1/subsidy-batches/"+id+".csv", sup, nil), 403, "forbidden")
}

// TestSubsidyFourEyes: at or above the threshold two different officers
// must approve.
func TestSubsidyFourEyes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu, appID, _ := e.disbursedLoan()
	_, admin := e.user("subsidy-admin", "admin", "")
	_, a := e.user("officer-a", "officer", "")
	_, b := e.user("officer-b", "officer", "")
	_, c := e.user("officer-c", "officer", "")
	r := e.addPolicy(admin, map[string]any{"four_eyes_threshold": "3100.00"})
	if r.status != 201 || r.json(t)["version"] != float64(2) {
		t.Fatalf("policy: %d %s", r.status, r.body)
	}
	qilu.repay(appID, "R1", "800000.00", "6900.00", "2026-11-22", "2027-02-20")
	cl := e.claims(a, "")[0]
	if cl.Amount != "3100.00" || cl.ApprovalsRequired != 2 || *cl.PolicyVersion != 2 {
		t.Fatalf("claim %+v", cl)
	}
	approve := func(tok string) resp { return e.do("POST", "/v1/subsidy-claims/"+cl.ID+"/approve", tok, nil) }

	r = approve(a)
	if got := decodeClaim(t, r); r.status != 200 || got.Status != "pending" || got.Approvals != 1 {
		t.Fatalf("first approval: %d %s", r.status, r.body)
	}
	if e.budgetUsed(2027) != "0.00" {
		t.Fatal("the first of two approvals took budget")
	}
	p := wantProblem(t, approve(a), 409, "conflict")
	if !strings.Contains(p["detail"].(string), "different officer") {
		t.Fatalf("problem %v", p)
	}
	if got := e.claims(a, "")[0]; got.Approvals != 1 || got.Status != "pending" {
		t.Fatalf("after the refused second approval: %+v", got)
	}
	r = approve(b)
	if got := decodeClaim(t, r); r.status != 200 || got.Status != "approved" || got.Approvals != 2 {
		t.Fatalf("second approval: %d %s", r.status, r.body)
	}
	wantProblem(t, approve(b), 409, "conflict")
	wantProblem(t, approve(c), 409, "conflict")
	wantProblem(t, e.do("POST", "/v1/subsidy-claims/"+cl.ID+"/reject", c, map[string]string{"reason": "late"}), 409, "conflict")
	if used := e.budgetUsed(2027); used != "3100.00" {
		t.Fatalf("budget used %s", used)
	}
}

// TestSubsidyBadInput: each refusal is a clear 4xx and changes nothing.
func TestSubsidyBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu, appID, _ := e.disbursedLoan()
	_, admin := e.user("subsidy-admin", "admin", "")
	_, officer := e.user("officer-li", "officer", "")
	qilu.repay(appID, "R1", "800000.00", "6900.00", "2026-11-22", "2027-02-20")
	cl := e.claims(officer, "")[0]
	state := func() string {
		var s string
		if err := e.db.Get(&s, `SELECT (SELECT count(*) FROM subsidy_policies)::text || ' ' ||
			(SELECT string_agg(status || ':' || approvals || ':' || rejection_reason, ',') FROM subsidy_claims) || ' ' ||
			(SELECT count(*) FROM subsidy_budgets)::text`); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := state()

	t.Run("RejectWithoutReason", func(t *testing.T) {
		p := wantProblem(t, e.do("POST", "/v1/subsidy-claims/"+cl.ID+"/reject", officer, `{}`), 422, "invalid")
		if !strings.Contains(fmt.Sprint(p["errors"]), "reason") {
			t.Fatalf("problem %v", p)
		}
		wantProblem(t, e.do("POST", "/v1/subsidy-claims/"+cl.ID+"/reject", officer, `{"reason": "   "}`), 422, "invalid")
	})
	t.Run("PolicyRatioAboveOne", func(t *testing.T) {
		p := wantProblem(t, e.addPolicy(admin, map[string]any{"subsidy_ratio": "1.5"}), 422, "invalid")
		if !strings.Contains(fmt.Sprint(p["errors"]), "subsidy_ratio") {
			t.Fatalf("problem %v", p)
		}
	})
	t.Run("PolicyNegativeCap", func(t *testing.T) {
		p := wantProblem(t, e.addPolicy(admin, map[string]any{"supplier_yearly_cap": "-1.00"}), 422, "invalid")
		if !strings.Contains(fmt.Sprint(p["errors"]), "supplier_yearly_cap") {
			t.Fatalf("problem %v", p)
		}
		wantProblem(t, e.addPolicy(admin, map[string]any{"programme_budget": "-100.00"}), 422, "invalid")
	})
	t.Run("PolicyByOfficer", func(t *testing.T) {
		wantProblem(t, e.addPolicy(officer, nil), 403, "forbidden")
	})
	t.Run("UnknownClaim", func(t *testing.T) {
		wantProblem(t, e.do("POST", "/v1/subsidy-claims/7b0e5f7e-4a4b-4f57-9e55-8d8f8b0a0f00/approve", officer, nil), 404, "not_found")
		wantProblem(t, e.do("POST", "/v1/subsidy-claims/nope/approve", officer, nil), 404, "not_found")
	})
	t.Run("UnknownStatus", func(t *testing.T) {
		wantProblem(t, e.do("GET", "/v1/subsidy-claims?status=maybe", officer, nil), 422, "invalid")
	})
	t.Run("CloseUnknownBatch", func(t *testing.T) {
		wantProblem(t, e.do("POST", "/v1/subsidy-batches/7b0e5f7e-4a4b-4f57-9e55-8d8f8b0a0f00/close", officer, nil), 404, "not_found")
	})
	if after := state(); after != before {
		t.Fatalf("refused requests changed the state: %q → %q", before, after)
	}

	// Rejection with a reason; then neither approval nor rejection.
	r := e.do("POST", "/v1/subsidy-claims/"+cl.ID+"/reject", officer, `{"reason": "the loan financed a non-programme contract"}`)
	if got := decodeClaim(t, r); r.status != 200 || got.Status != "rejected" || got.RejectionReason == "" {
		t.Fatalf("reject: %d %s", r.status, r.body)
	}
	wantProblem(t, e.do("POST", "/v1/subsidy-claims/"+cl.ID+"/approve", officer, nil), 409, "conflict")
	wantProblem(t, e.do("POST", "/v1/subsidy-claims/"+cl.ID+"/reject", officer, `{"reason": "again"}`), 409, "conflict")
	if e.budgetUsed(2027) != "0.00" {
		t.Fatal("a rejected claim took budget")
	}
}

// TestSubsidyIneligible: overdue loans and large suppliers get a claim
// row that says why no subsidy is due; a repayment without interest none.
func TestSubsidyIneligible(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// D2 valued before the first policy version (2020-01-01): the loan can
	// be repaid for days no policy covers.
	qilu, appID, _ := e.disbursedLoanFrom("2019-12-01")
	_, officer := e.user("officer-li", "officer", "")

	qilu.repay(appID, "R0", "1000.00", "0.00", "2026-11-22", "2026-12-01")
	if n := e.count("subsidy_claims"); n != 0 {
		t.Fatalf("a repayment without interest made %d claims", n)
	}
	// Paid before the first policy version was in force (2020-01-01).
	qilu.repay(appID, "R-old", "1000.00", "10.00", "2019-12-01", "2019-12-31")
	if cl := e.claims(officer, "?status=ineligible"); len(cl) != 1 || cl[0].IneligibleReason != "no subsidy policy is in force on 2019-12-31" {
		t.Fatalf("claim without a policy in force: %+v", cl)
	}
	var years int
	if err := e.db.Get(&years, `SELECT count(*) FROM subsidy_supplier_years WHERE year = 2019`); err != nil || years != 0 {
		t.Fatalf("%d supplier years for 2019 (%v), want none", years, err)
	}

	_, admin := e.user("subsidy-admin", "admin", "")
	r := e.do("POST", "/v1/admin/suppliers", admin, `{"uscc": "91350100M000100Y43", "name": "Quancheng Software Co.", "industry": "software_it", "employees": 5000, "annual_revenue": "900000000.00", "total_assets": "500000000.00"}`)
	if r.status != 200 || r.json(t)["size_class"] != "large" {
		t.Fatalf("re-register as large: %d %s", r.status, r.body)
	}
	qilu.repay(appID, "R1", "1000.00", "500.00", "2026-12-01", "2026-12-31")
	cl := e.claims(officer, "?status=ineligible")
	if len(cl) != 2 || !strings.Contains(cl[0].IneligibleReason, "large") || cl[0].Amount != "0.00" {
		t.Fatalf("large supplier's claim %+v", cl)
	}
	e.do("POST", "/v1/admin/suppliers", admin, `{"uscc": "91350100M000100Y43", "name": "Quancheng Software Co.", "industry": "software_it", "employees": 42, "annual_revenue": "8000000.00", "total_assets": "5000000.00"}`)

	if r := qilu.send("ev-od", "loan.overdue", appID, `{"loan_id": "LN-1", "overdue_principal": "100000.00", "since": "2027-01-10"}`); r.status != 200 {
		t.Fatalf("overdue: %d %s", r.status, r.body)
	}
	// Paid while overdue: recorded rejected, loan_overdue, counting
	// against nothing.
	qilu.repay(appID, "R2", "1000.00", "500.00", "2026-12-31", "2027-01-31")
	cl = e.claims(officer, "?status=rejected")
	if len(cl) != 1 || cl[0].RejectionReason != "loan_overdue" {
		t.Fatalf("overdue loan's claim %+v", cl)
	}
	wantProblem(t, e.do("POST", "/v1/subsidy-claims/"+cl[0].ID+"/approve", officer, nil), 409, "conflict")
	if pending := e.claims(officer, "?status=pending"); len(pending) != 0 {
		t.Fatalf("pending %+v", pending)
	}
	var claimed string
	if err := e.db.Get(&claimed, `SELECT coalesce((SELECT claimed::text FROM subsidy_supplier_years WHERE year = 2027), 'none')`); err != nil || claimed != "0.00" {
		t.Fatalf("the supplier's 2027 holds %s (%v), want 0.00", claimed, err)
	}
}

// TestSubsidyBudgetConcurrency: 40 officers approve at once claims that
// together exceed the year's budget. The budget is never overdrawn, and
// what it says is used is exactly the sum of the approved claims.
func TestSubsidyBudgetConcurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu, appID, _ := e.disbursedLoan()
	_, admin := e.user("subsidy-admin", "admin", "")
	if r := e.addPolicy(admin, map[string]any{"programme_budget": "10000.00", "four_eyes_threshold": "1000000.00"}); r.status != 201 {
		t.Fatalf("policy: %d %s", r.status, r.body)
	}
	// 40 interest-only repayments of 9 days each on 800000.00 at the cap:
	// 800000 × 0.031 × 9 / 360 = 620.00; × 0.5 = 310.00. 40 × 310.00 =
	// 12400.00 > 10000.00: 32 fit (9920.00), 8 must be refused.
	start := money.MustDate("2027-01-01")
	for i := 0; i < 40; i++ {
		qilu.repay(appID, fmt.Sprintf("R%02d", i), "0.00", "690.00", start.AddDays(9*i).String(), start.AddDays(9*i+9).String())
	}
	var officers []string
	for i := 0; i < 4; i++ {
		_, tok := e.user(fmt.Sprintf("officer-%d", i), "officer", "")
		officers = append(officers, tok)
	}
	claims := e.claims(officers[0], "?status=pending&limit=100")
	if len(claims) != 40 {
		t.Fatalf("%d pending claims", len(claims))
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
	)
	start0 := make(chan struct{})
	for i, c := range claims {
		if c.Amount != "310.00" {
			t.Fatalf("claim amount %s", c.Amount)
		}
		wg.Add(1)
		go func(tok, id string) {
			defer wg.Done()
			<-start0
			r := e.do("POST", "/v1/subsidy-claims/"+id+"/approve", tok, nil)
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
			if r.status == 409 && !bytes.Contains(r.body, []byte("overdraw")) {
				t.Errorf("409 without the budget message: %s", r.body)
			}
		}(officers[i%4], c.ID)
	}
	close(start0)
	wg.Wait()
	if statuses[200] != 32 || statuses[409] != 8 {
		t.Fatalf("answers %v, want 32 approvals and 8 refusals", statuses)
	}
	var check struct {
		Budget   money.Amount `db:"budget"`
		Used     money.Amount `db:"used"`
		Approved money.Amount `db:"approved"`
	}
	if err := e.db.Get(&check, `SELECT budget, used,
		(SELECT coalesce(sum(amount), 0) FROM subsidy_claims WHERE status = 'approved' AND year = 2027) AS approved
		FROM subsidy_budgets WHERE year = 2027`); err != nil {
		t.Fatal(err)
	}
	if check.Used.GreaterThan(check.Budget) || !check.Used.Equal(check.Approved) || check.Used.String() != "9920.00" {
		t.Fatalf("budget %s, used %s, approved claims %s", check.Budget, check.Used, check.Approved)
	}
}

// TestSubsidySupplierYearlyCap: a supplier's claims in a year stop at its
// cap; a rejected claim frees its share; what the supplier's year says is
// claimed is always the sum of its counted claims.
func TestSubsidySupplierYearlyCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu, appID, _ := e.disbursedLoan()
	_, admin := e.user("subsidy-admin", "admin", "")
	_, officer := e.user("officer-li", "officer", "")
	if r := e.addPolicy(admin, map[string]any{"supplier_yearly_cap": "500.00", "four_eyes_threshold": "1000000.00"}); r.status != 201 {
		t.Fatalf("policy: %d %s", r.status, r.body)
	}
	// Interest-only repayments of 9 days on 800000.00 at the rate cap: each
	// is a claim of 310.00 before the supplier's cap.
	start := money.MustDate("2027-01-01")
	repay := func(i int) claimJSON {
		t.Helper()
		qilu.repay(appID, fmt.Sprintf("R%02d", i), "0.00", "690.00", start.AddDays(9*i).String(), start.AddDays(9*i+9).String())
		all := e.claims(officer, "?limit=100")
		return all[0] // newest first
	}
	counted := func() (string, string) {
		t.Helper()
		var year, sum string
		if err := e.db.Get(&year, `SELECT claimed::text FROM subsidy_supplier_years WHERE year = 2027`); err != nil {
			t.Fatal(err)
		}
		if err := e.db.Get(&sum, `SELECT coalesce(sum(amount), 0)::numeric(17,2)::text FROM subsidy_claims
			WHERE year = 2027 AND status IN ('pending', 'approved', 'paid')`); err != nil {
			t.Fatal(err)
		}
		return year, sum
	}
	first := repay(0)
	if first.Status != "pending" || first.Amount != "310.00" {
		t.Fatalf("first claim %+v", first)
	}
	if c := repay(1); c.Status != "pending" || c.Amount != "190.00" {
		t.Fatalf("second claim %+v, want 190.00: the cap's rest", c)
	}
	if c := repay(2); c.Status != "ineligible" || !strings.Contains(c.IneligibleReason, "cap") {
		t.Fatalf("third claim %+v, want ineligible: cap used up", c)
	}
	if y, s := counted(); y != "500.00" || s != y {
		t.Fatalf("supplier's year %s, counted claims %s; want 500.00 both", y, s)
	}
	if r := e.do("POST", "/v1/subsidy-claims/"+first.ID+"/reject", officer, map[string]string{"reason": "duplicate invoice"}); r.status != 200 {
		t.Fatalf("reject: %d %s", r.status, r.body)
	}
	if y, s := counted(); y != "190.00" || s != y {
		t.Fatalf("after the rejection: supplier's year %s, counted claims %s; want 190.00 both", y, s)
	}
	if c := repay(3); c.Status != "pending" || c.Amount != "310.00" {
		t.Fatalf("claim after the rejection %+v, want 310.00", c)
	}
	if y, s := counted(); y != "500.00" || s != y {
		t.Fatalf("supplier's year %s, counted claims %s; want 500.00 both", y, s)
	}
}

// TestSubsidySupplierCapConcurrentRepayments: repayments of two loans of
// one supplier arrive at once, while the supplier's year is locked, so that
// their events, applied side by side in batches of the inbox, all wait on
// it together: the supplier's claims stop at its yearly cap exactly, and
// its year's figure is the sum of its counted claims.
func TestSubsidySupplierCapConcurrentRepayments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu, app1, tok := e.disbursedLoan()
	_, admin := e.user("subsidy-admin", "admin", "")
	if r := e.addPolicy(admin, map[string]any{"supplier_yearly_cap": "1500.00", "four_eyes_threshold": "1000000.00"}); r.status != 201 {
		t.Fatalf("policy: %d %s", r.status, r.body)
	}
	var contractID string
	if err := e.db.Get(&contractID, `SELECT contract_id FROM applications WHERE id = $1`, app1); err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/v1/credit-applications", tok, fmt.Sprintf(`{"contract_id": %q, "bank_id": "qilu-bank", "amount": "200000.00", "term_days": 180, "purpose": "materials"}`, contractID), "Idempotency-Key", "a2")
	if r.status != 201 {
		t.Fatalf("second application: %d %s", r.status, r.body)
	}
	app2 := r.json(t)["id"].(string)
	for _, s := range []struct{ id, typ, data string }{
		{"f1", "application.received", `{}`},
		{"f2", "application.approved", strings.Replace(approvedData, "800000.00", "200000.00", 1)},
		{"f3", "loan.disbursed", `{"loan_id": "LN-2", "disbursement_id": "D9", "amount": "200000.00", "value_date": "2026-11-22", "maturity_date": "2027-05-21", "annual_rate": "0.0345"}`},
	} {
		if r := qilu.send(s.id, s.typ, app2, s.data); r.status != 200 {
			t.Fatalf("%s: %d %s", s.typ, r.status, r.body)
		}
		if s.typ == "application.approved" {
			e.confirmReceivable(app2)
		}
	}
	// Interest-only repayments of 9 days at the rate cap: a claim of 310.00
	// on 800000.00, of 77.50 on 200000.00; the loans' 20 each ask more than
	// the cap alone.
	start := money.MustDate("2027-01-01")
	repaid := func(app, loan, interest string, i int) []byte {
		return fmt.Appendf(nil, `{"loan_id": %q, "repayment_id": "%s-R%02d", "principal": "0.00", "interest": %q, "paid_on": %q, "interest_period": {"start": %q, "end": %q}}`,
			loan, loan, i, interest, start.AddDays(9*i+9).String(), start.AddDays(9*i).String(), start.AddDays(9*i+9).String())
	}
	e.repaidOn(start.AddDays(9*39 + 9).String()) // the day of the last
	if r := qilu.send("ev-first", "loan.repaid", app2, string(repaid(app2, "LN-2", "172.50", 39))); r.status != 200 {
		t.Fatalf("first repayment: %d %s", r.status, r.body)
	}
	watch, err := e.db.Connx(context.Background()) // its own connection, whatever the events hold
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	lock, err := e.db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(`SELECT 1 FROM subsidy_supplier_years WHERE year = 2027 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		for _, l := range []struct{ app, loan, interest string }{{app1, "LN-1", "690.00"}, {app2, "LN-2", "172.50"}} {
			wg.Add(1)
			go func(i int, app, loan, interest string) {
				defer wg.Done()
				if r := qilu.send(fmt.Sprintf("ev-%s-%02d", loan, i), "loan.repaid", app, string(repaid(app, loan, interest, i))); r.status != 200 {
					t.Errorf("repayment %s %d: %d %s", loan, i, r.status, r.body)
				}
			}(i, l.app, l.loan, l.interest)
		}
	}
	// Until the events wait on the supplier's year (one or two writers, as
	// the applications fall), then let them go.
	deadline := time.Now().Add(time.Minute)
	for waiting := 0; waiting == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no event waits on the supplier's year")
		}
		if err := watch.GetContext(context.Background(), &waiting, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			t.Fatal(err)
		}
	}
	if err := lock.Commit(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	var got struct {
		Year    string `db:"year"`
		Counted string `db:"counted"`
		Claims  int    `db:"claims"`
	}
	if err := e.db.Get(&got, `SELECT (SELECT claimed::text FROM subsidy_supplier_years WHERE year = 2027) AS year,
		(SELECT coalesce(sum(amount), 0)::numeric(17,2)::text FROM subsidy_claims WHERE year = 2027 AND status IN ('pending', 'approved', 'paid')) AS counted,
		(SELECT count(*) FROM subsidy_claims) AS claims`); err != nil {
		t.Fatal(err)
	}
	if got.Claims != 41 || got.Year != "1500.00" || got.Counted != got.Year {
		t.Fatalf("%d claims; supplier's year %s, counted claims %s; want 41 claims, 1500.00 both", got.Claims, got.Year, got.Counted)
	}
	// Each claim names its own repayment, loan and application (they keep
	// no foreign key: migration 00017).
	var stray int
	if err := e.db.Get(&stray, `SELECT count(*) FROM subsidy_claims c WHERE NOT EXISTS (
		SELECT 1 FROM repayments r JOIN loans l ON l.id = r.loan_id
		WHERE r.id = c.repayment_id AND l.id = c.loan_id AND l.application_id = c.application_id)`); err != nil || stray != 0 {
		t.Fatalf("%d claims without their repayment, loan or application (%v)", stray, err)
	}
}
