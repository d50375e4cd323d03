package lending_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"procfin/banking"
	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
	"procfin/platform/safehttp"
)

// recordingOutbox is banking's outbox that also records, once committed,
// the financing-intents messages it queues.
type recordingOutbox struct {
	banking.Outbox
	mu      sync.Mutex
	intents []lending.IntentMessage
}

func (o *recordingOutbox) Intents(ctx context.Context, tx *postgres.Tx, ms ...lending.IntentMessage) error {
	tx.AfterCommit(func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.intents = append(o.intents, ms...)
	})
	return o.Outbox.Intents(ctx, tx, ms...)
}

// intentWorld is a world with a third bank and a lending service whose
// outbox records the intents' messages and decisions, on w's clock (which
// stands still unless moved).
type intentWorld struct {
	*world
	ls  *lending.Service
	out *recordingOutbox
}

var threeBanks = []string{"other-bank", "qilu-bank", "third-bank"}

func newIntentWorld(t *testing.T, rates lending.SubsidyRates) *intentWorld {
	t.Helper()
	w := newWorld(t)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	jwks := json.RawMessage(fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":%q,"kid":"k1","alg":"EdDSA","use":"sig"}]}`, base64.RawURLEncoding.EncodeToString(pub)))
	banks := banking.NewRegistry(w.db)
	banks.SetURLPolicy(safehttp.Policy{AllowPrivate: true})
	must(t, func() error {
		_, _, err := banks.Register(ctx, banking.BankRegistration{ID: "third-bank", Name: "Third Bank", BaseURL: "http://127.0.0.1:9", JWKS: jwks}, "test")
		return err
	})
	clock := func() time.Time {
		w.clockMu.Lock()
		defer w.clockMu.Unlock()
		return w.now
	}
	out := &recordingOutbox{}
	ls := lending.NewService(w.db, w.contracts, out, lending.Limits{MaxAmount: money.MustAmount("10000000.00"), MaxTermDays: 365}, clock)
	if rates != nil {
		ls.UseSubsidyRates(rates)
	}
	return &intentWorld{world: w, ls: ls, out: out}
}

// setClock moves the world's clock to at.
func (w *intentWorld) setClock(at time.Time) {
	w.clockMu.Lock()
	defer w.clockMu.Unlock()
	w.now = at
}

// told is what the banks were told of intent id, as "bank:decision", in
// the order queued: the intent-decision deliveries.
func (w *intentWorld) told(id string) []string {
	w.t.Helper()
	var out []string
	must(w.t, func() error {
		return w.db.Select(&out, `SELECT bank_id || ':' || (convert_from(payload, 'UTF8')::jsonb->>'decision') FROM deliveries
			WHERE intent_id = $1 AND kind = 'intent-decision' ORDER BY id`, id)
	})
	return out
}

func (w *intentWorld) need(amount string, banks ...string) lending.PublishInput {
	a := money.MustAmount(amount)
	return lending.PublishInput{ContractID: w.contractID, Amount: &a, TermDays: ptr(180), Purpose: "materials for the network", BankIDs: banks}
}

func (w *intentWorld) publish(banks ...string) lending.Intent {
	w.t.Helper()
	in, err := w.ls.Publish(ctx, w.who, w.need("800000.00", banks...))
	if err != nil {
		w.t.Fatal(err)
	}
	return in
}

func (w *intentWorld) count(query string, args ...any) int {
	w.t.Helper()
	var n int
	must(w.t, func() error { return w.db.Get(&n, query, args...) })
	return n
}

// offer records a bank's offer on an intent as the offers' table holds it.
func (w *intentWorld) offer(intentID, bank, amount, rate string, validUntil, madeAt time.Time, status string) string {
	w.t.Helper()
	id := uuid.NewString()
	must(w.t, func() error {
		_, err := w.db.Exec(`INSERT INTO offers (id, intent_id, bank_id, bank_offer_id, amount, annual_rate, term_days, valid_until, conditions, status, made_at, event_id)
			VALUES ($1, $2, $3, $4, $5, $6, 180, $7, 'none', $8, $9, $10)`, id, intentID, bank, "B-"+id[:8], amount, rate, validUntil, status, madeAt, uuid.NewString())
		return err
	})
	return id
}

func codeOf(t *testing.T, err error) errs.Code {
	t.Helper()
	var e *errs.Error
	if !errorsAs(err, &e) {
		t.Fatalf("error %v is not an errs.Error", err)
	}
	return e.Code
}

// TestPublishToThreeBanks: a need to three banks (one named twice) records
// the intent, one consent per bank in the language shown, the banks asked
// with their consents, and one message per bank naming every item of its
// consent; it holds nothing on the contract.
func TestPublishToThreeBanks(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t, nil)
	in := w.publish("third-bank", "qilu-bank", "other-bank", "qilu-bank")
	now := w.now
	if in.Status != lending.IntentOpen || in.SupplierName != "Firm 9135" || in.ContractNo != "C1" || in.Currency != "CNY" {
		t.Fatalf("intent %+v", in)
	}
	// respond_by defaults to now + lending.intent_ttl (72 h).
	if !in.RespondBy.Equal(now.Add(72 * time.Hour)) {
		t.Fatalf("respond_by %s, want %s", in.RespondBy, now.Add(72*time.Hour))
	}
	var banks, deliveries []string
	for _, b := range in.Banks {
		banks = append(banks, b.BankID)
		deliveries = append(deliveries, b.Delivery)
	}
	if diff := cmp.Diff(threeBanks, banks); diff != "" {
		t.Fatalf("banks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"pending", "pending", "pending"}, deliveries); diff != "" {
		t.Fatalf("deliveries (-want +got):\n%s", diff)
	}
	var consents []struct {
		ID        string    `db:"id"`
		BankID    string    `db:"bank_id"`
		Statement string    `db:"statement"`
		Lang      string    `db:"lang"`
		Items     string    `db:"items"`
		GivenBy   string    `db:"given_by"`
		ExpiresAt time.Time `db:"expires_at"`
		Consent   string    `db:"consent_id"`
	}
	must(t, func() error {
		return w.db.Select(&consents, `SELECT c.id, c.bank_id, c.statement, c.lang, array_to_string(c.data_items, '|') AS items, c.given_by,
				c.expires_at, ib.consent_id
			FROM consents c JOIN intent_banks ib ON ib.intent_id = c.intent_id AND ib.bank_id = c.bank_id
			WHERE c.intent_id = $1 AND c.application_id IS NULL AND c.supplier_uscc = $2 ORDER BY c.bank_id`, in.ID, uscc)
	})
	if len(consents) != 3 {
		t.Fatalf("%d consents, want 3", len(consents))
	}
	for i, c := range consents {
		if c.BankID != threeBanks[i] || c.Consent != c.ID || c.Lang != "zh-CN" || c.GivenBy != "user:u1" ||
			!strings.Contains(c.Statement, c.BankID) || !strings.Contains(c.Statement, "融资意向") ||
			c.Items != "企业身份与规模|中标通知书|合同及付款条款|采购人|申请金额、期限和用途|中标核实报告" ||
			!c.ExpiresAt.Equal(now.Add(365*24*time.Hour)) {
			t.Fatalf("consent %d: %+v", i, c)
		}
	}
	if len(w.out.intents) != 3 {
		t.Fatalf("%d messages, want 3", len(w.out.intents))
	}
	for i, m := range w.out.intents {
		if m.IntentID != in.ID || m.BankID != threeBanks[i] || !m.Amount.Equal(money.MustAmount("800000.00")) || m.TermDays != 180 ||
			m.Purpose != "materials for the network" || !m.RespondBy.Equal(in.RespondBy) || !m.PublishedAt.Equal(now) ||
			!slices.Equal(m.DataItems, []string{"supplier", "award", "contract", "purchaser", "request", "verification"}) ||
			m.Supplier.USCC != uscc || m.Contract.ContractNo != "C1" || !m.Verification.Passed {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
	var queued []string
	must(t, func() error {
		return w.db.Select(&queued, `SELECT bank_id FROM deliveries WHERE intent_id = $1 AND kind = 'financing-intent' AND status = 'pending'
			ORDER BY bank_id`, in.ID)
	})
	if diff := cmp.Diff(threeBanks, queued); diff != "" {
		t.Fatalf("deliveries (-want +got):\n%s", diff)
	}
	must(t, func() error {
		_, err := w.db.Exec(`UPDATE deliveries SET status = CASE bank_id WHEN 'qilu-bank' THEN 'delivered' ELSE 'dead' END
			WHERE intent_id = $1 AND kind = 'financing-intent' AND bank_id <> 'other-bank'`, in.ID)
		return err
	})
	read, err := w.ls.Intent(ctx, lending.Scope{SupplierUSCC: uscc}, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	deliveries = nil
	for _, b := range read.Banks {
		deliveries = append(deliveries, b.Delivery)
	}
	if diff := cmp.Diff([]string{"pending", "delivered", "dead"}, deliveries); diff != "" {
		t.Fatalf("deliveries read (-want +got):\n%s", diff)
	}
	if got := w.financed(); got != "0.00" {
		t.Fatalf("financed %s: a need holds nothing", got)
	}
	var report contracts.Report
	var raw []byte
	must(t, func() error { return w.db.Get(&raw, `SELECT verification FROM financing_intents WHERE id = $1`, in.ID) })
	must(t, func() error { return json.Unmarshal(raw, &report) })
	var names []string
	for _, c := range report.Checks {
		names = append(names, c.Name)
	}
	if !report.Passed || !slices.Contains(names, contracts.CheckSupplierNotOverdue) || !slices.Contains(names, contracts.CheckContractSingleBank) {
		t.Fatalf("report %+v", report)
	}
	if n := w.count(`SELECT count(*) FROM audit_log WHERE entity_type = 'financing_intent' AND entity_id = $1 AND action = 'financing_intent.published'`, in.ID); n != 1 {
		t.Fatalf("%d audit rows", n)
	}

	// In English when the supplier was shown English.
	en := w.who
	en.Lang = "en"
	in2, err := w.ls.Publish(ctx, en, w.need("1000.00", "qilu-bank"))
	if err != nil {
		t.Fatal(err)
	}
	var statement string
	must(t, func() error {
		return w.db.Get(&statement, `SELECT statement FROM consents WHERE intent_id = $1 AND lang = 'en'`, in2.ID)
	})
	if want := lending.IntentConsentStatement("en", "qilu-bank", "qilu-bank"); statement != want || !strings.Contains(want, "financing need") ||
		!strings.Contains(want, " to qilu-bank (qilu-bank) for") {
		t.Fatalf("statement %q, want %q", statement, want)
	}
}

// TestPublishAllBanks: ["*"] asks every bank of the programme.
func TestPublishAllBanks(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t, nil)
	in := w.publish("*")
	var banks []string
	for _, b := range in.Banks {
		banks = append(banks, b.BankID)
	}
	if diff := cmp.Diff(threeBanks, banks); diff != "" {
		t.Fatalf("banks (-want +got):\n%s", diff)
	}
	if n := w.count(`SELECT count(*) FROM consents WHERE intent_id = $1`, in.ID); n != 3 {
		t.Fatalf("%d consents", n)
	}
}

// TestPublishInvalid: every bad field is named at once, and nothing is
// written.
func TestPublishInvalid(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t, nil)
	fieldsOf := func(err error) []string {
		t.Helper()
		var e *errs.Error
		if !errorsAs(err, &e) || e.Code != errs.Invalid {
			t.Fatalf("error %v, want invalid", err)
		}
		var out []string
		for _, f := range e.Fields {
			out = append(out, f.Field+":"+f.Code)
		}
		return out
	}
	past, late := w.now.Add(-time.Minute).Format(time.RFC3339), w.now.Add(366*24*time.Hour).Format(time.RFC3339)
	zero, big := money.MustAmount("0.00"), money.MustAmount("10000000.01")
	cases := []struct {
		name string
		in   lending.PublishInput
		want []string
	}{
		{"AllAtOnce", lending.PublishInput{ContractID: "x", TermDays: ptr(0), Purpose: " ", BankIDs: []string{"nope", "", "*", "qilu-bank"}, RespondBy: ptr("tomorrow")},
			[]string{"contract_id:invalid", "amount:required", "term_days:out_of_range", "purpose:required",
				"bank_ids[0]:unknown", "bank_ids[1]:required", "bank_ids[2]:invalid", "respond_by:invalid_instant"}},
		{"NoBanks", lending.PublishInput{ContractID: w.contractID, Amount: &zero, TermDays: ptr(366), Purpose: strings.Repeat("x", 501), RespondBy: &past},
			[]string{"amount:not_positive", "term_days:out_of_range", "purpose:too_long", "bank_ids:required", "respond_by:not_future"}},
		{"TooLate", lending.PublishInput{ContractID: w.contractID, Amount: &big, TermDays: ptr(1), Purpose: "p", BankIDs: []string{"qilu-bank"}, RespondBy: &late},
			[]string{"amount:too_large", "respond_by:too_late"}},
		{"TooManyBanks", lending.PublishInput{ContractID: w.contractID, Amount: ptr(money.MustAmount("1.00")), TermDays: ptr(1), Purpose: "p",
			BankIDs: slices.Repeat([]string{"qilu-bank"}, 101)}, []string{"bank_ids:too_many"}},
		{"AnotherSuppliersContract", lending.PublishInput{ContractID: w.newContract("C-OTHER", otherUSCC), Amount: ptr(money.MustAmount("1.00")),
			TermDays: ptr(1), Purpose: "p", BankIDs: []string{"qilu-bank"}}, []string{"contract_id:unknown"}},
	}
	for _, c := range cases {
		_, err := w.ls.Publish(ctx, w.who, c.in)
		if diff := cmp.Diff(c.want, fieldsOf(err)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
	if n := w.count(`SELECT count(*) FROM financing_intents`) + w.count(`SELECT count(*) FROM consents`); n != 0 || len(w.out.intents) != 0 {
		t.Fatalf("%d rows and %d messages written", n, len(w.out.intents))
	}
	// A respond_by just inside the bound is taken, as given.
	in := w.need("1.00", "qilu-bank")
	in.RespondBy = ptr(w.now.Add(365 * 24 * time.Hour).Format(time.RFC3339))
	got, err := w.ls.Publish(ctx, w.who, in)
	if err != nil || !got.RespondBy.Equal(w.now.Add(365*24*time.Hour)) {
		t.Fatalf("%v %v", got.RespondBy, err)
	}
}

// TestPublishIdempotent: the same Idempotency-Key answers the need
// recorded for the same request, and refuses another.
func TestPublishIdempotent(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t, nil)
	who := w.who
	who.RequestKey = "key-1"
	first, err := w.ls.Publish(ctx, who, w.need("800000.00", "qilu-bank", "other-bank"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := w.ls.Publish(ctx, who, w.need("800000.00", "other-bank", "qilu-bank", "other-bank"))
	if err != nil || again.ID != first.ID {
		t.Fatalf("again: %v %v, want %s", again.ID, err, first.ID)
	}
	if _, err := w.ls.Publish(ctx, who, w.need("700000.00", "qilu-bank", "other-bank")); codeOf(t, err) != errs.IdempotencyReused {
		t.Fatalf("another body: %v", err)
	}
	if _, err := w.ls.Publish(ctx, who, w.need("800000.00", "qilu-bank")); codeOf(t, err) != errs.IdempotencyReused {
		t.Fatalf("other banks: %v", err)
	}
	if n := w.count(`SELECT count(*) FROM financing_intents`); n != 1 || len(w.out.intents) != 2 {
		t.Fatalf("%d intents, %d messages", n, len(w.out.intents))
	}
}

// TestPublishVerificationFailed: a need the contract cannot finance fails
// verification with the report and writes nothing: above the headroom, or
// naming a bank other than the one financing the contract
// (contract.single_bank).
func TestPublishVerificationFailed(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t, nil)
	failed := func(err error) []string {
		t.Helper()
		var e *errs.Error
		if !errorsAs(err, &e) || e.Code != errs.VerificationFailed {
			t.Fatalf("error %v, want verification_failed", err)
		}
		var out []string
		for _, c := range e.Extra["verification"].(contracts.Report).Checks {
			if c.Result == "fail" {
				out = append(out, c.Name)
			}
		}
		return out
	}
	// The limit is 0.85 × 1,180,000.00 = 1,003,000.00: a cent more fails.
	_, err := w.ls.Publish(ctx, w.who, w.need("1003000.01", "qilu-bank"))
	if diff := cmp.Diff([]string{contracts.CheckFinancingHeadroom}, failed(err)); diff != "" {
		t.Fatal(diff)
	}
	// A live application at qilu-bank: only qilu-bank may be asked.
	if _, err := w.apply("3000.00", false); err != nil {
		t.Fatal(err)
	}
	_, err = w.ls.Publish(ctx, w.who, w.need("1000.00", "qilu-bank", "other-bank"))
	if diff := cmp.Diff([]string{contracts.CheckContractSingleBank}, failed(err)); diff != "" {
		t.Fatal(diff)
	}
	_, err = w.ls.Publish(ctx, w.who, w.need("1000.00", "*"))
	if diff := cmp.Diff([]string{contracts.CheckContractSingleBank}, failed(err)); diff != "" {
		t.Fatal(diff)
	}
	if n := w.count(`SELECT count(*) FROM financing_intents`) + w.count(`SELECT count(*) FROM consents WHERE intent_id IS NOT NULL`); n != 0 || len(w.out.intents) != 0 {
		t.Fatalf("%d rows and %d messages written", n, len(w.out.intents))
	}
	// The headroom left is 1,003,000.00 − 3,000.00 = 1,000,000.00: all of
	// it may be asked of qilu-bank, and the application's hold stays as it is.
	if _, err := w.ls.Publish(ctx, w.who, w.need("1000000.00", "qilu-bank")); err != nil {
		t.Fatal(err)
	}
	if got := w.financed(); got != "3000.00" {
		t.Fatalf("financed %s", got)
	}
}

// TestIntentScope: a supplier reads its own needs, officers all; another
// supplier, a bank and a purchaser none.
func TestIntentScope(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t, nil)
	first := w.publish("qilu-bank")
	second := w.publish("other-bank", "third-bank")
	mine := lending.Scope{SupplierUSCC: uscc}
	for _, sc := range []lending.Scope{mine, {}} {
		if got, err := w.ls.Intent(ctx, sc, strings.ToUpper(first.ID)); err != nil || got.ID != first.ID {
			t.Fatalf("scope %+v: %v %v", sc, got.ID, err)
		}
		list, err := w.ls.Intents(ctx, sc, lending.IntentFilter{}, 0, 10)
		if err != nil || len(list) != 2 || list[0].ID != second.ID || list[1].ID != first.ID || len(list[0].Banks) != 2 {
			t.Fatalf("scope %+v: %+v %v", sc, list, err)
		}
		page, err := w.ls.Intents(ctx, sc, lending.IntentFilter{}, list[0].Seq, 10)
		if err != nil || len(page) != 1 || page[0].ID != first.ID {
			t.Fatalf("scope %+v, second page: %+v %v", sc, page, err)
		}
	}
	for _, sc := range []lending.Scope{{SupplierUSCC: otherUSCC}, {BankID: "qilu-bank"}, {PurchaserID: "sdu", PurchaserIssuerID: "jinan-pprc"}} {
		if _, err := w.ls.Intent(ctx, sc, first.ID); codeOf(t, err) != errs.NotFound {
			t.Fatalf("scope %+v: %v", sc, err)
		}
		if list, err := w.ls.Intents(ctx, sc, lending.IntentFilter{}, 0, 10); err != nil || len(list) != 0 {
			t.Fatalf("scope %+v: %d intents, %v", sc, len(list), err)
		}
		if _, err := w.ls.CancelIntent(ctx, sc, first.ID, "user:x"); codeOf(t, err) != errs.NotFound {
			t.Fatalf("scope %+v cancels: %v", sc, err)
		}
	}
	if _, err := w.ls.Intent(ctx, mine, "not-an-id"); codeOf(t, err) != errs.NotFound {
		t.Fatal(err)
	}
	if list, _ := w.ls.Intents(ctx, mine, lending.IntentFilter{Status: lending.IntentCancelled}, 0, 10); len(list) != 0 {
		t.Fatalf("%d cancelled", len(list))
	}
}

// subsidyFake is the effective-rate formula of bank-protocol.md 1.1 with
// a cap of 3.1 % and a ratio of 0.5: rate − min(rate, 0.031) × 0.5. With
// inverted, it answers 0.1 − rate instead, so that the cheapest effective
// rate is the dearest rate.
type subsidyFake struct{ inverted bool }

func (f subsidyFake) AfterSubsidy(ctx context.Context, supplierUSCC string, day money.Date, rates []money.Rate) ([]lending.RateAfterSubsidy, error) {
	out := make([]lending.RateAfterSubsidy, len(rates))
	for i, r := range rates {
		d := r.Decimal()
		capped := money.MustRate("0.031").Decimal()
		if d.LessThan(capped) {
			capped = d
		}
		eff := d.Sub(capped.Mul(money.MustRate("0.5").Decimal()))
		if f.inverted {
			eff = money.MustRate("0.1").Decimal().Sub(d)
		}
		out[i] = lending.RateAfterSubsidy{Rate: money.MustRate(eff.StringFixed(6)), Eligible: true}
	}
	return out, nil
}

// TestOffersBestFirst: current offers come first, cheapest effective rate
// first (then the larger amount, then the earlier), each with its
// effective rate; then the others, newest first.
func TestOffersBestFirst(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t, subsidyFake{})
	in := w.publish(threeBanks...)
	t0 := w.now
	later := t0.Add(48 * time.Hour)
	// Effective rates (cap 0.031, ratio 0.5):
	//   0.0400 − 0.031 × 0.5 = 0.0400 − 0.0155 = 0.024500
	//   0.0300 − 0.0300 × 0.5 = 0.015000 (below the cap)
	//   0.0350 − 0.0155 = 0.019500
	a := w.offer(in.ID, "qilu-bank", "800000.00", "0.0400", later, t0.Add(time.Minute), "made")
	b := w.offer(in.ID, "other-bank", "600000.00", "0.0350", later, t0.Add(2*time.Minute), "made")
	c := w.offer(in.ID, "third-bank", "800000.00", "0.0350", later, t0.Add(3*time.Minute), "made")
	// Not current: replaced, withdrawn, and one whose validity has passed.
	old := w.offer(in.ID, "third-bank", "800000.00", "0.0300", later, t0.Add(-2*time.Minute), "replaced")
	gone := w.offer(in.ID, "other-bank", "800000.00", "0.0300", later, t0.Add(-time.Minute), "withdrawn")
	got, err := w.ls.Intent(ctx, lending.Scope{SupplierUSCC: uscc}, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ ID, Rate, Effective string }
	rows := func(in lending.Intent) []row {
		var out []row
		for _, o := range in.Offers {
			out = append(out, row{o.ID, o.AnnualRate.String(), o.EffectiveAnnualRate.String()})
		}
		return out
	}
	// b and c tie at 0.019500: c's 800,000.00 comes before b's 600,000.00.
	want := []row{{c, "0.035", "0.0195"}, {b, "0.035", "0.0195"}, {a, "0.04", "0.0245"}, {gone, "0.03", "0.015"}, {old, "0.03", "0.015"}}
	if diff := cmp.Diff(want, rows(got)); diff != "" {
		t.Fatalf("offers (-want +got):\n%s", diff)
	}
	if got.Offers[0].Subsidy == nil || !got.Offers[0].Subsidy.Eligible || got.Offers[0].BankName != "Third Bank" {
		t.Fatalf("offer %+v", got.Offers[0])
	}
	// Past b's and c's validity, only a is current.
	must(t, func() error {
		_, err := w.db.Exec(`UPDATE offers SET valid_until = $2 WHERE id = ANY($1::uuid[])`, "{"+b+","+c+"}", t0.Add(time.Hour))
		return err
	})
	w.setClock(t0.Add(time.Hour)) // valid until then, inclusive
	if got, _ := w.ls.Intent(ctx, lending.Scope{}, in.ID); got.Offers[0].ID != c {
		t.Fatalf("at valid_until: %+v", rows(got))
	}
	w.setClock(t0.Add(time.Hour + time.Microsecond))
	got, err = w.ls.Intent(ctx, lending.Scope{}, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	want = []row{{a, "0.04", "0.0245"}, {c, "0.035", "0.0195"}, {b, "0.035", "0.0195"}, {gone, "0.03", "0.015"}, {old, "0.03", "0.015"}}
	if diff := cmp.Diff(want, rows(got)); diff != "" {
		t.Fatalf("offers after b and c lapsed (-want +got):\n%s", diff)
	}

	// The order is the effective rate's, not the rate's: with effective
	// rates 0.1 − rate, a's 0.04 is the cheapest (0.06).
	inv := newIntentWorld(t, subsidyFake{inverted: true})
	in2 := inv.publish(threeBanks...)
	a2 := inv.offer(in2.ID, "qilu-bank", "800000.00", "0.0400", later, t0.Add(time.Minute), "made")
	b2 := inv.offer(in2.ID, "other-bank", "800000.00", "0.0300", later, t0.Add(time.Minute), "made")
	list, err := inv.ls.Intents(ctx, lending.Scope{SupplierUSCC: uscc}, lending.IntentFilter{}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]row{{a2, "0.04", "0.06"}, {b2, "0.03", "0.07"}}, rows(list[0])); diff != "" {
		t.Fatalf("inverted (-want +got):\n%s", diff)
	}

	// Without a SubsidyRates the effective rate is the rate.
	plain := lending.NewService(w.db, w.contracts, w.out, lending.Limits{MaxAmount: money.MustAmount("1.00"), MaxTermDays: 1}, nil)
	got, err = plain.Intent(ctx, lending.Scope{}, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range got.Offers {
		if !o.EffectiveAnnualRate.Decimal().Equal(o.AnnualRate.Decimal()) || o.Subsidy != nil {
			t.Fatalf("offer %+v", o)
		}
	}
}

// TestCancelIntent: cancelling declines the offers and tells every bank
// asked cancelled, once, however many cancel at once; a closed need is
// refused.
func TestCancelIntent(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t, nil)
	in := w.publish(threeBanks...)
	o := w.offer(in.ID, "qilu-bank", "800000.00", "0.0400", w.now.Add(time.Hour), w.now, "made")
	const n = 10
	results := make(chan error, n)
	var start sync.WaitGroup
	start.Add(1)
	for range n {
		go func() {
			start.Wait()
			_, err := w.ls.CancelIntent(ctx, lending.Scope{SupplierUSCC: uscc}, in.ID, "user:u1")
			results <- err
		}()
	}
	start.Done()
	ok := 0
	for range n {
		err := <-results
		switch {
		case err == nil:
			ok++
		case codeOf(t, err) != errs.InvalidTransition:
			t.Fatal(err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d cancellations succeeded", ok)
	}
	want := []string{"other-bank:cancelled", "qilu-bank:cancelled", "third-bank:cancelled"}
	if diff := cmp.Diff(want, w.told(in.ID)); diff != "" {
		t.Fatalf("told (-want +got):\n%s", diff)
	}
	got, err := w.ls.Intent(ctx, lending.Scope{}, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != lending.IntentCancelled || got.ClosedAt == nil || got.Offers[0].ID != o || got.Offers[0].Status != lending.OfferDeclined {
		t.Fatalf("intent %+v", got)
	}
	for _, b := range got.Banks {
		if b.Decision == nil || *b.Decision != "cancelled" || b.DecidedAt == nil {
			t.Fatalf("bank %+v", b)
		}
	}
}

// TestExpireIntents: a need expires once respond_by has passed and no offer
// is still valid, every bank asked told expired; a valid offer keeps it
// open until it lapses.
func TestExpireIntents(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t, nil)
	t0 := w.now
	in := w.ls
	need := w.need("800000.00", "qilu-bank", "other-bank")
	need.RespondBy = ptr(t0.Add(time.Hour).Format(time.RFC3339))
	withOffer, err := in.Publish(ctx, w.who, need)
	if err != nil {
		t.Fatal(err)
	}
	w.offer(withOffer.ID, "qilu-bank", "800000.00", "0.0400", t0.Add(3*time.Hour), t0, "made")
	alone, err := in.Publish(ctx, w.who, need)
	if err != nil {
		t.Fatal(err)
	}
	lasting := w.publish("third-bank") // respond_by t0 + 72 h

	expire := func(at time.Time, want int) {
		t.Helper()
		w.setClock(at)
		if n, err := w.ls.ExpireIntents(ctx); err != nil || n != want {
			t.Fatalf("at %s: expired %d, %v; want %d", at, n, err, want)
		}
	}
	status := func(id string) lending.IntentStatus {
		t.Helper()
		got, err := w.ls.Intent(ctx, lending.Scope{}, id)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status
	}
	expire(t0.Add(time.Hour), 0)                  // respond_by: offers are still taken
	expire(t0.Add(time.Hour+time.Microsecond), 1) // respond_by passed: alone expires, withOffer has a valid offer
	if status(alone.ID) != lending.IntentExpired || status(withOffer.ID) != lending.IntentOpen {
		t.Fatal("alone should have expired, withOffer not")
	}
	if diff := cmp.Diff([]string{"other-bank:expired", "qilu-bank:expired"}, w.told(alone.ID)); diff != "" {
		t.Fatalf("told (-want +got):\n%s", diff)
	}
	expire(t0.Add(3*time.Hour), 0)                  // the offer may be accepted until its valid_until
	expire(t0.Add(3*time.Hour+time.Microsecond), 1) // passed
	if status(withOffer.ID) != lending.IntentExpired || status(lasting.ID) != lending.IntentOpen {
		t.Fatal("withOffer should have expired, lasting not")
	}
	if diff := cmp.Diff([]string{"other-bank:expired", "qilu-bank:expired"}, w.told(withOffer.ID)); diff != "" {
		t.Fatalf("told (-want +got):\n%s", diff)
	}
	got, _ := w.ls.Intent(ctx, lending.Scope{}, withOffer.ID)
	if got.Offers[0].Status != lending.OfferDeclined || got.Banks[0].Decision == nil || *got.Banks[0].Decision != "expired" {
		t.Fatalf("intent %+v", got)
	}
	expire(t0.Add(100*time.Hour), 1)
	expire(t0.Add(200*time.Hour), 0)
	if n := w.count(`SELECT count(*) FROM audit_log WHERE action = 'financing_intent.expired' AND actor = $1`, lending.ExpiryActor); n != 3 {
		t.Fatalf("%d audit rows", n)
	}
}

// TestRevokeIntentConsent: revoking a consent on an open need takes its
// bank out (told cancelled, its offer declined); revoking the last one
// cancels the need; on a closed need only the revocation is recorded.
func TestRevokeIntentConsent(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t, nil)
	in := w.publish("qilu-bank", "other-bank")
	o := w.offer(in.ID, "qilu-bank", "800000.00", "0.0400", w.now.Add(time.Hour), w.now, "made")
	consentOf := func(in lending.Intent, bank string) string {
		for _, b := range in.Banks {
			if b.BankID == bank {
				return b.ConsentID
			}
		}
		t.Fatalf("no bank %s", bank)
		return ""
	}
	mine := lending.Scope{SupplierUSCC: uscc}
	if _, err := w.ls.RevokeConsent(ctx, lending.Scope{SupplierUSCC: otherUSCC}, consentOf(in, "qilu-bank"), "user:x"); codeOf(t, err) != errs.NotFound {
		t.Fatalf("another supplier: %v", err)
	}
	c, err := w.ls.RevokeConsent(ctx, mine, consentOf(in, "qilu-bank"), "user:u1")
	if err != nil {
		t.Fatal(err)
	}
	if c.State != lending.ConsentRevoked || c.IntentID == nil || *c.IntentID != in.ID || *c.IntentStatus != lending.IntentOpen || c.ApplicationID != "" {
		t.Fatalf("consent %+v", c)
	}
	if diff := cmp.Diff([]string{"qilu-bank:cancelled"}, w.told(in.ID)); diff != "" {
		t.Fatalf("told (-want +got):\n%s", diff)
	}
	got, _ := w.ls.Intent(ctx, mine, in.ID)
	qilu := got.Banks[1]
	if got.Status != lending.IntentOpen || qilu.BankID != "qilu-bank" || qilu.OutAt == nil || qilu.Decision == nil || *qilu.Decision != "cancelled" ||
		got.Offers[0].ID != o || got.Offers[0].Status != lending.OfferDeclined || got.Banks[0].OutAt != nil {
		t.Fatalf("intent %+v", got)
	}
	// Again: as it is, nothing more told.
	if c, err := w.ls.RevokeConsent(ctx, mine, consentOf(in, "qilu-bank"), "user:u1"); err != nil || c.State != lending.ConsentRevoked {
		t.Fatal(c, err)
	}
	// The last bank out: the need is cancelled, that bank told once.
	c, err = w.ls.RevokeConsent(ctx, mine, consentOf(in, "other-bank"), "user:u1")
	if err != nil || *c.IntentStatus != lending.IntentCancelled {
		t.Fatal(c, err)
	}
	if diff := cmp.Diff([]string{"qilu-bank:cancelled", "other-bank:cancelled"}, w.told(in.ID)); diff != "" {
		t.Fatalf("told (-want +got):\n%s", diff)
	}
	if got, _ := w.ls.Intent(ctx, mine, in.ID); got.Status != lending.IntentCancelled {
		t.Fatalf("status %s", got.Status)
	}

	// A closed need: the revocation is recorded, no bank is told.
	closed := w.publish("third-bank")
	if _, err := w.ls.CancelIntent(ctx, mine, closed.ID, "user:u1"); err != nil {
		t.Fatal(err)
	}
	c, err = w.ls.RevokeConsent(ctx, mine, closed.Banks[0].ConsentID, "user:u1")
	if err != nil || c.State != lending.ConsentRevoked || *c.IntentStatus != lending.IntentCancelled {
		t.Fatal(c, err)
	}
	if diff := cmp.Diff([]string{"third-bank:cancelled"}, w.told(closed.ID)); diff != "" {
		t.Fatalf("told (-want +got):\n%s", diff)
	}
	if got, _ := w.ls.Intent(ctx, mine, closed.ID); got.Banks[0].OutAt != nil {
		t.Fatalf("bank taken out of a closed need: %+v", got.Banks[0])
	}
}

// TestConsentsOfIntents: the supplier's consents list those of its needs
// beside those of its applications, newest first, each once however the
// pages are cut (an intent's consents share one instant).
func TestConsentsOfIntents(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t, nil)
	if _, err := w.ls.Apply(ctx, w.who, lending.ApplyInput{ContractID: w.contractID, BankID: "qilu-bank", Amount: ptr(money.MustAmount("1000.00")),
		TermDays: ptr(30), Purpose: "p"}); err != nil {
		t.Fatal(err)
	}
	w.setClock(w.now.Add(time.Second))
	// A need may ask only qilu-bank now (contract.single_bank): use a
	// second contract for three banks.
	w.contractID = w.newContract("C2", uscc)
	in := w.publish(threeBanks...)
	w.setClock(w.now.Add(time.Second))
	theirs := w.newContract("C3", otherUSCC)
	if _, err := w.ls.Publish(ctx, lending.Applicant{UserID: "u2", SupplierUSCC: otherUSCC}, lending.PublishInput{ContractID: theirs,
		Amount: ptr(money.MustAmount("1.00")), TermDays: ptr(1), Purpose: "p", BankIDs: []string{"qilu-bank"}}); err != nil {
		t.Fatal(err)
	}
	all, err := w.ls.Consents(ctx, lending.Scope{SupplierUSCC: uscc}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("%d consents, want 4", len(all))
	}
	for i, c := range all[:3] {
		if c.IntentID == nil || *c.IntentID != in.ID || *c.IntentStatus != lending.IntentOpen || c.ApplicationID != "" || c.ApplicationStatus != "" {
			t.Fatalf("consent %d: %+v", i, c)
		}
	}
	if all[3].ApplicationID == "" || all[3].ApplicationStatus != lending.Submitted || all[3].IntentID != nil {
		t.Fatalf("application's consent %+v", all[3])
	}
	b, err := json.Marshal(all[0])
	if err != nil {
		t.Fatal(err)
	}
	var asJSON map[string]any
	must(t, func() error { return json.Unmarshal(b, &asJSON) })
	if v, ok := asJSON["application_id"]; !ok || v != nil || asJSON["intent_id"] != in.ID || asJSON["intent_status"] != "open" || asJSON["application_status"] != nil {
		t.Fatalf("JSON %s", b)
	}
	// Pages of one: each consent once, in the same order.
	for _, size := range []int{1, 2, 3} {
		var paged []string
		before := int64(0)
		for {
			page, err := w.ls.Consents(ctx, lending.Scope{SupplierUSCC: uscc}, before, size)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				paged = append(paged, c.ID)
			}
			if len(page) < size {
				break
			}
			before = page[len(page)-1].Seq
		}
		var want []string
		for _, c := range all {
			want = append(want, c.ID)
		}
		if diff := cmp.Diff(want, paged); diff != "" {
			t.Fatalf("pages of %d (-want +got):\n%s", size, diff)
		}
	}
}

// TestPublishSameKeyConcurrently: requests racing under one
// Idempotency-Key publish one need, and each answers it.
func TestPublishSameKeyConcurrently(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t, nil)
	who := w.who
	who.RequestKey = "race"
	const n = 8
	got, fails := make([]string, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in, err := w.ls.Publish(ctx, who, w.need("800000.00", threeBanks...))
			got[i], fails[i] = in.ID, err
		}()
	}
	wg.Wait()
	for i := range n {
		if fails[i] != nil || got[i] != got[0] {
			t.Fatalf("request %d: %s %v, want %s", i, got[i], fails[i], got[0])
		}
	}
	if c := w.count(`SELECT count(*) FROM financing_intents`); c != 1 {
		t.Fatalf("%d intents", c)
	}
	if c := w.count(`SELECT count(*) FROM deliveries WHERE kind = 'financing-intent'`); c != 3 {
		t.Fatalf("%d messages", c)
	}
}

