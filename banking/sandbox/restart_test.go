package sandbox

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"procfin/lending"
	"procfin/platform/money"
)

// sentOf is how many batches of the application's events procfin took, as
// the running bank knows it.
func (h *harness) sentOf(id string) int {
	h.bank.mu.Lock()
	defer h.bank.mu.Unlock()
	if a, ok := h.bank.apps[id]; ok {
		return a.sent
	}
	return -1
}

// stored reads where the application's life stands in the database.
func (h *harness) stored(id string) (sent int, nextAt time.Time, done bool) {
	h.t.Helper()
	row := h.cfg.DB.QueryRowContext(context.Background(), `SELECT batches_sent, next_at, done FROM sandbox_applications
		WHERE bank_id = $1 AND application_id = $2`, h.cfg.BankID, id)
	if err := row.Scan(&sent, &nextAt, &done); err != nil {
		h.t.Fatal(err)
	}
	return sent, nextAt, done
}

// TestRestartCarriesOn: a sandbox bank stopped while procfin has not yet
// taken the batch of its decision, and a new bank started on the same
// database, sends that batch again, the same messages (procfin answers
// "duplicate" to those it took; another body would be refused as a
// conflict); stopped again while the loan is disbursed, with its next
// step an hour away, and started again once the hour passed, the bank
// takes the loan's life on to its close. The application, its bank
// reference and its idempotency survive each restart.
func TestRestartCarriesOn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) {
		c.RepayAfter = time.Hour
		c.Life = func(Application) Life { return LifeOverdue }
	})
	const id = "0b5e6f7a-0000-4000-8000-0000000000f1"
	body := message(id, "500000.00", 90)

	// The first bank: procfin holds the second disbursement until the
	// bank is stopped.
	held, release := make(chan struct{}), make(chan struct{})
	h.procfin.setAnswer(func(_ int, e gotEvent) (int, string) {
		if e.Type == TypeDisbursed && len(h.procfin.Events()) == 3 {
			close(held)
			<-release
			return http.StatusServiceUnavailable, `{"type":"unavailable","status":503}`
		}
		return 0, ""
	})
	first := h.post(id, body, nil)
	if first.status != http.StatusAccepted {
		t.Fatalf("status %d %v", first.status, first.body)
	}
	ref := first.body["bank_reference"]
	<-held
	h.stop()
	h.procfin.setAnswer(nil)
	close(release)
	if sent, _, done := h.stored(id); sent != 0 || done {
		t.Fatalf("stored: %d batches sent, done %v; want none sent, not done", sent, done)
	}
	h.restart(nil)

	// The second bank sends the decision's batch again, whole.
	h.waitFor("the decision taken", func() bool { return h.sentOf(id) == 1 })
	ev := h.procfin.Events()
	if got, want := types(ev), []string{TypeReceived, TypeApproved, TypeDisbursed, TypeReceived, TypeApproved, TypeDisbursed, TypeDisbursed}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i, e := range ev[3:6] {
		if e.answer != "duplicate" || e.EventID != ev[i].EventID {
			t.Errorf("resent %s answered %s, want a duplicate of %s", e.EventID, e.answer, ev[i].EventID)
		}
	}
	if again := h.post(id, body, nil); again.status != http.StatusOK || again.body["bank_reference"] != ref {
		t.Errorf("the application again: %d %v, want 200 with bank_reference %v", again.status, again.body, ref)
	}
	if r := h.bank.Received(); len(r) != 1 || r[0].BankReference != ref || r[0].Deliveries != 2 || r[0].Life != LifeOverdue {
		t.Errorf("Received() = %+v, want the application, delivered twice", r)
	}

	// Stopped with its next step an hour away; started once it passed.
	h.stop()
	sent, nextAt, done := h.stored(id)
	if sent != 1 || done || time.Until(nextAt) < 50*time.Minute {
		t.Fatalf("stored: %d batches sent, next at %v, done %v; want one sent, the next in an hour", sent, nextAt, done)
	}
	if _, err := h.cfg.DB.Exec(`UPDATE sandbox_applications SET next_at = now() - interval '1 minute' WHERE application_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	h.restart(func(c *Config) { c.RepayAfter = 5 * time.Millisecond })
	h.waitFor("over", func() bool { return h.bank.LifeOver(id) })
	ev = h.procfin.Events()
	if got, want := types(ev[7:]), []string{TypeOverdue, TypeRepaid, TypeOverdueCured, TypeRepaid, TypeClosed}; !slices.Equal(got, want) {
		t.Fatalf("events after the restarts %v, want %v", got, want)
	}
	seen := map[string]bool{}
	for _, e := range ev {
		if e.BankReference != ref {
			t.Errorf("%s: bank_reference %s, want %v", e.EventID, e.BankReference, ref)
		}
		if seen[e.EventID] != (e.answer == "duplicate") {
			t.Errorf("%s answered %s", e.EventID, e.answer)
		}
		seen[e.EventID] = true
	}
	if sent, _, done := h.stored(id); sent != 4 || !done {
		t.Errorf("stored: %d batches sent, done %v; want 4, done", sent, done)
	}
}

// TestRestartWaitsForConfirmation: a bank that waits for the purchaser's
// confirmation, restarted while it waits, disburses once the confirmation
// reaches the new bank; the contract event is taken once.
func TestRestartWaitsForConfirmation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.AwaitConfirmation = true })
	const id = "0b5e6f7a-0000-4000-8000-0000000000f2"
	if a := h.post(id, message(id, "800000.00", 180), nil); a.status != http.StatusAccepted {
		t.Fatalf("status %d %v", a.status, a.body)
	}
	h.waitFor("approved", func() bool { return h.sentOf(id) == 1 })
	amended := contractEventBody("e-a", TypeContractAmended, id, lending.ContractAmendedData{Version: 2, Amount: money.MustAmount("1180000.00"),
		Status: "active", FinancingLimit: money.MustAmount("1003000.00"), Financed: money.MustAmount("800000.00")})
	if a := h.postContractEvent("e-a", amended, nil); a.status != http.StatusAccepted {
		t.Fatalf("amended: %d %v", a.status, a.body)
	}
	h.restart(nil)
	if a := h.postContractEvent("e-a", amended, nil); a.status != http.StatusOK {
		t.Errorf("amended again after the restart: %d %v, want 200", a.status, a.body)
	}
	if a := h.postContractEvent("e-c", contractEventBody("e-c", TypeReceivableConfirmed, id, confirmedData()), nil); a.status != http.StatusAccepted {
		t.Fatalf("confirmation: %d %v", a.status, a.body)
	}
	h.waitFor("over", func() bool { return h.bank.LifeOver(id) })
	if got, want := types(h.procfin.Events()), []string{TypeReceived, TypeApproved, TypeDisbursed, TypeDisbursed}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if r := h.bank.ContractEvents(); len(r) != 2 || r[0].EventID != "e-a" || r[0].Deliveries != 2 || !r[1].Known {
		t.Errorf("ContractEvents() = %+v, want e-a delivered twice and e-c of a known application", r)
	}
}

// TestRestartKeepsOffers: a bank restarted after making an offer still
// knows it: the intent's message again is a resend (200), and the
// application of the accepted offer is approved within it, at its rate
// and term. An offer.made procfin had not answered when the bank stopped
// is sent again, the same message, by the new bank.
func TestRestartKeepsOffers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, offerRule)
	intent := intentBody("intent-r", "500000.00", 180, "2026-11-22T02:00:00Z")
	if a := h.postPath("/v1/financing-intents", "m-r", intent, nil, ""); a.status != http.StatusAccepted {
		t.Fatalf("intent: %d %v", a.status, a.body)
	}
	offer := h.waitOffers(1)[0]
	h.restart(nil)
	if a := h.postPath("/v1/financing-intents", "m-r", intent, nil, ""); a.status != http.StatusOK {
		t.Errorf("the intent again after the restart: %d %v, want 200", a.status, a.body)
	}
	if got := h.bank.IntentAnswer("intent-r"); got != AnswerOffered {
		t.Errorf("IntentAnswer = %q, want offered", got)
	}
	if a := h.postPath("/v1/financing-intents/intent-r/decision", "d-r", decisionBody("intent-r", DecisionAccepted, offer.OfferID, "app-r"), nil, ""); a.status != http.StatusAccepted {
		t.Fatalf("decision: %d %v", a.status, a.body)
	}
	if d := h.bank.Decisions(); len(d) != 1 || !d[0].Known || !d[0].OwnOffer {
		t.Errorf("Decisions() = %+v, want one on the bank's own offer", d)
	}
	if a := h.post("app-r", offerApplication(t, "app-r", "500000.00", 180, offer.OfferID), nil); a.status != http.StatusAccepted {
		t.Fatalf("application: %d %v", a.status, a.body)
	}
	h.waitFor("over", func() bool { return h.bank.LifeOver("app-r") })
	var approved Approved
	for _, e := range h.procfin.Events() {
		if e.Type == TypeApproved {
			approved = decode[Approved](t, e.Data)
		}
	}
	// 80 % of 500,000.00 is 400,000.00, at the offer's 3.20 % for 150 days.
	if approved.ApprovedAmount.String() != "400000.00" || approved.AnnualRate.String() != "0.032" || approved.TermDays != 150 {
		t.Errorf("approved %+v, want 400000.00 at 0.032 for 150 days", approved)
	}

	// An offer procfin holds unanswered while the bank stops.
	held, release := make(chan struct{}), make(chan struct{})
	h.procfin.setAnswer(func(_ int, e gotEvent) (int, string) {
		if e.Type == TypeOfferMade {
			close(held)
			<-release
			return http.StatusServiceUnavailable, `{"type":"unavailable","status":503}`
		}
		return 0, ""
	})
	if a := h.postPath("/v1/financing-intents", "m-s", intentBody("intent-s", "100000.00", 90, "2026-11-22T02:00:00Z"), nil, ""); a.status != http.StatusAccepted {
		t.Fatalf("intent: %d %v", a.status, a.body)
	}
	<-held
	h.stop()
	h.procfin.setAnswer(nil)
	close(release)
	h.restart(nil)
	offers := h.waitOffers(2)
	if offers[1].IntentID != "intent-s" || offers[1].Status != http.StatusOK {
		t.Errorf("offers after the restart %+v, want intent-s's taken", offers)
	}
	n := 0
	for _, e := range h.procfin.Events() {
		if e.Type == TypeOfferMade && e.answer == "processed" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d offers taken, want 2 (one each)", n)
	}
}
