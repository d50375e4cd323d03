package handlers

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"procfin/platform/money"
	"procfin/platform/signature"
)

// bankSystem is a partner bank's system that signs its events.
type bankSystem struct {
	e      *env
	id     string
	signer signature.Signer
}

func (e *env) bank(id string) *bankSystem {
	e.t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	b := &bankSystem{e: e, id: id, signer: signature.Signer{ID: id, KeyID: id + "-k1", Key: priv, Algorithm: "EdDSA"}}
	jwks, _ := json.Marshal(b.signer.PublicJWKS())
	_, admin := e.user("admin-"+id, "admin", "")
	r := e.do("POST", "/v1/admin/banks", admin, fmt.Sprintf(`{"id": %q, "name": "Bank %s", "base_url": "http://127.0.0.1:9", "jwks": %s, "algorithms": ["EdDSA"]}`, id, id, jwks))
	if r.status != 201 {
		e.t.Fatalf("register bank: %d %s", r.status, r.body)
	}
	return b
}

func (b *bankSystem) send(eventID, typ, appID, data string) resp {
	b.e.t.Helper()
	body := fmt.Sprintf(`{"event_id": %q, "type": %q, "occurred_at": "2026-11-21T02:00:00Z", "application_id": %q, "bank_reference": "REF", "data": %s}`, eventID, typ, appID, data)
	h, err := b.signer.Sign("POST", base+"/v1/bank-events", "procfin", []byte(body), time.Now())
	if err != nil {
		b.e.t.Fatal(err)
	}
	return b.e.do("POST", "/v1/bank-events", "", body, "Procfin-Signature", h)
}

// applied sets up a supplier with a verified contract and one application
// to bank b, and returns the application id.
func (e *env) applied(b *bankSystem) (appID, supplierToken string) {
	e.t.Helper()
	is := e.issuer("jinan-pprc")
	is.post("/v1/award-notices", noticeBody)
	c := is.post("/v1/contracts", contractBody).json(e.t)["contract"].(map[string]any)
	_, admin := e.user("root", "admin", "")
	e.do("POST", "/v1/admin/suppliers", admin, `{"uscc": "91350100M000100Y43", "name": "Quancheng Software Co.", "industry": "software_it", "employees": 42, "annual_revenue": "8000000.00", "total_assets": "5000000.00"}`)
	_, tok := e.user("quancheng", "supplier", usccA)
	r := e.do("POST", "/v1/credit-applications", tok, fmt.Sprintf(`{"contract_id": %q, "bank_id": %q, "amount": "800000.00", "term_days": 180, "purpose": "materials"}`, c["id"], b.id), "Idempotency-Key", "a1")
	if r.status != 201 {
		e.t.Fatalf("apply: %d %s", r.status, r.body)
	}
	return r.json(e.t)["id"].(string), tok
}

const approvedData = `{"approved_amount": "800000.00", "annual_rate": "0.0345", "term_days": 180, "repayment_account": {"bank_name": "Qilu Bank", "account_no": "6222", "account_name": "Quancheng"}}`

func disbursed(id, amount string) string {
	return fmt.Sprintf(`{"loan_id": "LN-1", "disbursement_id": %q, "amount": %q, "value_date": "2026-11-22", "maturity_date": "2027-05-21", "annual_rate": "0.0345"}`, id, amount)
}

func TestBankEventsFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu := e.bank("qilu-bank")
	appID, tok := e.applied(qilu)

	steps := []struct{ id, typ, data, status, app, disbursed string }{
		{"e1", "application.received", `{}`, "processed", "received", "0.00"},
		{"e2", "application.approved", approvedData, "processed", "approved", "0.00"},
		{"e3", "loan.disbursed", disbursed("D1", "500000.00"), "processed", "disbursed", "500000.00"},
		{"e3", "loan.disbursed", disbursed("D1", "500000.00"), "duplicate", "disbursed", "500000.00"},
		{"e4", "loan.disbursed", disbursed("D2", "300000.00"), "processed", "disbursed", "800000.00"},
		{"e5", "loan.repaid", `{"loan_id": "LN-1", "repayment_id": "R1", "principal": "800000.00", "interest": "690.00", "paid_on": "2026-12-01", "interest_period": {"start": "2026-11-22", "end": "2026-12-01"}}`, "processed", "closed", "800000.00"},
	}
	for _, s := range steps {
		// The supplier polls before each event, so the read cache holds the
		// application when the event changes it.
		e.do("GET", "/v1/credit-applications/"+appID, tok, nil)
		r := qilu.send(s.id, s.typ, appID, s.data)
		if r.status != 200 || r.json(t)["status"] != s.status {
			t.Fatalf("%s %s: %d %s, want %s", s.id, s.typ, r.status, r.body, s.status)
		}
		if a := e.do("GET", "/v1/credit-applications/"+appID, tok, nil).json(t); a["status"] != s.app || a["disbursed"] != s.disbursed {
			t.Fatalf("after %s %s the supplier reads %v, %v; want %s, %s", s.id, s.typ, a["status"], a["disbursed"], s.app, s.disbursed)
		}
	}
	a := e.do("GET", "/v1/credit-applications/"+appID, tok, nil).json(t)
	if a["status"] != "closed" || a["outstanding"] != "0.00" || a["repayment_account"].(map[string]any)["status"] != "released" {
		t.Fatalf("application after the flow: %v", a)
	}
	var loans struct{ Items []map[string]any }
	json.Unmarshal(e.do("GET", "/v1/loans", tok, nil).body, &loans)
	if len(loans.Items) != 1 || loans.Items[0]["disbursed"] != "800000.00" || loans.Items[0]["interest_paid"] != "690.00" {
		t.Fatalf("loans %v", loans.Items)
	}
	detail := e.do("GET", "/v1/loans/"+loans.Items[0]["id"].(string), tok, nil).json(t)
	if len(detail["disbursements"].([]any)) != 2 || len(detail["repayments"].([]any)) != 1 {
		t.Fatalf("loan detail %v", detail)
	}
}

// TestApplicationReadCacheControl: GET of an application answers from the
// process's read cache, which a change behind procfin's back (another
// process's, within the TTL) does not reach; Cache-Control: no-cache
// reads the database.
func TestApplicationReadCacheControl(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu := e.bank("qilu-bank")
	appID, tok := e.applied(qilu)
	path := "/v1/credit-applications/" + appID
	first := e.do("GET", path, tok, nil)
	if first.status != 200 || first.header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("GET: %d %q %s", first.status, first.header.Get("Content-Type"), first.body)
	}
	if _, err := e.db.Exec(`UPDATE applications SET purpose = 'changed by another process' WHERE id = $1`, appID); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", path, tok, nil); string(r.body) != string(first.body) {
		t.Fatalf("a second GET within the TTL did not come from the cache:\n%s\nwant\n%s", r.body, first.body)
	}
	for _, cc := range []string{"no-cache", "max-age=0", "private, no-cache"} {
		if r := e.do("GET", path, tok, nil, "Cache-Control", cc); r.status != 200 || r.json(t)["purpose"] != "changed by another process" {
			t.Fatalf("Cache-Control: %s answered %d %s, want the database's purpose", cc, r.status, r.body)
		}
	}
	// Another supplier gets 404 from the cached entry, as from the database.
	_, other := e.user("other-supplier", "supplier", usccB)
	wantProblem(t, e.do("GET", path, other, nil), 404, "not_found")
	wantProblem(t, e.do("GET", path, other, nil, "Cache-Control", "no-cache"), 404, "not_found")
	// Operators see it work: the first read missed, the next two (the
	// owner's and the other supplier's) hit; no-cache reads pass it by.
	metrics := string(e.metrics())
	for _, want := range []string{"procfin_read_cache_hits_total 2", "procfin_read_cache_misses_total 1", "procfin_read_cache_entries 1"} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestBankEventRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu := e.bank("qilu-bank")
	other := e.bank("other-bank")
	appID, _ := e.applied(qilu)
	count := func() int { return e.count("bank_events") + e.count("loans") + e.count("application_transitions") }
	before := count()

	// Another bank's application is as if it did not exist.
	wantProblem(t, other.send("x1", "application.approved", appID, approvedData), 404, "not_found")
	// A disbursement before approval does not follow.
	wantProblem(t, qilu.send("x2", "loan.disbursed", appID, disbursed("D1", "1.00")), 409, "invalid_transition")
	// Malformed.
	wantProblem(t, qilu.send("x3", "loan.forgiven", appID, `{}`), 422, "invalid")
	wantProblem(t, qilu.send("x4", "loan.disbursed", appID, disbursed("D1", "-1.00")), 422, "invalid")
	// A text procfin would store holding a control character: the bank is
	// told which field.
	if p := wantProblem(t, qilu.send("x5", "application.rejected", appID, `{"reason_code":"risk","reason":"风险\u0001"}`), 422, "invalid"); !strings.Contains(fmt.Sprint(p), "data.reason") {
		t.Errorf("the problem %v does not name data.reason", p)
	}
	if count() != before {
		t.Fatal("a refused event changed something")
	}
	// The same event id with another body.
	if r := qilu.send("e1", "application.received", appID, `{}`); r.status != 200 {
		t.Fatalf("received: %d %s", r.status, r.body)
	}
	wantProblem(t, qilu.send("e1", "application.rejected", appID, `{"reason_code": "risk", "reason": "no"}`), 409, "event_conflict")
	// Past the approved amount.
	qilu.send("e2", "application.approved", appID, approvedData)
	wantProblem(t, qilu.send("e3", "loan.disbursed", appID, disbursed("D1", "800000.01")), 409, "invalid_transition")
	// The refused event can be sent again later, when it follows.
	if r := qilu.send("x2", "loan.disbursed", appID, disbursed("D1", "1.00")); r.status != 200 {
		t.Fatalf("resent event: %d %s", r.status, r.body)
	}
}

