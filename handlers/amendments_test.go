package handlers

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// amendedContractBody is a contract of the second issuer on supplier A,
// number no, for amount (no payment terms), with status.
func amendedContractBody(no, amount, uscc, status string) string {
	return fmt.Sprintf(`{"contract_no": %q, "notice_no": "JNCG-2026-0815",
 "purchaser": {"id": "sdu"}, "supplier": {"uscc": %q},
 "amount": %q, "signed_on": "2026-10-20",
 "period": {"start": "2026-11-01", "end": "2099-04-30"},
 "payment_terms": [], "status": %q}`, no, uscc, amount, status)
}

// amendWorld is the lending world with a second issuer (qingdao-pprc) whose
// award notice JNCG-2026-0815 names supplier A.
type amendWorld struct {
	*lendingWorld
	is *issuerSystem
}

func newAmendWorld(t *testing.T) *amendWorld {
	t.Helper()
	aw := &amendWorld{lendingWorld: newLendingWorld(t)}
	aw.is = aw.issuer("qingdao-pprc")
	if r := aw.is.post("/v1/award-notices", noticeBody); r.status != 201 {
		t.Fatalf("notice: %d %s", r.status, r.body)
	}
	return aw
}

// contract submits a contract signed by qingdao-pprc and returns the answer.
func (aw *amendWorld) contract(no, amount, uscc, status string) (outcome string, c map[string]any) {
	aw.t.Helper()
	r := aw.is.post("/v1/contracts", amendedContractBody(no, amount, uscc, status))
	if r.status != 200 && r.status != 201 {
		aw.t.Fatalf("contract %s at %s: %d %s", no, amount, r.status, r.body)
	}
	m := r.json(aw.t)
	return m["outcome"].(string), m["contract"].(map[string]any)
}

func (aw *amendWorld) get(id string) map[string]any {
	aw.t.Helper()
	r := aw.do("GET", "/v1/contracts/"+id, aw.officer, nil)
	if r.status != 200 {
		aw.t.Fatalf("GET contract: %d %s", r.status, r.body)
	}
	return r.json(aw.t)
}

var resolveSeq atomic.Int64

func (aw *amendWorld) resolve(token, id, version, body string) resp {
	aw.t.Helper()
	return aw.do("POST", "/v1/contracts/"+id+"/amendments/"+version+"/resolve", token, body,
		"Idempotency-Key", fmt.Sprintf("resolve-%d", resolveSeq.Add(1)))
}

func financingOf(c map[string]any) (limit, financed string) {
	f := c["financing"].(map[string]any)
	return f["limit"].(string), f["financed"].(string)
}

