package handlers

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestIDSpellings: every route with an id in its path, given a real id in
// another spelling uuid.Parse accepts (urn:uuid:…, {…}, without hyphens),
// answers 404 to the caller allowed on it, never a 500 and never the
// resource. Upper case is the same id (UUIDs are case-insensitive): a GET
// finds the resource, under its canonical id.
func TestIDSpellings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu, appID, tokA := e.disbursedLoan()
	officerUser, officer := e.user("officer-li", "officer", "")
	_, admin := e.user("root2", "admin", "")
	// 800000.00 × 3.10 % × 90 / 360 = 6200.00 ≤ 6900.00 paid; × 0.5 = 3100.00.
	qilu.repay(appID, "R1", "400000.00", "6900.00", "2026-11-22", "2027-02-20")
	claims := e.claims(officer, "?status=pending")
	if len(claims) != 1 {
		t.Fatalf("setup: claims %+v", claims)
	}
	claimID := claims[0].ID
	var app, contract map[string]any
	json.Unmarshal(e.do("GET", "/v1/credit-applications/"+appID, tokA, nil).body, &app)
	contractID := app["contract_id"].(string)
	json.Unmarshal(e.do("GET", "/v1/contracts/"+contractID, tokA, nil).body, &contract)
	var loans struct{ Items []map[string]any }
	json.Unmarshal(e.do("GET", "/v1/loans", tokA, nil).body, &loans)
	if len(loans.Items) != 1 {
		t.Fatalf("setup: %d loans", len(loans.Items))
	}
	// A batch to close and export, made of another claim approved.
	// 400000.00 × 3.10 % × 30 / 360 = 1033.333… ≤ 1200.00 paid; × 0.5 = 516.67.
	qilu.repay(appID, "R2", "400000.00", "1200.00", "2027-02-20", "2027-03-22")
	var batchID string
	for _, c := range e.claims(officer, "?status=pending") {
		if c.ID != claimID {
			if r := e.do("POST", "/v1/subsidy-claims/"+c.ID+"/approve", officer, nil); r.status != 200 {
				t.Fatalf("setup: approve: %d %s", r.status, r.body)
			}
			r := e.do("POST", "/v1/subsidy-batches", officer, nil)
			if r.status != 201 {
				t.Fatalf("setup: batch: %d %s", r.status, r.body)
			}
			batchID = r.json(t)["id"].(string)
		}
	}
	if batchID == "" {
		t.Fatal("setup: no second claim")
	}
	var consents struct{ Items []map[string]any }
	json.Unmarshal(e.do("GET", "/v1/consents", tokA, nil).body, &consents)
	if len(consents.Items) != 1 {
		t.Fatalf("setup: %d consents", len(consents.Items))
	}
	intent := e.do("POST", "/v1/financing-intents", tokA, `{"contract_id": "`+contractID+`", "amount": "1000.00", "term_days": 90,
		"purpose": "materials", "bank_ids": ["qilu-bank"]}`, "Idempotency-Key", "ids-intent")
	if intent.status != 201 {
		t.Fatalf("setup: publish: %d %s", intent.status, intent.body)
	}
	idFor := map[string]string{
		"/v1/consents":            consents.Items[0]["id"].(string),
		"/v1/financing-intents":   intent.json(t)["id"].(string),
		"/v1/credit-applications": appID, "/v1/contracts": contractID, "/v1/award-notices": contract["notice_id"].(string),
		"/v1/loans": loans.Items[0]["id"].(string), "/v1/subsidy-claims": claimID, "/v1/subsidy-batches": batchID,
		"/v1/admin/users": officerUser.ID,
	}
	_, sduClerk := e.purchaserUser("sdu-clerk", "jinan-pprc", "sdu") // the contract's purchaser
	tokenFor := map[access]string{readersAll: tokA, docReaders: tokA, suppliersOnly: tokA, supplierOrOfficer: officer, officerOnly: officer,
		reviewersOnly: officer, adminOnly: admin, purchaserOrOfficer: officer, purchaserOrSigned: sduClerk, contractParties: officer}
	spellings := map[string]func(string) string{
		"urn":        func(id string) string { return "urn:uuid:" + id },
		"braces":     func(id string) string { return "{" + id + "}" },
		"no-hyphens": func(id string) string { return strings.ReplaceAll(id, "-", "") },
	}
	tested := 0
	for _, r := range e.h.(*gin.Engine).Routes() {
		if !strings.Contains(r.Path, "/:") || r.Path == "/v1/admin/deliveries/:id/requeue" { // a number, not an id
			continue
		}
		prefix := r.Path[:strings.Index(r.Path, "/:")]
		id, ok := idFor[prefix]
		if !ok {
			t.Errorf("route %s %s: which id does it take? add it to idFor", r.Method, r.Path)
			continue
		}
		tok, ok := tokenFor[routeAccess[r.Method+" "+r.Path]]
		if !ok {
			t.Errorf("route %s %s: no caller for its access", r.Method, r.Path)
			continue
		}
		for name, spell := range spellings {
			param := spell(id)
			if strings.HasSuffix(r.Path, ":file") {
				param += ".csv"
			}
			path := pathParam.ReplaceAllString(r.Path, strings.ReplaceAll(param, "$", "$$"))
			t.Run(r.Method+strings.ReplaceAll(r.Path, "/", "_")+"/"+name, func(t *testing.T) {
				res := e.do(r.Method, path, tok, `{"reason": "r"}`, "Idempotency-Key", "k-"+name+r.Method+r.Path)
				wantProblem(t, res, http.StatusNotFound, "not_found")
			})
			tested++
		}
		// The canonical spelling and upper case find it (GETs only: the
		// others change things).
		for _, param := range []string{id, strings.ToUpper(id)} {
			if r.Method != "GET" {
				break
			}
			if strings.HasSuffix(r.Path, ":file") {
				param += ".csv"
			}
			res := e.do("GET", pathParam.ReplaceAllString(r.Path, param), tok, nil)
			if res.status != http.StatusOK {
				t.Errorf("GET %s with %s: %d %s", r.Path, param, res.status, res.body)
			} else if !strings.HasSuffix(r.Path, ":file") && res.json(t)["items"] == nil && res.json(t)["id"] != id { // a list under the id: found
				t.Errorf("GET %s with %s: id %v, want %s", r.Path, param, res.json(t)["id"], id)
			}
		}
	}
	// Body fields naming an id: 422, naming the field; nothing written.
	apps := e.count("applications")
	for name, spell := range spellings {
		body := `{"contract_id": "` + spell(contractID) + `", "bank_id": "qilu-bank", "amount": "1000.00", "term_days": 30, "purpose": "materials"}`
		p := wantProblem(t, e.do("POST", "/v1/credit-applications", tokA, body, "Idempotency-Key", "body-"+name), http.StatusUnprocessableEntity, "invalid")
		if !strings.Contains(string(mustJSON(p["errors"])), `"contract_id"`) {
			t.Errorf("%s contract_id: problem %v names no contract_id", name, p)
		}
		p = wantProblem(t, qilu.send("ev-"+name, "application.received", spell(appID), `{}`), http.StatusUnprocessableEntity, "invalid")
		if !strings.Contains(string(mustJSON(p["errors"])), `"application_id"`) {
			t.Errorf("%s application_id: problem %v names no application_id", name, p)
		}
	}
	if n := e.count("applications"); n != apps {
		t.Fatalf("%d applications written by refused requests", n-apps)
	}
	// An id in a query string: the audit trail of the application, asked
	// for in upper case, is the same.
	var lower, upper struct{ Items []map[string]any }
	json.Unmarshal(e.do("GET", "/v1/audit?entity=application:"+appID, officer, nil).body, &lower)
	json.Unmarshal(e.do("GET", "/v1/audit?entity=application:"+strings.ToUpper(appID), officer, nil).body, &upper)
	if len(lower.Items) == 0 || len(upper.Items) != len(lower.Items) {
		t.Errorf("audit trail: %d rows by the id, %d by it in upper case", len(lower.Items), len(upper.Items))
	}
	if tested < 11*len(spellings) {
		t.Fatalf("only %d requests tested", tested)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
