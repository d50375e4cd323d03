package handlers

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"procfin/lending"
	"procfin/platform/money"
	"procfin/platform/postgres"
	"procfin/platform/signature"
)

// lendingWorld is a programme ready for credit applications: an issuer
// that submitted a signed award notice and contract for each of two
// suppliers (A registered, so eligible; B known only from its documents),
// the partner bank qilu-bank, and users of every role.
type lendingWorld struct {
	*env
	admin, officer       string // tokens
	supplierA, supplierB string
	contractA, contractB string
}

func newLendingWorld(t *testing.T) *lendingWorld {
	t.Helper()
	e := newEnv(t)
	lw := &lendingWorld{env: e}
	is := e.issuer("jinan-pprc")
	submit := func(path, body string) map[string]any {
		t.Helper()
		r := is.post(path, body)
		if r.status != 201 {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		return r.json(t)
	}
	submit("/v1/award-notices", noticeBody)
	lw.contractA = submit("/v1/contracts", contractBody)["contract"].(map[string]any)["id"].(string)
	toB := strings.NewReplacer(usccA, usccB, "JNCG-2026-0815", "JNCG-2026-0816", "HT-2026-0815-1", "HT-2026-0816-1",
		"Quancheng Software Co.", "Beijing Other Firm Co.")
	submit("/v1/award-notices", toB.Replace(noticeBody))
	lw.contractB = submit("/v1/contracts", toB.Replace(contractBody))["contract"].(map[string]any)["id"].(string)

	_, lw.admin = e.user("root", "admin", "")
	lw.registerSupplier(usccA, "Quancheng Software Co.")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	jwks, _ := json.Marshal(signature.Signer{ID: "qilu-bank", KeyID: "qilu-k1", Key: priv, Algorithm: "EdDSA"}.PublicJWKS())
	r := e.do("POST", "/v1/admin/banks", lw.admin,
		fmt.Sprintf(`{"id": "qilu-bank", "name": "Qilu Bank", "base_url": "http://127.0.0.1:9", "jwks": %s}`, jwks))
	if r.status != 201 {
		t.Fatalf("register bank: %d %s", r.status, r.body)
	}
	_, lw.supplierA = e.user("quancheng", "supplier", usccA)
	_, lw.supplierB = e.user("other-firm", "supplier", usccB)
	_, lw.officer = e.user("olga", "officer", "")
	return lw
}

func (lw *lendingWorld) registerSupplier(uscc, name string) {
	lw.t.Helper()
	r := lw.do("POST", "/v1/admin/suppliers", lw.admin, fmt.Sprintf(`{"uscc": %q, "name": %q, "industry": "software_it",
		"employees": 42, "annual_revenue": "8000000.00", "total_assets": "5000000.00"}`, uscc, name))
	if r.status != 200 && r.status != 201 {
		lw.t.Fatalf("register supplier %s: %d %s", uscc, r.status, r.body)
	}
}

// applicationBody is a credit application; amount is raw JSON ("\"100.00\"").
func applicationBody(contractID, amount string) string {
	return fmt.Sprintf(`{"contract_id": %q, "bank_id": "qilu-bank", "amount": %s, "term_days": 180, "purpose": "materials"}`, contractID, amount)
}

var lendingIdemSeq atomic.Int64

func (lw *lendingWorld) apply(token, body string) resp {
	lw.t.Helper()
	return lw.do("POST", "/v1/credit-applications", token, body, "Idempotency-Key", fmt.Sprintf("apply-%d", lendingIdemSeq.Add(1)))
}

// applied applies as token for amount on contractID and returns the id.
func (lw *lendingWorld) applied(token, contractID, amount string) string {
	lw.t.Helper()
	r := lw.apply(token, applicationBody(contractID, `"`+amount+`"`))
	if r.status != 201 {
		lw.t.Fatalf("apply: %d %s", r.status, r.body)
	}
	return r.json(lw.t)["id"].(string)
}

func (lw *lendingWorld) financed(contractID string) string {
	lw.t.Helper()
	var s string
	if err := lw.db.Get(&s, `SELECT financed::text FROM contracts WHERE id = $1`, contractID); err != nil {
		lw.t.Fatal(err)
	}
	return s
}

// list GETs a list route and returns its items and next_cursor.
func (lw *lendingWorld) list(token, path string) ([]map[string]any, *string) {
	lw.t.Helper()
	r := lw.do("GET", path, token, nil)
	if r.status != 200 {
		lw.t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	var page struct {
		Items      []map[string]any `json:"items"`
		NextCursor *string          `json:"next_cursor"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		lw.t.Fatal(err)
	}
	if page.Items == nil {
		lw.t.Fatalf("GET %s: items is %s, want a list", path, r.body)
	}
	return page.Items, page.NextCursor
}

func itemIDs(items []map[string]any) []string {
	var out []string
	for _, it := range items {
		out = append(out, it["id"].(string))
	}
	return out
}

func TestCreditApplicationCreateAndReplay(t *testing.T) {
	t.Parallel()
	lw := newLendingWorld(t)
	body := applicationBody(lw.contractA, `"300000.00"`)

	p := wantProblem(t, lw.do("POST", "/v1/credit-applications", lw.supplierA, body), 422, "invalid")
	if !strings.Contains(fmt.Sprint(p["errors"]), "field:Idempotency-Key") {
		t.Fatalf("errors %v do not name the Idempotency-Key header", p["errors"])
	}
	if n := lw.count("applications"); n != 0 || lw.financed(lw.contractA) != "0.00" {
		t.Fatalf("a refused application left %d applications, financed %s", n, lw.financed(lw.contractA))
	}

	first := lw.do("POST", "/v1/credit-applications", lw.supplierA, body, "Idempotency-Key", "k1")
	if first.status != 201 {
		t.Fatalf("apply: %d %s", first.status, first.body)
	}
	var a struct {
		ID, Status, Amount, BankID, SupplierUSCC, Currency string
		History                                            []map[string]any
		Consent                                            struct{ Statement, BankID string }
	}
	if err := json.Unmarshal(first.body, &a); err != nil {
		t.Fatal(err)
	}
	m := first.json(t)
	if first.header.Get("Location") != "/v1/credit-applications/"+a.ID || a.Status != "submitted" || a.Amount != "300000.00" ||
		m["bank_id"] != "qilu-bank" || m["supplier_uscc"] != usccA || m["currency"] != "CNY" || len(a.History) != 1 ||
		a.History[0]["to"] != "submitted" || !strings.Contains(a.Consent.Statement, "qilu-bank") {
		t.Fatalf("created (Location %q): %s", first.header.Get("Location"), first.body)
	}
	if lw.financed(lw.contractA) != "300000.00" {
		t.Fatalf("financed %s after applying for 300000.00", lw.financed(lw.contractA))
	}

	again := lw.do("POST", "/v1/credit-applications", lw.supplierA, body, "Idempotency-Key", "k1")
	if again.status != 201 || string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" ||
		again.header.Get("Location") != first.header.Get("Location") {
		t.Fatalf("replay: %d %v %s", again.status, again.header, again.body)
	}
	if n := lw.count("applications"); n != 1 || lw.financed(lw.contractA) != "300000.00" {
		t.Fatalf("after the replay: %d applications, financed %s; want 1 and 300000.00", n, lw.financed(lw.contractA))
	}
	wantProblem(t, lw.do("POST", "/v1/credit-applications", lw.supplierA, applicationBody(lw.contractA, `"1000.00"`),
		"Idempotency-Key", "k1"), 409, "idempotency_key_reused")
	if n := lw.count("applications"); n != 1 {
		t.Fatalf("%d applications after reusing the key, want 1", n)
	}

	got := lw.do("GET", "/v1/credit-applications/"+a.ID, lw.supplierA, nil)
	if got.status != 200 || got.json(t)["status"] != "submitted" {
		t.Fatalf("get: %d %s", got.status, got.body)
	}
}

func TestCreditApplicationBadInput(t *testing.T) {
	t.Parallel()
	lw := newLendingWorld(t)
	body := func(old, new string) string {
		return strings.Replace(applicationBody(lw.contractA, `"100.00"`), old, new, 1)
	}
	// A malformed amount (a JSON number, three decimals) is refused by
	// money.Amount's own parser; the problem still names the field.
	cases := []struct {
		name, body string
		status     int
		typ, field string
	}{
		{"AmountAsNumber", body(`"100.00"`, `100.5`), 422, "invalid", "amount"},
		{"AmountThreeDecimals", body(`"100.00"`, `"100.001"`), 422, "invalid", "amount"},
		{"AmountNegative", body(`"100.00"`, `"-5.00"`), 422, "invalid", "amount"},
		{"AmountZero", body(`"100.00"`, `"0.00"`), 422, "invalid", "amount"},
		{"AmountOverMaximum", body(`"100.00"`, `"10000000.01"`), 422, "invalid", "amount"},
		{"AmountMissing", body(`"amount": "100.00", `, ``), 422, "invalid", "amount"},
		{"TermTooLong", body(`"term_days": 180`, `"term_days": 400`), 422, "invalid", "term_days"},
		{"TermZero", body(`"term_days": 180`, `"term_days": 0`), 422, "invalid", "term_days"},
		{"NoPurpose", body(`"purpose": "materials"`, `"purpose": "  "`), 422, "invalid", "purpose"},
		{"UnknownBank", body(`"qilu-bank"`, `"no-bank"`), 422, "invalid", "bank_id"},
		{"MalformedContractID", body(lw.contractA, "not-a-uuid"), 422, "invalid", "contract_id"},
		{"UnknownContract", body(lw.contractA, "00000000-0000-0000-0000-000000000000"), 422, "invalid", "contract_id"},
		{"AnothersContract", body(lw.contractA, lw.contractB), 422, "invalid", "contract_id"},
		{"UnknownCreditLine", body(`"purpose"`, `"credit_line_id": "00000000-0000-0000-0000-000000000000", "purpose"`), 422, "invalid", "credit_line_id"},
		{"UnknownField", body(`"purpose"`, `"colour": "red", "purpose"`), 422, "invalid", "colour"},
		{"Malformed", `{"contract_id": `, 400, "malformed_request", ""},
		{"OverHeadroom", body(`"100.00"`, `"1003000.01"`), 422, "verification_failed", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := wantProblem(t, lw.apply(lw.supplierA, tc.body), tc.status, tc.typ)
			if n := lw.count("applications"); n != 0 || lw.financed(lw.contractA) != "0.00" || lw.financed(lw.contractB) != "0.00" {
				t.Fatalf("a refused application reserved something: %d applications, financed %s / %s",
					n, lw.financed(lw.contractA), lw.financed(lw.contractB))
			}
			if tc.field != "" && !strings.Contains(fmt.Sprint(p["errors"]), "field:"+tc.field+" ") {
				t.Errorf("errors %v do not name %s (detail %q)", p["errors"], tc.field, p["detail"])
			}
			if tc.name == "AnothersContract" && !strings.Contains(fmt.Sprint(p["errors"]), "code:unknown") {
				t.Errorf("another supplier's contract: errors %v, want code unknown", p["errors"])
			}
			if tc.typ == "verification_failed" {
				v, _ := p["verification"].(map[string]any)
				checks, _ := v["checks"].([]any)
				if v == nil || v["passed"] != false || len(checks) < 2 || checkResult(v, "financing.headroom") != "fail" {
					t.Errorf("the problem's verification member %v does not list the checks with the failed headroom", p["verification"])
				}
			}
		})
	}
	// What the table refused fits when asked for properly.
	if r := lw.apply(lw.supplierA, body(`"100.00"`, `"1003000.00"`)); r.status != 201 {
		t.Fatalf("the whole headroom: %d %s", r.status, r.body)
	}
}

func TestCreditApplicationRolesAndTenancy(t *testing.T) {
	t.Parallel()
	lw := newLendingWorld(t)
	wantProblem(t, lw.apply(lw.officer, applicationBody(lw.contractA, `"100.00"`)), http.StatusForbidden, "forbidden")
	wantProblem(t, lw.apply(lw.admin, applicationBody(lw.contractA, `"100.00"`)), http.StatusForbidden, "forbidden")
	wantProblem(t, lw.apply("", applicationBody(lw.contractA, `"100.00"`)), http.StatusUnauthorized, "unauthorized")

	a := lw.applied(lw.supplierA, lw.contractA, "200000.00")
	if items, _ := lw.list(lw.supplierB, "/v1/credit-applications"); len(items) != 0 {
		t.Fatalf("supplier B lists %d applications, none of them its own", len(items))
	}
	lw.registerSupplier(usccB, "Beijing Other Firm Co.")
	b := lw.applied(lw.supplierB, lw.contractB, "100000.00")

	all, _ := lw.list(lw.officer, "/v1/credit-applications")
	if got := strings.Join(itemIDs(all), " "); got != b+" "+a { // newest first
		t.Fatalf("officer lists %s, want %s %s", got, b, a)
	}
	for _, c := range []struct{ token, uscc, id string }{{lw.supplierA, usccA, a}, {lw.supplierB, usccB, b}} {
		items, _ := lw.list(c.token, "/v1/credit-applications")
		if len(items) != 1 || items[0]["id"] != c.id || items[0]["supplier_uscc"] != c.uscc {
			t.Fatalf("supplier %s lists %v, want only %s", c.uscc, itemIDs(items), c.id)
		}
	}
	for _, tok := range []string{lw.supplierA, lw.officer} {
		if r := lw.do("GET", "/v1/credit-applications/"+a, tok, nil); r.status != 200 || r.json(t)["id"] != a {
			t.Fatalf("get own / as officer: %d %s", r.status, r.body)
		}
	}
	wantProblem(t, lw.do("GET", "/v1/credit-applications/"+a, lw.supplierB, nil), 404, "not_found")
	wantProblem(t, lw.do("GET", "/v1/credit-applications/not-a-uuid", lw.officer, nil), 404, "not_found")
	wantProblem(t, lw.do("GET", "/v1/credit-applications/00000000-0000-0000-0000-000000000000", lw.officer, nil), 404, "not_found")

	// Cancelling: only the supplier itself.
	wantProblem(t, lw.do("POST", "/v1/credit-applications/"+a+"/cancel", lw.supplierB, nil), 404, "not_found")
	wantProblem(t, lw.do("POST", "/v1/credit-applications/"+a+"/cancel", lw.officer, nil), http.StatusForbidden, "forbidden")
	if lw.financed(lw.contractA) != "200000.00" {
		t.Fatalf("a refused cancel changed the contract: financed %s", lw.financed(lw.contractA))
	}
	r := lw.do("POST", "/v1/credit-applications/"+a+"/cancel", lw.supplierA, nil, "Idempotency-Key", "c1")
	if r.status != 200 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	var got struct {
		Status  string
		History []struct{ From, To, Actor string }
	}
	json.Unmarshal(r.body, &got)
	if got.Status != "cancelled" || len(got.History) != 2 || got.History[1].From != "submitted" || got.History[1].To != "cancelled" ||
		!strings.HasPrefix(got.History[1].Actor, "user:") {
		t.Fatalf("cancelled: %s", r.body)
	}
	if lw.financed(lw.contractA) != "0.00" || lw.financed(lw.contractB) != "100000.00" {
		t.Fatalf("after cancelling: financed %s / %s, want 0.00 / 100000.00", lw.financed(lw.contractA), lw.financed(lw.contractB))
	}
	var pending int
	lw.db.Get(&pending, `SELECT count(*) FROM deliveries WHERE application_id = $1 AND status = 'pending'`, a)
	if pending != 0 {
		t.Fatal("a cancelled application is still queued for the bank")
	}
	// The same key replays the answer; a new one meets a cancelled application.
	if again := lw.do("POST", "/v1/credit-applications/"+a+"/cancel", lw.supplierA, nil, "Idempotency-Key", "c1"); again.status != 200 ||
		again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("cancel replay: %d %v", again.status, again.header)
	}
	wantProblem(t, lw.do("POST", "/v1/credit-applications/"+a+"/cancel", lw.supplierA, nil, "Idempotency-Key", "c2"), 409, "invalid_transition")
	wantProblem(t, lw.do("POST", "/v1/credit-applications/"+a+"/cancel", lw.supplierA, nil), 409, "invalid_transition")
	if lw.financed(lw.contractA) != "0.00" {
		t.Fatalf("cancelling twice released twice: financed %s", lw.financed(lw.contractA))
	}
}

func TestCreditApplicationFilters(t *testing.T) {
	t.Parallel()
	lw := newLendingWorld(t)
	var created []string // oldest first
	for _, amount := range []string{"1000.00", "2000.00", "3000.00", "4000.00"} {
		created = append(created, lw.applied(lw.supplierA, lw.contractA, amount))
	}
	if r := lw.do("POST", "/v1/credit-applications/"+created[1]+"/cancel", lw.supplierA, nil); r.status != 200 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}

	items, _ := lw.list(lw.supplierA, "/v1/credit-applications?status=cancelled")
	if len(items) != 1 || items[0]["id"] != created[1] || items[0]["status"] != "cancelled" {
		t.Fatalf("?status=cancelled: %v", items)
	}
	items, _ = lw.list(lw.officer, "/v1/credit-applications?status=submitted")
	if len(items) != 3 {
		t.Fatalf("?status=submitted: %d items, want 3", len(items))
	}
	for _, it := range items {
		if it["status"] != "submitted" {
			t.Fatalf("?status=submitted lists a %s application", it["status"])
		}
	}
	if items, _ := lw.list(lw.officer, "/v1/credit-applications?status=approved"); len(items) != 0 {
		t.Fatalf("?status=approved: %d items, want none", len(items))
	}
	today := money.DateOf(time.Now())
	if items, _ := lw.list(lw.officer, "/v1/credit-applications?from="+today.AddDays(-1).String()+"&to="+today.AddDays(1).String()); len(items) != 4 {
		t.Fatalf("from yesterday to tomorrow: %d items, want 4", len(items))
	}
	if items, _ := lw.list(lw.officer, "/v1/credit-applications?to=2000-01-01"); len(items) != 0 {
		t.Fatalf("to 2000-01-01: %d items, want none", len(items))
	}
	if items, _ := lw.list(lw.officer, "/v1/credit-applications?from="+today.AddDays(2).String()); len(items) != 0 {
		t.Fatalf("from the day after tomorrow: %d items, want none", len(items))
	}
	if items, _ := lw.list(lw.officer, "/v1/credit-applications?bank_id=other-bank"); len(items) != 0 {
		t.Fatalf("?bank_id=other-bank: %d items, want none", len(items))
	}

	for _, bad := range []struct{ query, field string }{
		{"status=bogus", "status"},
		{"from=2026-13-01", "from"},
		{"to=yesterday", "to"},
		{"limit=0", "limit"},
		{"limit=501", "limit"},
		{"cursor=!!", "cursor"},
	} {
		p := wantProblem(t, lw.do("GET", "/v1/credit-applications?"+bad.query, lw.officer, nil), 422, "invalid")
		if !strings.Contains(fmt.Sprint(p["errors"]), "field:"+bad.field+" ") {
			t.Fatalf("?%s: errors %v do not name %s", bad.query, p["errors"], bad.field)
		}
	}

	// limit=1 walks every application exactly once, newest first.
	var walked []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		items, next := lw.list(lw.supplierA, "/v1/credit-applications?limit=1"+cursor)
		if len(items) > 1 {
			t.Fatalf("limit=1 gave %d items", len(items))
		}
		walked = append(walked, itemIDs(items)...)
		if next == nil {
			break
		}
		cursor = "&cursor=" + *next
	}
	want := []string{created[3], created[2], created[1], created[0]}
	if strings.Join(walked, " ") != strings.Join(want, " ") {
		t.Fatalf("paged through %v, want %v", walked, want)
	}
	// A filter holds across pages too.
	walked, cursor = nil, ""
	for pages := 0; pages < 10; pages++ {
		items, next := lw.list(lw.supplierA, "/v1/credit-applications?status=submitted&limit=2"+cursor)
		walked = append(walked, itemIDs(items)...)
		if next == nil {
			break
		}
		cursor = "&cursor=" + *next
	}
	if want := []string{created[3], created[2], created[0]}; strings.Join(walked, " ") != strings.Join(want, " ") {
		t.Fatalf("paged through submitted %v, want %v", walked, want)
	}
}

func TestCreditLinesAndLoans(t *testing.T) {
	t.Parallel()
	lw := newLendingWorld(t)
	var lineID string
	err := postgres.Transact(context.Background(), lw.db, func(tx *postgres.Tx) error {
		ceiling := money.MustRate("0.05")
		l, err := lw.lending.SetLine(context.Background(), tx, "qilu-bank", lending.LineTerms{BankLineID: "QL-LINE-1", SupplierUSCC: usccA,
			Limit: money.MustAmount("500000.00"), ValidFrom: money.DateOf(time.Now()).AddDays(-30), ValidUntil: money.DateOf(time.Now()).AddDays(365),
			Revolving: true, RateCeiling: &ceiling}, true, "bank:qilu-bank")
		lineID = l.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	line := func(tok string) map[string]any {
		t.Helper()
		items, next := lw.list(tok, "/v1/credit-lines")
		if len(items) != 1 || next != nil || items[0]["id"] != lineID {
			t.Fatalf("credit lines: %v", items)
		}
		return items[0]
	}
	l := line(lw.supplierA)
	if l["limit"] != "500000.00" || l["used"] != "0.00" || l["available"] != "500000.00" || l["bank_id"] != "qilu-bank" ||
		l["bank_line_id"] != "QL-LINE-1" || l["revolving"] != true || l["status"] != "active" {
		t.Fatalf("line %v", l)
	}
	if items, _ := lw.list(lw.supplierB, "/v1/credit-lines"); len(items) != 0 {
		t.Fatalf("supplier B sees %d of A's lines", len(items))
	}

	r := lw.apply(lw.supplierA, strings.Replace(applicationBody(lw.contractA, `"300000.00"`), `"purpose"`,
		fmt.Sprintf(`"credit_line_id": %q, "purpose"`, lineID), 1))
	if r.status != 201 || r.json(t)["credit_line_id"] != lineID {
		t.Fatalf("apply on the line: %d %s", r.status, r.body)
	}
	for _, tok := range []string{lw.supplierA, lw.officer} {
		if l := line(tok); l["used"] != "300000.00" || l["available"] != "200000.00" || l["limit"] != "500000.00" {
			t.Fatalf("line after drawing 300000.00: %v", l)
		}
	}
	p := wantProblem(t, lw.apply(lw.supplierA, strings.Replace(applicationBody(lw.contractA, `"200000.01"`), `"purpose"`,
		fmt.Sprintf(`"credit_line_id": %q, "purpose"`, lineID), 1)), 422, "verification_failed")
	if checkResult(p["verification"].(map[string]any), "credit_line.available") != "fail" {
		t.Fatalf("over the line: %v", p["verification"])
	}
	if l := line(lw.supplierA); l["used"] != "300000.00" {
		t.Fatalf("a refused draw changed the line: %v", l)
	}

	for _, tok := range []string{lw.supplierA, lw.supplierB, lw.officer} {
		if items, next := lw.list(tok, "/v1/loans"); len(items) != 0 || next != nil {
			t.Fatalf("loans before any disbursement: %v", items)
		}
	}
	wantProblem(t, lw.do("GET", "/v1/loans/00000000-0000-0000-0000-000000000000", lw.officer, nil), 404, "not_found")
	wantProblem(t, lw.do("GET", "/v1/loans/x", lw.supplierA, nil), 404, "not_found")
}

// TestLoansList: loans made on applications (through the lending service,
// as the bank's events would) are listed for their supplier and officers,
// and a list longer than a page can be walked with next_cursor.
func TestLoansList(t *testing.T) {
	t.Parallel()
	lw := newLendingWorld(t)
	ctx := context.Background()
	today := money.DateOf(time.Now())
	for i, amount := range []string{"1000.00", "2000.00", "3000.00"} {
		id := lw.applied(lw.supplierA, lw.contractA, amount)
		err := postgres.Transact(ctx, lw.db, func(tx *postgres.Tx) error {
			err := lw.lending.Approve(ctx, tx, "qilu-bank", id, lending.Approval{ApprovedAmount: money.MustAmount(amount),
				AnnualRate: money.MustRate("0.0345"), TermDays: 180,
				RepaymentAccount: lending.RepaymentAccount{BankName: "Qilu Bank", AccountNo: "6222", AccountName: "Quancheng"}}, "bank:qilu-bank")
			if err != nil {
				return err
			}
			l, err := lw.lending.LockLoan(ctx, tx, lending.LoanKey{BankID: "qilu-bank", ApplicationID: id, BankLoanID: fmt.Sprintf("LN-%d", i)})
			if err != nil {
				return err
			}
			return lw.lending.Disburse(ctx, tx, l, lending.Disbursement{
				BankDisbursementID: fmt.Sprintf("D-%d", i), Amount: money.MustAmount(amount), ValueDate: today,
				MaturityDate: today.AddDays(180), AnnualRate: money.MustRate("0.0345")}, "bank:qilu-bank")
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, tok := range []string{lw.supplierA, lw.officer} {
		items, _ := lw.list(tok, "/v1/loans")
		if len(items) != 3 {
			t.Fatalf("%d loans listed, want 3", len(items))
		}
		for _, l := range items {
			if l["outstanding"] != l["disbursed"] || l["repaid_principal"] != "0.00" || l["bank_id"] != "qilu-bank" {
				t.Fatalf("loan %v", l)
			}
		}
	}
	if items, _ := lw.list(lw.supplierB, "/v1/loans"); len(items) != 0 {
		t.Fatalf("supplier B sees %d of A's loans", len(items))
	}
	items, _ := lw.list(lw.supplierA, "/v1/loans")
	if r := lw.do("GET", "/v1/loans/"+items[0]["id"].(string), lw.supplierA, nil); r.status != 200 {
		t.Fatalf("get loan: %d %s", r.status, r.body)
	}
	wantProblem(t, lw.do("GET", "/v1/loans/"+items[0]["id"].(string), lw.supplierB, nil), 404, "not_found")

	seen := map[string]bool{}
	cursor := ""
	for pages := 0; pages < 5; pages++ {
		items, next := lw.list(lw.supplierA, "/v1/loans?limit=1"+cursor)
		for _, id := range itemIDs(items) {
			if seen[id] {
				t.Fatalf("loan %s listed twice while paging", id)
			}
			seen[id] = true
		}
		if next == nil {
			break
		}
		cursor = "&cursor=" + *next
	}
	if len(seen) != 3 {
		t.Fatalf("GET /v1/loans?limit=1 pages through %d of 3 loans, want all 3", len(seen))
	}
}

// TestCreditApplicationRefusalReplayed: a refused application's answer is
// stored under its Idempotency-Key and replayed, even once the refusal no
// longer holds; a new key runs afresh.
func TestCreditApplicationRefusalReplayed(t *testing.T) {
	t.Parallel()
	lw := newLendingWorld(t)
	tooMuch := applicationBody(lw.contractA, `"9000000.00"`)
	first := lw.do("POST", "/v1/credit-applications", lw.supplierA, tooMuch, "Idempotency-Key", "r1")
	wantProblem(t, first, 422, "verification_failed")
	again := lw.do("POST", "/v1/credit-applications", lw.supplierA, tooMuch, "Idempotency-Key", "r1")
	if again.status != 422 || string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay of a refusal: %d %v %s", again.status, again.header, again.body)
	}
	wantProblem(t, lw.do("POST", "/v1/credit-applications", lw.supplierA, applicationBody(lw.contractA, `"1000.00"`),
		"Idempotency-Key", "r1"), 409, "idempotency_key_reused")
	if n := lw.count("applications"); n != 0 {
		t.Fatalf("%d applications after a refusal, want 0", n)
	}
	if ok := lw.do("POST", "/v1/credit-applications", lw.supplierA, applicationBody(lw.contractA, `"1000.00"`), "Idempotency-Key", "r2"); ok.status != 201 {
		t.Fatalf("a new key: %d %s", ok.status, ok.body)
	}
}

// TestCreditApplicationConcurrentKey: requests racing under one
// Idempotency-Key make one application; those with its body all answer it
// (the first answer, byte for byte), those with another body get a 409,
// and the contract holds the amount once.
func TestCreditApplicationConcurrentKey(t *testing.T) {
	t.Parallel()
	lw := newLendingWorld(t)
	bodies := map[string]string{"materials": applicationBody(lw.contractA, `"1000.00"`)}
	bodies["wages"] = strings.Replace(bodies["materials"], "materials", "wages", 1)
	const n = 12
	answers, purposes := make([]resp, n), make([]string, n)
	var wg sync.WaitGroup
	for i := range answers {
		purposes[i] = "materials"
		if i%4 == 3 {
			purposes[i] = "wages"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = lw.do("POST", "/v1/credit-applications", lw.supplierA, bodies[purposes[i]], "Idempotency-Key", "race")
		}()
	}
	wg.Wait()
	if c := lw.count("applications"); c != 1 || lw.financed(lw.contractA) != "1000.00" {
		t.Fatalf("%d applications, financed %s; want 1 and 1000.00", c, lw.financed(lw.contractA))
	}
	var won struct{ ID, Purpose string }
	if err := lw.db.Get(&won, `SELECT id, purpose FROM applications`); err != nil {
		t.Fatal(err)
	}
	stored := lw.do("POST", "/v1/credit-applications", lw.supplierA, bodies[won.Purpose], "Idempotency-Key", "race")
	if stored.status != 201 || stored.header.Get("Idempotent-Replayed") != "true" || !strings.Contains(string(stored.body), won.ID) {
		t.Fatalf("after the race: %d %s", stored.status, stored.body)
	}
	for i, a := range answers {
		switch {
		case purposes[i] == won.Purpose && (a.status != 201 || string(a.body) != string(stored.body) ||
			a.header.Get("Location") != "/v1/credit-applications/"+won.ID):
			t.Errorf("request %d: %d %s; want the stored answer %s", i, a.status, a.body, stored.body)
		case purposes[i] != won.Purpose && a.status != 409:
			t.Errorf("request %d with another body: %d %s, want 409", i, a.status, a.body)
		}
	}
}
