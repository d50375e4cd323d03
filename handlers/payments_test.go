package handlers

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"procfin/platform/signature"
)

// paymentSystem is a treasury payment system that signs its records.
type paymentSystem struct {
	e      *env
	signer signature.Signer
}

func (e *env) paymentSystem(id string) *paymentSystem {
	e.t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	ps := &paymentSystem{e: e, signer: signature.Signer{ID: id, KeyID: id + "-k1", Key: priv, Algorithm: "EdDSA"}}
	jwks, _ := json.Marshal(ps.signer.PublicJWKS())
	_, admin := e.user("admin-"+id, "admin", "")
	r := e.do("POST", "/v1/admin/payment-systems", admin, fmt.Sprintf(`{"id": %q, "name": "山东省国库集中支付系统", "jwks": %s}`, id, jwks),
		"Idempotency-Key", "ps-"+id)
	if r.status != 201 {
		e.t.Fatalf("register payment system: %d %s", r.status, r.body)
	}
	return ps
}

func (ps *paymentSystem) pay(body string) resp {
	ps.e.t.Helper()
	h, err := ps.signer.Sign("POST", base+"/v1/contract-payments", "procfin", []byte(body), time.Now())
	if err != nil {
		ps.e.t.Fatal(err)
	}
	return ps.e.do("POST", "/v1/contract-payments", "", body, "Procfin-Signature", h)
}

// paymentBody is a record of contractBody's contract (issuer jinan-pprc,
// purchaser sdu) paid into accountNo.
func paymentBody(paymentID, amount, accountNo string) string {
	return fmt.Sprintf(`{"payment_id": %q, "contract_no": "HT-2026-0815-1", "issuer_id": "jinan-pprc", "purchaser_id": "sdu",
		"amount": %q, "paid_on": "2026-11-25",
		"payee_account": {"bank_name": "Qilu Bank", "account_no": %q, "account_name": "Quancheng"}}`, paymentID, amount, accountNo)
}

type paymentJSON struct {
	ID              string            `json:"id"`
	Status          string            `json:"status"`
	PaymentID       string            `json:"payment_id"`
	ContractID      *string           `json:"contract_id"`
	BankID          *string           `json:"bank_id"`
	ApplicationIDs  []string          `json:"application_ids"`
	ExpectedAccount map[string]string `json:"expected_account"`
	Detail          string            `json:"detail"`
	Amount          string            `json:"amount"`
}

func decodePayment(t *testing.T, r resp) paymentJSON {
	t.Helper()
	var p paymentJSON
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("payment %s: %v", r.body, err)
	}
	return p
}

// contractEvent is a queued contract event as the bank will receive it.
type contractEvent struct {
	EventID       string  `json:"event_id"`
	Type          string  `json:"type"`
	ApplicationID string  `json:"application_id"`
	LoanID        *string `json:"loan_id"`
	Contract      struct {
		ID          string `json:"id"`
		ContractNo  string `json:"contract_no"`
		PurchaserID string `json:"purchaser_id"`
	} `json:"contract"`
	Data map[string]any `json:"data"`
}

// contractEvents returns the queued payment events, oldest first, each
// for its delivery's bank under its message id.
func (e *env) contractEvents() []contractEvent {
	e.t.Helper()
	var rows []struct {
		BankID    string `db:"bank_id"`
		MessageID string `db:"message_id"`
		Payload   []byte `db:"payload"`
	}
	if err := e.db.Select(&rows, `SELECT bank_id, message_id, payload FROM deliveries WHERE kind = 'contract-event'
		AND convert_from(payload, 'UTF8')::jsonb->>'type' LIKE 'payment.%' ORDER BY id`); err != nil {
		e.t.Fatal(err)
	}
	out := make([]contractEvent, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal(r.Payload, &out[i]); err != nil {
			e.t.Fatalf("payload %s: %v", r.Payload, err)
		}
		if r.BankID != "qilu-bank" || r.MessageID != out[i].EventID {
			e.t.Fatalf("delivery to %s, message %s, of event %s", r.BankID, r.MessageID, out[i].EventID)
		}
	}
	return out
}