// The issue: a financed contract of 1000000.00 re-posted at 100000.00 became
// current with limit 85000.00 and 800000.00 financed.
func TestContractAmendmentUnderLoan(t *testing.T) {
	t.Parallel()
	aw := newAmendWorld(t)
	_, c := aw.contract("HT-QD-1", "1000000.00", usccA, "active")
	id := c["id"].(string)
	// Limit 0.85 × 1000000.00 = 850000.00; 800000.00 of it financed.
	first := aw.applied(aw.supplierA, id, "800000.00")

	outcome, c := aw.contract("HT-QD-1", "100000.00", usccA, "active")
	limit, financed := financingOf(c)
	if outcome != "amendment_pending_review" || c["version"] != 1.0 || c["amount"] != "1000000.00" ||
		limit != "850000.00" || financed != "800000.00" || c["amendment_pending_review"] != true {
		t.Fatalf("re-posted at 100000.00: outcome %s, version %v, amount %v, limit %s, financed %s, flagged %v",
			outcome, c["version"], c["amount"], limit, financed, c["amendment_pending_review"])
	}
	if n := aw.count("document_versions WHERE kind = 'contract' AND document_id = '" + id + "'"); n != 2 {
		t.Fatalf("%d versions stored, want 2", n)
	}

	// Officers see the flag and the version waiting, the supplier the flag.
	got := aw.get(id)
	pending, _ := got["pending_amendments"].([]any)
	if got["amendment_pending_review"] != true || len(pending) != 1 {
		t.Fatalf("officer's view: %v", got)
	}
	a := pending[0].(map[string]any)
	// The version's limit: 0.85 × 100000.00 = 85000.00.
	if a["version"] != 2.0 || fmt.Sprint(a["reasons"]) != "[limit_below_financed]" || a["financing_limit"] != "85000.00" ||
		a["financed"] != "800000.00" || a["status"] != "pending" || a["document"].(map[string]any)["amount"] != "100000.00" {
		t.Fatalf("pending amendment %v", a)
	}
	if r := aw.do("GET", "/v1/contracts/"+id, aw.supplierA, nil); r.status != 200 || r.json(t)["amendment_pending_review"] != true ||
		r.json(t)["pending_amendments"] != nil {
		t.Fatalf("supplier's view: %d %s", r.status, r.body)
	}
	items, _ := aw.list(aw.officer, "/v1/contracts?amendment=pending")
	if ids := itemIDs(items); len(ids) != 1 || ids[0] != id {
		t.Fatalf("contracts pending review: %v, want only %s", ids, id)
	}
	p := wantProblem(t, aw.do("GET", "/v1/contracts?amendment=maybe&limit=0", aw.officer, nil), 422, "invalid")
	if !strings.Contains(fmt.Sprint(p["errors"]), "field:amendment") {
		t.Fatalf("bad filter: %v", p["errors"])
	}

	// No new application while it waits.
	p = wantProblem(t, aw.apply(aw.supplierA, applicationBody(id, `"10000.00"`)), 422, "verification_failed")
	if checkResult(p["verification"].(map[string]any), "contract.no_pending_amendment") != "fail" {
		t.Fatalf("application on a flagged contract: %v", p["verification"])
	}
	if aw.financed(id) != "800000.00" {
		t.Fatalf("financed %s after a refused application", aw.financed(id))
	}

	// Only officers resolve, a known version, with a decision and a reason.
	wantProblem(t, aw.resolve(aw.supplierA, id, "2", `{"decision": "keep", "reason": "x"}`), http.StatusForbidden, "forbidden")
	wantProblem(t, aw.resolve(aw.admin, id, "2", `{"decision": "keep", "reason": "x"}`), http.StatusForbidden, "forbidden")
	wantProblem(t, aw.resolve(aw.officer, id, "9", `{"decision": "keep", "reason": "x"}`), 404, "not_found")
	wantProblem(t, aw.resolve(aw.officer, id, "1", `{"decision": "keep", "reason": "x"}`), 404, "not_found")
	wantProblem(t, aw.resolve(aw.officer, id, "two", `{"decision": "keep", "reason": "x"}`), 404, "not_found")
	wantProblem(t, aw.resolve(aw.officer, aw.contractA, "2", `{"decision": "keep", "reason": "x"}`), 404, "not_found")
	p = wantProblem(t, aw.resolve(aw.officer, id, "2", `{"decision": "maybe"}`), 422, "invalid")
	if e := fmt.Sprint(p["errors"]); !strings.Contains(e, "field:decision") || !strings.Contains(e, "field:reason") {
		t.Fatalf("bad body names %v, want decision and reason", e)
	}
	wantProblem(t, aw.resolve(aw.officer, id, "2", `{"decision": "keep", "reason": "x", "extra": 1}`), 422, "invalid")

	// Adopting it would break the limit: refused, nothing changed.
	p = wantProblem(t, aw.resolve(aw.officer, id, "2", `{"decision": "adopt", "reason": "the scope was cut"}`), 409, "conflict")
	if d, _ := p["detail"].(string); !strings.Contains(d, "85000.00") || !strings.Contains(d, "800000.00") {
		t.Fatalf("the refusal does not say why: %q", d)
	}
	if got := aw.get(id); got["version"] != 1.0 || got["amendment_pending_review"] != true {
		t.Fatalf("a refused adoption changed the contract: %v", got)
	}

	// Keep: the flag is cleared, the reason recorded, applications accepted.
	r := aw.resolve(aw.officer, id, "2", `{"decision": "keep", "reason": "the issuer posted a draft by mistake"}`)
	if r.status != 200 || r.json(t)["amendment_pending_review"] != false || r.json(t)["version"] != 1.0 {
		t.Fatalf("keep: %d %s", r.status, r.body)
	}
	var reason string
	if err := aw.db.Get(&reason, `SELECT reason FROM audit_log WHERE action = 'contract.amendment_kept' AND entity_id = $1`, id); err != nil ||
		reason != "the issuer posted a draft by mistake" {
		t.Fatalf("audit of keep: %q %v", reason, err)
	}
	wantProblem(t, aw.resolve(aw.officer, id, "2", `{"decision": "adopt", "reason": "again"}`), 409, "conflict")
	second := aw.applied(aw.supplierA, id, "10000.00")

	// The issuer insists (version 3); once the financing is released, adopt.
	if outcome, _ := aw.contract("HT-QD-1", "100000.00", usccA, "active"); outcome != "amendment_pending_review" {
		t.Fatalf("posted again: %s", outcome)
	}
	for _, app := range []string{first, second} {
		if r := aw.do("POST", "/v1/credit-applications/"+app+"/cancel", aw.supplierA, nil, "Idempotency-Key", "cancel-"+app); r.status != 200 {
			t.Fatalf("cancel: %d %s", r.status, r.body)
		}
	}
	r = aw.resolve(aw.officer, id, "3", `{"decision": "adopt", "reason": "the purchaser cut the scope"}`)
	if r.status != 200 {
		t.Fatalf("adopt: %d %s", r.status, r.body)
	}
	c = r.json(t)
	limit, financed = financingOf(c)
	if c["version"] != 3.0 || c["amount"] != "100000.00" || limit != "85000.00" || financed != "0.00" || c["amendment_pending_review"] != false {
		t.Fatalf("adopted: version %v, amount %v, limit %s, financed %s", c["version"], c["amount"], limit, financed)
	}
	if n := aw.count("audit_log WHERE action = 'contract.amendment_adopted' AND reason = 'the purchaser cut the scope'"); n != 1 {
		t.Fatalf("%d audit rows of the adoption", n)
	}
	if items, _ := aw.list(aw.officer, "/v1/contracts?amendment=pending"); len(items) != 0 {
		t.Fatalf("still pending: %v", itemIDs(items))
	}
}