// TestIntentClosesOnce: a cancellation, the expiry sweep and revocations
// racing on one need close it once, and each bank asked is told once: the
// bank taken out cancelled, the others what closed the need.
func TestIntentClosesOnce(t *testing.T) {
	t.Parallel()
	for round := range 5 {
		w := newIntentWorld(t, nil)
		need := w.need("800000.00", threeBanks...)
		need.RespondBy = ptr(w.now.Add(time.Minute).Format(time.RFC3339))
		in, err := w.ls.Publish(ctx, w.who, need)
		if err != nil {
			t.Fatal(err)
		}
		w.setClock(w.now.Add(2 * time.Minute)) // respond_by passed, no offer: due to expire
		mine := lending.Scope{SupplierUSCC: uscc}
		var wg sync.WaitGroup
		run := func(f func() error) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := f(); err != nil && !errs.Is(err, errs.InvalidTransition) {
					t.Error(err)
				}
			}()
		}
		for range 3 {
			run(func() error { _, err := w.ls.CancelIntent(ctx, mine, in.ID, "user:u1"); return err })
			run(func() error { _, err := w.ls.ExpireIntents(ctx); return err })
			run(func() error { _, err := w.ls.RevokeConsent(ctx, mine, in.Banks[1].ConsentID, "user:u1"); return err })
		}
		wg.Wait()
		got, err := w.ls.Intent(ctx, mine, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		closing := map[lending.IntentStatus]string{lending.IntentCancelled: "cancelled", lending.IntentExpired: "expired"}[got.Status]
		if closing == "" {
			t.Fatalf("round %d: status %s", round, got.Status)
		}
		told := w.told(in.ID)
		slices.Sort(told)
		// qilu-bank (Banks[1]) is told cancelled whether it was taken out
		// first or the need closed first.
		want := []string{"other-bank:" + closing, "qilu-bank:cancelled", "third-bank:" + closing}
		if got.Banks[1].OutAt == nil && closing == "expired" {
			want[1] = "qilu-bank:expired" // the need expired before the revocation
		}
		if diff := cmp.Diff(want, told); diff != "" {
			t.Fatalf("round %d, %s: told (-want +got):\n%s", round, got.Status, diff)
		}
	}
}
