package lending_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"procfin/banking"
	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
	"procfin/platform/safehttp"
)

// recOutbox is banking's outbox that also records, once committed, the
// decisions on intents and the credit applications it queued.
type recOutbox struct {
	banking.Outbox
	mu          sync.Mutex
	decisions   []lending.Decision
	submissions []lending.Submission
}

func (o *recOutbox) Decisions(ctx context.Context, tx *postgres.Tx, ds ...lending.Decision) error {
	tx.AfterCommit(func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.decisions = append(o.decisions, ds...)
	})
	return o.Outbox.Decisions(ctx, tx, ds...)
}

func (o *recOutbox) Enqueue(ctx context.Context, tx *postgres.Tx, ss ...lending.Submission) error {
	tx.AfterCommit(func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.submissions = append(o.submissions, ss...)
	})
	return o.Outbox.Enqueue(ctx, tx, ss...)
}

// decisionsOf returns the decisions told on intent, by bank.
func (o *recOutbox) decisionsOf(intent string) map[string]lending.Decision {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := map[string]lending.Decision{}
	for _, d := range o.decisions {
		if d.IntentID == intent {
			m[d.BankID] = d
		}
	}
	return m
}

// offerWorld is a world whose lending service records what it tells the
// banks of intents, with a third bank and consents lasting 30 days.
type offerWorld struct {
	*world
	out *recOutbox
}