// paymentWorld: supplier A's contract financed by qilu-bank, approved
// (repayment account 6222, proposed), and a registered payment system.
type paymentWorld struct {
	*env
	qilu       *bankSystem
	treasury   *paymentSystem
	appID      string
	contractID string
	supplier   string
}

func newPaymentWorld(t *testing.T) *paymentWorld {
	t.Helper()
	e := newEnv(t)
	pw := &paymentWorld{env: e, qilu: e.bank("qilu-bank")}
	pw.appID, pw.supplier = e.applied(pw.qilu)
	if r := pw.qilu.send("e1", "application.approved", pw.appID, approvedData); r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	var a map[string]any
	json.Unmarshal(e.do("GET", "/v1/credit-applications/"+pw.appID, pw.supplier, nil).body, &a)
	pw.contractID = a["contract_id"].(string)
	pw.treasury = e.paymentSystem("sd-treasury")
	return pw
}

// TestContractPayments walks a contract's payments through every status:
// unlocked before any lock is in force, matched into the locked account
// (spaces aside), misdirected into another, unmatched for an unknown
// contract or another purchaser's; the same record again changes nothing
// and other figures are 409; each matched or misdirected payment queues
// one contract event for the application's bank with the data of
// bank-protocol.md 1.1.
func TestContractPayments(t *testing.T) {
	t.Parallel()
	pw := newPaymentWorld(t)

	// The lock is only proposed: recorded, nothing sent, no alert.
	r := pw.treasury.pay(paymentBody("TP-1", "100000.00", "6222"))
	if p := decodePayment(t, r); r.status != 201 || p.Status != "unlocked" || p.ContractID == nil || *p.ContractID != pw.contractID ||
		len(p.ApplicationIDs) != 0 || p.BankID != nil {
		t.Fatalf("unlocked: %d %s", r.status, r.body)
	}
	if n := len(pw.contractEvents()); n != 0 {
		t.Fatalf("%d contract events for an unlocked payment", n)
	}

	// The disbursement locks the account.
	if r := pw.qilu.send("e2", "loan.disbursed", pw.appID, disbursed("D1", "500000.00")); r.status != 200 {
		t.Fatalf("disburse: %d %s", r.status, r.body)
	}
	r = pw.treasury.pay(paymentBody("TP-2", "300000.00", "62 22"))
	matched := decodePayment(t, r)
	if r.status != 201 || matched.Status != "matched" || strings.Join(matched.ApplicationIDs, ",") != pw.appID ||
		matched.BankID == nil || *matched.BankID != "qilu-bank" || matched.ExpectedAccount != nil {
		t.Fatalf("matched: %d %s", r.status, r.body)
	}
	events := pw.contractEvents()
	if len(events) != 1 {
		t.Fatalf("%d contract events, want 1", len(events))
	}
	ev := events[0]
	if ev.Type != "payment.received" || ev.ApplicationID != pw.appID || ev.LoanID == nil || *ev.LoanID != "LN-1" ||
		ev.Contract.ID != pw.contractID || ev.Contract.ContractNo != "HT-2026-0815-1" || ev.Contract.PurchaserID != "sdu" {
		t.Fatalf("payment.received envelope %+v", ev)
	}
	data, _ := json.Marshal(ev.Data)
	if want := `{"amount":"300000.00","paid_on":"2026-11-25","payee_account":{"account_name":"Quancheng","account_no":"62 22","bank_name":"Qilu Bank"},"payment_id":"TP-2"}`; string(data) != want {
		t.Fatalf("payment.received data %s, want %s", data, want)
	}

	// The same record again (a new signature): 200, the recorded payment,
	// nothing new. Other figures under the same id: 409, nothing new.
	before := pw.count("contract_payments") + pw.count("deliveries") + pw.count("audit_log")
	r = pw.treasury.pay(paymentBody("TP-2", "300000.00", "62 22"))
	if p := decodePayment(t, r); r.status != 200 || p.ID != matched.ID || p.Status != "matched" {
		t.Fatalf("repeated: %d %s", r.status, r.body)
	}
	wantProblem(t, pw.treasury.pay(paymentBody("TP-2", "300000.01", "62 22")), 409, "conflict")
	if after := pw.count("contract_payments") + pw.count("deliveries") + pw.count("audit_log"); after != before {
		t.Fatalf("a repeat or a conflict changed rows: %d → %d", before, after)
	}

	// Into the supplier's own account while locked: misdirected, told with
	// the account in force.
	r = pw.treasury.pay(paymentBody("TP-3", "200000.00", "9558 0001"))
	mis := decodePayment(t, r)
	if r.status != 201 || mis.Status != "misdirected" || strings.Join(mis.ApplicationIDs, ",") != pw.appID ||
		mis.ExpectedAccount["account_no"] != "6222" {
		t.Fatalf("misdirected: %d %s", r.status, r.body)
	}
	events = pw.contractEvents()
	if len(events) != 2 || events[1].Type != "payment.misdirected" || events[1].ApplicationID != pw.appID || events[1].EventID == events[0].EventID {
		t.Fatalf("contract events %+v", events)
	}
	data, _ = json.Marshal(events[1].Data)
	if want := `{"amount":"200000.00","expected_account":{"account_name":"Quancheng","account_no":"6222","bank_name":"Qilu Bank"},"paid_on":"2026-11-25","payee_account":{"account_name":"Quancheng","account_no":"9558 0001","bank_name":"Qilu Bank"},"payment_id":"TP-3"}`; string(data) != want {
		t.Fatalf("payment.misdirected data %s, want %s", data, want)
	}

	// No such contract, or another purchaser's: unmatched, kept, nothing sent.
	r = pw.treasury.pay(strings.Replace(paymentBody("TP-4", "50000.00", "6222"), "HT-2026-0815-1", "HT-NONE", 1))
	if p := decodePayment(t, r); r.status != 201 || p.Status != "unmatched" || p.ContractID != nil || !strings.Contains(p.Detail, "no contract") {
		t.Fatalf("unmatched: %d %s", r.status, r.body)
	}
	r = pw.treasury.pay(strings.Replace(paymentBody("TP-5", "50000.00", "6222"), `"sdu"`, `"other-unit"`, 1))
	if p := decodePayment(t, r); r.status != 201 || p.Status != "unmatched" || p.ContractID != nil || !strings.Contains(p.Detail, `purchaser "sdu"`) {
		t.Fatalf("another purchaser's: %d %s", r.status, r.body)
	}
	if n := len(pw.contractEvents()); n != 2 {
		t.Fatalf("%d contract events after unmatched records, want 2", n)
	}
	var audited int
	pw.db.Get(&audited, `SELECT count(*) FROM audit_log WHERE entity_type = 'contract_payment' AND actor = 'payment-system:sd-treasury'`)
	if audited != 5 {
		t.Fatalf("%d payments audited, want 5", audited)
	}

	// The contract's payments: its supplier and officers see them, newest
	// first, page by page; another supplier's answer is 404.
	_, officer := pw.user("olga", "officer", "")
	var pg struct {
		Items      []paymentJSON `json:"items"`
		NextCursor *string       `json:"next_cursor"`
	}
	r = pw.do("GET", "/v1/contracts/"+pw.contractID+"/payments?limit=2", pw.supplier, nil)
	json.Unmarshal(r.body, &pg)
	if r.status != 200 || len(pg.Items) != 2 || pg.Items[0].PaymentID != "TP-3" || pg.Items[1].PaymentID != "TP-2" || pg.NextCursor == nil {
		t.Fatalf("supplier's first page: %d %s", r.status, r.body)
	}
	r = pw.do("GET", "/v1/contracts/"+pw.contractID+"/payments?limit=2&cursor="+*pg.NextCursor, officer, nil)
	pg.NextCursor = nil
	json.Unmarshal(r.body, &pg)
	if r.status != 200 || len(pg.Items) != 1 || pg.Items[0].PaymentID != "TP-1" || pg.NextCursor != nil {
		t.Fatalf("officer's second page: %d %s", r.status, r.body)
	}
	// The loan shows the payments matched to it or misdirected while it
	// was locked, newest first.
	var loans struct{ Items []map[string]any }
	json.Unmarshal(pw.do("GET", "/v1/loans", pw.supplier, nil).body, &loans)
	var loan struct{ Payments []paymentJSON }
	r = pw.do("GET", "/v1/loans/"+loans.Items[0]["id"].(string), pw.supplier, nil)
	json.Unmarshal(r.body, &loan)
	if r.status != 200 || len(loan.Payments) != 2 || loan.Payments[0].PaymentID != "TP-3" || loan.Payments[1].PaymentID != "TP-2" {
		t.Fatalf("loan's payments: %d %s", r.status, r.body)
	}

	// The contract's purchaser sees them too; another supplier or
	// purchaser is answered 404, an administrator 403.
	_, sdu := pw.purchaserUser("sdu-finance", "jinan-pprc", "sdu")
	r = pw.do("GET", "/v1/contracts/"+pw.contractID+"/payments", sdu, nil)
	pg.Items = nil
	json.Unmarshal(r.body, &pg)
	if r.status != 200 || len(pg.Items) != 3 {
		t.Fatalf("purchaser's list: %d %s", r.status, r.body)
	}
	_, other := pw.user("other-firm", "supplier", usccB)
	wantProblem(t, pw.do("GET", "/v1/contracts/"+pw.contractID+"/payments", other, nil), 404, "not_found")
	_, otherUnit := pw.purchaserUser("other-unit-finance", "jinan-pprc", "other-unit")
	wantProblem(t, pw.do("GET", "/v1/contracts/"+pw.contractID+"/payments", otherUnit, nil), 404, "not_found")
	_, admin := pw.user("root-payments", "admin", "")
	wantProblem(t, pw.do("GET", "/v1/contracts/"+pw.contractID+"/payments", admin, nil), 403, "forbidden")
	wantProblem(t, pw.do("GET", "/v1/contracts/00000000-0000-0000-0000-000000000000/payments", officer, nil), 404, "not_found")
	wantProblem(t, pw.do("GET", "/v1/contracts/nope/payments", officer, nil), 404, "not_found")
}

