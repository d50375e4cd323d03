package sandbox

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"procfin/banking"
	"procfin/contracts"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres/pgtest"
	"procfin/platform/signature"
)

// clock is a settable clock shared by the bank, the fake procfin and the
// platform signer.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// gotEvent is an event as the fake procfin received it.
type gotEvent struct {
	EventID       string          `json:"event_id"`
	Type          string          `json:"type"`
	OccurredAt    string          `json:"occurred_at"`
	ApplicationID string          `json:"application_id"`
	BankReference string          `json:"bank_reference"`
	Data          json.RawMessage `json:"data"`

	answer string // processed or duplicate
}

// fakeProcfin serves procfin's JWKS and POST /v1/bank-events, verifying
// each event's signature with the bank's JWKS.
type fakeProcfin struct {
	t        *testing.T
	srv      *httptest.Server
	signer   signature.Signer
	verifier *signature.Verifier

	mu       sync.Mutex
	bankJWKS signature.JWKS
	events   []gotEvent // accepted (processed or duplicate), in arrival order
	bodies   map[string][]byte
	rejected int // signature failures
	// answer, when set, may answer a request itself (status, body) before
	// the event is recorded; n counts the event posts so far, from 1.
	answer func(n int, e gotEvent) (int, string)
	posts  int
	// onEvent runs for each recorded event before the answer is written.
	onEvent func(e gotEvent)
}

func newFakeProcfin(t *testing.T, clk *clock) *fakeProcfin {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := &fakeProcfin{t: t, bodies: map[string][]byte{},
		signer: signature.Signer{ID: PlatformID, KeyID: "procfin-1", Key: key, Algorithm: signature.AlgEdDSA}}
	lookup := func(_ context.Context, id string) (signature.Sender, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if id != "sandbox-bank" {
			return signature.Sender{}, errs.E(errs.NotFound, "no such sender")
		}
		return signature.Sender{ID: id, JWKS: p.bankJWKS, Algorithms: []string{signature.AlgEdDSA}}, nil
	}
	p.verifier = signature.NewVerifier(nil, PlatformID, lookup,
		signature.WithReplayStore(signature.NewMemoryReplayStore()), signature.WithClock(clk.Now))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, p.signer.PublicJWKS())
	})
	mux.HandleFunc("POST /v1/bank-events", p.bankEvents)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakeProcfin) bankEvents(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if _, err := p.verifier.Verify(r.Context(), signature.Request{
		Header: r.Header.Get(signature.HeaderName), Method: r.Method, URL: p.srv.URL + "/v1/bank-events", Body: body,
	}); err != nil {
		p.mu.Lock()
		p.rejected++
		p.mu.Unlock()
		p.t.Errorf("fake procfin: event signature rejected: %v", err)
		writeProblem(w, http.StatusUnauthorized, string(errs.SignatureInvalid), errs.MessageOf(err))
		return
	}
	var e gotEvent
	if err := json.Unmarshal(body, &e); err != nil {
		writeProblem(w, http.StatusUnprocessableEntity, string(errs.Invalid), "bad event")
		return
	}
	p.mu.Lock()
	p.posts++
	n, answer, onEvent := p.posts, p.answer, p.onEvent
	p.mu.Unlock()
	if answer != nil {
		if status, b := answer(n, e); status != 0 {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, b)
			return
		}
	}
	p.mu.Lock()
	e.answer = "processed"
	if prev, ok := p.bodies[e.EventID]; ok {
		if !bytes.Equal(prev, body) {
			p.mu.Unlock()
			writeProblem(w, http.StatusConflict, string(errs.EventConflict), "event_id seen with another body")
			return
		}
		e.answer = "duplicate"
	}
	p.bodies[e.EventID] = body
	p.events = append(p.events, e)
	p.mu.Unlock()
	if onEvent != nil {
		onEvent(e)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": e.answer})
}

// setAnswer and setOnEvent install the hooks.
func (p *fakeProcfin) setAnswer(f func(n int, e gotEvent) (int, string)) {
	p.mu.Lock()
	p.answer = f
	p.mu.Unlock()
}

func (p *fakeProcfin) setOnEvent(f func(e gotEvent)) {
	p.mu.Lock()
	p.onEvent = f
	p.mu.Unlock()
}

