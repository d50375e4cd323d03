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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"procfin/banking"
	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/money"
	"procfin/platform/postgres/pgtest"
	"procfin/platform/safehttp"
	"procfin/platform/signature"
)

var ctx = context.Background()

const uscc = "91350100M000100Y43"

// fakeBank answers with the next status in its script (the last repeats)
// and records what it received.
type fakeBank struct {
	mu       sync.Mutex
	script   []int
	hits     int
	byKey    map[string]int
	inFlight map[string]bool
	overlap  atomic.Bool
	delay    time.Duration
	srv      *httptest.Server
}

func newFakeBank(t *testing.T, script ...int) *fakeBank {
	b := &fakeBank{script: script, byKey: map[string]int{}, inFlight: map[string]bool{}}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		if b.inFlight[key] {
			b.overlap.Store(true)
		}
		b.inFlight[key] = true
		status := b.script[min(b.hits, len(b.script)-1)]
		b.hits++
		b.mu.Unlock()
		time.Sleep(b.delay)
		ok := r.Header.Get("Procfin-Signature") != "" && json.Valid(body)
		b.mu.Lock()
		delete(b.inFlight, key)
		if status < 300 && ok {
			b.byKey[key]++
		}
		b.mu.Unlock()
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "0")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"bank_reference": "REF-%s", "type": "x", "detail": "scripted %d"}`, key[:8], status)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *fakeBank) count() int { b.mu.Lock(); defer b.mu.Unlock(); return b.hits }

type world struct {
	db        *sqlx.DB
	contracts *contracts.Service
	lending   *lending.Service
	banks     *banking.Registry
	contract  string
}

func newWorld(t *testing.T, bankURL string) *world {
	t.Helper()
	db := pgtest.NewDB(t)
	cs := contracts.NewService(db, contracts.Policy{FinancingRatio: decimal.RequireFromString("0.85"), Currency: "CNY",
		EligibleClasses: []contracts.SizeClass{contracts.SizeSmall}}, func() time.Time { return time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC) })
	w := &world{db: db, contracts: cs, banks: banking.NewRegistry(db)}
	w.banks.SetURLPolicy(safehttp.Policy{AllowPrivate: true}) // the test banks listen on 127.0.0.1
	w.lending = lending.NewService(db, cs, banking.Outbox{}, lending.Limits{MaxAmount: money.MustAmount("10000000.00"), MaxTermDays: 365}, nil)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	jwks := json.RawMessage(fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":%q,"kid":"k1"}]}`, base64.RawURLEncoding.EncodeToString(pub)))
	if _, _, err := cs.RegisterIssuer(ctx, contracts.IssuerRegistration{ID: "jinan-pprc", Name: "J", JWKS: jwks}, "t"); err != nil {
		t.Fatal(err)
	}
	emp := 42
	rev, as := money.MustAmount("8000000.00"), money.MustAmount("5000000.00")
	if _, _, err := cs.RegisterSupplier(ctx, contracts.SupplierRegistration{USCC: uscc, Name: "Q", Industry: "software_it", Employees: &emp, AnnualRevenue: &rev, TotalAssets: &as}, "t"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.banks.Register(ctx, banking.BankRegistration{ID: "qilu-bank", Name: "Qilu", BaseURL: bankURL, JWKS: jwks}, "t"); err != nil {
		t.Fatal(err)
	}
	src := contracts.Source{Kind: "signed", Actor: "issuer:jinan-pprc"}
	if _, _, err := cs.SubmitAwardNotice(ctx, "jinan-pprc", contracts.AwardNoticeDoc{NoticeNo: "N1", ProjectNo: "P", ProjectName: "P",
		Purchaser: contracts.Party{ID: "sdu"}, Supplier: contracts.SupplierRef{USCC: uscc}, Amount: money.MustAmount("100000000.00"),
		Currency: "CNY", AwardedOn: money.MustDate("2026-10-01"), ProcurementMethod: "open", Status: "active"}, src); err != nil {
		t.Fatal(err)
	}
	c, _, err := cs.SubmitContract(ctx, "jinan-pprc", contracts.ContractDoc{ContractNo: "C1", NoticeNo: "N1", Purchaser: contracts.Party{ID: "sdu"},
		Supplier: contracts.SupplierRef{USCC: uscc}, Amount: money.MustAmount("100000000.00"), SignedOn: money.MustDate("2026-10-02"),
		Period: contracts.Period{Start: money.MustDate("2026-10-02"), End: money.MustDate("2027-10-02")}, Status: "active"}, src)
	if err != nil {
		t.Fatal(err)
	}
	w.contract = c.ID
	return w
}

func (w *world) apply(t *testing.T) string {
	t.Helper()
	a, days := money.MustAmount("1000.00"), 90
	app, err := w.lending.Apply(ctx, lending.Applicant{UserID: "u", SupplierUSCC: uscc},
		lending.ApplyInput{ContractID: w.contract, BankID: "qilu-bank", Amount: &a, TermDays: &days, Purpose: "p"})
	if err != nil {
		t.Fatal(err)
	}
	return app.ID
}

