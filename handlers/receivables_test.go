package handlers

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"procfin/platform/signature"
)

// purchaserSystem is a purchaser's own signing system: it signs as issuers
// do, with iss = the purchaser's id.
type purchaserSystem struct {
	e      *env
	signer signature.Signer
}

// purchaserSystem registers the purchaser id of issuer with keys of its
// signing system (POST /v1/admin/purchasers) and returns that system.
func (e *env) purchaserSystem(issuerID, id string) *purchaserSystem {
	e.t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	ps := &purchaserSystem{e: e, signer: signature.Signer{ID: id, KeyID: id + "-k1", Key: priv, Algorithm: "EdDSA"}}
	jwks, _ := json.Marshal(ps.signer.PublicJWKS())
	_, admin := e.user("admin-p-"+id, "admin", "")
	r := e.do("POST", "/v1/admin/purchasers", admin, fmt.Sprintf(`{"id": %q, "name": "Purchaser %s", "issuer_id": %q, "jwks": %s}`, id, id, issuerID, jwks))
	if r.status != 200 && r.status != 201 {
		e.t.Fatalf("register purchaser: %d %s", r.status, r.body)
	}
	return ps
}

func (ps *purchaserSystem) sign(path, body string) string {
	ps.e.t.Helper()
	h, err := ps.signer.Sign("POST", base+path, "procfin", []byte(body), time.Now())
	if err != nil {
		ps.e.t.Fatal(err)
	}
	return h
}

func (ps *purchaserSystem) post(path, body string) resp {
	ps.e.t.Helper()
	return ps.e.do("POST", path, "", body, "Procfin-Signature", ps.sign(path, body))
}

// receivableWorld is a supplier's contract (HT-2026-0815-1 of purchaser
// sdu, 1,180,000.00) with one application approved at qilu-bank for
// 800,000.00 into account 6222, its receivable pending, and sdu's signing
// system.
type receivableWorld struct {
	*env
	qilu              *bankSystem
	sdu               *purchaserSystem
	appID, contractID string
	supplier, officer string
	n                 int
}