func TestBankEventSignatureAttacks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu := e.bank("qilu-bank")
	appID, _ := e.applied(qilu)
	body := fmt.Sprintf(`{"event_id": "s1", "type": "application.received", "occurred_at": "2026-11-21T02:00:00Z", "application_id": %q, "data": {}}`, appID)
	url := base + "/v1/bank-events"
	now := time.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "qilu-bank", "aud": "procfin", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
			"jti": fmt.Sprint(now.UnixNano()), "htm": "POST", "htu": url, "bsh": signature.BodyHash([]byte(body))}
		if mod != nil {
			mod(c)
		}
		return c
	}
	signWith := func(c jwt.MapClaims, key any, method jwt.SigningMethod, kid string) string {
		tok := jwt.NewWithClaims(method, c)
		tok.Header["kid"], tok.Header["typ"] = kid, "pfin+jwt"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := func(mod func(jwt.MapClaims)) string {
		return signWith(claims(mod), qilu.signer.Key, jwt.SigningMethodEdDSA, "qilu-bank-k1")
	}
	pubJWK, _ := qilu.signer.PublicJWK()
	replayed := good(nil)
	if r := e.do("POST", "/v1/bank-events", "", body, "Procfin-Signature", replayed); r.status != 200 {
		t.Fatalf("control: %d %s", r.status, r.body)
	}
	noneTok := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil))
		tok.Header["kid"], tok.Header["typ"] = "qilu-bank-k1", "pfin+jwt"
		s, _ := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}()
	cases := map[string]string{
		"AlgNone":       noneTok,
		"HMACPublicKey": signWith(claims(nil), []byte(pubJWK.X), jwt.SigningMethodHS256, "qilu-bank-k1"),
		"UnknownKid":    signWith(claims(nil), qilu.signer.Key, jwt.SigningMethodEdDSA, "nope"),
		"Expired": good(func(c jwt.MapClaims) {
			c["iat"], c["exp"] = now.Add(-10*time.Minute).Unix(), now.Add(-5*time.Minute).Unix()
		}),
		"FromTheFuture": good(func(c jwt.MapClaims) {
			c["iat"], c["exp"] = now.Add(5*time.Minute).Unix(), now.Add(8*time.Minute).Unix()
		}),
		"TooLong":       good(func(c jwt.MapClaims) { c["exp"] = now.Add(301 * time.Second).Unix() }),
		"WrongAudience": good(func(c jwt.MapClaims) { c["aud"] = "someone-else" }),
		"WrongHTU":      good(func(c jwt.MapClaims) { c["htu"] = base + "/v1/award-notices" }),
		"TamperedBody":  good(func(c jwt.MapClaims) { c["bsh"] = signature.BodyHash([]byte(body + " ")) }),
		"Replayed":      replayed,
	}
	before := e.count("bank_events")
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			b := body
			if name == "Replayed" {
				b = body // same message again
			}
			wantProblem(t, e.do("POST", "/v1/bank-events", "", b, "Procfin-Signature", h), http.StatusUnauthorized, "signature_invalid")
		})
	}
	if e.count("bank_events") != before {
		t.Fatal("a forged event was recorded")
	}
	if !strings.Contains(string(e.metrics()), `procfin_signed_message_rejections_total{reason="replay",route="/v1/bank-events"} 1`) {
		t.Fatal("rejections not counted")
	}
}