func (p *fakeProcfin) Events() []gotEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.events)
}

// waitEvents waits until the fake procfin holds at least n events.
func (p *fakeProcfin) waitEvents(n int) []gotEvent {
	p.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if ev := p.Events(); len(ev) >= n {
			return ev
		}
		time.Sleep(2 * time.Millisecond)
	}
	ev := p.Events()
	p.t.Fatalf("got %d events, want %d: %v", len(ev), n, types(ev))
	return nil
}

// waitFor waits, at most 5 s, until cond holds: a bound for a
// condition that comes, never a pause that stands for "nothing more".
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("still not %s after 5 s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func types(ev []gotEvent) []string {
	var out []string
	for _, e := range ev {
		out = append(out, e.Type)
	}
	return out
}

// harness is a sandbox bank served over HTTP next to a fake procfin, its
// state in a database of its own.
type harness struct {
	t       *testing.T
	clk     *clock
	procfin *fakeProcfin
	bank    *Bank
	srv     *httptest.Server
	cfg     Config
	stop    func() // stops the bank and its server
}

func newHarness(t *testing.T, edit func(*Config)) *harness {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)}
	p := newFakeProcfin(t, clk)
	cfg := Config{
		BankID:        "sandbox-bank",
		ProcfinURL:    p.srv.URL,
		DecisionDelay: 10 * time.Millisecond,
		ApproveUpTo:   money.MustAmount("1000000.00"),
		Rate:          money.MustRate("0.0345"),
		Now:           clk.Now,
		Logger:        slog.New(slog.DiscardHandler),
		RetryBackoff:  2 * time.Millisecond,
		DB:            pgtest.NewDB(t),
	}
	if edit != nil {
		edit(&cfg)
	}
	h := &harness{t: t, clk: clk, procfin: p, cfg: cfg}
	h.start()
	t.Cleanup(func() { h.stop() })
	return h
}

// start starts a bank of h.cfg, with a fresh key, on a server of its own.
func (h *harness) start() {
	h.t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	cfg := h.cfg
	cfg.PublicURL = "http://" + srv.Listener.Addr().String()
	b, err := New(cfg)
	if err != nil {
		srv.Close()
		h.t.Fatal(err)
	}
	h.procfin.mu.Lock()
	h.procfin.bankJWKS = b.JWKS()
	h.procfin.mu.Unlock()
	srv.Config.Handler = b.Handler()
	srv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { _ = b.Run(ctx); close(runDone) }()
	h.bank, h.srv = b, srv
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			b.Close()
			<-runDone
			srv.Close()
		})
	}
}

// restart stops the bank (if it runs) and starts a new one, with h.cfg
// edited, on the same database.
func (h *harness) restart(edit func(*Config)) {
	h.t.Helper()
	h.stop()
	if edit != nil {
		edit(&h.cfg)
	}
	h.start()
}