func newReceivableWorld(t *testing.T) *receivableWorld {
	t.Helper()
	e := newEnv(t)
	rw := &receivableWorld{env: e, qilu: e.bank("qilu-bank")}
	rw.appID, rw.supplier = e.applied(rw.qilu)
	rw.ok("application.approved", approvedData)
	if err := e.db.Get(&rw.contractID, `SELECT contract_id FROM applications WHERE id = $1`, rw.appID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec(`INSERT INTO receivables (contract_id, bank_id) VALUES ($1, 'qilu-bank') ON CONFLICT DO NOTHING`, rw.contractID); err != nil {
		t.Fatal(err)
	}
	rw.sdu = e.purchaserSystem("jinan-pprc", "sdu")
	_, rw.officer = e.user("olga", "officer", "")
	return rw
}

// ok sends the bank's event, which must be processed.
func (rw *receivableWorld) ok(typ, data string) {
	rw.t.Helper()
	rw.n++
	if r := rw.qilu.send(fmt.Sprintf("rw-%d", rw.n), typ, rw.appID, data); r.status != 200 || r.json(rw.t)["status"] != "processed" {
		rw.t.Fatalf("%s: %d %s", typ, r.status, r.body)
	}
}

func (rw *receivableWorld) confirmation() string {
	return "/v1/contracts/" + rw.contractID + "/confirmation"
}
func (rw *receivableWorld) refusal() string { return "/v1/contracts/" + rw.contractID + "/refusal" }

// confirmBody confirms amount into account no, with the contract's terms.
func confirmBody(amount, accountNo string) string {
	return fmt.Sprintf(`{"confirmed_amount": %q, "repayment_account": {"bank_name": "Qilu Bank", "account_no": %q, "account_name": "Quancheng"},
		"payment_terms": [{"due_on": "2099-05-31", "amount": "1180000.00", "condition": "acceptance"}]}`, amount, accountNo)
}

// queued are the contract events queued for banks, oldest first, with
// the bank each goes to.
type queuedEvent struct {
	bank string
	body map[string]any
}

func (rw *receivableWorld) queued() []queuedEvent {
	rw.t.Helper()
	var rows []struct {
		Bank    string `db:"bank_id"`
		Payload []byte `db:"payload"`
	}
	if err := rw.db.Select(&rows, `SELECT bank_id, payload FROM deliveries WHERE kind = 'contract-event' ORDER BY id`); err != nil {
		rw.t.Fatal(err)
	}
	out := make([]queuedEvent, len(rows))
	for i, r := range rows {
		out[i].bank = r.Bank
		if err := json.Unmarshal(r.Payload, &out[i].body); err != nil {
			rw.t.Fatal(err)
		}
	}
	return out
}

// receivable is the receivable as an officer reads it in the list.
func (rw *receivableWorld) receivable() map[string]any {
	rw.t.Helper()
	r := rw.do("GET", "/v1/receivables", rw.officer, nil)
	if r.status != 200 {
		rw.t.Fatalf("list: %d %s", r.status, r.body)
	}
	items := r.json(rw.t)["items"].([]any)
	if len(items) != 1 {
		rw.t.Fatalf("%d receivables", len(items))
	}
	return items[0].(map[string]any)
}

func problemFields(p map[string]any) []string {
	var fs []string
	errors, _ := p["errors"].([]any)
	for _, e := range errors {
		fs = append(fs, e.(map[string]any)["field"].(string))
	}
	return fs
}

// TestPurchaserSystemConfirms: the purchaser's signed system confirms the
// receivable: the lock is confirmed and the bank is sent
// receivable.confirmed; bad figures are 422 naming each, a bad signature
// 401, a reused jti 401, the same confirmation again 200 changing nothing,
// another 409, another purchaser 404.
func TestPurchaserSystemConfirms(t *testing.T) {
	t.Parallel()
	rw := newReceivableWorld(t)

	p := wantProblem(t, rw.sdu.post(rw.confirmation(), `{"confirmed_amount": "abc", "repayment_account": {"bank_name": "", "account_no": "6222", "account_name": "Q"}, "payment_terms": {}}`),
		422, "invalid")
	if fs := strings.Join(problemFields(p), ","); fs != "confirmed_amount,repayment_account.bank_name,payment_terms" {
		// The amount cannot be read, and the confirmation's checks name the rest at once.
		t.Fatalf("fields %s", fs)
	}
	p = wantProblem(t, rw.sdu.post(rw.confirmation(), `{"confirmed_amount": "800000.00", "repayment_account": {"bank_name": "", "account_no": "6222", "account_name": "Q"}, "payment_terms": {}}`),
		422, "invalid")
	if fs := strings.Join(problemFields(p), ","); fs != "repayment_account.bank_name,payment_terms" {
		t.Fatalf("fields %s", fs)
	}
	// 800,000.00 approved: 799,999.99 is below it; the contract is 1,180,000.00.
	for body, want := range map[string]string{
		confirmBody("799999.99", "6222"):  "confirmed_amount",
		confirmBody("1180000.01", "6222"): "confirmed_amount",
		confirmBody("800000.00", "6223"):  "repayment_account.account_no",
		confirmBody("1.00", "7777"):       "confirmed_amount,repayment_account.account_no",
	} {
		p := wantProblem(t, rw.sdu.post(rw.confirmation(), body), 422, "confirmation_mismatch")
		if fs := strings.Join(problemFields(p), ","); fs != want {
			t.Fatalf("fields %s, want %s", fs, want)
		}
	}
	// Another key than the purchaser's: refused, nothing changes.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	forger := signature.Signer{ID: "sdu", KeyID: "sdu-k1", Key: priv, Algorithm: "EdDSA"}
	body := confirmBody("800000.00", "6222")
	h, _ := forger.Sign("POST", base+rw.confirmation(), "procfin", []byte(body), time.Now())
	wantProblem(t, rw.do("POST", rw.confirmation(), "", body, "Procfin-Signature", h), 401, "signature_invalid")
	// Another purchaser of the issuer, with keys of its own: not found.
	other := rw.purchaserSystem("jinan-pprc", "other-unit")
	wantProblem(t, other.post(rw.confirmation(), body), 404, "not_found")
	wantProblem(t, other.post(rw.refusal(), `{"reason": "no"}`), 404, "not_found")
	if r := rw.receivable(); r["status"] != "pending" || r["lock_status"] != "proposed" || len(rw.queued()) != 0 {
		t.Fatalf("refused requests changed the receivable: %v, %d events", r, len(rw.queued()))
	}

	// The account spelt with spaces is the approved one.
	body = confirmBody("1000000.00", "62 22")
	h = rw.sdu.sign(rw.confirmation(), body)
	r := rw.do("POST", rw.confirmation(), "", body, "Procfin-Signature", h)
	if r.status != 200 {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	got := r.json(t)
	if got["status"] != "confirmed" || got["confirmed_amount"] != "1000000.00" || got["confirmed_by"] != "purchaser-system:sdu" ||
		got["lock_status"] != "confirmed" || got["approved_amount"] != "800000.00" {
		t.Fatalf("confirmed: %v", got)
	}
	es := rw.queued()
	if len(es) != 1 {
		t.Fatalf("%d contract events, want 1", len(es))
	}
	e := es[0].body
	data := e["data"].(map[string]any)
	if es[0].bank != "qilu-bank" || e["type"] != "receivable.confirmed" || e["application_id"] != rw.appID || e["loan_id"] != nil ||
		e["contract"].(map[string]any)["id"] != rw.contractID || e["contract"].(map[string]any)["purchaser_id"] != "sdu" ||
		data["confirmed_amount"] != "1000000.00" || data["confirmed_by"] != "purchaser-system:sdu" ||
		data["repayment_account"].(map[string]any)["account_no"] != "62 22" || data["payment_terms"].([]any)[0].(map[string]any)["due_on"] != "2099-05-31" {
		t.Fatalf("event %v", e)
	}
	// The same message again: its jti was consumed.
	wantProblem(t, rw.do("POST", rw.confirmation(), "", body, "Procfin-Signature", h), 401, "signature_invalid")
	// The same confirmation in a new message: 200, nothing sent.
	if r := rw.sdu.post(rw.confirmation(), body); r.status != 200 || r.json(t)["status"] != "confirmed" {
		t.Fatalf("repeat: %d %s", r.status, r.body)
	}
	if n := len(rw.queued()); n != 1 {
		t.Fatalf("%d events after a repeat", n)
	}
	wantProblem(t, rw.sdu.post(rw.confirmation(), confirmBody("900000.00", "6222")), 409, "invalid_transition")
	wantProblem(t, rw.sdu.post(rw.refusal(), `{"reason": "changed our mind"}`), 409, "invalid_transition")
	if n := len(rw.queued()); n != 1 {
		t.Fatalf("%d events after refused changes", n)
	}
	var actor string
	if err := rw.db.Get(&actor, `SELECT actor FROM audit_log WHERE entity_type = 'contract' AND entity_id = $1 AND action = 'receivable.confirmed'`, rw.contractID); err != nil || actor != "purchaser-system:sdu" {
		t.Fatalf("audit: %v %q", err, actor)
	}
}

// TestPurchaserSystemRefuses: a refusal is recorded and sent; again it is
// 200 changing nothing, another 409; a confirmation after it is taken.
func TestPurchaserSystemRefuses(t *testing.T) {
	t.Parallel()
	rw := newReceivableWorld(t)
	p := wantProblem(t, rw.sdu.post(rw.refusal(), `{"reason": "`+strings.Repeat("否", 501)+`"}`), 422, "invalid")
	if fs := strings.Join(problemFields(p), ","); fs != "reason" {
		t.Fatalf("fields %s", fs)
	}
	wantProblem(t, rw.sdu.post(rw.refusal(), `{}`), 422, "invalid")
	r := rw.sdu.post(rw.refusal(), `{"reason": "货物未验收"}`)
	if r.status != 200 || r.json(t)["status"] != "refused" || r.json(t)["lock_status"] != "refused" || r.json(t)["refused_by"] != "purchaser-system:sdu" {
		t.Fatalf("refuse: %d %s", r.status, r.body)
	}
	es := rw.queued()
	if len(es) != 1 || es[0].body["type"] != "receivable.refused" || es[0].body["data"].(map[string]any)["reason"] != "货物未验收" {
		t.Fatalf("events %v", es)
	}
	if r := rw.sdu.post(rw.refusal(), `{"reason": "货物未验收"}`); r.status != 200 {
		t.Fatalf("repeat: %d %s", r.status, r.body)
	}
	wantProblem(t, rw.sdu.post(rw.refusal(), `{"reason": "另一个理由"}`), 409, "invalid_transition")
	if n := len(rw.queued()); n != 1 {
		t.Fatalf("%d events", n)
	}
	if r := rw.sdu.post(rw.confirmation(), confirmBody("800000.00", "6222")); r.status != 200 || r.json(t)["lock_status"] != "confirmed" {
		t.Fatalf("confirm after refusal: %d %s", r.status, r.body)
	}
}

// TestAccountChangeSequence: while locked, the account changes only after
// the bank's account.change_consented and the purchaser's confirmation of
// the new account, which the bank is sent again; out of order, each step
// is 409.
func TestAccountChangeSequence(t *testing.T) {
	t.Parallel()
	rw := newReceivableWorld(t)
	const change = `{"loan_id": "LN-1", "repayment_account": {"bank_name": "Qilu Bank Licheng", "account_no": "7000 1", "account_name": "Quancheng"}}`
	// No loan, a lock only proposed: not yet.
	rw.n++
	wantProblem(t, rw.qilu.send("rw-early", "account.change_consented", rw.appID, change), 409, "invalid_transition")
	if r := rw.sdu.post(rw.confirmation(), confirmBody("800000.00", "6222")); r.status != 200 {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	rw.ok("loan.disbursed", disbursed("D1", "800000.00"))
	if r := rw.receivable(); r["lock_status"] != "locked" {
		t.Fatalf("after the disbursement: %v", r)
	}
	// The purchaser cannot move the account on its own.
	wantProblem(t, rw.sdu.post(rw.confirmation(), confirmBody("800000.00", "70001")), 409, "invalid_transition")
	p := wantProblem(t, rw.qilu.send("rw-bad", "account.change_consented", rw.appID, `{"loan_id": "LN-1", "repayment_account": {"account_no": "1"}}`), 422, "invalid")
	if fs := strings.Join(problemFields(p), ","); fs != "data.repayment_account.bank_name,data.repayment_account.account_name" {
		t.Fatalf("fields %s", fs)
	}
	rw.ok("account.change_consented", change)
	r := rw.receivable()
	if r["lock_status"] != "locked" || r["repayment_account"].(map[string]any)["account_no"] != "6222" ||
		r["new_account"].(map[string]any)["account_no"] != "7000 1" {
		t.Fatalf("after the consent: %v", r)
	}
	before := len(rw.queued())
	res := rw.sdu.post(rw.confirmation(), confirmBody("800000.00", "70001"))
	if res.status != 200 {
		t.Fatalf("confirm the new account: %d %s", res.status, res.body)
	}
	r = res.json(t)
	if r["lock_status"] != "locked" || r["repayment_account"].(map[string]any)["account_no"] != "7000 1" || r["new_account"] != nil {
		t.Fatalf("after the change: %v", r)
	}
	es := rw.queued()
	if len(es) != before+1 {
		t.Fatalf("%d events, want %d", len(es), before+1)
	}
	e := es[len(es)-1].body
	if e["type"] != "receivable.confirmed" || e["loan_id"] != "LN-1" || e["data"].(map[string]any)["repayment_account"].(map[string]any)["account_no"] != "70001" {
		t.Fatalf("event %v", e)
	}
	// The old account is no longer the one.
	wantProblem(t, rw.sdu.post(rw.confirmation(), confirmBody("800000.00", "6222")), 409, "invalid_transition")
	trail := rw.do("GET", "/v1/audit?entity=contract:"+rw.contractID, rw.officer, nil)
	if !strings.Contains(string(trail.body), "receivable.account_changed") {
		t.Fatalf("audit of the contract: %s", trail.body)
	}
	trail = rw.do("GET", "/v1/audit?entity=application:"+rw.appID, rw.officer, nil)
	if !strings.Contains(string(trail.body), "repayment_account.change_consented") {
		t.Fatalf("audit of the application: %s", trail.body)
	}
}

// TestPurchaserUserConfirms: a purchaser's user lists its receivables and
// confirms one under its Idempotency-Key; another purchaser's user finds
// neither the receivable nor anything to confirm; a supplier may not.
func TestPurchaserUserConfirms(t *testing.T) {
	t.Parallel()
	rw := newReceivableWorld(t)
	_, clerk := rw.purchaserUser("sdu-clerk", "jinan-pprc", "sdu")
	_, stranger := rw.purchaserUser("other-clerk", "jinan-pprc", "other-unit")
	list := func(tok, query string) []any {
		t.Helper()
		r := rw.do("GET", "/v1/receivables"+query, tok, nil)
		if r.status != 200 {
			t.Fatalf("list%s: %d %s", query, r.status, r.body)
		}
		return r.json(t)["items"].([]any)
	}
	if items := list(clerk, "?status=pending"); len(items) != 1 || items[0].(map[string]any)["contract_id"] != rw.contractID ||
		items[0].(map[string]any)["purchaser_name"] != "Purchaser sdu" {
		t.Fatalf("the clerk's pending receivables: %v", items)
	}
	if items := list(clerk, "?status=confirmed"); len(items) != 0 {
		t.Fatalf("confirmed: %v", items)
	}
	if items := list(stranger, ""); len(items) != 0 {
		t.Fatalf("another purchaser's list: %v", items)
	}
	wantProblem(t, rw.do("GET", "/v1/receivables?status=open", clerk, nil), 422, "invalid")
	body := confirmBody("800000.00", "6222")
	wantProblem(t, rw.do("POST", rw.confirmation(), stranger, body, "Idempotency-Key", "s1"), 404, "not_found")
	wantProblem(t, rw.do("POST", rw.refusal(), stranger, `{"reason": "no"}`, "Idempotency-Key", "s2"), 404, "not_found")
	wantProblem(t, rw.do("POST", rw.confirmation(), rw.supplier, body, "Idempotency-Key", "s3"), 403, "forbidden")
	wantProblem(t, rw.do("POST", rw.confirmation(), "", body), 401, "unauthorized")
	if n := len(rw.queued()); n != 0 {
		t.Fatalf("%d events after refused requests", n)
	}

	r := rw.do("POST", rw.confirmation(), clerk, body, "Idempotency-Key", "c1")
	if r.status != 200 || r.json(t)["confirmed_by"] != "sdu-clerk" || r.json(t)["lock_status"] != "confirmed" {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	if again := rw.do("POST", rw.confirmation(), clerk, body, "Idempotency-Key", "c1"); again.status != 200 || string(again.body) != string(r.body) {
		t.Fatalf("the same key again: %d %s", again.status, again.body)
	}
	wantProblem(t, rw.do("POST", rw.confirmation(), clerk, confirmBody("900000.00", "6222"), "Idempotency-Key", "c1"), 409, "idempotency_key_reused")
	if again := rw.do("POST", rw.confirmation(), clerk, body, "Idempotency-Key", "c2"); again.status != 200 {
		t.Fatalf("the same confirmation under a new key: %d %s", again.status, again.body)
	}
	wantProblem(t, rw.do("POST", rw.confirmation(), clerk, confirmBody("900000.00", "6222"), "Idempotency-Key", "c3"), 409, "invalid_transition")
	es := rw.queued()
	if len(es) != 1 || es[0].body["data"].(map[string]any)["confirmed_by"] != "sdu-clerk" {
		t.Fatalf("events %v", es)
	}
	if items := list(rw.officer, "?status=confirmed"); len(items) != 1 {
		t.Fatalf("the officer's confirmed receivables: %v", items)
	}
}

// TestPurchaserUserRefuses: the purchaser's user refuses; the bank is told.
func TestPurchaserUserRefuses(t *testing.T) {
	t.Parallel()
	rw := newReceivableWorld(t)
	_, clerk := rw.purchaserUser("sdu-clerk", "jinan-pprc", "sdu")
	r := rw.do("POST", rw.refusal(), clerk, `{"reason": "合同金额有误"}`, "Idempotency-Key", "r1")
	if r.status != 200 || r.json(t)["refused_by"] != "sdu-clerk" || r.json(t)["status"] != "refused" {
		t.Fatalf("refuse: %d %s", r.status, r.body)
	}
	if es := rw.queued(); len(es) != 1 || es[0].body["type"] != "receivable.refused" || es[0].bank != "qilu-bank" {
		t.Fatalf("events %v", es)
	}
}