// TestBankEventConsumedOnce: a signed event is consumed in the
// transaction that applies it. Sent many times at once, it is applied
// once and every other copy is a replay; an event that was refused (here:
// no such transition) is consumed all the same, so its copy is a replay
// too, not a second try.
func TestBankEventConsumedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu := e.bank("qilu-bank")
	appID, _ := e.applied(qilu)
	signed := func(eventID, typ, data string) (string, string) {
		body := fmt.Sprintf(`{"event_id": %q, "type": %q, "occurred_at": "2026-11-21T02:00:00Z", "application_id": %q, "bank_reference": "REF", "data": %s}`, eventID, typ, appID, data)
		h, err := qilu.signer.Sign("POST", base+"/v1/bank-events", "procfin", []byte(body), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return body, h
	}

	body, h := signed("ev-1", "application.received", "{}")
	const n = 10
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.do("POST", "/v1/bank-events", "", body, "Procfin-Signature", h).status
		}()
	}
	wg.Wait()
	ok, replays := 0, 0
	for _, s := range statuses {
		switch s {
		case 200:
			ok++
		case 401:
			replays++
		}
	}
	if ok != 1 || replays != n-1 || e.count("bank_events") != 1 {
		t.Fatalf("statuses %v, %d inbox rows; want one 200, the rest 401, one row", statuses, e.count("bank_events"))
	}

	// Received cannot be followed by disbursed: refused, but consumed.
	body, h = signed("ev-2", "loan.disbursed", `{"loan_id": "LN-1", "disbursement_id": "D1", "amount": "1000.00", "value_date": "2026-11-22", "maturity_date": "2027-05-22", "annual_rate": "0.0400"}`)
	if r := e.do("POST", "/v1/bank-events", "", body, "Procfin-Signature", h); r.status != 409 {
		t.Fatalf("disbursed before approval: %d %s, want 409", r.status, r.body)
	}
	wantProblem(t, e.do("POST", "/v1/bank-events", "", body, "Procfin-Signature", h), 401, "signature_invalid")
	var seen int
	if err := e.db.Get(&seen, `SELECT count(*) FROM seen_messages WHERE sender = 'qilu-bank'`); err != nil || seen != 2 {
		t.Fatalf("%d messages remembered (%v), want 2", seen, err)
	}
	if !strings.Contains(string(e.metrics()), fmt.Sprintf(`procfin_signed_message_rejections_total{reason="replay",route="/v1/bank-events"} %d`, n)) {
		t.Fatalf("replays not counted")
	}
}