func TestContractAmendmentPartiesAndStatus(t *testing.T) {
	t.Parallel()
	aw := newAmendWorld(t)
	_, c := aw.contract("HT-QD-2", "1000000.00", usccA, "active")
	id := c["id"].(string)
	aw.applied(aw.supplierA, id, "100.00")
	for _, tc := range []struct {
		name, uscc, status, reasons string
		version                     float64
	}{
		{"Supplier", usccB, "active", "[supplier_changed]", 2},
		{"Cancelled", usccA, "cancelled", "[cancelled]", 3},
		{"Terminated", usccA, "terminated", "[terminated]", 4},
	} {
		outcome, c := aw.contract("HT-QD-2", "1000000.00", tc.uscc, tc.status)
		if outcome != "amendment_pending_review" || c["version"] != 1.0 || c["status"] != "active" ||
			c["supplier"].(map[string]any)["uscc"] != usccA {
			t.Fatalf("%s: outcome %s, contract %v", tc.name, outcome, c)
		}
		pending := aw.get(id)["pending_amendments"].([]any)
		a := pending[len(pending)-1].(map[string]any)
		if a["version"] != tc.version || fmt.Sprint(a["reasons"]) != tc.reasons {
			t.Fatalf("%s: %v", tc.name, a)
		}
	}
	items, _ := aw.list(aw.officer, "/v1/contracts?amendment=pending")
	if len(items) != 1 || items[0]["id"] != id || len(items[0]["pending_amendments"].([]any)) != 3 {
		t.Fatalf("contracts pending review: %v", items)
	}
	if items, _ := aw.list(aw.supplierB, "/v1/contracts?amendment=pending"); len(items) != 0 {
		t.Fatalf("another supplier sees %v", itemIDs(items))
	}
	// Adopting another supplier is refused while anything is financed.
	wantProblem(t, aw.resolve(aw.officer, id, "2", `{"decision": "adopt", "reason": "novation"}`), 409, "conflict")

	// A contract nobody finances is replaced as before, whatever changes.
	aw.contract("HT-QD-3", "1000000.00", usccA, "active")
	outcome, u := aw.contract("HT-QD-3", "100000.00", usccA, "cancelled")
	if limit, _ := financingOf(u); outcome != "new_version" || u["version"] != 2.0 || u["amount"] != "100000.00" ||
		u["status"] != "cancelled" || limit != "85000.00" || u["amendment_pending_review"] != false {
		t.Fatalf("unfinanced: %s %v", outcome, u)
	}
	// Nor is a version that keeps the financing whole: 0.85 × 950000.00 =
	// 807500.00, of which 100.00 is financed. It is current; the versions
	// held above still wait.
	outcome, c = aw.contract("HT-QD-2", "950000.00", usccA, "active")
	if limit, financed := financingOf(c); outcome != "new_version" || c["version"] != 5.0 || limit != "807500.00" ||
		financed != "100.00" || c["amendment_pending_review"] != true {
		t.Fatalf("a version within the financing: %s, version %v, limit %s, financed %s", outcome, c["version"], limit, financed)
	}
}

