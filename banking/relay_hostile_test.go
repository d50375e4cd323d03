package banking_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"procfin/banking"
	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/money"
	"procfin/platform/signature"
	"procfin/platform/waitfor"
)

// answeringBank answers every delivery with what answer returns for its
// Idempotency-Key (the application id): a status and the body's bytes,
// after delay (cut short if procfin gives up on the request).
func answeringBank(t *testing.T, delay time.Duration, answer func(key string) (int, string)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Procfin-Signature") == "" || r.Header.Get("Idempotency-Key") == "" {
			http.Error(w, "unsigned", http.StatusUnauthorized)
			return
		}
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		status, body := answer(r.Header.Get("Idempotency-Key"))
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// lastError is the delivery's last_error of the application.
func (w *world) lastError(t *testing.T, appID string) string {
	t.Helper()
	var s string
	if err := w.db.Get(&s, `SELECT last_error FROM deliveries WHERE application_id = $1`, appID); err != nil {
		t.Fatal(err)
	}
	return s
}

// wantCleanText fails unless s is what procfin may store of another
// party's words: valid UTF-8, no NUL or control characters, at most max bytes.
func wantCleanText(t *testing.T, what, s string, max int) {
	t.Helper()
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' }) || len(s) > max {
		t.Errorf("%s is not clean text of at most %d bytes (%d bytes): %q", what, max, len(s), s)
	}
}

// TestRelayNULReference: a bank accepting a delivery with a reference
// holding NUL (which PostgreSQL text refuses) is recorded with the NUL
// stripped, and the other deliveries accepted in the same batch are
// recorded too.
func TestRelayNULReference(t *testing.T) {
	t.Parallel()
	var w *world
	var first string
	srv := answeringBank(t, 0, func(key string) (int, string) {
		if key == first {
			return http.StatusAccepted, `{"bank_reference":"REF\u0000X"}`
		}
		return http.StatusAccepted, `{"bank_reference":"REF-OK"}`
	})
	w = newWorld(t, srv.URL)
	first = w.apply(t)
	second := w.apply(t)
	if _, err := w.relay(banking.RelayConfig{}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{first: "REFX", second: "REF-OK"} {
		d, a := w.state(t, id)
		var dref, aref string
		w.db.Get(&dref, `SELECT bank_reference FROM deliveries WHERE application_id = $1`, id)
		w.db.Get(&aref, `SELECT bank_reference FROM applications WHERE id = $1`, id)
		if d != "delivered" || a != "delivered" || dref != want || aref != want {
			t.Errorf("application %s: delivery %s, application %s, references %q and %q; want delivered with %q", id, d, a, dref, aref, want)
		}
	}
}

// TestRelayLongChineseDetail: a bank's problem detail in Chinese over 500
// bytes is kept cut on a character boundary: a refusal (422) reaches
// failed, and a bank failing (503) for 24 hours reaches the dead letters,
// both with the bank's words in valid UTF-8, and the application is
// delivery_failed (no longer waiting for the bank: its supplier may cancel
// it and free its holds, an administrator may re-queue it).
func TestRelayLongChineseDetail(t *testing.T) {
	t.Parallel()
	// 8 characters of 3 bytes (with the full-width comma) × 40 = 960 bytes.
	detail := strings.Repeat("申请材料不完整，", 40)
	problem, _ := json.Marshal(map[string]string{"type": "x", "title": "t", "detail": detail})
	for _, status := range []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv := answeringBank(t, 0, func(string) (int, string) { return status, string(problem) })
			w := newWorld(t, srv.URL)
			id := w.apply(t)
			want := "failed"
			if status == http.StatusServiceUnavailable {
				want = "dead"
				w.db.MustExec(`UPDATE deliveries SET created_at = now() - interval '25 hours'`)
			}
			if _, err := w.relay(banking.RelayConfig{}).RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			d, a := w.state(t, id)
			last := w.lastError(t, id)
			if d != want || a != "delivery_failed" {
				t.Fatalf("delivery %s, application %s (last error %q); want %s and delivery_failed", d, a, last, want)
			}
			wantCleanText(t, "last_error", last, 1000)
			if !strings.Contains(last, "申请材料不完整，申请材料不完整") || !strings.HasSuffix(last, "…") {
				t.Errorf("last_error %q does not keep the bank's detail, cut with …", last)
			}
			var cause string
			w.db.Get(&cause, `SELECT cause_args->>'detail' FROM application_transitions WHERE application_id = $1 AND to_status = 'delivery_failed'`, id)
			wantCleanText(t, "the transition's cause", cause, 2000)
			if !strings.Contains(cause, "申请材料不完整") {
				t.Errorf("the transition's cause %q does not name the bank's detail", cause)
			}
			if status == http.StatusServiceUnavailable {
				list, err := banking.NewDeliveries(w.db, w.lending).List(ctx, "dead", 0, 10)
				if err != nil || len(list) != 1 || list[0].LastError != last {
					t.Errorf("dead letters %+v %v", list, err)
				}
			}
		})
	}
}