// message is a credit application as procfin sends it.
func message(id, amount string, termDays int) []byte {
	m := banking.ApplicationMessage{
		ApplicationID: id,
		SubmittedAt:   time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC),
		Supplier:      banking.MessageSupplier{USCC: "91350100M000100Y43", Name: "Fuzhou Example Supplies Co.", SizeClass: "small"},
		Purchaser:     contracts.Party{ID: "p-1", Name: "Fuzhou Procurement Centre"},
		Award: banking.MessageAward{NoticeNo: "N-1", ProjectNo: "P-1", Issuer: "fz-ggzy",
			Amount: money.MustAmount("1200000.00"), AwardedOn: money.MustDate("2026-10-08")},
		Contract: banking.MessageContract{ContractNo: "C-1", Amount: money.MustAmount("1180000.00"), SignedOn: money.MustDate("2026-10-20"),
			PaymentTerms: []banking.MessagePaymentTerm{{DueOn: money.MustDate("2027-05-31"), Amount: money.MustAmount("1180000.00")}}},
		Request:      banking.MessageRequest{Amount: money.MustAmount(amount), Currency: "CNY", TermDays: termDays, Purpose: "working capital"},
		Verification: banking.MessageVerification{VerifiedAt: time.Date(2026, 11, 20, 7, 59, 0, 0, time.UTC), Checks: []banking.MessageCheck{{Name: "award.signature", Result: "pass"}}},
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

type answer struct {
	status int
	body   map[string]any
}

// post sends a credit application signed by signer (nil: procfin's key).
func (h *harness) post(key string, body []byte, signer *signature.Signer) answer {
	h.t.Helper()
	return h.postPath("/v1/credit-applications", key, body, signer, "")
}

func decode[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

func TestApplicationApprovedAndDisbursed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	const id = "0b5e6f7a-0000-4000-8000-000000000001"
	body := message(id, "800000.00", 180)
	a := h.post(id, body, nil)
	if a.status != http.StatusAccepted {
		t.Fatalf("status %d %v, want 202", a.status, a.body)
	}
	ref, _ := a.body["bank_reference"].(string)
	if !strings.HasPrefix(ref, "SBX-") {
		t.Fatalf("bank_reference %q", ref)
	}

	ev := h.procfin.waitEvents(4)
	if got, want := types(ev), []string{TypeReceived, TypeApproved, TypeDisbursed, TypeDisbursed}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	ids := map[string]bool{}
	for _, e := range ev {
		if e.ApplicationID != id || e.BankReference != ref || e.answer != "processed" {
			t.Errorf("event %+v: want application %s, reference %s, processed", e, id, ref)
		}
		if e.OccurredAt != "2026-11-21T02:00:00Z" {
			t.Errorf("occurred_at %q", e.OccurredAt)
		}
		if ids[e.EventID] {
			t.Errorf("event_id %s twice", e.EventID)
		}
		ids[e.EventID] = true
	}
	if string(ev[0].Data) != "{}" {
		t.Errorf("received data %s, want {}", ev[0].Data)
	}
	ap := decode[map[string]any](t, ev[1].Data)
	if ap["approved_amount"] != "800000.00" || ap["annual_rate"] != "0.0345" || ap["term_days"] != 180.0 {
		t.Errorf("approved %v", ap)
	}
	acct, _ := ap["repayment_account"].(map[string]any)
	if acct["bank_name"] == "" || acct["account_no"] == "" || acct["account_name"] != "Fuzhou Example Supplies Co." {
		t.Errorf("repayment_account %v", acct)
	}
	var loanIDs []string
	for i, e := range ev[2:] {
		d := decode[map[string]any](t, e.Data)
		want := map[string]any{"amount": "400000.00", "value_date": "2026-11-21", "maturity_date": "2027-05-20", "annual_rate": "0.0345"}
		for k, v := range want {
			if d[k] != v {
				t.Errorf("disbursement %d: %s = %v, want %v", i+1, k, d[k], v)
			}
		}
		loanIDs = append(loanIDs, d["loan_id"].(string))
		if d["disbursement_id"] == "" {
			t.Errorf("disbursement %d has no id", i+1)
		}
	}
	if loanIDs[0] == "" || loanIDs[0] != loanIDs[1] {
		t.Errorf("loan ids %v, want one loan", loanIDs)
	}

	rec := h.bank.Received()
	if len(rec) != 1 || rec[0].ApplicationID != id || rec[0].IdempotencyKey != id || rec[0].BankReference != ref ||
		rec[0].BodyHash != signature.BodyHash(body) || rec[0].Deliveries != 1 || !rec[0].ReceivedAt.Equal(h.clk.Now()) {
		t.Errorf("Received() = %+v", rec)
	}

	// A retry: same key, same body: the same reference, no new events.
	again := h.post(id, body, nil)
	if again.status != http.StatusOK || again.body["bank_reference"] != ref {
		t.Errorf("resend: %d %v, want 200 with %s", again.status, again.body, ref)
	}
	// Same key, another body.
	other := h.post(id, message(id, "700000.00", 180), nil)
	if other.status != http.StatusConflict || other.body["type"] != string(errs.IdempotencyReused) {
		t.Errorf("other body: %d %v, want 409 idempotency_key_reused", other.status, other.body)
	}
	h.waitFor("over", func() bool { return h.bank.LifeOver(id) }) // then nothing more of it is sent
	if n := len(h.procfin.Events()); n != 4 {
		t.Errorf("%d events after the resend, want still 4", n)
	}
	if rec := h.bank.Received(); len(rec) != 1 || rec[0].Deliveries != 2 {
		t.Errorf("Received() after resend = %+v, want one with 2 deliveries", rec)
	}
}

func TestRejectedOverLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	const id = "app-over"
	if a := h.post(id, message(id, "1000000.01", 90), nil); a.status != http.StatusAccepted {
		t.Fatalf("status %d %v", a.status, a.body)
	}
	ev := h.procfin.waitEvents(2)
	if got, want := types(ev), []string{TypeReceived, TypeRejected}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	r := decode[Rejected](t, ev[1].Data)
	if r.ReasonCode != ReasonOverLimit || r.Reason == "" {
		t.Errorf("rejected %+v", r)
	}
	h.waitFor("over", func() bool { return h.bank.LifeOver(id) }) // then nothing more of it is sent
	if n := len(h.procfin.Events()); n != 2 {
		t.Errorf("%d events, want 2 (nothing disbursed)", n)
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	const id = "app-refused"
	body := message(id, "1000.00", 30)

	_, rogue, _ := ed25519.GenerateKey(rand.Reader)
	wrongKey := signature.Signer{ID: PlatformID, KeyID: "procfin-1", Key: rogue, Algorithm: signature.AlgEdDSA}
	unknownKid := signature.Signer{ID: PlatformID, KeyID: "procfin-9", Key: rogue, Algorithm: signature.AlgEdDSA}
	otherIssuer := h.procfin.signer
	otherIssuer.ID = "mallory"
	for name, s := range map[string]*signature.Signer{"wrong key": &wrongKey, "unknown kid": &unknownKid, "other issuer": &otherIssuer} {
		if a := h.post(id, body, s); a.status != http.StatusUnauthorized || a.body["type"] != string(errs.SignatureInvalid) {
			t.Errorf("%s: %d %v, want 401 signature_invalid", name, a.status, a.body)
		}
	}

	// A body other than the one signed.
	u := h.srv.URL + "/v1/credit-applications"
	sig, _ := h.procfin.signer.Sign(http.MethodPost, u, "sandbox-bank", body, h.clk.Now())
	send := func(sig string, b []byte, key string) int {
		req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(b))
		req.Header.Set(signature.HeaderName, sig)
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := send(sig, message(id, "9999.00", 30), id); st != http.StatusUnauthorized {
		t.Errorf("tampered body: %d, want 401", st)
	}
	if st := send("", body, id); st != http.StatusUnauthorized {
		t.Errorf("no signature: %d, want 401", st)
	}
	// A replay of a signature that was accepted once.
	sig, _ = h.procfin.signer.Sign(http.MethodPost, u, "sandbox-bank", body, h.clk.Now())
	if st := send(sig, body, id); st != http.StatusAccepted {
		t.Errorf("first use: %d, want 202", st)
	}
	if st := send(sig, body, id); st != http.StatusUnauthorized {
		t.Errorf("replay: %d, want 401", st)
	}
	// Addressed to another URL (htu) or bank (aud).
	sig, _ = h.procfin.signer.Sign(http.MethodPost, "http://other.example/v1/credit-applications", "sandbox-bank", body, h.clk.Now())
	if st := send(sig, body, id); st != http.StatusUnauthorized {
		t.Errorf("other htu: %d, want 401", st)
	}
	sig, _ = h.procfin.signer.Sign(http.MethodPost, u, "other-bank", body, h.clk.Now())
	if st := send(sig, body, id); st != http.StatusUnauthorized {
		t.Errorf("other aud: %d, want 401", st)
	}
	// Expired.
	sig, _ = h.procfin.signer.Sign(http.MethodPost, u, "sandbox-bank", body, h.clk.Now().Add(-10*time.Minute))
	if st := send(sig, body, id); st != http.StatusUnauthorized {
		t.Errorf("expired: %d, want 401", st)
	}

	// Signed, but without an Idempotency-Key, not JSON, or not an application.
	if a := h.post("", body, nil); a.status != http.StatusBadRequest {
		t.Errorf("no Idempotency-Key: %d %v, want 400", a.status, a.body)
	}
	if a := h.post("k-1", []byte(`{"application_id": "k-1",`), nil); a.status != http.StatusBadRequest || a.body["type"] != string(errs.MalformedRequest) {
		t.Errorf("malformed JSON: %d %v, want 400", a.status, a.body)
	}
	if a := h.post("k-2", []byte(`{"application_id": "k-2", "request": {"amount": 5}}`), nil); a.status != http.StatusUnprocessableEntity {
		t.Errorf("amount as a number: %d %v, want 422", a.status, a.body)
	}
	if a := h.post("k-3", message("k-4", "1000.00", 30), nil); a.status != http.StatusUnprocessableEntity {
		t.Errorf("key is not the application_id: %d %v, want 422", a.status, a.body)
	}
	if n := len(h.bank.Received()); n != 1 {
		t.Errorf("Received() holds %d, want 1", n)
	}
}

func TestFaultsDownSlowAnd5xx(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	get := func(path string) int {
		resp, err := http.Get(h.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := get("/healthz"); st != http.StatusOK {
		t.Errorf("healthz %d", st)
	}
	h.bank.SetFaults(Faults{Down: true})
	if a := h.post("app-down", message("app-down", "1000.00", 30), nil); a.status != http.StatusServiceUnavailable || a.body["type"] != string(errs.Unavailable) {
		t.Errorf("down: %d %v, want 503", a.status, a.body)
	}
	if st := get("/healthz"); st != http.StatusServiceUnavailable {
		t.Errorf("healthz while down: %d, want 503", st)
	}
	if n := len(h.bank.Received()); n != 0 {
		t.Errorf("a down bank accepted %d applications", n)
	}
	h.bank.SetFaults(Faults{})
	if a := h.post("app-down", message("app-down", "1000.00", 30), nil); a.status != http.StatusAccepted {
		t.Errorf("up again: %d %v, want 202", a.status, a.body)
	}

	h.bank.SetFaults(Faults{Fail5xxEvery: 2}) // one application counted so far (a down bank counts none)
	var statuses []int
	for i := range 4 {
		id := "app-5xx-" + string(rune('a'+i))
		statuses = append(statuses, h.post(id, message(id, "1000.00", 30), nil).status)
	}
	if want := []int{500, 202, 500, 202}; !slices.Equal(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}

	h.bank.SetFaults(Faults{Slow: 60 * time.Millisecond})
	start := time.Now()
	if st := get("/healthz"); st != http.StatusOK {
		t.Errorf("slow healthz %d", st)
	}
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("slow answered in %v", d)
	}
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	resp, err := http.Get(h.srv.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	set, err := signature.ParseJWKS(b)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := set.Key(h.bank.KeyID())
	if !ok || k.Alg != signature.AlgEdDSA || len(set.Keys) != 1 {
		t.Errorf("JWKS %s", b)
	}
	if strings.Contains(string(b), `"d"`) {
		t.Errorf("JWKS leaks the private key: %s", b)
	}
}

func TestDuplicateEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.Faults.DuplicateEvents = true; c.Tranches = 3 })
	const id = "app-dup"
	if a := h.post(id, message(id, "100.00", 30), nil); a.status != http.StatusAccepted {
		t.Fatalf("status %d", a.status)
	}
	ev := h.procfin.waitEvents(10)
	want := []string{TypeReceived, TypeReceived, TypeApproved, TypeApproved, TypeDisbursed, TypeDisbursed, TypeDisbursed, TypeDisbursed, TypeDisbursed, TypeDisbursed}
	if got := types(ev); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	var amounts []string
	for i := 0; i < len(ev); i += 2 {
		if ev[i].EventID != ev[i+1].EventID || ev[i].answer != "processed" || ev[i+1].answer != "duplicate" {
			t.Errorf("pair %d: %s %s / %s %s, want the same event_id, processed then duplicate", i/2, ev[i].EventID, ev[i].answer, ev[i+1].EventID, ev[i+1].answer)
		}
		if ev[i].Type == TypeDisbursed {
			amounts = append(amounts, decode[Disbursed](t, ev[i].Data).Amount.String())
		}
	}
	if want := []string{"33.33", "33.33", "33.34"}; !slices.Equal(amounts, want) {
		t.Errorf("tranches %v, want %v", amounts, want)
	}
}

func TestReorderedEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.Faults.ReorderEvents = true })
	// Like procfin: refuse what does not follow from what came before.
	var mu sync.Mutex
	seen := map[string]bool{}
	h.procfin.setAnswer(func(_ int, e gotEvent) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		needs := map[string]string{TypeApproved: TypeReceived, TypeDisbursed: TypeApproved}[e.Type]
		if needs != "" && !seen[needs] {
			return http.StatusConflict, `{"type":"invalid_transition","status":409}`
		}
		seen[e.Type] = true
		return 0, ""
	})
	const id = "app-reorder"
	if a := h.post(id, message(id, "5000.00", 30), nil); a.status != http.StatusAccepted {
		t.Fatalf("status %d", a.status)
	}
	// All four arrive in the end, each processed once.
	deadline := time.Now().Add(5 * time.Second)
	for {
		processed := map[string]int{}
		for _, e := range h.procfin.Events() {
			if e.answer == "processed" {
				processed[e.Type]++
			}
		}
		if processed[TypeReceived] == 1 && processed[TypeApproved] == 1 && processed[TypeDisbursed] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events %v", types(h.procfin.Events()))
		}
		time.Sleep(2 * time.Millisecond)
	}
	h.procfin.mu.Lock()
	posts := h.procfin.posts
	h.procfin.mu.Unlock()
	if posts <= 4 {
		t.Errorf("%d posts: the events were not reordered then resent", posts)
	}
}