// TestContractPaymentRefused: a record not signed by the registered
// system, or with bad fields, changes nothing; every bad field is named.
func TestContractPaymentRefused(t *testing.T) {
	t.Parallel()
	pw := newPaymentWorld(t)
	is := pw.issuer("other-centre")
	before := pw.count("contract_payments") + pw.count("deliveries") + pw.count("audit_log")

	body := paymentBody("TP-1", "100.00", "6222")
	forger := newSigner("sd-treasury", "sd-treasury-k1")
	forged, _ := forger.Sign("POST", base+"/v1/contract-payments", "procfin", []byte(body), time.Now())
	wantProblem(t, pw.do("POST", "/v1/contract-payments", "", body, "Procfin-Signature", forged), 401, "signature_invalid")
	wantProblem(t, pw.do("POST", "/v1/contract-payments", "", body), 401, "signature_invalid")
	// An issuer's key is no payment system's.
	wantProblem(t, pw.do("POST", "/v1/contract-payments", "", body, "Procfin-Signature", is.sign("/v1/contract-payments", body)), 401, "signature_invalid")

	bad := `{"payment_id": "", "contract_no": "HT\u0007", "issuer_id": "` + strings.Repeat("x", 201) + `", "purchaser_id": " ",
		"amount": "-5.00", "paid_on": "2999-01-01", "payee_account": {"bank_name": "", "account_no": "1", "account_name": "Q"}}`
	p := wantProblem(t, pw.treasury.pay(bad), 422, "invalid")
	var named []string
	for _, f := range p["errors"].([]any) {
		named = append(named, f.(map[string]any)["field"].(string))
	}
	sort.Strings(named)
	want := "amount,contract_no,issuer_id,paid_on,payee_account.account_no,payee_account.bank_name,payment_id,purchaser_id"
	if strings.Join(named, ",") != want {
		t.Fatalf("named %v, want %s", named, want)
	}
	p = wantProblem(t, pw.treasury.pay(`{"payment_id": "TP-9", "contract_no": "HT", "issuer_id": "jinan-pprc", "purchaser_id": "sdu", "amount": 5, "paid_on": "2026-1-1"}`), 422, "invalid")
	named = nil
	for _, f := range p["errors"].([]any) {
		named = append(named, f.(map[string]any)["field"].(string))
	}
	sort.Strings(named)
	if strings.Join(named, ",") != "amount,paid_on,payee_account" {
		t.Fatalf("named %v", named)
	}
	wantProblem(t, pw.treasury.pay(`{"payment_id": "TP-9", "extra": 1}`), 422, "invalid")
	wantProblem(t, pw.treasury.pay(`[1]`), 400, "malformed_request")
	if after := pw.count("contract_payments") + pw.count("deliveries") + pw.count("audit_log"); after != before {
		t.Fatalf("refused records changed rows: %d → %d", before, after)
	}
}