func (w *world) relay(cfg banking.RelayConfig) *banking.Relay {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	if cfg.BaseBackoff == 0 {
		cfg.BaseBackoff = time.Millisecond
	}
	return banking.NewRelay(w.db, w.banks, w.lending, signature.StaticKey{KeyID: "k1", Key: key}, nil, nil, cfg)
}

func (w *world) state(t *testing.T, appID string) (delivery, app string) {
	t.Helper()
	w.db.Get(&delivery, `SELECT status FROM deliveries WHERE application_id = $1 ORDER BY id LIMIT 1`, appID)
	w.db.Get(&app, `SELECT status FROM applications WHERE id = $1`, appID)
	return
}

// due makes every pending delivery due now (skipping the back-off wait).
func (w *world) due() {
	w.db.MustExec(`UPDATE deliveries SET next_attempt_at = now() WHERE status = 'pending'`)
}

func TestRelayDelivers(t *testing.T) {
	t.Parallel()
	bank := newFakeBank(t, 202)
	w := newWorld(t, bank.srv.URL)
	id := w.apply(t)
	if _, err := w.relay(banking.RelayConfig{}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	d, a := w.state(t, id)
	var ref string
	w.db.Get(&ref, `SELECT bank_reference FROM applications WHERE id = $1`, id)
	if d != "delivered" || a != "delivered" || ref != "REF-"+id[:8] || bank.byKey[id] != 1 {
		t.Fatalf("delivery %s, application %s, reference %q, bank saw %d", d, a, ref, bank.byKey[id])
	}
}

func TestRelayRetriesThenDelivers(t *testing.T) {
	t.Parallel()
	bank := newFakeBank(t, 503, 500, 202)
	w := newWorld(t, bank.srv.URL)
	id := w.apply(t)
	r := w.relay(banking.RelayConfig{})
	for i := 0; i < 3; i++ {
		r.RunOnce(ctx)
		w.due()
	}
	d, a := w.state(t, id)
	var attempts int
	w.db.Get(&attempts, `SELECT attempts FROM deliveries WHERE application_id = $1`, id)
	if d != "delivered" || a != "delivered" || attempts != 3 {
		t.Fatalf("delivery %s, application %s after %d attempts", d, a, attempts)
	}
}

func TestRelayBackoffSchedulesLater(t *testing.T) {
	t.Parallel()
	bank := newFakeBank(t, 500)
	w := newWorld(t, bank.srv.URL)
	w.apply(t)
	r := w.relay(banking.RelayConfig{BaseBackoff: time.Hour, MaxBackoff: 2 * time.Hour})
	r.RunOnce(ctx)
	for i := 0; i < 5; i++ { // nothing is due: no hot retry loop
		r.RunOnce(ctx)
	}
	if bank.count() != 1 {
		t.Fatalf("bank hit %d times, want 1 (the retry waits)", bank.count())
	}
}

func TestRelayRefusalAndRequeue(t *testing.T) {
	t.Parallel()
	bank := newFakeBank(t, 400, 202)
	w := newWorld(t, bank.srv.URL)
	id := w.apply(t)
	r := w.relay(banking.RelayConfig{})
	r.RunOnce(ctx)
	if d, a := w.state(t, id); d != "failed" || a != "delivery_failed" {
		t.Fatalf("after 400: delivery %s, application %s", d, a)
	}
	var did int64
	w.db.Get(&did, `SELECT id FROM deliveries WHERE application_id = $1`, id)
	deliveries := banking.NewDeliveries(w.db, w.lending)
	if _, err := deliveries.Requeue(ctx, did, "user:admin"); err != nil {
		t.Fatal(err)
	}
	r.RunOnce(ctx)
	if d, a := w.state(t, id); d != "delivered" || a != "delivered" {
		t.Fatalf("after re-queue: delivery %s, application %s", d, a)
	}
	if _, err := deliveries.Requeue(ctx, did, "user:admin"); err == nil {
		t.Fatal("re-queued a delivered message")
	}
}

func TestRelayConflictIsFlagged(t *testing.T) {
	t.Parallel()
	bank := newFakeBank(t, 409)
	w := newWorld(t, bank.srv.URL)
	id := w.apply(t)
	w.relay(banking.RelayConfig{}).RunOnce(ctx)
	var lastErr string
	w.db.Get(&lastErr, `SELECT last_error FROM deliveries WHERE application_id = $1`, id)
	if d, a := w.state(t, id); d != "failed" || a != "delivery_failed" || lastErr == "" {
		t.Fatalf("after 409: delivery %s, application %s, %q", d, a, lastErr)
	}
}

func TestRelayBreakerStopsHammering(t *testing.T) {
	t.Parallel()
	bank := newFakeBank(t, 500)
	w := newWorld(t, bank.srv.URL)
	for i := 0; i < 6; i++ {
		w.apply(t)
	}
	r := w.relay(banking.RelayConfig{Batch: 1, BreakerAfter: 3, BreakerOpen: time.Hour})
	for i := 0; i < 20; i++ {
		r.RunOnce(ctx)
		w.due()
	}
	if bank.count() != 3 {
		t.Fatalf("a dead bank was called %d times, want 3 before the breaker opened", bank.count())
	}
}

func TestRelayDeadLetter(t *testing.T) {
	t.Parallel()
	bank := newFakeBank(t, 500)
	w := newWorld(t, bank.srv.URL)
	id := w.apply(t)
	w.db.MustExec(`UPDATE deliveries SET created_at = now() - interval '25 hours'`)
	w.relay(banking.RelayConfig{}).RunOnce(ctx)
	if d, a := w.state(t, id); d != "dead" || a != "delivery_failed" {
		t.Fatalf("after 24 h: delivery %s, application %s", d, a)
	}
	list, err := banking.NewDeliveries(w.db, w.lending).List(ctx, "dead", 0, 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("dead letters %v %v", list, err)
	}
}

// TestThreeRelaysDeliverEachOnce: three relays (as three processes would)
// share one queue; every message arrives once, none twice at once.
func TestThreeRelaysDeliverEachOnce(t *testing.T) {
	t.Parallel()
	bank := newFakeBank(t, 202)
	bank.delay = 5 * time.Millisecond
	w := newWorld(t, bank.srv.URL)
	const n = 30
	ids := make([]string, n)
	for i := range ids {
		ids[i] = w.apply(t)
	}
	var wg sync.WaitGroup
	for r := 0; r < 3; r++ {
		wg.Add(1)
		relay := w.relay(banking.RelayConfig{Batch: 4, WorkerID: fmt.Sprint("w", r)})
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				relay.RunOnce(ctx)
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if d, _ := w.state(t, id); d != "delivered" || bank.byKey[id] != 1 {
			t.Fatalf("application %s: delivery %s, bank got it %d times", id, d, bank.byKey[id])
		}
	}
	if bank.overlap.Load() {
		t.Fatal("one message was being delivered twice at the same time")
	}
}

// TestCrashedRelayIsTakenOver: a relay claims a delivery and dies before
// recording the answer (kill -9); when its lease ends another relay
// delivers the message, which is never lost. The bank may see it twice
// (at least once), under the same Idempotency-Key, and deduplicates.
func TestCrashedRelayIsTakenOver(t *testing.T) {
	t.Parallel()
	bank := newFakeBank(t, 202)
	w := newWorld(t, bank.srv.URL)
	id := w.apply(t)
	// The dead relay's claim: attempts counted, lease held, no answer.
	w.db.MustExec(`UPDATE deliveries SET locked_until = now() + interval '1 hour', locked_by = 'dead-relay', attempts = 1`)
	r := w.relay(banking.RelayConfig{WorkerID: "survivor"})
	if n, _ := r.RunOnce(ctx); n != 0 {
		t.Fatalf("took over a live lease (%d claimed)", n)
	}
	w.db.MustExec(`UPDATE deliveries SET locked_until = now() - interval '1 second'`) // the lease ran out
	if n, _ := r.RunOnce(ctx); n != 1 {
		t.Fatalf("claimed %d after the lease ended, want 1", n)
	}
	if d, a := w.state(t, id); d != "delivered" || a != "delivered" || bank.byKey[id] != 1 {
		t.Fatalf("delivery %s, application %s, bank saw %d", d, a, bank.byKey[id])
	}
}

// TestBankDownThenBack: every delivery waits while the bank is down and
// goes out once it is back, with no hot loop meanwhile.
func TestBankDownThenBack(t *testing.T) {
	// Not in parallel with the package's other tests: its ten rounds must
	// fit in the breaker's open time.
	bank := newFakeBank(t, 503, 503, 503, 202)
	w := newWorld(t, bank.srv.URL)
	ids := []string{w.apply(t), w.apply(t)}
	// The breaker stays open long enough for ten rounds on a loaded
	// machine (at 50 ms it half-opened during them, and let more through).
	r := w.relay(banking.RelayConfig{Batch: 1, BreakerAfter: 3, BreakerOpen: 1500 * time.Millisecond})
	for i := 0; i < 10; i++ {
		r.RunOnce(ctx)
		w.due()
	}
	hitsWhileOpen := bank.count()
	time.Sleep(1600 * time.Millisecond) // the breaker lets one through again
	for i := 0; i < 5; i++ {
		r.RunOnce(ctx)
		w.due()
	}
	for _, id := range ids {
		if d, _ := w.state(t, id); d != "delivered" {
			t.Fatalf("application %s: delivery %s after the bank came back", id, d)
		}
	}
	if hitsWhileOpen > 3 {
		t.Fatalf("the down bank was called %d times in the first 10 rounds, want 3 (then the breaker holds)", hitsWhileOpen)
	}
}