func TestRetriesOn5xxAndInvalidTransition(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.procfin.setAnswer(func(n int, e gotEvent) (int, string) {
		switch n {
		case 1, 2:
			return http.StatusServiceUnavailable, `{"type":"unavailable","status":503}`
		case 3:
			return http.StatusConflict, `{"type":"invalid_transition","status":409}`
		}
		return 0, ""
	})
	const id = "app-retry"
	if a := h.post(id, message(id, "5000.00", 30), nil); a.status != http.StatusAccepted {
		t.Fatalf("status %d", a.status)
	}
	ev := h.procfin.waitEvents(4)
	if got, want := types(ev), []string{TypeReceived, TypeApproved, TypeDisbursed, TypeDisbursed}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestOtherRefusalDropsTheBatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.procfin.setAnswer(func(_ int, e gotEvent) (int, string) {
		if e.Type == TypeApproved {
			return http.StatusUnprocessableEntity, `{"type":"invalid","status":422}`
		}
		return 0, ""
	})
	const id = "app-drop"
	if a := h.post(id, message(id, "5000.00", 30), nil); a.status != http.StatusAccepted {
		t.Fatalf("status %d", a.status)
	}
	// Once the bank is done with the application, it sends nothing more
	// of it: every post it made is counted.
	h.waitFor("over", func() bool { return h.bank.LifeOver(id) })
	h.procfin.mu.Lock()
	posts := h.procfin.posts
	h.procfin.mu.Unlock()
	if got := types(h.procfin.Events()); !slices.Equal(got, []string{TypeReceived}) || posts != 2 {
		t.Errorf("events %v after %d posts, want only received, and approved tried once", got, posts)
	}
}