func newOfferWorld(t *testing.T) *offerWorld {
	t.Helper()
	w := newWorld(t)
	out := &recOutbox{}
	w.lending = lending.NewService(w.db, w.contracts, out, lending.Limits{MaxAmount: money.MustAmount("10000000.00"), MaxTermDays: 365,
		ConsentTTL: 30 * 24 * time.Hour, IntentTTL: 72 * time.Hour}, w.clock)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	jwks := json.RawMessage(fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":%q,"kid":"k1","alg":"EdDSA","use":"sig"}]}`, base64.RawURLEncoding.EncodeToString(pub)))
	banks := banking.NewRegistry(w.db)
	banks.SetURLPolicy(safehttp.Policy{AllowPrivate: true})
	must(t, func() error {
		_, _, err := banks.Register(ctx, banking.BankRegistration{ID: "third-bank", Name: "third-bank", BaseURL: "http://127.0.0.1:9", JWKS: jwks}, "test")
		return err
	})
	return &offerWorld{world: w, out: out}
}

// clock reads the world's clock as newWorld's service does.
func (w *world) clock() time.Time {
	w.clockMu.Lock()
	defer w.clockMu.Unlock()
	now := w.now
	w.now = w.now.Add(w.tick)
	return now
}

// later moves the world's clock on by d.
func (w *world) later(d time.Duration) {
	w.clockMu.Lock()
	defer w.clockMu.Unlock()
	w.now = w.now.Add(d)
}

// publish publishes the supplier's need on the world's contract for
// amount, 180 days, to banks, taking offers for respond (Publish); it
// returns the intent's id.
func (w *offerWorld) publish(amount string, respond time.Duration, banks ...string) string {
	w.t.Helper()
	id, err := w.tryPublish(amount, respond, banks...)
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

func (w *offerWorld) tryPublish(amount string, respond time.Duration, banks ...string) (string, error) {
	a, days, by := money.MustAmount(amount), 180, w.peek().Add(respond).Format(time.RFC3339)
	in, err := w.lending.Publish(ctx, w.who, lending.PublishInput{ContractID: w.contractID, Amount: &a, TermDays: &days,
		Purpose: "materials", BankIDs: banks, RespondBy: &by})
	return in.ID, err
}

// offer has bank offer amount at rate on intent, valid for valid, as its
// offer.made event would, and returns procfin's id of the offer made.
func (w *offerWorld) offer(bank, intent, bankOfferID, amount, rate string, valid time.Duration) (string, error) {
	o := lending.OfferMade{EventID: uuid.NewString(), IntentID: intent, BankOfferID: bankOfferID, Amount: money.MustAmount(amount),
		AnnualRate: money.MustRate(rate), TermDays: 180, ValidUntil: w.peek().Add(valid), Conditions: "none"}
	err := w.bankTx(func(tx *postgres.Tx) error { return w.lending.MakeOffer(ctx, tx, bank, o) })
	if err != nil {
		return "", err
	}
	var id string
	must(w.t, func() error {
		return w.db.Get(&id, `SELECT id FROM offers WHERE intent_id = $1 AND bank_id = $2 AND event_id = $3`, intent, bank, o.EventID)
	})
	return id, nil
}

func (w *offerWorld) mustOffer(bank, intent, bankOfferID, amount, rate string, valid time.Duration) string {
	w.t.Helper()
	id, err := w.offer(bank, intent, bankOfferID, amount, rate, valid)
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

// peek is the world's time, without moving its clock.
func (w *world) peek() time.Time {
	w.clockMu.Lock()
	defer w.clockMu.Unlock()
	return w.now
}

// bankTx runs f in a transaction on the world's clock, as a bank event's is.
func (w *world) bankTx(f func(tx *postgres.Tx) error) error {
	return postgres.Transact(postgres.WithClock(ctx, w.clock), w.db, f)
}

func (w *offerWorld) withdraw(bank, intent, bankOfferID string) error {
	return w.bankTx(func(tx *postgres.Tx) error { return w.lending.WithdrawOffer(ctx, tx, bank, intent, bankOfferID) })
}

func (w *offerWorld) offerStatus(id string) string {
	w.t.Helper()
	var s string
	must(w.t, func() error { return w.db.Get(&s, `SELECT status FROM offers WHERE id = $1`, id) })
	return s
}

func (w *offerWorld) intentStatus(id string) string {
	w.t.Helper()
	var s string
	must(w.t, func() error { return w.db.Get(&s, `SELECT status FROM financing_intents WHERE id = $1`, id) })
	return s
}

func wantErr(t *testing.T, err error, code errs.Code, what string) {
	t.Helper()
	if !errs.Is(err, code) {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

func TestOffersInAndRefused(t *testing.T) {
	t.Parallel()
	w := newOfferWorld(t)
	intent := w.publish("800000.00", 48*time.Hour, "qilu-bank", "other-bank")

	// Fields banking cannot judge: 422 naming each, nothing recorded.
	bad := lending.OfferMade{EventID: "e0", IntentID: intent, BankOfferID: "Q0", Amount: money.MustAmount("0.00"),
		AnnualRate: money.MustRate("1"), TermDays: 366, ValidUntil: w.peek().Add(-time.Minute), Conditions: string(make([]byte, 2001))}
	err := w.bankTx(func(tx *postgres.Tx) error { return w.lending.MakeOffer(ctx, tx, "qilu-bank", bad) })
	var e *errs.Error
	if !errorsAs(err, &e) || e.Code != errs.Invalid {
		t.Fatalf("bad offer: %v, want invalid", err)
	}
	var fields []string
	for _, f := range e.Fields {
		fields = append(fields, f.Field)
	}
	if want := []string{"data.amount", "data.annual_rate", "data.term_days", "data.valid_until", "data.conditions"}; !slices.Equal(fields, want) {
		t.Fatalf("bad fields %v, want %v", fields, want)
	}

	// Not asked, no such intent, not an id: 404.
	_, err = w.offer("third-bank", intent, "T1", "500000.00", "0.035", time.Hour)
	wantErr(t, err, errs.NotFound, "offer of a bank not asked")
	_, err = w.offer("qilu-bank", uuid.NewString(), "Q1", "500000.00", "0.035", time.Hour)
	wantErr(t, err, errs.NotFound, "offer on no intent")
	_, err = w.offer("qilu-bank", "not-an-id", "Q1", "500000.00", "0.035", time.Hour)
	wantErr(t, err, errs.NotFound, "offer on a bad id")

	// Above the 800,000.00 asked: 409. Exactly the amount asked is fine.
	_, err = w.offer("qilu-bank", intent, "Q1", "800000.01", "0.035", time.Hour)
	wantErr(t, err, errs.InvalidTransition, "offer above the amount asked")
	if w.count(`SELECT count(*) FROM offers WHERE intent_id = $1`, intent) != 0 {
		t.Fatal("a refused offer was recorded")
	}
	q1 := w.mustOffer("qilu-bank", intent, "Q1", "800000.00", "0.035", 24*time.Hour)

	// A new offer from the bank replaces its current one, even under the
	// same offer_id: each is an offer of its own.
	q1b := w.mustOffer("qilu-bank", intent, "Q1", "700000.00", "0.032", 24*time.Hour)
	if q1b == q1 || w.offerStatus(q1) != "replaced" || w.offerStatus(q1b) != "made" {
		t.Fatalf("replacement: %s %s, %s %s", q1, w.offerStatus(q1), q1b, w.offerStatus(q1b))
	}

	// Withdrawal: none of that id → 404; the current one → withdrawn;
	// again → no change, no error.
	wantErr(t, w.withdraw("qilu-bank", intent, "NOPE"), errs.NotFound, "withdrawing an unknown offer")
	wantErr(t, w.withdraw("other-bank", intent, "Q1"), errs.NotFound, "withdrawing another bank's offer")
	wantErr(t, w.withdraw("third-bank", intent, "Q1"), errs.NotFound, "withdrawing on an intent not asked")
	must(t, func() error { return w.withdraw("qilu-bank", intent, "Q1") })
	if w.offerStatus(q1b) != "withdrawn" || w.offerStatus(q1) != "replaced" {
		t.Fatalf("withdrawn: %s %s", w.offerStatus(q1), w.offerStatus(q1b))
	}
	must(t, func() error { return w.withdraw("qilu-bank", intent, "Q1") })
	if w.offerStatus(q1b) != "withdrawn" {
		t.Fatal("a repeated withdrawal changed the offer")
	}

	// After respond_by (judged on receipt): 409.
	o2 := w.mustOffer("other-bank", intent, "O1", "600000.00", "0.036", 72*time.Hour)
	w.later(48*time.Hour + time.Second)
	_, err = w.offer("qilu-bank", intent, "Q2", "500000.00", "0.035", time.Hour)
	wantErr(t, err, errs.InvalidTransition, "offer after respond_by")

	// An offer still valid may be accepted after respond_by; then the
	// intent is closed: offers 409, withdrawal of the accepted offer 409.
	if _, err := w.lending.Accept(ctx, w.who, intent, o2); err != nil {
		t.Fatal(err)
	}
	w.later(-48 * time.Hour)
	_, err = w.offer("qilu-bank", intent, "Q3", "500000.00", "0.035", time.Hour)
	wantErr(t, err, errs.InvalidTransition, "offer on a closed intent")
	wantErr(t, w.withdraw("other-bank", intent, "O1"), errs.InvalidTransition, "withdrawing an accepted offer")
	wantErr(t, w.withdraw("qilu-bank", intent, "Q1"), errs.InvalidTransition, "withdrawing on a closed intent")
	if n := w.count(`SELECT count(*) FROM offers WHERE intent_id = $1`, intent); n != 3 {
		t.Fatalf("%d offers recorded, want 3", n)
	}
}

func TestAcceptOffer(t *testing.T) {
	t.Parallel()
	w := newOfferWorld(t)
	intent := w.publish("800000.00", 48*time.Hour, "qilu-bank", "other-bank", "third-bank")
	q := w.mustOffer("qilu-bank", intent, "Q-7", "750000.00", "0.0345", 24*time.Hour)
	o := w.mustOffer("other-bank", intent, "O-1", "800000.00", "0.0360", 24*time.Hour)
	var consent string
	must(t, func() error {
		return w.db.Get(&consent, `SELECT id FROM consents WHERE intent_id = $1 AND bank_id = 'qilu-bank'`, intent)
	})

	// Another supplier's intent, or an offer not of this intent: 404.
	_, err := w.lending.Accept(ctx, lending.Applicant{UserID: "u2", SupplierUSCC: otherUSCC}, intent, q)
	wantErr(t, err, errs.NotFound, "accepting another supplier's offer")
	_, err = w.lending.Accept(ctx, w.who, intent, uuid.NewString())
	wantErr(t, err, errs.NotFound, "accepting no offer")

	a, err := w.lending.Accept(ctx, w.who, intent, q)
	if err != nil {
		t.Fatal(err)
	}
	if a.OfferID == nil || *a.OfferID != q || a.BankID != "qilu-bank" || a.Amount.String() != "750000.00" || a.TermDays != 180 ||
		a.Status != lending.Submitted || a.Consent == nil || a.Consent.ID != consent {
		t.Fatalf("application %+v (consent %+v)", a, a.Consent)
	}
	// The intent's consent to qilu-bank is the application's: no new one.
	if n := w.count(`SELECT count(*) FROM consents WHERE application_id = $1 AND id = $2 AND intent_id = $3`, a.ID, consent, intent); n != 1 {
		t.Fatal("the intent's consent did not become the application's")
	}
	if n := w.count(`SELECT count(*) FROM consents WHERE application_id = $1`, a.ID); n != 1 {
		t.Fatalf("%d consents of the application, want 1", n)
	}
	got, err := w.lending.Application(ctx, lending.Scope{SupplierUSCC: uscc}, a.ID)
	if err != nil || got.Consent == nil || got.Consent.ID != consent || got.OfferID == nil || *got.OfferID != q {
		t.Fatalf("read back %+v, %v", got, err)
	}
	// The headroom is held at acceptance: 750,000.00.
	if w.financed() != "750000.00" {
		t.Fatalf("financed %s, want 750000.00", w.financed())
	}
	if w.intentStatus(intent) != "accepted" || w.offerStatus(q) != "accepted" || w.offerStatus(o) != "declined" {
		t.Fatalf("intent %s, offers %s %s", w.intentStatus(intent), w.offerStatus(q), w.offerStatus(o))
	}
	if n := w.count(`SELECT count(*) FROM financing_intents WHERE id = $1 AND application_id = $2 AND accepted_offer_id = $3`, intent, a.ID, q); n != 1 {
		t.Fatal("the intent does not name its application and offer")
	}
	// The bank is told its own offer id in request.offer_id.
	w.out.mu.Lock()
	subs := slices.Clone(w.out.submissions)
	w.out.mu.Unlock()
	if len(subs) != 1 || subs[0].ApplicationID != a.ID || subs[0].BankOfferID == nil || *subs[0].BankOfferID != "Q-7" {
		t.Fatalf("submissions %+v", subs)
	}
	// Every bank asked is told: accepted to qilu-bank (with its offer id and
	// the application), declined to the others, whether or not they offered.
	ds := w.out.decisionsOf(intent)
	if d := ds["qilu-bank"]; d.Decision != lending.DecisionAccepted || d.BankOfferID == nil || *d.BankOfferID != "Q-7" ||
		d.ApplicationID == nil || *d.ApplicationID != a.ID {
		t.Fatalf("qilu-bank told %+v", d)
	}
	for _, b := range []string{"other-bank", "third-bank"} {
		if d := ds[b]; d.Decision != lending.DecisionDeclined || d.BankOfferID != nil || d.ApplicationID != nil {
			t.Fatalf("%s told %+v", b, d)
		}
	}
	if len(ds) != 3 {
		t.Fatalf("decisions %+v", ds)
	}
	// ...queued for the relay, and the credit application carries the
	// bank's offer id.
	if n := w.count(`SELECT count(*) FROM deliveries WHERE intent_id = $1 AND kind = 'intent-decision'`, intent); n != 3 {
		t.Fatalf("%d decisions queued, want 3", n)
	}
	if n := w.count(`SELECT count(*) FROM deliveries WHERE application_id = $1 AND position('"offer_id":"Q-7"' IN convert_from(payload, 'UTF8')) > 0`, a.ID); n != 1 {
		t.Fatal("the credit application does not carry request.offer_id")
	}

	// Once accepted, no other acceptance.
	_, err = w.lending.Accept(ctx, w.who, intent, o)
	wantErr(t, err, errs.InvalidTransition, "accepting on an accepted intent")
	_, err = w.lending.Accept(ctx, w.who, intent, q)
	wantErr(t, err, errs.InvalidTransition, "accepting twice")
	if n := w.count(`SELECT count(*) FROM applications WHERE offer_id IS NOT NULL`); n != 1 {
		t.Fatalf("%d applications of offers, want 1", n)
	}
}

func TestAcceptRefusals(t *testing.T) {
	t.Parallel()
	w := newOfferWorld(t)
	intent := w.publish("800000.00", 48*time.Hour, "qilu-bank", "other-bank")
	old := w.mustOffer("qilu-bank", intent, "Q1", "500000.00", "0.035", 2*time.Hour)
	cur := w.mustOffer("qilu-bank", intent, "Q1", "400000.00", "0.034", 2*time.Hour)
	gone := w.mustOffer("other-bank", intent, "O1", "300000.00", "0.030", 2*time.Hour)
	must(t, func() error { return w.withdraw("other-bank", intent, "O1") })

	_, err := w.lending.Accept(ctx, w.who, intent, old)
	wantErr(t, err, errs.InvalidTransition, "accepting a replaced offer")
	_, err = w.lending.Accept(ctx, w.who, intent, gone)
	wantErr(t, err, errs.InvalidTransition, "accepting a withdrawn offer")

	// After valid_until: offer_expired; the intent stays open.
	w.later(2*time.Hour + time.Second)
	_, err = w.lending.Accept(ctx, w.who, intent, cur)
	wantErr(t, err, errs.OfferExpired, "accepting an offer after valid_until")
	if w.intentStatus(intent) != "open" || w.financed() != "0.00" || w.count(`SELECT count(*) FROM applications`) != 0 {
		t.Fatal("a refused acceptance changed something")
	}

	// A revoked consent: the bank may no longer be sent the data.
	w.later(-2 * time.Hour)
	must(t, func() error {
		_, err := w.db.Exec(`UPDATE consents SET revoked_at = $2 WHERE intent_id = $1 AND bank_id = 'qilu-bank'`, intent, w.peek())
		return err
	})
	_, err = w.lending.Accept(ctx, w.who, intent, cur)
	wantErr(t, err, errs.InvalidTransition, "accepting under a revoked consent")
	if w.intentStatus(intent) != "open" {
		t.Fatal("a refused acceptance closed the intent")
	}
}

// TestAcceptWhenTheHeadroomIsGone: the contract's financing limit is
// 1,003,000.00 (1,180,000.00 × 0.85). A direct application of 500,000.00
// leaves 503,000.00: an offer of 800,000.00 fails verification and the
// intent stays open; the bank's new offer of 500,000.00 fits.
func TestAcceptWhenTheHeadroomIsGone(t *testing.T) {
	t.Parallel()
	w := newOfferWorld(t)
	intent := w.publish("800000.00", 48*time.Hour, "qilu-bank")
	big := w.mustOffer("qilu-bank", intent, "Q1", "800000.00", "0.035", 24*time.Hour)
	if _, err := w.apply("500000.00", false); err != nil {
		t.Fatal(err)
	}
	_, err := w.lending.Accept(ctx, w.who, intent, big)
	var e *errs.Error
	if !errorsAs(err, &e) || e.Code != errs.VerificationFailed || e.Extra["verification"] == nil {
		t.Fatalf("accepting past the headroom: %v, want verification_failed with its report", err)
	}
	if w.intentStatus(intent) != "open" || w.offerStatus(big) != "made" || w.financed() != "500000.00" || len(w.out.decisionsOf(intent)) != 0 {
		t.Fatalf("after the failure: intent %s, offer %s, financed %s", w.intentStatus(intent), w.offerStatus(big), w.financed())
	}
	small := w.mustOffer("qilu-bank", intent, "Q2", "500000.00", "0.035", 24*time.Hour)
	a, err := w.lending.Accept(ctx, w.who, intent, small)
	if err != nil {
		t.Fatal(err)
	}
	// 500,000.00 + 500,000.00 = 1,000,000.00 ≤ 1,003,000.00.
	if a.Amount.String() != "500000.00" || w.financed() != "1000000.00" || w.intentStatus(intent) != "accepted" {
		t.Fatalf("application %s, financed %s, intent %s", a.Amount, w.financed(), w.intentStatus(intent))
	}
}

// TestTwentyConcurrentAccepts: 20 acceptances of one intent at once, of
// its three banks' offers and several of the same: exactly one
// application, the other 19 invalid_transition.
func TestTwentyConcurrentAccepts(t *testing.T) {
	t.Parallel()
	w := newOfferWorld(t)
	intent := w.publish("800000.00", 48*time.Hour, "qilu-bank", "other-bank", "third-bank")
	offers := []string{
		w.mustOffer("qilu-bank", intent, "Q", "800000.00", "0.035", 24*time.Hour),
		w.mustOffer("other-bank", intent, "O", "700000.00", "0.033", 24*time.Hour),
		w.mustOffer("third-bank", intent, "T", "600000.00", "0.031", 24*time.Hour),
	}
	amounts := map[string]string{offers[0]: "800000.00", offers[1]: "700000.00", offers[2]: "600000.00"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []lending.Application
	refused := 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := w.lending.Accept(ctx, w.who, intent, offers[i%3])
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won = append(won, a)
			case errs.Is(err, errs.InvalidTransition):
				refused++
			default:
				t.Errorf("accept: %v", err)
			}
		}()
	}
	wg.Wait()
	if len(won) != 1 || refused != 19 {
		t.Fatalf("%d accepted, %d refused; want 1 and 19", len(won), refused)
	}
	a := won[0]
	if n := w.count(`SELECT count(*) FROM applications`); n != 1 {
		t.Fatalf("%d applications, want 1", n)
	}
	if w.financed() != amounts[*a.OfferID] || w.offerStatus(*a.OfferID) != "accepted" {
		t.Fatalf("financed %s for offer %s (%s)", w.financed(), *a.OfferID, w.offerStatus(*a.OfferID))
	}
	if n := w.count(`SELECT count(*) FROM offers WHERE intent_id = $1 AND status = 'declined'`, intent); n != 2 {
		t.Fatalf("%d offers declined, want 2", n)
	}
	if ds := w.out.decisionsOf(intent); len(ds) != 3 {
		t.Fatalf("decisions %+v", ds)
	}
}

// TestAcceptsInOneBatch: within one intake batch the first acceptance of
// an intent wins; a later one of the same intent is invalid_transition,
// one of another intent goes on.
func TestAcceptsInOneBatch(t *testing.T) {
	t.Parallel()
	w := newOfferWorld(t)
	i1 := w.publish("300000.00", 48*time.Hour, "qilu-bank", "other-bank")
	i2 := w.publish("200000.00", 48*time.Hour, "qilu-bank")
	q1 := w.mustOffer("qilu-bank", i1, "Q1", "300000.00", "0.035", 24*time.Hour)
	o1 := w.mustOffer("other-bank", i1, "O1", "250000.00", "0.030", 24*time.Hour)
	q2 := w.mustOffer("qilu-bank", i2, "Q2", "200000.00", "0.035", 24*time.Hour)
	days := 180
	in := func(bank, amount, intent, offer string) lending.ApplyInput {
		a := money.MustAmount(amount)
		return lending.AcceptInput(lending.ApplyInput{ContractID: w.contractID, BankID: bank, Amount: &a, TermDays: &days, Purpose: "materials"}, intent, offer)
	}
	apps, errss := w.lending.ApplyBatch([]lending.Applicant{w.who, w.who, w.who}, []lending.ApplyInput{
		in("qilu-bank", "300000.00", i1, q1), in("other-bank", "250000.00", i1, o1), in("qilu-bank", "200000.00", i2, q2)})
	if errss[0] != nil || errss[2] != nil || !errs.Is(errss[1], errs.InvalidTransition) {
		t.Fatalf("batch answers %v", errss)
	}
	// 300,000.00 + 200,000.00.
	if *apps[0].OfferID != q1 || *apps[2].OfferID != q2 || w.financed() != "500000.00" {
		t.Fatalf("apps %+v %+v, financed %s", apps[0], apps[2], w.financed())
	}
	if w.intentStatus(i1) != "accepted" || w.intentStatus(i2) != "accepted" || w.offerStatus(o1) != "declined" {
		t.Fatal("intents not accepted")
	}
}

// TestApprovalWithinTheOffer: the bank's approval of an accepted offer's
// application may not exceed the offer's amount (600,000.00) or rate
// (0.040000); equal is fine.
func TestApprovalWithinTheOffer(t *testing.T) {
	t.Parallel()
	w := newOfferWorld(t)
	intent := w.publish("600000.00", 48*time.Hour, "qilu-bank")
	q := w.mustOffer("qilu-bank", intent, "Q1", "600000.00", "0.04", 24*time.Hour)
	a, err := w.lending.Accept(ctx, w.who, intent, q)
	if err != nil {
		t.Fatal(err)
	}
	must(t, func() error {
		return w.tx(func(tx *postgres.Tx) error { return w.lending.MarkDelivered(ctx, tx, a.ID, "REF-1") })
	})
	approve := func(amount, rate string) error {
		return w.tx(func(tx *postgres.Tx) error {
			return w.lending.Approve(ctx, tx, "qilu-bank", a.ID, lending.Approval{ApprovedAmount: money.MustAmount(amount),
				AnnualRate: money.MustRate(rate), TermDays: 180, RepaymentAccount: lending.RepaymentAccount{BankName: "Qilu", AccountNo: "6222", AccountName: "Firm"}},
				"bank:qilu-bank")
		})
	}
	wantErr(t, approve("600000.00", "0.040001"), errs.InvalidTransition, "approval above the offer's rate")
	wantErr(t, approve("600000.01", "0.04"), errs.InvalidTransition, "approval above the offer's amount")
	must(t, func() error { return approve("600000.00", "0.040000") })
	got, err := w.lending.Application(ctx, lending.Scope{}, a.ID)
	if err != nil || got.Status != lending.Approved {
		t.Fatalf("after approval: %+v, %v", got.Status, err)
	}
}