// TestRelayGarbageAnswer: a body that is not JSON (an HTML page, binary)
// in answer to a delivery is a clear failure with a bounded excerpt of
// it, never an acceptance: with 202 the delivery is retried, with 4xx it
// fails.
func TestRelayGarbageAnswer(t *testing.T) {
	t.Parallel()
	html := "<html><head><title>网关错误</title></head><body>" + strings.Repeat("<p>upstream gone</p>", 200) + "</body></html>"
	binary := string([]byte{0x00, 0xff, 0xfe, 0x1b, 'P', 'K', 0x03, 0x04, 0xc3}) + strings.Repeat("\x00\x01\x80", 500)
	tests := []struct {
		name      string
		status    int
		body      string
		delivery  string
		app       string
		mentioned string // what last_error must hold of the body
	}{
		{"HTML202", http.StatusAccepted, html, "pending", "submitted", "<html><head><title>网关错误"},
		{"Binary200", http.StatusOK, binary, "pending", "submitted", "PK"},
		{"JSONNotObject202", http.StatusAccepted, `"accepted"`, "pending", "submitted", `"accepted"`},
		{"ReferenceNotText202", http.StatusAccepted, `{"bank_reference": 42}`, "pending", "submitted", `{"bank_reference": 42}`},
		{"HTML403", http.StatusForbidden, html, "failed", "delivery_failed", "<html><head><title>网关错误"},
		{"Binary400", http.StatusBadRequest, binary, "failed", "delivery_failed", "PK"},
		{"HTML502", http.StatusBadGateway, html, "pending", "submitted", "<html><head><title>网关错误"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := answeringBank(t, 0, func(string) (int, string) { return tt.status, tt.body })
			w := newWorld(t, srv.URL)
			id := w.apply(t)
			if _, err := w.relay(banking.RelayConfig{}).RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			d, a := w.state(t, id)
			last := w.lastError(t, id)
			if d != tt.delivery || a != tt.app {
				t.Fatalf("delivery %s, application %s (last error %q); want %s and %s", d, a, last, tt.delivery, tt.app)
			}
			wantCleanText(t, "last_error", last, 1000)
			if !strings.Contains(last, fmt.Sprint(tt.status)) || !strings.Contains(last, tt.mentioned) {
				t.Errorf("last_error %q does not say what the bank answered", last)
			}
			if len(last) > 600 {
				t.Errorf("last_error is %d bytes: the excerpt is not bounded", len(last))
			}
		})
	}
}

