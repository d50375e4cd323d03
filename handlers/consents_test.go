package handlers

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// consentWorld is a supplier with an application to qilu-bank (whose
// system signs events), and another supplier.
type consentWorld struct {
	*env
	bank           *bankSystem
	app, supplier  string // the first application's id; its supplier's token
	other          string // another supplier's token
	contractID     string
	applyKey, seen int
}

func newConsentWorld(t *testing.T) *consentWorld {
	t.Helper()
	e := newEnv(t)
	cw := &consentWorld{env: e, bank: e.bank("qilu-bank")}
	cw.app, cw.supplier = e.applied(cw.bank)
	_, cw.other = e.user("other-firm", "supplier", usccB)
	if err := e.db.Get(&cw.contractID, `SELECT contract_id FROM applications WHERE id = $1`, cw.app); err != nil {
		t.Fatal(err)
	}
	return cw
}

// apply makes another application of the supplier's, with the headers.
func (cw *consentWorld) apply(headers ...string) string {
	cw.t.Helper()
	cw.applyKey++
	r := cw.do("POST", "/v1/credit-applications", cw.supplier, fmt.Sprintf(`{"contract_id": %q, "bank_id": "qilu-bank", "amount": "1000.00", "term_days": 90, "purpose": "materials"}`, cw.contractID),
		append([]string{"Idempotency-Key", fmt.Sprintf("c%d", cw.applyKey)}, headers...)...)
	if r.status != 201 {
		cw.t.Fatalf("apply: %d %s", r.status, r.body)
	}
	return r.json(cw.t)["id"].(string)
}

type consentJSON struct {
	ID                string   `json:"id"`
	BankID            string   `json:"bank_id"`
	BankName          string   `json:"bank_name"`
	ApplicationID     string   `json:"application_id"`
	ApplicationStatus string   `json:"application_status"`
	DataItems         []string `json:"data_items"`
	Statement         string   `json:"statement"`
	Lang              string   `json:"lang"`
	GivenAt           string   `json:"given_at"`
	ExpiresAt         string   `json:"expires_at"`
	RevokedAt         *string  `json:"revoked_at"`
	State             string   `json:"state"`
}

func (cw *consentWorld) consents(token string) []consentJSON {
	cw.t.Helper()
	r := cw.do("GET", "/v1/consents", token, nil)
	if r.status != 200 {
		cw.t.Fatalf("GET /v1/consents: %d %s", r.status, r.body)
	}
	var page struct{ Items []consentJSON }
	if err := json.Unmarshal(r.body, &page); err != nil {
		cw.t.Fatal(err)
	}
	return page.Items
}

func (cw *consentWorld) consentOf(appID string) consentJSON {
	cw.t.Helper()
	for _, c := range cw.consents(cw.supplier) {
		if c.ApplicationID == appID {
			return c
		}
	}
	cw.t.Fatalf("no consent of application %s", appID)
	return consentJSON{}
}

func (cw *consentWorld) revoke(token, consentID string) resp {
	cw.t.Helper()
	cw.seen++
	return cw.do("POST", "/v1/consents/"+consentID+"/revoke", token, nil, "Idempotency-Key", fmt.Sprintf("r%d", cw.seen))
}

func (cw *consentWorld) application(id string) (status, cause string) {
	cw.t.Helper()
	a := cw.do("GET", "/v1/credit-applications/"+id, cw.supplier, nil, "Cache-Control", "no-cache").json(cw.t)
	h := a["history"].([]any)
	return a["status"].(string), h[len(h)-1].(map[string]any)["cause"].(string)
}

