package sandbox

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/signature"
)

// signedProcfin is a fake procfin taking signed messages from its
// registered senders: every claim checked (the replay store refuses a
// jti seen before), each request recorded, answered by its script of
// statuses (the last repeats).
type signedProcfin struct {
	t        *testing.T
	srv      *httptest.Server
	verifier *signature.Verifier
	mu       sync.Mutex
	senders  map[string]signature.JWKS
	script   []int
	got      []signedRequest
}

type signedRequest struct {
	path, sender string
	body         []byte
}

func newSignedProcfin(t *testing.T, script ...int) *signedProcfin {
	p := &signedProcfin{t: t, senders: map[string]signature.JWKS{}, script: script}
	lookup := func(_ context.Context, id string) (signature.Sender, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		set, ok := p.senders[id]
		if !ok {
			return signature.Sender{}, errs.E(errs.NotFound, "no such sender")
		}
		return signature.Sender{ID: id, JWKS: set, Algorithms: []string{signature.AlgEdDSA}}, nil
	}
	p.verifier = signature.NewVerifier(nil, PlatformID, lookup, signature.WithReplayStore(signature.NewMemoryReplayStore()))
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		claims, err := p.verifier.Verify(r.Context(), signature.Request{Header: r.Header.Get(signature.HeaderName),
			Method: r.Method, URL: p.srv.URL + r.URL.Path, Body: body})
		if err != nil {
			t.Errorf("fake procfin: %s refused: %v", r.URL.Path, err)
			writeProblem(w, http.StatusUnauthorized, string(errs.SignatureInvalid), "signature")
			return
		}
		p.mu.Lock()
		status := p.script[min(len(p.got), len(p.script)-1)]
		p.got = append(p.got, signedRequest{path: r.URL.Path, sender: claims.Issuer, body: body})
		p.mu.Unlock()
		if status >= 400 {
			writeProblem(w, status, "scripted", "scripted")
			return
		}
		writeJSON(w, status, map[string]string{"status": "matched"})
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *signedProcfin) register(id string, jwks signature.JWKS) {
	p.mu.Lock()
	p.senders[id] = jwks
	p.mu.Unlock()
}

func (p *signedProcfin) requests() []signedRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]signedRequest(nil), p.got...)
}

// TestPurchaserSigns: the sandbox purchaser's confirmation and refusal
// reach procfin at the contract's routes, signed by the purchaser (iss its
// id, every claim verified), with api.md's bodies; a 503 is retried,
// signed anew (the same jti twice would be refused).
func TestPurchaserSigns(t *testing.T) {
	t.Parallel()
	p := newSignedProcfin(t, 503, 201)
	pu, err := NewPurchaser(ClientConfig{ID: "sdu", ProcfinURL: p.srv.URL, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p.register("sdu", pu.JWKS())
	const contract = "c0ffee00-0000-4000-8000-000000000001"
	a, err := pu.Confirm(context.Background(), contract, Confirmation{ConfirmedAmount: money.MustAmount("800000.00"),
		RepaymentAccount: Account{BankName: "Sandbox Bank", AccountNo: "6222000000000001", AccountName: "Quancheng"},
		PaymentTerms:     json.RawMessage(`[{"due_on":"2027-05-31","amount":"1180000.00"}]`)})
	if err != nil || a.Status != http.StatusCreated {
		t.Fatalf("confirm: %+v %v", a, err)
	}
	if a, err := pu.Refuse(context.Background(), contract, "the goods were not delivered"); err != nil || a.Status != http.StatusCreated {
		t.Fatalf("refuse: %+v %v", a, err)
	}
	got := p.requests()
	if len(got) != 3 {
		t.Fatalf("%d requests, want the confirmation twice and the refusal", len(got))
	}
	confirm := `{"confirmed_amount": "800000.00", "repayment_account": {"bank_name": "Sandbox Bank", "account_no": "6222000000000001",
		"account_name": "Quancheng"}, "payment_terms": [{"due_on": "2027-05-31", "amount": "1180000.00"}]}`
	for i, want := range []struct{ path, body string }{
		{"/v1/contracts/" + contract + "/confirmation", confirm},
		{"/v1/contracts/" + contract + "/confirmation", confirm},
		{"/v1/contracts/" + contract + "/refusal", `{"reason": "the goods were not delivered"}`},
	} {
		if got[i].path != want.path || got[i].sender != "sdu" || !sameJSON(t, got[i].body, want.body) {
			t.Errorf("request %d: %s by %s: %s", i, got[i].path, got[i].sender, got[i].body)
		}
	}
}

// TestTreasurySigns: the sandbox treasury's payment record reaches
// procfin at POST /v1/contract-payments, signed by the payment system,
// with api.md's body; a refusal (409) is not retried.
func TestTreasurySigns(t *testing.T) {
	t.Parallel()
	p := newSignedProcfin(t, 409)
	tr, err := NewTreasury(ClientConfig{ID: "sandbox-treasury", ProcfinURL: p.srv.URL, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p.register("sandbox-treasury", tr.JWKS())
	a, err := tr.Pay(context.Background(), PaymentRecord{PaymentID: "TP-1", ContractNo: "HT-1", IssuerID: "jinan-pprc", PurchaserID: "sdu",
		Amount: money.MustAmount("500000.00"), PaidOn: money.MustDate("2026-11-20"),
		PayeeAccount: Account{BankName: "Sandbox Bank", AccountNo: "6222000000000001", AccountName: "Quancheng"}})
	if err != nil || a.Status != http.StatusConflict || a.Problem() != "scripted" {
		t.Fatalf("pay: %+v %v, want the scripted 409", a, err)
	}
	got := p.requests()
	want := `{"payment_id": "TP-1", "contract_no": "HT-1", "issuer_id": "jinan-pprc", "purchaser_id": "sdu", "amount": "500000.00",
		"paid_on": "2026-11-20", "payee_account": {"bank_name": "Sandbox Bank", "account_no": "6222000000000001", "account_name": "Quancheng"}}`
	if len(got) != 1 || got[0].path != "/v1/contract-payments" || got[0].sender != "sandbox-treasury" || !sameJSON(t, got[0].body, want) {
		t.Fatalf("requests %+v", got)
	}
}