// TestContractPaymentAtOnce: the same record sent twice at the same time
// is recorded once and tells the bank once; the other answer is 200 with
// the recorded payment.
func TestContractPaymentAtOnce(t *testing.T) {
	t.Parallel()
	pw := newPaymentWorld(t)
	// The purchaser confirms (the receivable as the approval leaves it).
	if _, err := pw.db.Exec(`INSERT INTO receivables (contract_id, bank_id) VALUES ($1, 'qilu-bank') ON CONFLICT DO NOTHING`, pw.contractID); err != nil {
		t.Fatal(err)
	}
	sdu := pw.purchaserSystem("jinan-pprc", "sdu")
	if r := sdu.post("/v1/contracts/"+pw.contractID+"/confirmation", confirmBody("800000.00", "6222")); r.status != 201 && r.status != 200 {
		t.Fatalf("confirmation: %d %s", r.status, r.body)
	}
	for round := 0; round < 5; round++ {
		body := paymentBody(fmt.Sprintf("TP-%d", round), "1000.00", "6222")
		var wg sync.WaitGroup
		start := make(chan struct{})
		res := make([]resp, 2)
		for i := range res {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res[i] = pw.treasury.pay(body)
			}()
		}
		close(start)
		wg.Wait()
		statuses := []int{res[0].status, res[1].status}
		sort.Ints(statuses)
		if statuses[0] != 200 || statuses[1] != 201 || decodePayment(t, res[0]).ID != decodePayment(t, res[1]).ID {
			t.Fatalf("round %d: %d %s / %d %s", round, res[0].status, res[0].body, res[1].status, res[1].body)
		}
		if n := pw.count("contract_payments"); n != round+1 {
			t.Fatalf("round %d: %d payments", round, n)
		}
		if n := len(pw.contractEvents()); n != round+1 {
			t.Fatalf("round %d: %d contract events", round, n)
		}
	}
}

