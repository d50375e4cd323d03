package banking_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"procfin/banking"
	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
	"procfin/platform/signature"
)

// seenRequest is one message a pathBank received, with its signature
// verified against the relay's key.
type seenRequest struct {
	path, key string
	body      []byte
	signed    error
}

// pathBank answers each path with its own script of statuses (the last
// repeats; 202 when the path has none) and records every request, its
// signature checked as a bank would: against the platform's key, for the
// URL it was sent to.
type pathBank struct {
	mu       sync.Mutex
	scripts  map[string][]int
	seen     []seenRequest
	verifier *signature.Verifier
	srv      *httptest.Server
}

func newPathBank(t *testing.T, pub ed25519.PublicKey, scripts map[string][]int) *pathBank {
	jwks := fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":%q,"kid":"k1"}]}`, base64.RawURLEncoding.EncodeToString(pub))
	lookup := func(ctx context.Context, id string) (signature.Sender, error) {
		set, err := signature.ParseJWKS([]byte(jwks))
		return signature.Sender{ID: id, JWKS: set, Version: jwks}, err
	}
	b := &pathBank{scripts: scripts,
		verifier: signature.NewVerifier(nil, "qilu-bank", lookup, signature.WithReplayStore(signature.NewMemoryReplayStore()))}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, err := b.verifier.Verify(r.Context(), signature.Request{Header: r.Header.Get(signature.HeaderName),
			Method: r.Method, URL: b.srv.URL + r.URL.Path, Body: body})
		b.mu.Lock()
		n := 0
		for _, s := range b.seen {
			if s.path == r.URL.Path {
				n++
			}
		}
		b.seen = append(b.seen, seenRequest{path: r.URL.Path, key: r.Header.Get("Idempotency-Key"), body: body, signed: err})
		status := http.StatusAccepted
		if script := b.scripts[r.URL.Path]; len(script) > 0 {
			status = script[min(n, len(script)-1)]
		}
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"bank_reference": "R-%d", "type": "x", "detail": "scripted %d"}`, n, status)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *pathBank) requests() []seenRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]seenRequest(nil), b.seen...)
}

// withdrawalWorld is a world whose relay signs with a key the bank knows.
type withdrawalWorld struct {
	*world
	bank  *pathBank
	relay *banking.Relay
}

func newWithdrawalWorld(t *testing.T, scripts map[string][]int) *withdrawalWorld {
	t.Helper()
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	w := &withdrawalWorld{}
	w.bank = newPathBank(t, pub, scripts)
	w.world = newWorld(t, w.bank.srv.URL)
	w.relay = banking.NewRelay(w.db, w.banks, w.lending, signature.StaticKey{KeyID: "k1", Key: key}, nil, nil,
		banking.RelayConfig{BaseBackoff: time.Millisecond})
	return w
}

// deliveries are the application's deliveries in the order queued.
func (w *world) deliveries(t *testing.T, appID string) []banking.Delivery {
	t.Helper()
	var ds []banking.Delivery
	if err := w.db.Select(&ds, `SELECT id, application_id, message_id, kind, bank_id, status, attempts, next_attempt_at,
		last_status, last_error, bank_reference, created_at, delivered_at FROM deliveries WHERE application_id = $1 ORDER BY id`, appID); err != nil {
		t.Fatal(err)
	}
	return ds
}

func (w *world) history(t *testing.T, appID string) (status lending.Status, cause string) {
	t.Helper()
	a, err := w.lending.Application(ctx, lending.Scope{}, appID)
	if err != nil {
		t.Fatal(err)
	}
	return a.Status, a.History[len(a.History)-1].Cause
}

const withdrawalPath = "/v1/credit-applications/%s/withdrawal"

// TestCancelBeforeAnyAttemptSendsNothing: an application cancelled while
// its credit application waits for its first attempt loses its delivery,
// and the bank hears of neither.
func TestCancelBeforeAnyAttemptSendsNothing(t *testing.T) {
	t.Parallel()
	w := newWithdrawalWorld(t, nil)
	id := w.apply(t)
	if _, err := w.lending.Cancel(ctx, lending.Scope{SupplierUSCC: uscc}, id, "user:u"); err != nil {
		t.Fatal(err)
	}
	if n, err := w.relay.RunOnce(ctx); err != nil || n != 0 {
		t.Fatalf("claimed %d (%v), want nothing", n, err)
	}
	if ds := w.deliveries(t, id); len(ds) != 0 {
		t.Fatalf("deliveries left: %+v", ds)
	}
	if got := w.bank.requests(); len(got) != 0 {
		t.Fatalf("the bank was sent %d messages", len(got))
	}
	if st, cause := w.history(t, id); st != lending.Cancelled || cause != lending.CauseCancelledBySupplier {
		t.Fatalf("application %s, cause %q", st, cause)
	}
}

// TestCancelAfterDeliverySendsAWithdrawal: once the bank took the credit
// application, cancelling it queues a withdrawal, delivered to the
// application's withdrawal path with the protocol's body, signed with the
// platform's key for that URL, under an Idempotency-Key of its own (its
// message id), the same at every attempt; the bank's approval afterwards is
// refused (409 invalid_transition).
func TestCancelAfterDeliverySendsAWithdrawal(t *testing.T) {
	t.Parallel()
	id := ""
	w := newWithdrawalWorld(t, map[string][]int{})
	id = w.apply(t)
	w.bank.scripts[fmt.Sprintf(withdrawalPath, id)] = []int{503, 202}
	if _, err := w.relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.lending.Cancel(ctx, lending.Scope{SupplierUSCC: uscc}, id, "user:u"); err != nil {
		t.Fatal(err)
	}
	ds := w.deliveries(t, id)
	if len(ds) != 2 || ds[0].Kind != banking.KindCreditApplication || ds[0].MessageID != id || ds[0].Status != "delivered" ||
		ds[1].Kind != banking.KindWithdrawal || ds[1].MessageID == id || ds[1].Status != "pending" {
		t.Fatalf("deliveries %+v", ds)
	}
	for i := 0; i < 2; i++ { // 503, then 202
		if _, err := w.relay.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		w.due()
	}
	got := w.bank.requests()
	if len(got) != 3 {
		t.Fatalf("the bank got %d messages, want the application and the withdrawal twice", len(got))
	}
	for _, r := range got[1:] {
		var body map[string]any
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		at, _ := time.Parse(time.RFC3339, fmt.Sprint(body["withdrawn_at"]))
		if r.path != fmt.Sprintf(withdrawalPath, id) || r.key != ds[1].MessageID || r.signed != nil || len(body) != 3 ||
			body["application_id"] != id || body["reason"] != "cancelled_by_supplier" || at.IsZero() {
			t.Fatalf("withdrawal %s under key %s (signature: %v): %s", r.path, r.key, r.signed, r.body)
		}
	}
	if string(got[1].body) != string(got[2].body) {
		t.Fatalf("the retry's body differs: %s then %s", got[1].body, got[2].body)
	}
	if ds := w.deliveries(t, id); ds[1].Status != "delivered" {
		t.Fatalf("withdrawal %s", ds[1].Status)
	}
	if st, _ := w.history(t, id); st != lending.Cancelled {
		t.Fatalf("application %s after the withdrawal's acceptance", st)
	}
	err := postgres.Transact(ctx, w.db, func(tx *postgres.Tx) error {
		return w.lending.Approve(ctx, tx, "qilu-bank", id, lending.Approval{ApprovedAmount: money.MustAmount("1000.00"),
			AnnualRate: money.MustRate("0.035"), TermDays: 90,
			RepaymentAccount: lending.RepaymentAccount{BankName: "Q", AccountNo: "1", AccountName: "Q"}}, "bank:qilu-bank")
	})
	if !errs.Is(err, errs.InvalidTransition) {
		t.Fatalf("approval of a withdrawn application: %v, want invalid_transition", err)
	}
}

// TestWithdrawalWaitsForTheApplicationsDelivery: cancelled while its
// credit application is under way (leased by a relay), the application's
// withdrawal is not sent until that delivery has ended; a retry the
// cancel stopped is failed 'withdrawn' and never sent again.
func TestWithdrawalWaitsForTheApplicationsDelivery(t *testing.T) {
	t.Parallel()
	w := newWithdrawalWorld(t, map[string][]int{})
	id := w.apply(t)
	// Another relay's claim, under way: attempted, leased.
	w.db.MustExec(`UPDATE deliveries SET locked_until = now() + interval '1 hour', locked_by = 'other-relay', attempts = 1 WHERE application_id = $1`, id)
	if _, err := w.lending.Cancel(ctx, lending.Scope{SupplierUSCC: uscc}, id, "user:u"); err != nil {
		t.Fatal(err)
	}
	if n, err := w.relay.RunOnce(ctx); err != nil || n != 0 {
		t.Fatalf("claimed %d (%v) while the application's delivery was under way", n, err)
	}
	if got := w.bank.requests(); len(got) != 0 {
		t.Fatalf("the bank was sent %d messages while the application's delivery was under way", len(got))
	}
	ds := w.deliveries(t, id)
	if ds[0].Status != "failed" || !strings.Contains(ds[0].LastError, "withdrawn") || ds[1].Kind != banking.KindWithdrawal {
		t.Fatalf("deliveries %+v", ds)
	}
	w.db.MustExec(`UPDATE deliveries SET locked_until = now() - interval '1 second' WHERE id = $1`, ds[0].ID) // the lease ran out
	if n, err := w.relay.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("claimed %d (%v), want the withdrawal", n, err)
	}
	got := w.bank.requests()
	if len(got) != 1 || got[0].path != fmt.Sprintf(withdrawalPath, id) {
		t.Fatalf("the bank got %+v, want only the withdrawal", got)
	}
}

// TestWithdrawalRefusedByAVersion1Bank: a bank that does not serve
// withdrawals (404) has the withdrawal recorded as refused, not retried;
// the application stays cancelled.
func TestWithdrawalRefusedByAVersion1Bank(t *testing.T) {
	t.Parallel()
	w := newWithdrawalWorld(t, map[string][]int{})
	id := w.apply(t)
	w.bank.scripts[fmt.Sprintf(withdrawalPath, id)] = []int{404}
	w.relay.RunOnce(ctx)
	if _, err := w.lending.Cancel(ctx, lending.Scope{SupplierUSCC: uscc}, id, "user:u"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		w.relay.RunOnce(ctx)
		w.due()
	}
	ds := w.deliveries(t, id)
	if len(ds) != 2 || ds[1].Status != "failed" || ds[1].LastStatus == nil || *ds[1].LastStatus != 404 || ds[1].Attempts != 1 {
		t.Fatalf("withdrawal %+v", ds[len(ds)-1])
	}
	if got := w.bank.requests(); len(got) != 2 {
		t.Fatalf("the bank got %d messages, want the application and one withdrawal", len(got))
	}
	if st, _ := w.history(t, id); st != lending.Cancelled {
		t.Fatalf("application %s", st)
	}
}

// TestExpiredConsentStopsTheApplication: a credit application whose
// consent expired before it was sent is not sent: its delivery fails with
// consent_expired, the application becomes delivery_failed for that
// cause, and an administrator cannot re-queue it (409 consent_expired).
func TestExpiredConsentStopsTheApplication(t *testing.T) {
	t.Parallel()
	w := newWithdrawalWorld(t, nil)
	id := w.apply(t)
	w.db.MustExec(`UPDATE consents SET expires_at = now() - interval '1 second' WHERE application_id = $1`, id)
	if _, err := w.relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := w.bank.requests(); len(got) != 0 {
		t.Fatalf("the bank was sent %d messages on an expired consent", len(got))
	}
	ds := w.deliveries(t, id)
	if ds[0].Status != "failed" || !strings.HasPrefix(ds[0].LastError, "consent_expired") {
		t.Fatalf("delivery %+v", ds[0])
	}
	if st, cause := w.history(t, id); st != lending.DeliveryFailed || cause != lending.CauseConsentExpired {
		t.Fatalf("application %s, cause %q", st, cause)
	}
	if _, err := banking.NewDeliveries(w.db, w.lending).Requeue(ctx, ds[0].ID, "user:admin"); !errs.Is(err, errs.ConsentExpired) {
		t.Fatalf("re-queue: %v, want consent_expired", err)
	}
	if ds := w.deliveries(t, id); ds[0].Status != "failed" {
		t.Fatalf("re-queue refused, yet the delivery is %s", ds[0].Status)
	}
}

// TestExpiryNeverBlocksAWithdrawal: a withdrawal goes out even when the
// consent has expired meanwhile.
func TestExpiryNeverBlocksAWithdrawal(t *testing.T) {
	t.Parallel()
	w := newWithdrawalWorld(t, nil)
	id := w.apply(t)
	w.relay.RunOnce(ctx)
	if _, err := w.lending.Cancel(ctx, lending.Scope{SupplierUSCC: uscc}, id, "user:u"); err != nil {
		t.Fatal(err)
	}
	w.db.MustExec(`UPDATE consents SET expires_at = now() - interval '1 second' WHERE application_id = $1`, id)
	w.relay.RunOnce(ctx)
	if ds := w.deliveries(t, id); len(ds) != 2 || ds[1].Status != "delivered" {
		t.Fatalf("deliveries %+v", ds)
	}
}