// TestConsentsListed: a supplier lists its own consents, newest first,
// each with its bank's id and name, its application and status, its data
// items and statement in the language the supplier was shown (zh-CN
// unless the request asked for English), and its state; another
// supplier sees none of them, and cannot revoke them (404).
func TestConsentsListed(t *testing.T) {
	t.Parallel()
	cw := newConsentWorld(t)
	en := cw.apply("Accept-Language", "en-GB,en;q=0.9,zh;q=0.5")
	list := cw.consents(cw.supplier)
	if len(list) != 2 || list[0].ApplicationID != en || list[1].ApplicationID != cw.app {
		t.Fatalf("consents %+v", list)
	}
	zh, eng := list[1], list[0]
	if zh.Lang != "zh-CN" || !strings.HasPrefix(zh.Statement, "本企业同意平台将以下资料发送给Bank qilu-bank（qilu-bank），") || zh.DataItems[0] != "企业身份与规模" ||
		zh.BankID != "qilu-bank" || zh.BankName != "Bank qilu-bank" || zh.ApplicationStatus != "submitted" || zh.State != "given" ||
		zh.RevokedAt != nil || zh.ID == "" || zh.GivenAt == "" || zh.ExpiresAt <= zh.GivenAt {
		t.Fatalf("consent given without Accept-Language: %+v", zh)
	}
	if eng.Lang != "en" || !strings.HasPrefix(eng.Statement, "I consent to procfin sending supplier identity") || !strings.Contains(eng.Statement, " to Bank qilu-bank (qilu-bank) for") || eng.DataItems[0] != "supplier identity and size class" {
		t.Fatalf("consent given in English: %+v", eng)
	}
	// The application shows the same consent.
	a := cw.do("GET", "/v1/credit-applications/"+cw.app, cw.supplier, nil).json(t)
	if c := a["consent"].(map[string]any); c["id"] != zh.ID || c["lang"] != "zh-CN" || c["statement"] != zh.Statement {
		t.Fatalf("the application's consent %v, the list's %+v", c, zh)
	}
	if others := cw.consents(cw.other); len(others) != 0 {
		t.Fatalf("another supplier sees %+v", others)
	}
	wantProblem(t, cw.revoke(cw.other, zh.ID), 404, "not_found")
	wantProblem(t, cw.revoke(cw.supplier, "not-an-id"), 404, "not_found")
	if c := cw.consentOf(cw.app); c.State != "given" {
		t.Fatalf("after another's attempt: %+v", c)
	}
	// Keyset paging: one a page.
	items, next := (&lendingWorld{env: cw.env}).list(cw.supplier, "/v1/consents?limit=1")
	if len(items) != 1 || next == nil || items[0]["application_id"] != en {
		t.Fatalf("first page %v, next %v", items, next)
	}
	items, next = (&lendingWorld{env: cw.env}).list(cw.supplier, "/v1/consents?limit=1&cursor="+*next)
	if len(items) != 1 || items[0]["application_id"] != cw.app {
		t.Fatalf("second page %v, next %v", items, next)
	}
}

// TestConsentRevokedBeforeTheDecision: revoking the consent of an
// application the bank has (received) cancels it with cause
// consent_revoked, releases its share of the contract and queues a
// withdrawal; the answer is the consent, revoked, with the application's
// new status. The same request again answers the same; the bank's
// approval afterwards is 409 invalid_transition.
func TestConsentRevokedBeforeTheDecision(t *testing.T) {
	t.Parallel()
	cw := newConsentWorld(t)
	if r := cw.bank.send("e1", "application.received", cw.app, `{}`); r.status != 200 {
		t.Fatalf("received: %d %s", r.status, r.body)
	}
	c := cw.consentOf(cw.app)
	r := cw.do("POST", "/v1/consents/"+c.ID+"/revoke", cw.supplier, nil, "Idempotency-Key", "revoke-1")
	if r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	var got consentJSON
	json.Unmarshal(r.body, &got)
	if got.ID != c.ID || got.State != "revoked" || got.RevokedAt == nil || got.ApplicationStatus != "cancelled" {
		t.Fatalf("revoked: %s", r.body)
	}
	if again := cw.do("POST", "/v1/consents/"+c.ID+"/revoke", cw.supplier, nil, "Idempotency-Key", "revoke-1"); again.status != 200 || string(again.body) != string(r.body) {
		t.Fatalf("replay: %d %s", again.status, again.body)
	}
	if status, cause := cw.application(cw.app); status != "cancelled" || cause != "consent_revoked" {
		t.Fatalf("application %s, cause %q", status, cause)
	}
	var financed string
	cw.db.Get(&financed, `SELECT financed::text FROM contracts WHERE id = $1`, cw.contractID)
	if financed != "0.00" {
		t.Fatalf("contract still finances %s", financed)
	}
	var kinds []string
	var body []byte
	cw.db.Select(&kinds, `SELECT kind || ':' || status FROM deliveries WHERE application_id = $1 ORDER BY id`, cw.app)
	cw.db.Get(&body, `SELECT payload FROM deliveries WHERE application_id = $1 AND kind = 'withdrawal'`, cw.app)
	var w map[string]any
	json.Unmarshal(body, &w)
	if strings.Join(kinds, " ") != "credit-application:failed withdrawal:pending" || w["reason"] != "consent_revoked" || w["application_id"] != cw.app {
		t.Fatalf("deliveries %v, withdrawal %s", kinds, body)
	}
	wantProblem(t, cw.bank.send("e2", "application.approved", cw.app, approvedData), 409, "invalid_transition")
}

