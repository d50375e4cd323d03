package handlers

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"procfin/platform/signature"
)

const (
	usccA = "91350100M000100Y43"
	usccB = "91110000600037341L"
	base  = "http://127.0.0.1:8080"
)

// issuerSystem is a procurement centre's system that signs its requests.
type issuerSystem struct {
	e      *env
	signer signature.Signer
}

func (e *env) issuer(id string) *issuerSystem {
	e.t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	is := &issuerSystem{e: e, signer: signature.Signer{ID: id, KeyID: id + "-k1", Key: priv, Algorithm: "EdDSA"}}
	jwks, _ := json.Marshal(is.signer.PublicJWKS())
	_, admin := e.user("admin-"+id, "admin", "")
	r := e.do("POST", "/v1/admin/issuers", admin, fmt.Sprintf(`{"id": %q, "name": "Jinan Public Procurement Centre", "jwks": %s}`, id, jwks))
	if r.status != 201 {
		e.t.Fatalf("register issuer: %d %s", r.status, r.body)
	}
	return is
}

func (is *issuerSystem) sign(path, body string) string {
	is.e.t.Helper()
	h, err := is.signer.Sign("POST", base+path, "procfin", []byte(body), time.Now())
	if err != nil {
		is.e.t.Fatal(err)
	}
	return h
}

func (is *issuerSystem) post(path, body string) resp {
	is.e.t.Helper()
	return is.e.do("POST", path, "", body, "Procfin-Signature", is.sign(path, body))
}

const noticeBody = `{"notice_no": "JNCG-2026-0815", "project_no": "JNCG-2026-P-88", "project_name": "Campus network upgrade",
 "purchaser": {"id": "sdu", "name": "Shandong University"},
 "supplier": {"uscc": "91350100M000100Y43", "name": "Quancheng Software Co."},
 "amount": "1200000.00", "currency": "CNY", "awarded_on": "2026-10-08",
 "procurement_method": "open_tender", "status": "active"}`

const contractBody = `{"contract_no": "HT-2026-0815-1", "notice_no": "JNCG-2026-0815",
 "purchaser": {"id": "sdu"}, "supplier": {"uscc": "91350100M000100Y43"},
 "amount": "1180000.00", "signed_on": "2026-10-20",
 "period": {"start": "2026-11-01", "end": "2099-04-30"},
 "payment_terms": [{"due_on": "2099-05-31", "amount": "1180000.00", "condition": "acceptance"}],
 "status": "active"}`

func TestIssuerSubmissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	is := e.issuer("jinan-pprc")

	r := is.post("/v1/award-notices", noticeBody)
	if r.status != 201 || r.json(t)["outcome"] != "created" || !strings.HasPrefix(r.header.Get("Location"), "/v1/award-notices/") {
		t.Fatalf("notice: %d %s", r.status, r.body)
	}
	again := is.post("/v1/award-notices", noticeBody)
	if again.status != 200 || again.json(t)["outcome"] != "unchanged" {
		t.Fatalf("same notice again: %d %s", again.status, again.body)
	}
	changed := is.post("/v1/award-notices", strings.Replace(noticeBody, "1200000.00", "1250000.00", 1))
	if changed.status != 200 || changed.json(t)["outcome"] != "new_version" {
		t.Fatalf("changed notice: %d %s", changed.status, changed.body)
	}
	c := is.post("/v1/contracts", contractBody)
	if c.status != 201 {
		t.Fatalf("contract: %d %s", c.status, c.body)
	}
	contract := c.json(t)["contract"].(map[string]any)
	fin := contract["financing"].(map[string]any)
	if fin["limit"] != "1003000.00" || fin["available"] != "1003000.00" || contract["amount"] != "1180000.00" {
		t.Fatalf("contract financing %v", contract)
	}
}