// An amendment and an application racing on one contract: whichever takes
// the contract's row lock first, the other sees it, and what is financed
// never exceeds the current version's limit.
func TestContractAmendmentRacesApplication(t *testing.T) {
	t.Parallel()
	aw := newAmendWorld(t)
	applied, replaced := 0, 0
	for i := range 12 {
		no := fmt.Sprintf("HT-RACE-%d", i)
		_, c := aw.contract(no, "1000000.00", usccA, "active")
		id := c["id"].(string)
		var wg sync.WaitGroup
		var app, post resp
		body := amendedContractBody(no, "100000.00", usccA, "active")
		sig := aw.is.sign("/v1/contracts", body)
		wg.Add(2)
		go func() {
			defer wg.Done()
			app = aw.do("POST", "/v1/credit-applications", aw.supplierA, applicationBody(id, `"800000.00"`),
				"Idempotency-Key", "race-"+no)
		}()
		go func() {
			defer wg.Done()
			post = aw.do("POST", "/v1/contracts", "", body, "Procfin-Signature", sig)
		}()
		wg.Wait()
		if post.status != 200 {
			t.Fatalf("round %d: post %d %s", i, post.status, post.body)
		}
		got := aw.get(id)
		limit, financed := financingOf(got)
		outcome := post.json(t)["outcome"]
		switch {
		case app.status == 201:
			// The application came first: 800000.00 of 0.85 × 1000000.00 =
			// 850000.00; the cut (limit 85000.00) waits for review.
			applied++
			if outcome != "amendment_pending_review" || got["version"] != 1.0 || limit != "850000.00" ||
				financed != "800000.00" || got["amendment_pending_review"] != true {
				t.Fatalf("round %d, application first: %s, version %v, limit %s, financed %s", i, outcome, got["version"], limit, financed)
			}
		case app.status == 422:
			// The cut came first: 800000.00 is over its 85000.00 limit.
			replaced++
			if outcome != "new_version" || got["version"] != 2.0 || limit != "85000.00" || financed != "0.00" {
				t.Fatalf("round %d, cut first: %s, version %v, limit %s, financed %s", i, outcome, got["version"], limit, financed)
			}
		default:
			t.Fatalf("round %d: application %d %s", i, app.status, app.body)
		}
	}
	t.Logf("application first %d times, amendment first %d times", applied, replaced)
}