// TestRelayOneBadRowDoesNotStopTheOthers: when the statement recording a
// batch of accepted deliveries fails because of one row, the others are
// recorded row by row, and the failing delivery is logged by its id and
// left to be sent again.
func TestRelayOneBadRowDoesNotStopTheOthers(t *testing.T) {
	t.Parallel()
	var poisoned string
	srv := answeringBank(t, 0, func(key string) (int, string) {
		if key == poisoned {
			return http.StatusAccepted, `{"bank_reference":"POISON"}`
		}
		return http.StatusAccepted, `{"bank_reference":"REF-` + key[:8] + `"}`
	})
	w := newWorld(t, srv.URL)
	ids := []string{w.apply(t), w.apply(t), w.apply(t), w.apply(t)}
	poisoned = ids[2]
	// The database refuses to record that one reference (as it refused
	// a NUL): a fault of one row that no cleaning prevents.
	w.db.MustExec(`CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.bank_reference = 'POISON' THEN RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW; END $$`)
	w.db.MustExec(`CREATE TRIGGER poison BEFORE UPDATE ON deliveries FOR EACH ROW EXECUTE FUNCTION poison()`)
	var logs syncBuffer
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	r := banking.NewRelay(w.db, w.banks, w.lending, signature.StaticKey{KeyID: "k1", Key: key}, nil,
		slog.New(slog.NewJSONHandler(&logs, nil)), banking.RelayConfig{BaseBackoff: time.Millisecond})
	if n, err := r.RunOnce(ctx); err != nil || n != 4 {
		t.Fatalf("claimed %d, %v", n, err)
	}
	for _, id := range ids {
		d, a := w.state(t, id)
		want := "delivered"
		if id == poisoned {
			want = "pending"
		}
		if d != want || a != map[string]string{"pending": "submitted", "delivered": "delivered"}[want] {
			t.Errorf("application %s: delivery %s, application %s; want %s", id, d, a, want)
		}
	}
	var did int64
	w.db.Get(&did, `SELECT id FROM deliveries WHERE application_id = $1`, poisoned)
	if !strings.Contains(logs.String(), fmt.Sprintf(`"delivery":%d`, did)) || !strings.Contains(logs.String(), "poisoned row") {
		t.Errorf("the failing delivery %d is not logged by its id: %s", did, logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// addBank registers another partner bank at url.
func (w *world) addBank(t *testing.T, id, url string) {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	jwks := json.RawMessage(fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":%q,"kid":"k1"}]}`, base64.RawURLEncoding.EncodeToString(pub)))
	if _, _, err := w.banks.Register(ctx, banking.BankRegistration{ID: id, Name: id, BaseURL: url, JWKS: jwks}, "t"); err != nil {
		t.Fatal(err)
	}
}

// applyTo applies for 1000.00 to bankID.
func (w *world) applyTo(t *testing.T, bankID string) string {
	t.Helper()
	a, days := money.MustAmount("1000.00"), 90
	contract := w.contract
	if bankID != "qilu-bank" { // one bank finances a contract: another bank's applications are on a contract of their own
		contract = w.contractOf(t, bankID)
	}
	app, err := w.lending.Apply(ctx, lending.Applicant{UserID: "u", SupplierUSCC: uscc},
		lending.ApplyInput{ContractID: contract, BankID: bankID, Amount: &a, TermDays: &days, Purpose: "p"})
	if err != nil {
		t.Fatal(err)
	}
	return app.ID
}

// TestRelaySlowBankDoesNotDelayOthers: one bank answers after 2.5 s with
// 48 deliveries queued for it; another bank's deliveries, queued one every
// 100 ms meanwhile, each reach delivered within a second of being queued
// (p99 of 20: the slowest). The one timed assertion of the suite: it is
// what the relay promises.
func TestRelaySlowBankDoesNotDelayOthers(t *testing.T) {
	// Not in parallel with the package's other tests: it times the relay.
	slow := answeringBank(t, 2500*time.Millisecond, func(string) (int, string) { return 202, `{"bank_reference":"SLOW"}` })
	fast := answeringBank(t, 0, func(string) (int, string) { return 202, `{"bank_reference":"FAST"}` })
	w := newWorld(t, slow.URL)
	w.addBank(t, "fast-bank", fast.URL)
	for i := 0; i < 48; i++ {
		w.apply(t)
	}
	runCtx, stop := context.WithCancel(ctx)
	r := w.relay(banking.RelayConfig{Poll: 20 * time.Millisecond})
	done := make(chan struct{})
	go func() { r.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()
	waitfor.True(t, 10*time.Second, "the slow bank's deliveries to be under way", func() bool {
		var claimed int
		w.db.Get(&claimed, `SELECT count(*) FROM deliveries WHERE bank_id = 'qilu-bank' AND locked_until IS NOT NULL`)
		return claimed > 0
	})
	var ids []string
	for i := 0; i < 20; i++ {
		ids = append(ids, w.applyTo(t, "fast-bank"))
		time.Sleep(100 * time.Millisecond) // the fast bank's pace, as the test says
	}
	var latencies []float64
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		latencies = latencies[:0]
		err := w.db.Select(&latencies, `
			SELECT extract(epoch FROM delivered_at - created_at)::float8 FROM deliveries
			WHERE bank_id = 'fast-bank' AND status = 'delivered'`)
		if err != nil {
			t.Fatal(err)
		}
		if len(latencies) == len(ids) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(latencies) != len(ids) {
		t.Fatalf("%d of the fast bank's %d deliveries delivered", len(latencies), len(ids))
	}
	slices.Sort(latencies)
	t.Logf("the fast bank's deliveries, queued to delivered: p50 %.3f s, p99 %.3f s", latencies[len(latencies)/2], latencies[len(latencies)-1])
	if p99 := latencies[len(latencies)-1]; p99 >= 1 {
		t.Fatalf("the fast bank's deliveries took up to %.2f s (p50 %.2f s) behind the slow bank; want p99 under 1 s", p99, latencies[len(latencies)/2])
	}
}

// TestRelaySlowSuccessCountsAgainstBreaker: a bank that accepts, but
// slower than RelayConfig.SlowAnswer, counts as failing for its circuit
// breaker: after BreakerAfter slow answers it is not called again until the
// breaker lets one through. The slow acceptances are still delivered.
func TestRelaySlowSuccessCountsAgainstBreaker(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	hits := 0
	srv := answeringBank(t, 200*time.Millisecond, func(string) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		hits++
		return 202, `{"bank_reference":"SLOW"}`
	})
	w := newWorld(t, srv.URL)
	var ids []string
	for i := 0; i < 6; i++ {
		ids = append(ids, w.apply(t))
	}
	r := w.relay(banking.RelayConfig{Batch: 1, BreakerAfter: 3, BreakerOpen: time.Hour, SlowAnswer: 50 * time.Millisecond})
	for i := 0; i < 6; i++ {
		r.RunOnce(ctx)
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 3 {
		t.Fatalf("a slow bank was called %d times, want 3 before its breaker opened", hits)
	}
	var delivered int
	w.db.Get(&delivered, `SELECT count(*) FROM deliveries WHERE status = 'delivered'`)
	if delivered != 3 || !strings.Contains(w.lastError(t, ids[5]), "circuit breaker open") {
		t.Fatalf("%d delivered (want the 3 slow acceptances); the last: %q", delivered, w.lastError(t, ids[5]))
	}
}

// contractOf returns the contract C-<bankID> of the world's supplier under
// its award, made on first use.
func (w *world) contractOf(t *testing.T, bankID string) string {
	t.Helper()
	var id string
	if err := w.db.Get(&id, `SELECT coalesce((SELECT id::text FROM contracts WHERE contract_no = $1), '')`, "C-"+bankID); err != nil {
		t.Fatal(err)
	}
	if id != "" {
		return id
	}
	c, _, err := w.contracts.SubmitContract(ctx, "jinan-pprc", contracts.ContractDoc{ContractNo: "C-" + bankID, NoticeNo: "N1",
		Purchaser: contracts.Party{ID: "sdu"}, Supplier: contracts.SupplierRef{USCC: uscc}, Amount: money.MustAmount("1000000.00"),
		SignedOn: money.MustDate("2026-10-02"), Period: contracts.Period{Start: money.MustDate("2026-10-02"), End: money.MustDate("2027-10-02")},
		Status: "active"}, contracts.Source{Kind: "signed", Actor: "issuer:jinan-pprc"})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}