func TestIssuerSubmissionAttacks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	is := e.issuer("jinan-pprc")
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	forger := signature.Signer{ID: "jinan-pprc", KeyID: "jinan-pprc-k1", Key: otherKey, Algorithm: "EdDSA"}
	forged, _ := forger.Sign("POST", base+"/v1/award-notices", "procfin", []byte(noticeBody), time.Now())
	stale, _ := is.signer.Sign("POST", base+"/v1/award-notices", "procfin", []byte(noticeBody), time.Now().Add(-10*time.Minute))
	wrongPath, _ := is.signer.Sign("POST", base+"/v1/contracts", "procfin", []byte(noticeBody), time.Now())
	replayed := is.sign("/v1/award-notices", noticeBody)
	if r := e.do("POST", "/v1/award-notices", "", noticeBody, "Procfin-Signature", replayed); r.status != 201 {
		t.Fatalf("first use: %d %s", r.status, r.body)
	}
	before := e.count("award_notices") + e.count("document_versions") + e.count("audit_log")
	cases := map[string][2]string{ // header, body
		"Unsigned":     {"", noticeBody},
		"Forged":       {forged, noticeBody},
		"Expired":      {stale, noticeBody},
		"OtherRoute":   {wrongPath, noticeBody},
		"TamperedBody": {is.sign("/v1/award-notices", noticeBody), strings.Replace(noticeBody, "1200000.00", "9200000.00", 1)},
		"Replayed":     {replayed, noticeBody},
		"Garbage":      {"eyJ.hello.world", noticeBody},
		"UnknownIssuer": {func() string {
			s := is.signer
			s.ID = "nobody"
			h, _ := s.Sign("POST", base+"/v1/award-notices", "procfin", []byte(noticeBody), time.Now())
			return h
		}(), noticeBody},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			wantProblem(t, e.do("POST", "/v1/award-notices", "", tc[1], "Procfin-Signature", tc[0]), http.StatusUnauthorized, "signature_invalid")
		})
	}
	if after := e.count("award_notices") + e.count("document_versions") + e.count("audit_log"); after != before {
		t.Fatal("a refused message left a trace in the database")
	}
	metrics := string(e.metrics())
	if !strings.Contains(metrics, `procfin_signed_message_rejections_total{reason="replay",route="/v1/award-notices"} 1`) {
		t.Fatal("rejections are not counted by reason")
	}
}

func TestIssuerSubmissionBadDocuments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	is := e.issuer("jinan-pprc")
	cases := []struct{ name, path, body, field, code string }{
		{"BadUSCC", "/v1/award-notices", strings.Replace(noticeBody, "91350100M000100Y43", "91350100M000100Y44", 1), "supplier.uscc", "uscc_checksum"},
		{"AmountAsNumber", "/v1/award-notices", strings.Replace(noticeBody, `"1200000.00"`, `1200000.00`, 1), "", ""},
		{"UnknownField", "/v1/award-notices", strings.Replace(noticeBody, `"status"`, `"colour": "red", "status"`, 1), "colour", "unknown_field"},
		{"MissingNotice", "/v1/contracts", contractBody, "notice_no", "award_not_found"},
		{"PeriodBackwards", "/v1/contracts", strings.Replace(contractBody, `"2099-04-30"`, `"2026-10-01"`, 1), "period.end", "before_start"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.count("award_notices") + e.count("contracts") + e.count("suppliers")
			r := is.post(tc.path, tc.body)
			p := wantProblem(t, r, 422, "invalid")
			if tc.field != "" && !strings.Contains(fmt.Sprint(p["errors"]), "field:"+tc.field+" ") && !strings.Contains(fmt.Sprint(p["errors"]), "code:"+tc.code) {
				t.Fatalf("errors %v do not name %s/%s", p["errors"], tc.field, tc.code)
			}
			if e.count("award_notices")+e.count("contracts")+e.count("suppliers") != before {
				t.Fatal("a refused document changed something")
			}
		})
	}
}