// TestAlerts: each kind of alert is listed from the state that raises it,
// newest first, page by page, filtered by kind; only officers see them.
func TestAlerts(t *testing.T) {
	t.Parallel()
	pw := newPaymentWorld(t)
	_, officer := pw.user("olga", "officer", "")
	if r := pw.qilu.send("e2", "loan.disbursed", pw.appID, disbursed("D1", "500000.00")); r.status != 200 {
		t.Fatalf("disburse: %d %s", r.status, r.body)
	}
	pw.treasury.pay(paymentBody("TP-1", "200000.00", "9558 0001")) // misdirected
	pw.treasury.pay(strings.Replace(paymentBody("TP-2", "1.00", "6222"), "HT-2026-0815-1", "HT-NONE", 1))
	pw.treasury.pay(paymentBody("TP-3", "1.00", "6222")) // matched: no alert
	if r := pw.qilu.send("e3", "loan.overdue", pw.appID, `{"loan_id": "LN-1", "overdue_principal": "50000.00", "since": "2026-11-25"}`); r.status != 200 {
		t.Fatalf("overdue: %d %s", r.status, r.body)
	}
	// States other parts' flows raise, set here directly: the bank
	// disbursed before the purchaser confirmed; a version of the contract
	// waits for review; the credit application could not be delivered.
	for _, q := range []string{
		`UPDATE repayment_accounts SET disbursed_unconfirmed_at = now(), confirmed_at = NULL WHERE application_id = '` + pw.appID + `'`,
		`INSERT INTO contract_amendments (contract_id, version, reasons, new_limit, financed) VALUES ('` + pw.contractID + `', 2, '{limit_below_financed}', 1.00, 800000.00)`,
		`UPDATE deliveries SET status = 'dead', last_error = 'HTTP 500', attempts = 9 WHERE kind = 'credit-application'`,
	} {
		if _, err := pw.db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}

	type alertJSON struct {
		Kind, EntityType, EntityID, ContractNo, SupplierName, Detail string
		RaisedAt                                                     time.Time
		BankID                                                       string
	}
	list := func(query string) ([]alertJSON, *string) {
		t.Helper()
		r := pw.do("GET", "/v1/alerts"+query, officer, nil)
		if r.status != 200 {
			t.Fatalf("alerts%s: %d %s", query, r.status, r.body)
		}
		var pg struct {
			Items []struct {
				Kind         string    `json:"kind"`
				EntityType   string    `json:"entity_type"`
				EntityID     string    `json:"entity_id"`
				ContractNo   string    `json:"contract_no"`
				SupplierName string    `json:"supplier_name"`
				Detail       string    `json:"detail"`
				RaisedAt     time.Time `json:"raised_at"`
				BankID       *string   `json:"bank_id"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.body, &pg); err != nil {
			t.Fatal(err)
		}
		out := make([]alertJSON, len(pg.Items))
		for i, a := range pg.Items {
			out[i] = alertJSON{a.Kind, a.EntityType, a.EntityID, a.ContractNo, a.SupplierName, a.Detail, a.RaisedAt, ""}
			if a.BankID != nil {
				out[i].BankID = *a.BankID
			}
		}
		return out, pg.NextCursor
	}
	all, next := list("")
	if next != nil || len(all) != 6 {
		t.Fatalf("%d alerts, next %v: %+v", len(all), next, all)
	}
	kinds := map[string]alertJSON{}
	for i, a := range all {
		kinds[a.Kind] = a
		if i > 0 && a.RaisedAt.After(all[i-1].RaisedAt) {
			t.Fatalf("not newest first: %+v", all)
		}
	}
	for _, k := range []string{"misdirected_payment", "unmatched_payment", "disbursed_before_confirmation", "amendment_pending", "overdue_loan", "dead_delivery"} {
		a, ok := kinds[k]
		if !ok {
			t.Fatalf("no %s alert in %+v", k, all)
		}
		if k != "unmatched_payment" && (a.ContractNo != "HT-2026-0815-1" || a.SupplierName != "Quancheng Software Co.") {
			t.Fatalf("%s without its names: %+v", k, a)
		}
	}
	if a := kinds["misdirected_payment"]; a.EntityType != "contract_payment" || a.BankID != "qilu-bank" ||
		!strings.Contains(a.Detail, "9558 0001") || !strings.Contains(a.Detail, "6222") {
		t.Fatalf("misdirected alert %+v", a)
	}
	if a := kinds["unmatched_payment"]; a.ContractNo != "HT-NONE" || !strings.Contains(a.Detail, "no contract") {
		t.Fatalf("unmatched alert %+v", a)
	}
	if a := kinds["disbursed_before_confirmation"]; a.EntityType != "application" || a.EntityID != pw.appID {
		t.Fatalf("disbursed alert %+v", a)
	}

	// Two at a time, the same six in the same order.
	var paged []alertJSON
	cursor := ""
	for pages := 0; pages < 5; pages++ {
		items, next := list("?limit=2" + cursor)
		paged = append(paged, items...)
		if next == nil {
			break
		}
		cursor = "&cursor=" + *next
	}
	if fmt.Sprint(paged) != fmt.Sprint(all) {
		t.Fatalf("paged %+v, want %+v", paged, all)
	}
	if only, _ := list("?kind=overdue_loan"); len(only) != 1 || only[0].Kind != "overdue_loan" || !strings.Contains(only[0].Detail, "LN-1") {
		t.Fatalf("kind=overdue_loan: %+v", only)
	}

	// Cured, confirmed, resolved and requeued states raise nothing.
	for _, q := range []string{
		`UPDATE loan_overdues SET cured_on = since`,
		`UPDATE repayment_accounts SET confirmed_at = now()`,
		`UPDATE contract_amendments SET status = 'kept', decided_at = now()`,
		`UPDATE deliveries SET status = 'pending' WHERE status = 'dead'`,
	} {
		if _, err := pw.db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	if left, _ := list(""); len(left) != 2 || left[0].Kind == left[1].Kind {
		t.Fatalf("alerts left %+v, want the two payments'", left)
	}

	p := wantProblem(t, pw.do("GET", "/v1/alerts?kind=nope&cursor=zz&limit=0", officer, nil), 422, "invalid")
	if n := len(p["errors"].([]any)); n != 3 {
		t.Fatalf("%d fields named, want kind, cursor and limit: %v", n, p)
	}
	wantProblem(t, pw.do("GET", "/v1/alerts", pw.supplier, nil), 403, "forbidden")
}

// TestMisdirectedPaymentFigures: misdirected payments are counted, with
// their sum, in the statistics and in the bank report of the month they
// were paid in.
func TestMisdirectedPaymentFigures(t *testing.T) {
	t.Parallel()
	pw := newPaymentWorld(t)
	_, officer := pw.user("olga", "officer", "")
	if r := pw.qilu.send("e2", "loan.disbursed", pw.appID, disbursed("D1", "500000.00")); r.status != 200 {
		t.Fatalf("disburse: %d %s", r.status, r.body)
	}
	pw.treasury.pay(paymentBody("TP-1", "200000.00", "9558 0001"))
	pw.treasury.pay(paymentBody("TP-2", "0.50", "1234 5678"))
	pw.treasury.pay(paymentBody("TP-3", "300000.00", "6222")) // matched
	pw.treasury.pay(strings.Replace(paymentBody("TP-4", "1.00", "6222"), "HT-2026-0815-1", "HT-NONE", 1))
	pw.treasury.pay(strings.Replace(paymentBody("TP-5", "7.00", "1234 5678"), "2026-11-25", "2026-10-31", 1))

	// Misdirected: 200000.00 + 0.50 + 7.00 = 200007.50 in all (3), of
	// which 200000.50 (2) paid in November; 1 unmatched.
	var st struct {
		Payments struct {
			Misdirected       int    `json:"misdirected"`
			MisdirectedAmount string `json:"misdirected_amount"`
			Unmatched         int    `json:"unmatched"`
		} `json:"payments"`
	}
	r := pw.do("GET", "/v1/stats", officer, nil)
	json.Unmarshal(r.body, &st)
	if r.status != 200 || st.Payments.Misdirected != 3 || st.Payments.MisdirectedAmount != "200007.50" || st.Payments.Unmatched != 1 {
		t.Fatalf("stats: %d %s", r.status, r.body)
	}
	r = pw.do("GET", "/v1/stats/bank-report.csv?month=2026-11", officer, nil)
	if r.status != 200 {
		t.Fatalf("bank report: %d %s", r.status, r.body)
	}
	rows := csvRows(t, r.body)
	if len(rows) != 3 || rows[0][8] != "错付笔数" || rows[0][9] != "错付金额（元）" ||
		rows[1][1] != "qilu-bank" || rows[1][8] != "2" || rows[1][9] != "200000.50" || rows[2][8] != "2" || rows[2][9] != "200000.50" {
		t.Fatalf("bank report rows %q", rows)
	}
}

// TestRegisterPaymentSystem: administrators register payment systems
// (201, then 200 for the same again, unaudited), with every bad field
// named.
func TestRegisterPaymentSystem(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, admin := e.user("root", "admin", "")
	jwks, _ := json.Marshal(newSigner("t", "t1").PublicJWKS())
	body := fmt.Sprintf(`{"id": "sd-treasury", "name": "Treasury", "jwks": %s}`, jwks)
	if r := e.do("POST", "/v1/admin/payment-systems", admin, body, "Idempotency-Key", "k1"); r.status != 201 || r.json(t)["algorithms"] == nil {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/admin/payment-systems", admin, body, "Idempotency-Key", "k2"); r.status != 200 {
		t.Fatalf("again: %d %s", r.status, r.body)
	}
	var audited int
	e.db.Get(&audited, `SELECT count(*) FROM audit_log WHERE entity_type = 'payment_system'`)
	if audited != 1 {
		t.Fatalf("%d audit rows, want 1", audited)
	}
	p := wantProblem(t, e.do("POST", "/v1/admin/payment-systems", admin, `{"id": "X", "name": " ", "jwks_url": "http://10.0.0.1/jwks"}`, "Idempotency-Key", "k3"), 422, "invalid")
	if n := len(p["errors"].([]any)); n < 2 {
		t.Fatalf("named %v", p["errors"])
	}
	_, officer := e.user("olga", "officer", "")
	wantProblem(t, e.do("POST", "/v1/admin/payment-systems", officer, body, "Idempotency-Key", "k4"), 403, "forbidden")
}

// TestPaymentDuringAccountChange: while the bank's consent to a new
// repayment account waits for the purchaser's confirmation, the old account
// stays the locked one: a payment into the new one is misdirected. Once
// the purchaser confirms the new account, payments into it are matched and
// the old one is another account.
func TestPaymentDuringAccountChange(t *testing.T) {
	t.Parallel()
	rw := newReceivableWorld(t)
	treasury := rw.paymentSystem("sd-treasury")
	if r := rw.sdu.post(rw.confirmation(), confirmBody("800000.00", "6222")); r.status != 200 {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	rw.ok("loan.disbursed", disbursed("D1", "800000.00"))
	rw.ok("account.change_consented", `{"loan_id": "LN-1", "repayment_account": {"bank_name": "Qilu Bank Licheng", "account_no": "7000 1", "account_name": "Quancheng"}}`)
	pay := func(id, accountNo, status, expected string) {
		t.Helper()
		r := treasury.pay(paymentBody(id, "1000.00", accountNo))
		p := decodePayment(t, r)
		if r.status != 201 || p.Status != status || p.ExpectedAccount["account_no"] != expected {
			t.Fatalf("%s into %s: %d %s, want %s", id, accountNo, r.status, r.body, status)
		}
	}
	pay("TP-1", "70001", "misdirected", "6222")
	pay("TP-2", "6222", "matched", "")
	if r := rw.sdu.post(rw.confirmation(), confirmBody("800000.00", "70001")); r.status != 200 {
		t.Fatalf("confirm the new account: %d %s", r.status, r.body)
	}
	pay("TP-3", "7000 1", "matched", "")
	pay("TP-4", "6222", "misdirected", "7000 1")
	types := []string{}
	for _, ev := range rw.contractEvents() {
		types = append(types, ev.Type)
	}
	if strings.Join(types, ",") != "payment.misdirected,payment.received,payment.received,payment.misdirected" {
		t.Fatalf("payment events %v", types)
	}
}
