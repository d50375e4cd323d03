package handlers

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"procfin/contracts"
	"procfin/platform/auth"
	"procfin/platform/signature"
)

// purchaserUser registers the purchaser id under the issuer (which must
// exist), unless it is known already, and returns a user of role purchaser
// for it with a fresh access token.
func (e *env) purchaserUser(username, issuerID, purchaserID string) (auth.User, string) {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.contracts.Purchaser(ctx, issuerID, purchaserID); err != nil {
		if _, _, err := e.contracts.RegisterPurchaser(ctx, contracts.PurchaserRegistration{
			ID: purchaserID, Name: "Purchaser " + purchaserID, IssuerID: issuerID}, "test"); err != nil {
			e.t.Fatal(err)
		}
	}
	u, err := e.auth.CreateUser(ctx, auth.NewUser{Username: username, Password: "correct horse battery", Role: "purchaser",
		PurchaserID: purchaserID, PurchaserIssuerID: issuerID}, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.auth.IssueToken(ctx, u)
	if err != nil {
		e.t.Fatal(err)
	}
	return u, tok
}

// fieldsOf returns the sorted "field:code" pairs of a problem's errors.
func fieldsOf(t *testing.T, p map[string]any) []string {
	t.Helper()
	var out []string
	list, _ := p["errors"].([]any)
	for _, f := range list {
		m := f.(map[string]any)
		out = append(out, fmt.Sprint(m["field"], ":", m["code"]))
	}
	sort.Strings(out)
	return out
}

func publicJWKS(t *testing.T) string {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	b, _ := json.Marshal(signature.Signer{ID: "x", KeyID: "k1", Key: priv, Algorithm: "EdDSA"}.PublicJWKS())
	return string(b)
}

func TestRegisterPurchasers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.issuer("jinan-pprc")
	e.issuer("qingdao-pprc")
	_, admin := e.user("root", "admin", "")
	_, officer := e.user("olga", "officer", "")
	post := func(key, body string) resp {
		return e.do("POST", "/v1/admin/purchasers", admin, body, "Idempotency-Key", key)
	}
	jwks := publicJWKS(t)

	r := post("p1", `{"id": "sdu", "name": "Shandong University", "issuer_id": "jinan-pprc"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	if p := r.json(t); p["id"] != "sdu" || p["issuer_id"] != "jinan-pprc" || p["name"] != "Shandong University" || p["jwks"] != nil {
		t.Fatalf("registered %v", p)
	}
	audits := e.count("audit_log WHERE entity_type = 'purchaser'")
	if r := post("p2", `{"id": "sdu", "name": "Shandong University", "issuer_id": "jinan-pprc"}`); r.status != http.StatusOK {
		t.Fatalf("the same again: %d %s", r.status, r.body)
	}
	if n := e.count("audit_log WHERE entity_type = 'purchaser'"); n != audits {
		t.Fatalf("the same registration again was audited: %d rows, had %d", n, audits)
	}
	// Keys are added by registering again; then the name changes and the
	// keys, not given, stay.
	r = post("p3", fmt.Sprintf(`{"id": "sdu", "name": "Shandong University", "issuer_id": "jinan-pprc", "jwks": %s}`, jwks))
	if r.status != http.StatusOK || r.json(t)["jwks"] == nil || fmt.Sprint(r.json(t)["algorithms"]) != "[EdDSA]" {
		t.Fatalf("keys added: %d %s", r.status, r.body)
	}
	r = post("p4", `{"id": "sdu", "name": "山东大学", "issuer_id": "jinan-pprc"}`)
	if r.status != http.StatusOK || r.json(t)["name"] != "山东大学" || r.json(t)["jwks"] == nil {
		t.Fatalf("renamed: %d %s", r.status, r.body)
	}
	if _, err := e.contracts.PurchaserSender(context.Background(), "sdu"); err != nil {
		t.Fatalf("the keyed purchaser is no signer: %v", err)
	}
	if n := e.count("audit_log WHERE entity_type = 'purchaser' AND entity_id = 'jinan-pprc/sdu'"); n != audits+2 {
		t.Fatalf("%d audit rows, want %d", n, audits+2)
	}

	// The same id under another issuer is another purchaser; without keys
	// it may be; with keys it would sign as the first one.
	if r := post("p5", `{"id": "sdu", "name": "Another SDU", "issuer_id": "qingdao-pprc"}`); r.status != http.StatusCreated {
		t.Fatalf("same id, other issuer: %d %s", r.status, r.body)
	}
	before := e.count("purchasers WHERE version IS NOT NULL")
	p := wantProblem(t, post("p6", fmt.Sprintf(`{"id": "sdu", "name": "Another SDU", "issuer_id": "qingdao-pprc", "jwks": %s}`, jwks)),
		http.StatusConflict, "conflict")
	if d, _ := p["detail"].(string); !strings.Contains(d, "iss") || !strings.Contains(d, "jinan-pprc") {
		t.Fatalf("the conflict does not say why: %v", p)
	}
	if n := e.count("purchasers WHERE version IS NOT NULL"); n != before {
		t.Fatal("a refused registration gave keys")
	}

	// Every bad field at once; nothing kept.
	n := e.count("purchasers")
	p = wantProblem(t, post("p7", `{"id": "", "name": " ", "issuer_id": "nowhere", "jwks": {"keys": "no"}, "algorithms": ["HS256"]}`),
		http.StatusUnprocessableEntity, "invalid")
	if got := strings.Join(fieldsOf(t, p), " "); got != "id:required issuer_id:unknown jwks:invalid name:required" {
		t.Fatalf("fields %s", got)
	}
	p = wantProblem(t, post("p8", `{"id": "x\u0001y", "name": "N"}`), http.StatusUnprocessableEntity, "invalid")
	if got := strings.Join(fieldsOf(t, p), " "); got != "id:invalid_text issuer_id:required" {
		t.Fatalf("fields %s", got)
	}
	p = wantProblem(t, post("p9", `{"id": "ok", "name": "N", "issuer_id": "jinan-pprc", "jwks_url": "http://[::1", "algorithms": ["HS256"]}`),
		http.StatusUnprocessableEntity, "invalid")
	if got := strings.Join(fieldsOf(t, p), " "); got != "jwks_url:invalid" {
		t.Fatalf("fields %s", got)
	}
	wantProblem(t, post("p10", `{"id": "ok", "name": "N", "issuer_id": "jinan-pprc", "colour": "red"}`), http.StatusUnprocessableEntity, "invalid")
	if e.count("purchasers") != n {
		t.Fatal("a refused registration kept a purchaser")
	}

	// A purchaser known only from a document is completed (200).
	is := e.issuer("weifang-pprc")
	if r := is.post("/v1/award-notices", noticeBody); r.status != 201 {
		t.Fatalf("notice: %d %s", r.status, r.body)
	}
	r = post("p11", `{"id": "sdu", "name": "Shandong University (Weifang)", "issuer_id": "weifang-pprc"}`)
	if r.status != http.StatusOK {
		t.Fatalf("completing a purchaser known from a document: %d %s", r.status, r.body)
	}

	var list struct{ Items []map[string]any }
	if r := e.do("GET", "/v1/admin/purchasers?issuer_id=jinan-pprc", officer, nil); r.status != 200 || json.Unmarshal(r.body, &list) != nil ||
		len(list.Items) != 1 || list.Items[0]["name"] != "山东大学" {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/admin/purchasers", officer, nil); r.status != 200 || json.Unmarshal(r.body, &list) != nil || len(list.Items) != 3 {
		t.Fatalf("list all: %d %s", r.status, r.body)
	}
}

func TestPurchaserUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.issuer("jinan-pprc")
	e.issuer("qingdao-pprc")
	_, admin := e.user("root", "admin", "")
	ctx := context.Background()
	for _, reg := range []contracts.PurchaserRegistration{
		{ID: "sdu", Name: "Shandong University", IssuerID: "jinan-pprc"},
		{ID: "sdu", Name: "Another SDU", IssuerID: "qingdao-pprc"},
		{ID: "jnu", Name: "University of Jinan", IssuerID: "jinan-pprc"},
	} {
		if _, _, err := e.contracts.RegisterPurchaser(ctx, reg, "test"); err != nil {
			t.Fatal(err)
		}
	}
	create := func(key, body string) resp {
		return e.do("POST", "/v1/admin/users", admin, body, "Idempotency-Key", key)
	}
	users := e.count("users")
	cases := []struct{ body, fields string }{
		{`{"username": "pu-clerk", "password": "correct horse battery", "role": "purchaser", "purchaser_id": "nobody"}`, "purchaser_id:unknown_purchaser"},
		{`{"username": "pu-clerk", "password": "correct horse battery", "role": "purchaser", "purchaser_id": "sdu"}`, "purchaser_issuer_id:required"},
		{`{"username": "pu-clerk", "password": "correct horse battery", "role": "purchaser", "purchaser_id": "jnu", "purchaser_issuer_id": "qingdao-pprc"}`, "purchaser_id:unknown_purchaser"},
		{`{"username": "pu-clerk", "password": "correct horse battery", "role": "purchaser"}`, "purchaser_id:required"},
		{`{"username": "pu-clerk", "password": "correct horse battery", "role": "supplier", "supplier_uscc": "91350100M000100Y43", "purchaser_id": "jnu", "purchaser_issuer_id": "jinan-pprc"}`,
			"purchaser_id:not_allowed purchaser_issuer_id:not_allowed"},
		{`{"username": "P", "password": "short", "role": "purchaser", "purchaser_id": "nobody", "supplier_uscc": "91350100M000100Y43"}`,
			"password:too_short purchaser_id:unknown_purchaser supplier_uscc:not_allowed username:invalid_format"},
	}
	for i, tc := range cases {
		p := wantProblem(t, create(fmt.Sprint("u", i), tc.body), http.StatusUnprocessableEntity, "invalid")
		if got := strings.Join(fieldsOf(t, p), " "); got != tc.fields {
			t.Errorf("case %d: fields %s, want %s", i, got, tc.fields)
		}
	}
	if e.count("users") != users {
		t.Fatal("a refused user was kept")
	}

	// The id alone when one purchaser has it; the issuer when several do.
	r := create("ok1", `{"username": "jnu-clerk", "password": "correct horse battery", "role": "purchaser", "purchaser_id": "jnu"}`)
	if r.status != http.StatusCreated || r.json(t)["purchaser_issuer_id"] != "jinan-pprc" || r.json(t)["purchaser_id"] != "jnu" {
		t.Fatalf("purchaser user: %d %s", r.status, r.body)
	}
	r = create("ok2", `{"username": "sdu-clerk", "password": "correct horse battery", "role": "purchaser", "purchaser_id": "sdu", "purchaser_issuer_id": "qingdao-pprc"}`)
	if r.status != http.StatusCreated || r.json(t)["purchaser_issuer_id"] != "qingdao-pprc" {
		t.Fatalf("purchaser user with issuer: %d %s", r.status, r.body)
	}
	userID := r.json(t)["id"].(string)

	// Its token carries the purchaser into the principal.
	tr := e.do("POST", "/v1/auth/token", "", `{"username": "sdu-clerk", "password": "correct horse battery"}`)
	if tr.status != 200 {
		t.Fatalf("token: %d %s", tr.status, tr.body)
	}
	tok := tr.json(t)["access_token"].(string)
	pr, err := e.auth.VerifyToken(ctx, tok)
	if err != nil || pr.Role != auth.RolePurchaser || pr.PurchaserIssuerID != "qingdao-pprc" || pr.PurchaserID != "sdu" || pr.SupplierUSCC != "" {
		t.Fatalf("principal %+v, %v", pr, err)
	}
	me := e.do("GET", "/v1/me", tok, nil)
	if me.status != 200 || me.json(t)["role"] != "purchaser" || me.json(t)["purchaser_id"] != "sdu" || me.json(t)["purchaser_issuer_id"] != "qingdao-pprc" {
		t.Fatalf("me: %d %s", me.status, me.body)
	}

	// Disabled: out at once.
	if r := e.do("POST", "/v1/admin/users/"+userID+"/disable", admin, nil, "Idempotency-Key", "d1"); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	wantProblem(t, e.do("GET", "/v1/me", tok, nil), http.StatusUnauthorized, "token_invalid")
	wantProblem(t, e.do("GET", "/v1/contracts", tok, nil), http.StatusUnauthorized, "token_invalid")
}

// TestPurchaserScope: a purchaser user reads its own purchaser's award
// notices and contracts, and nothing of another purchaser's: its ids answer
// 404 and its lists are empty; lending's and subsidies' routes refuse it.
func TestPurchaserScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu := e.bank("qilu-bank")
	appID, tokA := e.applied(qilu) // jinan-pprc's contract with purchaser sdu
	var app map[string]any
	json.Unmarshal(e.do("GET", "/v1/credit-applications/"+appID, tokA, nil).body, &app)
	contractID := app["contract_id"].(string)
	var c map[string]any
	json.Unmarshal(e.do("GET", "/v1/contracts/"+contractID, tokA, nil).body, &c)
	noticeID := c["notice_id"].(string)

	e.issuer("qingdao-pprc")
	_, own := e.purchaserUser("sdu-clerk", "jinan-pprc", "sdu")
	_, sameIDOtherIssuer := e.purchaserUser("qd-sdu-clerk", "qingdao-pprc", "sdu")
	_, other := e.purchaserUser("jnu-clerk", "jinan-pprc", "jnu")

	for _, path := range []string{"/v1/contracts/" + contractID, "/v1/award-notices/" + noticeID} {
		if r := e.do("GET", path, own, nil); r.status != 200 || !strings.Contains(string(r.body), `"id":"`+strings.TrimPrefix(path[strings.LastIndex(path, "/"):], "/")+`"`) {
			t.Fatalf("own purchaser %s: %d %s", path, r.status, r.body)
		}
		for _, tok := range []string{other, sameIDOtherIssuer} {
			wantProblem(t, e.do("GET", path, tok, nil), http.StatusNotFound, "not_found")
		}
	}
	list := func(tok, path string) []map[string]any {
		t.Helper()
		var l struct{ Items []map[string]any }
		r := e.do("GET", path, tok, nil)
		if r.status != 200 || json.Unmarshal(r.body, &l) != nil {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		return l.Items
	}
	for _, path := range []string{"/v1/contracts", "/v1/award-notices"} {
		if got := list(own, path); len(got) != 1 {
			t.Fatalf("own purchaser lists %d on %s", len(got), path)
		}
		if got := list(other, path); len(got) != 0 {
			t.Fatalf("another purchaser lists %v on %s", got, path)
		}
		if got := list(sameIDOtherIssuer, path); len(got) != 0 {
			t.Fatalf("the same id under another issuer lists %v on %s", got, path)
		}
	}
	if got := list(own, "/v1/contracts?amendment=pending"); len(got) != 0 {
		t.Fatalf("pending review: %v", got)
	}
	for _, path := range []string{"/v1/credit-applications/" + appID, "/v1/credit-applications", "/v1/loans", "/v1/credit-lines", "/v1/subsidy-claims", "/v1/stats"} {
		wantProblem(t, e.do("GET", path, own, nil), http.StatusForbidden, "forbidden")
	}
	wantProblem(t, e.do("POST", "/v1/contracts/"+contractID+"/verify", own, `{}`), http.StatusForbidden, "forbidden")
}