func TestSupplierSeesOnlyItsOwn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	is := e.issuer("jinan-pprc")
	is.post("/v1/award-notices", noticeBody)
	c := is.post("/v1/contracts", contractBody).json(t)["contract"].(map[string]any)
	id := c["id"].(string)
	noticeID := c["notice_id"].(string)
	_, mine := e.user("quancheng", "supplier", usccA)
	_, theirs := e.user("other-firm", "supplier", usccB)
	_, officer := e.user("olga", "officer", "")

	if r := e.do("GET", "/v1/contracts/"+id, mine, nil); r.status != 200 {
		t.Fatalf("own contract: %d %s", r.status, r.body)
	}
	wantProblem(t, e.do("GET", "/v1/contracts/"+id, theirs, nil), 404, "not_found")
	wantProblem(t, e.do("GET", "/v1/award-notices/"+noticeID, theirs, nil), 404, "not_found")
	wantProblem(t, e.do("POST", "/v1/contracts/"+id+"/verify", theirs, nil), 404, "not_found")
	for _, tok := range []string{mine, officer} {
		var list struct{ Items []map[string]any }
		json.Unmarshal(e.do("GET", "/v1/contracts", tok, nil).body, &list)
		if len(list.Items) != 1 {
			t.Fatalf("list: %d items, want 1", len(list.Items))
		}
	}
	var list struct{ Items []map[string]any }
	json.Unmarshal(e.do("GET", "/v1/award-notices", theirs, nil).body, &list)
	if len(list.Items) != 0 {
		t.Fatalf("another supplier lists %d notices", len(list.Items))
	}

	// The supplier is known only from the documents: not eligible yet.
	rep := e.do("POST", "/v1/contracts/"+id+"/verify", mine, nil).json(t)
	if rep["passed"] != false || checkResult(rep, "supplier.sme_eligible") != "fail" {
		t.Fatalf("report before registration: %v", rep)
	}
	_, admin := e.user("root", "admin", "")
	r := e.do("POST", "/v1/admin/suppliers", admin, `{"uscc": "91350100M000100Y43", "name": "Quancheng Software Co.",
		"industry": "software_it", "employees": 42, "annual_revenue": "8000000.00", "total_assets": "5000000.00"}`)
	if r.status != 200 || r.json(t)["size_class"] != "small" { // completed, not created
		t.Fatalf("complete supplier: %d %s", r.status, r.body)
	}
	rep = e.do("POST", "/v1/contracts/"+id+"/verify", mine, nil).json(t)
	if rep["passed"] != true {
		t.Fatalf("report after registration: %v", rep)
	}
	if r := e.do("POST", "/v1/contracts/"+id+"/verify", officer, nil); r.status != 200 {
		t.Fatalf("officer verify: %d", r.status)
	}
	wantProblem(t, e.do("POST", "/v1/contracts/"+id+"/verify", admin, nil), 403, "forbidden")
	wantProblem(t, e.do("GET", "/v1/contracts/not-a-uuid", officer, nil), 404, "not_found")
}

// checkResult finds a named check's result in a verification report.
func checkResult(rep map[string]any, name string) string {
	checks, _ := rep["checks"].([]any)
	for _, c := range checks {
		if m, _ := c.(map[string]any); m["name"] == name {
			return m["result"].(string)
		}
	}
	return "missing"
}

// TestIssuerKeyRotation: an issuer registers its new key beside the old,
// both sign meanwhile, and once the old key is dropped it no longer does.
func TestIssuerKeyRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old := e.issuer("jinan-pprc")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	next := &issuerSystem{e: e, signer: signature.Signer{ID: "jinan-pprc", KeyID: "jinan-pprc-k2", Key: priv, Algorithm: "EdDSA"}}
	both := signature.JWKS{Keys: append(old.signer.PublicJWKS().Keys, next.signer.PublicJWKS().Keys...)}
	register := func(set signature.JWKS) {
		jwks, _ := json.Marshal(set)
		_, admin := e.user(fmt.Sprintf("rotator-%d", len(set.Keys)), "admin", "")
		r := e.do("POST", "/v1/admin/issuers", admin, fmt.Sprintf(`{"id": "jinan-pprc", "name": "Jinan Public Procurement Centre", "jwks": %s}`, jwks))
		if r.status != 200 {
			t.Fatalf("re-register: %d %s", r.status, r.body)
		}
	}
	register(both)
	if r := old.post("/v1/award-notices", noticeBody); r.status != 201 {
		t.Fatalf("old key during rotation: %d %s", r.status, r.body)
	}
	if r := next.post("/v1/award-notices", noticeBody); r.status != 200 {
		t.Fatalf("new key during rotation: %d %s", r.status, r.body)
	}
	register(next.signer.PublicJWKS())
	wantProblem(t, old.post("/v1/award-notices", noticeBody), 401, "signature_invalid")
	if r := next.post("/v1/award-notices", noticeBody); r.status != 200 {
		t.Fatalf("new key after rotation: %d %s", r.status, r.body)
	}
}