func TestRepayment(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.RepayAfter = 5 * time.Millisecond })
	// Ninety days pass once the last tranche is taken.
	h.procfin.setOnEvent(func(e gotEvent) {
		if e.Type == TypeDisbursed && strings.HasSuffix(e.EventID, ".disbursed.2") {
			h.clk.Advance(90 * 24 * time.Hour)
		}
	})
	const id = "app-repay"
	if a := h.post(id, message(id, "800000.00", 180), nil); a.status != http.StatusAccepted {
		t.Fatalf("status %d", a.status)
	}
	ev := h.procfin.waitEvents(6)
	if got, want := types(ev), []string{TypeReceived, TypeApproved, TypeDisbursed, TypeDisbursed, TypeRepaid, TypeRepaid}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	loan := decode[Disbursed](t, ev[2].Data).LoanID
	for i, e := range ev[4:] {
		r := decode[map[string]any](t, e.Data)
		// Each names its tranche: 400,000.00 × 0.0345 × 90 / 360 = 3,450.00.
		want := map[string]any{
			"loan_id": loan, "disbursement_id": decode[Disbursed](t, ev[2+i].Data).DisbursementID,
			"principal": "400000.00", "interest": "3450.00", "paid_on": "2027-02-19",
			"interest_period": map[string]any{"start": "2026-11-21", "end": "2027-02-19"},
		}
		for k, v := range want {
			if !jsonEqual(r[k], v) {
				t.Errorf("repayment %d: %s = %v, want %v", i+1, k, r[k], v)
			}
		}
	}
	if ev[4].EventID == ev[5].EventID || decode[Repaid](t, ev[4].Data).RepaymentID == decode[Repaid](t, ev[5].Data).RepaymentID {
		t.Errorf("repayments share ids")
	}
}