// TestConsentRevokedBeforeAnyAttempt: an application not yet sent is
// cancelled and its message deleted: the bank hears of nothing.
func TestConsentRevokedBeforeAnyAttempt(t *testing.T) {
	t.Parallel()
	cw := newConsentWorld(t)
	if r := cw.revoke(cw.supplier, cw.consentOf(cw.app).ID); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	var n int
	cw.db.Get(&n, `SELECT count(*) FROM deliveries WHERE application_id = $1`, cw.app)
	if status, cause := cw.application(cw.app); status != "cancelled" || cause != "consent_revoked" || n != 0 {
		t.Fatalf("application %s (%s), %d deliveries", status, cause, n)
	}
}

// TestConsentInUseAfterApproval: after the bank's approval the consent
// cannot be revoked (409 consent_in_use, saying why) and nothing changes;
// the application cannot be cancelled either. Once the application ended
// (here: cancelled), revoking only records it.
func TestConsentInUseAfterApproval(t *testing.T) {
	t.Parallel()
	cw := newConsentWorld(t)
	if r := cw.bank.send("e1", "application.approved", cw.app, approvedData); r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	c := cw.consentOf(cw.app)
	p := wantProblem(t, cw.revoke(cw.supplier, c.ID), 409, "consent_in_use")
	if !strings.Contains(fmt.Sprint(p["detail"]), "loan") {
		t.Fatalf("the refusal does not say why: %v", p)
	}
	if after := cw.consentOf(cw.app); after.State != "given" || after.RevokedAt != nil || after.ApplicationStatus != "approved" {
		t.Fatalf("after the refusal: %+v", after)
	}
	wantProblem(t, cw.do("POST", "/v1/credit-applications/"+cw.app+"/cancel", cw.supplier, nil, "Idempotency-Key", "cancel-1"), 409, "invalid_transition")

	ended := cw.apply()
	if r := cw.do("POST", "/v1/credit-applications/"+ended+"/cancel", cw.supplier, nil, "Idempotency-Key", "cancel-2"); r.status != 200 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	r := cw.revoke(cw.supplier, cw.consentOf(ended).ID)
	var got consentJSON
	json.Unmarshal(r.body, &got)
	if r.status != 200 || got.State != "revoked" || got.ApplicationStatus != "cancelled" {
		t.Fatalf("revoke after the end: %d %s", r.status, r.body)
	}
}

// TestConsentLanguageOfTheCaller: the statement's language follows the
// caller's Accept-Language: English only when preferred to Chinese.
func TestConsentLanguageOfTheCaller(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]string{
		"": "zh-CN", "en": "en", "en-US": "en", "zh-CN": "zh-CN", "zh-CN,en;q=0.8": "zh-CN", "en;q=0.9,zh;q=0.8": "en",
		"en;q=0.1,zh;q=0.9": "zh-CN", "fr": "zh-CN", "en;q=0": "zh-CN", "en;q=abc": "zh-CN", "*": "zh-CN", ",,;": "zh-CN",
	} {
		if got := consentLang(header); got != want {
			t.Errorf("Accept-Language %q: %s, want %s", header, got, want)
		}
	}
}

// FuzzConsentLang: any Accept-Language gives one of the two languages.
func FuzzConsentLang(f *testing.F) {
	for _, s := range []string{"", "en", "zh-CN,en;q=0.8", "en;q=0.9,zh;q=0.8", "en;q=NaN", "en;q=1e400", ";;,,q=", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if got := consentLang(h); got != "zh-CN" && got != "en" {
			t.Fatalf("%q: %q", h, got)
		}
	})
}