// TestBankRepaymentFigures: bank-protocol.md 1.1, "Repayments name their
// tranche, and their figures are checked", through signed events. Figures
// that cannot be true are 422 invalid_figures naming the field; a period
// already paid, principal above the tranche's outstanding and a tranche
// the loan does not have are 409 invalid_transition; none stores a
// repayment or a subsidy claim.
func TestBankRepaymentFigures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu := e.bank("qilu-bank")
	appID, _ := e.applied(qilu)
	for i, ev := range [][2]string{{"application.received", `{}`}, {"application.approved", approvedData},
		{"loan.disbursed", disbursed("D1", "500000.00")}, {"loan.disbursed", disbursed("D2", "300000.00")}} {
		if r := qilu.send(fmt.Sprint("s", i), ev[0], appID, ev[1]); r.status != 200 {
			t.Fatalf("%s: %d %s", ev[0], r.status, r.body)
		}
	}
	repaid := func(tranche, principal, interest, paidOn, start, end string) string {
		d := fmt.Sprintf(`{"loan_id": "LN-1", "repayment_id": "R-%s-%s-%s", "principal": %q, "interest": %q, "paid_on": %q`,
			tranche, paidOn, start, principal, interest, paidOn)
		if tranche != "" {
			d += fmt.Sprintf(`, "disbursement_id": %q`, tranche)
		}
		if start != "" {
			d += fmt.Sprintf(`, "interest_period": {"start": %q, "end": %q}`, start, end)
		}
		return d + "}"
	}
	stored := func() string {
		return fmt.Sprintf("%d repayments, %d claims", e.count("repayments"), e.count("subsidy_claims"))
	}
	// Today in Shanghai; the day after tomorrow is too late.
	late := money.DateOf(time.Now()).AddDays(2).String()
	for _, tc := range []struct {
		name, data, status, typ, field string
	}{
		// The issue's: 42,340.83 of interest for a period from 2000.
		{"FromTheYear2000", repaid("", "0.00", "42340.83", "2026-12-01", "2000-01-01", "2026-12-01"), "422", "invalid_figures", "data.interest_period.start"},
		{"BeforeTheTranchesValueDate", repaid("D2", "0.00", "1.00", "2026-12-01", "2026-11-21", "2026-12-01"), "422", "invalid_figures", "data.interest_period.start"},
		{"PaidIn2099", repaid("", "0.00", "1.00", "2099-01-01", "2026-11-22", "2026-12-01"), "422", "invalid_figures", "data.paid_on"},
		{"PaidTheDayAfterTomorrow", repaid("", "0.00", "1.00", late, "2026-11-22", "2026-12-01"), "422", "invalid_figures", "data.paid_on"},
		{"StartIsEnd", repaid("", "0.00", "1.00", "2026-12-01", "2026-12-01", "2026-12-01"), "422", "invalid_figures", "data.interest_period.end"},
		{"EndAfterPaidOn", repaid("", "0.00", "1.00", "2026-11-30", "2026-11-22", "2026-12-01"), "422", "invalid_figures", "data.interest_period.end"},
		{"InterestWithoutAPeriod", repaid("", "0.00", "1.00", "2026-12-01", "", ""), "422", "invalid", "data.interest_period"},
		{"UnknownTranche", repaid("D9", "1.00", "1.00", "2026-12-01", "2026-11-22", "2026-12-01"), "409", "invalid_transition", ""},
		// D2 has 300,000.00 outstanding.
		{"AboveTheTranchesOutstanding", repaid("D2", "300000.01", "1.00", "2026-12-01", "2026-11-22", "2026-12-01"), "409", "invalid_transition", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := wantProblem(t, qilu.send("x-"+tc.name, "loan.repaid", appID, tc.data), map[string]int{"422": 422, "409": 409}[tc.status], tc.typ)
			if tc.field != "" && !strings.Contains(fmt.Sprint(p["errors"]), "field:"+tc.field+" ") {
				t.Errorf("errors %v do not name %s", p["errors"], tc.field)
			}
			if s := stored(); s != "0 repayments, 0 claims" {
				t.Fatalf("refused, but %s", s)
			}
		})
	}
	// The days from 2026-11-22 to 2026-12-01 on D1: once.
	ok := func(id, data string) {
		t.Helper()
		if r := qilu.send(id, "loan.repaid", appID, data); r.status != 200 || r.json(t)["status"] != "processed" {
			t.Fatalf("%s: %d %s", id, r.status, r.body)
		}
	}
	ok("r1", repaid("D1", "100000.00", "388.13", "2026-12-01", "2026-11-22", "2026-12-01"))
	wantProblem(t, qilu.send("r2", "loan.repaid", appID, repaid("D1", "1.00", "1.00", "2026-12-01", "2026-11-30", "2026-12-01")), 409, "invalid_transition")
	wantProblem(t, qilu.send("r3", "loan.repaid", appID, repaid("", "1.00", "1.00", "2026-12-01", "2026-11-22", "2026-11-23")), 409, "invalid_transition")
	if s := stored(); s != "1 repayments, 1 claims" {
		t.Fatalf("after one repayment and two refused: %s", s)
	}
	// The same days on D2 are D2's; principal without interest needs no period.
	ok("r4", repaid("D2", "300000.00", "232.88", "2026-12-01", "2026-11-22", "2026-12-01"))
	ok("r5", repaid("", "1.00", "0.00", "2026-12-01", "", ""))
	var tranches []string
	if err := e.db.Select(&tranches, `SELECT bank_disbursement_id || ' ' || (amount - outstanding) FROM disbursements ORDER BY bank_disbursement_id`); err != nil {
		t.Fatal(err)
	}
	// 100,000.00 + 1.00 (the whole loan's, on the oldest tranche) of D1; all of D2.
	if s := stored(); s != "3 repayments, 2 claims" || fmt.Sprint(tranches) != "[D1 100001.00 D2 300000.00]" {
		t.Fatalf("%s, tranches %v", s, tranches)
	}
}