// TestRepaymentLoanDays: with LoanDays the loan's value date is that many
// days back and it is repaid today, its tranches named: every date in the
// past (bank-protocol.md 1.1), never one to come. Repaid the day it is
// disbursed, a tranche pays no interest and sends no interest period.
func TestRepaymentLoanDays(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		loanDays         int
		valueDate        string
		interest, period string
	}{
		// 400,000.00 × 0.0345 × 90 / 360 = 3,450.00, from 2026-08-23 to today.
		{"NinetyDays", 90, "2026-08-23", "3450.00", `{"end":"2026-11-21","start":"2026-08-23"}`},
		{"SameDay", 0, "2026-11-21", "0.00", "null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.RepayAfter, c.LoanDays = 5*time.Millisecond, tc.loanDays })
			id := "app-days-" + tc.name
			if a := h.post(id, message(id, "800000.00", 180), nil); a.status != http.StatusAccepted {
				t.Fatalf("status %d", a.status)
			}
			ev := h.procfin.waitEvents(6)
			for i, e := range ev[2:4] {
				if d := decode[Disbursed](t, e.Data); d.ValueDate.String() != tc.valueDate {
					t.Errorf("tranche %d value date %s, want %s", i+1, d.ValueDate, tc.valueDate)
				}
			}
			for i, e := range ev[4:] {
				r := decode[map[string]any](t, e.Data)
				period, _ := json.Marshal(r["interest_period"])
				if r["paid_on"] != "2026-11-21" || r["interest"] != tc.interest || string(period) != tc.period ||
					r["disbursement_id"] != decode[Disbursed](t, ev[2+i].Data).DisbursementID {
					t.Errorf("repayment %d: %v; want paid today, interest %s, period %s, its tranche named", i+1, r, tc.interest, tc.period)
				}
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestCreditLine(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	lineID, err := h.bank.GrantLine(ctx, "91350100M000100Y43", "2000000.00", true)
	if err != nil {
		t.Fatal(err)
	}
	ev := h.procfin.waitEvents(1)
	if ev[0].Type != TypeLineGranted || ev[0].ApplicationID != "" {
		t.Fatalf("event %+v", ev[0])
	}
	g := decode[map[string]any](t, ev[0].Data)
	want := map[string]any{"credit_line_id": lineID, "supplier_uscc": "91350100M000100Y43", "limit": "2000000.00",
		"valid_from": "2026-11-21", "valid_until": "2027-11-21", "revolving": true, "annual_rate_ceiling": "0.0345"}
	for k, v := range want {
		if g[k] != v {
			t.Errorf("granted %s = %v, want %v", k, g[k], v)
		}
	}

	// Above ApproveUpTo (1,000,000.00) but within the line: approved.
	m := func(id, amount string) []byte {
		var v map[string]any
		_ = json.Unmarshal(message(id, amount, 90), &v)
		v["request"].(map[string]any)["credit_line_id"] = lineID
		b, _ := json.Marshal(v)
		return b
	}
	if a := h.post("app-line-1", m("app-line-1", "1500000.00"), nil); a.status != http.StatusAccepted {
		t.Fatalf("status %d", a.status)
	}
	ev = h.procfin.waitEvents(5)
	if ev[2].Type != TypeApproved {
		t.Fatalf("events %v", types(ev))
	}
	// What is left of the line is 500,000.00.
	if a := h.post("app-line-2", m("app-line-2", "600000.00"), nil); a.status != http.StatusAccepted {
		t.Fatalf("status %d", a.status)
	}
	ev = h.procfin.waitEvents(7)
	if ev[6].Type != TypeRejected || decode[Rejected](t, ev[6].Data).ReasonCode != ReasonOverLimit {
		t.Fatalf("events %v", types(ev))
	}

	if _, err := h.bank.GrantLine(ctx, "91350100M000100Y43", "12.345", false); err == nil {
		t.Error("a limit with three decimals was granted")
	}
}

func TestSend(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	status, body, err := h.bank.Send(context.Background(), Event{Type: TypeLineRevoked, Data: map[string]string{"credit_line_id": "x", "reason": "test"}})
	if err != nil || status != http.StatusOK || !strings.Contains(string(body), "processed") {
		t.Fatalf("Send: %d %s %v", status, body, err)
	}
	ev := h.procfin.Events()
	if len(ev) != 1 || ev[0].Type != TypeLineRevoked || !strings.HasPrefix(ev[0].EventID, "SBX-EV-") {
		t.Errorf("events %+v", ev)
	}
}

func TestInterest(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		principal, rate string
		days            int
		want            string
	}{
		// 100000.00 × 0.0345 = 3450; × 90 / 360 = 862.5.
		{"100000.00", "0.0345", 90, "862.50"},
		// 333333.33 × 0.0435 = 14499.999855; × 31 = 449499.995505;
		// / 360 = 1248.61109862… → 1248.61.
		{"333333.33", "0.0435", 31, "1248.61"},
		// 400000.00 × 0.0345 × 90 / 360 = 3450.
		{"400000.00", "0.0345", 90, "3450.00"},
		// Ties round up: 900 × 0.01 × 1 / 360 = 0.025 → 0.03 (banker's
		// rounding would give 0.02); 180 × 0.01 / 360 = 0.005 → 0.01.
		{"900.00", "0.01", 1, "0.03"},
		{"180.00", "0.01", 1, "0.01"},
		// Just under a tie: 179.99 × 0.01 / 360 = 0.0049997… → 0.00.
		{"179.99", "0.01", 1, "0.00"},
		// 1000000.00 × 0.0365 × 365 / 360 = 37006.944… → 37006.94.
		{"1000000.00", "0.0365", 365, "37006.94"},
		// 1234.56 × 0.123456 = 152.41383936; × 7 / 360 = 2.96360… → 2.96.
		{"1234.56", "0.123456", 7, "2.96"},
		{"100000.00", "0.0345", 0, "0.00"},
		{"100000.00", "0.0345", -3, "0.00"},
	} {
		got := Interest(money.MustAmount(c.principal), money.MustRate(c.rate), c.days)
		if got.String() != c.want {
			t.Errorf("Interest(%s, %s, %d) = %s, want %s", c.principal, c.rate, c.days, got, c.want)
		}
	}
}

func TestSplit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		amount string
		n      int
		want   []string
	}{
		{"800000.00", 2, []string{"400000.00", "400000.00"}},
		{"100.00", 3, []string{"33.33", "33.33", "33.34"}},
		{"100.01", 2, []string{"50.00", "50.01"}},
		{"0.02", 3, []string{"0.01", "0.01"}},
		{"5.00", 1, []string{"5.00"}},
	} {
		var got []string
		for _, a := range Split(money.MustAmount(c.amount), c.n) {
			got = append(got, a.String())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Split(%s, %d) = %v, want %v", c.amount, c.n, got, c.want)
		}
	}
}

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"no bank id":                   {ProcfinURL: "http://127.0.0.1:8080"},
		"no procfin url":               {BankID: "b"},
		"relative url":                 {BankID: "b", ProcfinURL: "/x"},
		"plain http jwks off loopback": {BankID: "b", ProcfinURL: "http://procfin.example"},
		"bad tranches":                 {BankID: "b", ProcfinURL: "http://127.0.0.1:8080", Tranches: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
	b, err := New(Config{BankID: "b", ProcfinURL: "http://127.0.0.1:8080/"})
	if err != nil {
		t.Fatal(err)
	}
	if b.eventsURL != "http://127.0.0.1:8080/v1/bank-events" || b.cfg.Tranches != 2 || b.cfg.Rate.String() != "0.0345" || b.cfg.ApproveUpTo.String() != "5000000.00" {
		t.Errorf("defaults: %s %d %s %s", b.eventsURL, b.cfg.Tranches, b.cfg.Rate, b.cfg.ApproveUpTo)
	}
	b.Close()
	if err := b.Run(context.Background()); err != nil {
		t.Errorf("Run after Close: %v", err)
	}
}
