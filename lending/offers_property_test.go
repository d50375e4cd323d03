package lending_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"pgregory.net/rapid"

	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/money"
)

// The model of TestOffersProperty: an iteration's intents on one contract,
// their offers, and what the contract has financed.
type (
	ofrOffer struct {
		id, bank, bankOfferID string
		amount                cents
		validUntil            time.Time
		status                string
	}
	ofrIntent struct {
		id        string
		amount    cents
		respondBy time.Time
		banks     []string
		status    string
		offers    []*ofrOffer
	}
	offersModel struct {
		financed cents
		banks    []string // the banks financing the contract
		intents  []*ofrIntent
	}
)

// limitCents is the world's contract's financing limit: 1,180,000.00 ×
// 0.85 = 1,003,000.00.
const limitCents cents = 100300000

var propBanks = []string{"qilu-bank", "other-bank", "third-bank"}

// TestOffersProperty runs random sequences of intents, offers made,
// replaced and withdrawn by banks, acceptances, direct applications,
// cancellations, time passing and expiry against the real database and a
// model of what each should answer. After every step: at most one
// application per intent, and one exactly when accepted; the contract's
// financed is the model's and within its limit; an accepted intent's
// application is its offer's (bank, amount, term), accepted by the offer's
// valid_until; every offer's and intent's status is the model's.
func TestOffersProperty(t *testing.T) {
	limitRapidChecks(t, rapidChecks)
	w := newOfferWorld(t)
	base := w.peek()
	rapid.Check(t, func(r *rapid.T) {
		g := gen{r}
		w.clockMu.Lock()
		w.now = base
		w.clockMu.Unlock()
		w.contractID = w.newContract(fmt.Sprintf("OP-%d", propSeq.Add(1)), uscc)
		m := &offersModel{}
		steps := g.IntRange(5, 30, "steps")
		for range steps {
			op := g.IntRange(0, 10, "op")
			switch {
			case op == 0 || len(m.intents) == 0:
				w.propPublish(g, m)
			case op <= 3:
				w.propOffer(g, m)
			case op == 4:
				w.propWithdraw(g, m)
			case op <= 6:
				w.propAccept(g, m)
			case op == 7:
				w.propApply(g, m)
			case op <= 9:
				w.later(time.Duration(rapid.SampledFrom([]int{1, 2, 5, 20}).Draw(r, "hours")) * time.Hour)
			default:
				w.propClose(g, m)
			}
			w.propCheck(g, m)
		}
	})
}

func (w *offerWorld) propPublish(g gen, m *offersModel) {
	amount := g.OneOf([]string{"600000.00", "800000.00"}, "asked")
	var banks []string
	for _, b := range propBanks {
		if g.Bool("ask " + b) {
			banks = append(banks, b)
		}
	}
	if len(banks) == 0 {
		banks = propBanks[:1]
	}
	respond := time.Duration(g.IntRange(1, 30, "respond hours")) * time.Hour
	// Publish verifies the contract for the amount, and contract.single_bank
	// for every bank asked; it holds nothing.
	var want errs.Code
	if m.financed+toCents(g, amount) > limitCents || len(m.banks) > 0 && slices.ContainsFunc(banks, func(b string) bool { return b != m.banks[0] }) {
		want = errs.VerificationFailed
	}
	id, err := w.tryPublish(amount, respond, banks...)
	propWant(g, "publish", err, want)
	if err != nil {
		return
	}
	m.intents = append(m.intents, &ofrIntent{id: id, amount: toCents(g, amount), respondBy: w.peek().Add(respond).Truncate(time.Second), banks: banks, status: "open"})
}

func (m *offersModel) pick(g gen) *ofrIntent {
	return m.intents[g.IntRange(0, len(m.intents)-1, "intent")]
}

func (w *offerWorld) propOffer(g gen, m *offersModel) {
	in := m.pick(g)
	bank := g.OneOf(propBanks, "bank")
	bankOfferID := g.OneOf([]string{"B1", "B2"}, "bank offer")
	amount := g.OneOf([]string{"300000.00", "500000.00", "600000.00", "800000.00", "800000.01"}, "offered")
	valid := time.Duration(rapid.SampledFrom([]int{1, 3, 30}).Draw(g.T, "valid hours")) * time.Hour
	now := w.peek()
	var want errs.Code
	switch {
	case !slices.Contains(in.banks, bank):
		want = errs.NotFound
	case in.status != "open", now.After(in.respondBy), toCents(g, amount) > in.amount:
		want = errs.InvalidTransition
	}
	id, err := w.offer(bank, in.id, bankOfferID, amount, g.OneOf([]string{"0.03", "0.035", "0.04"}, "rate"), valid)
	propWant(g, "offer.made", err, want)
	if err != nil {
		return
	}
	for _, o := range in.offers {
		if o.bank == bank && o.status == "made" {
			o.status = "replaced"
		}
	}
	in.offers = append(in.offers, &ofrOffer{id: id, bank: bank, bankOfferID: bankOfferID, amount: toCents(g, amount), validUntil: now.Add(valid), status: "made"})
}

func (w *offerWorld) propWithdraw(g gen, m *offersModel) {
	in := m.pick(g)
	bank := g.OneOf(propBanks, "bank")
	bankOfferID := g.OneOf([]string{"B1", "B2"}, "bank offer")
	var o *ofrOffer // the bank's current offer of that id, else its latest
	for _, x := range in.offers {
		if x.bank == bank && x.bankOfferID == bankOfferID && (o == nil || o.status != "made") {
			o = x
		}
	}
	var want errs.Code
	switch {
	case !slices.Contains(in.banks, bank), o == nil:
		want = errs.NotFound
	case o.status == "accepted", in.status != "open":
		want = errs.InvalidTransition
	}
	propWant(g, "offer.withdrawn", w.withdraw(bank, in.id, bankOfferID), want)
	if want == "" && o.status == "made" {
		o.status = "withdrawn"
	}
}

func (w *offerWorld) propAccept(g gen, m *offersModel) {
	in := m.pick(g)
	if len(in.offers) == 0 {
		_, err := w.lending.Accept(ctx, w.who, in.id, uuid.NewString())
		propWant(g, "accepting no offer", err, errs.NotFound)
		return
	}
	o := in.offers[len(in.offers)-1] // the latest, most often current
	if g.Bool("older offer") {
		o = in.offers[g.IntRange(0, len(in.offers)-1, "offer")]
	}
	var want errs.Code
	switch {
	case in.status != "open", o.status != "made":
		want = errs.InvalidTransition
	case w.peek().After(o.validUntil):
		want = errs.OfferExpired
	case m.financed+o.amount > limitCents, len(m.banks) > 0 && !slices.Equal(m.banks, []string{o.bank}):
		want = errs.VerificationFailed
	}
	a, err := w.lending.Accept(ctx, w.who, in.id, o.id)
	propWant(g, "accept", err, want)
	if err != nil {
		return
	}
	if a.OfferID == nil || *a.OfferID != o.id || a.BankID != o.bank || toCents(g, a.Amount.String()) != o.amount {
		g.Fatalf("accepted offer %+v became %+v", o, a)
	}
	m.accepted(in, o)
}

func (m *offersModel) accepted(in *ofrIntent, o *ofrOffer) {
	m.financed += o.amount
	if !slices.Contains(m.banks, o.bank) {
		m.banks = append(m.banks, o.bank)
	}
	in.status = "accepted"
	for _, x := range in.offers {
		if x.status == "made" {
			x.status = "declined"
		}
	}
	o.status = "accepted"
}

// propApply applies directly to a bank on the contract, taking headroom.
func (w *offerWorld) propApply(g gen, m *offersModel) {
	bank := g.OneOf(propBanks, "bank")
	amount := g.OneOf([]string{"200000.00", "400000.00"}, "applied")
	var want errs.Code
	if m.financed+toCents(g, amount) > limitCents || len(m.banks) > 0 && !slices.Equal(m.banks, []string{bank}) {
		want = errs.VerificationFailed
	}
	a, days := money.MustAmount(amount), 180
	_, err := w.lending.Apply(ctx, w.who, lending.ApplyInput{ContractID: w.contractID, BankID: bank, Amount: &a, TermDays: &days, Purpose: "materials"})
	propWant(g, "apply", err, want)
	if err == nil {
		m.financed += toCents(g, amount)
		if !slices.Contains(m.banks, bank) {
			m.banks = append(m.banks, bank)
		}
	}
}

// propClose cancels an intent (CancelIntent) or expires those whose
// respond_by has passed with no offer still valid (ExpireIntents).
func (w *offerWorld) propClose(g gen, m *offersModel) {
	if g.Bool("expire") {
		now := w.peek()
		expired := 0
		for _, in := range m.intents {
			if in.status == "open" && now.After(in.respondBy) && !slices.ContainsFunc(in.offers, func(o *ofrOffer) bool {
				return o.status == "made" && !now.After(o.validUntil)
			}) {
				in.closed("expired")
				expired++
			}
		}
		// Intents of earlier sequences may expire too.
		if n, err := w.lending.ExpireIntents(ctx); err != nil || n < expired {
			g.Fatalf("expired %d, %v; the model expires %d", n, err, expired)
		}
		return
	}
	in := m.pick(g)
	var want errs.Code
	if in.status != "open" {
		want = errs.InvalidTransition
	}
	_, err := w.lending.CancelIntent(ctx, lending.Scope{SupplierUSCC: uscc}, in.id, "user:u1")
	propWant(g, "cancel", err, want)
	if want == "" {
		in.closed("cancelled")
	}
}

// closed closes the open intent to status: its current offers are declined.
func (in *ofrIntent) closed(status string) {
	in.status = status
	for _, o := range in.offers {
		if o.status == "made" {
			o.status = "declined"
		}
	}
}

func propWant(g gen, what string, err error, want errs.Code) {
	g.Helper()
	if (want == "" && err != nil) || (want != "" && !errs.Is(err, want)) {
		g.Fatalf("%s: %v, want %q", what, err, want)
	}
}

// propCheck compares the database with the model and checks the
// invariants.
func (w *offerWorld) propCheck(g gen, m *offersModel) {
	g.Helper()
	if f := toCents(g, w.financed()); f != m.financed || f > limitCents {
		g.Fatalf("financed %d, model %d, limit %d", f, m.financed, limitCents)
	}
	for _, in := range m.intents {
		if s := w.intentStatus(in.id); s != in.status {
			g.Fatalf("intent %s is %s, model %s", in.id, s, in.status)
		}
		apps := w.count(`SELECT count(*) FROM applications a JOIN offers o ON o.id = a.offer_id WHERE o.intent_id = $1`, in.id)
		if want := map[bool]int{true: 1, false: 0}[in.status == "accepted"]; apps != want {
			g.Fatalf("intent %s (%s) has %d applications", in.id, in.status, apps)
		}
		if in.status == "accepted" {
			ok := w.count(`
				SELECT count(*) FROM financing_intents i
				JOIN applications a ON a.id = i.application_id
				JOIN offers o ON o.id = i.accepted_offer_id
				WHERE i.id = $1 AND a.offer_id = o.id AND a.bank_id = o.bank_id AND a.amount = o.amount
				  AND a.term_days = o.term_days AND o.closed_at <= o.valid_until AND i.closed_at = o.closed_at AND o.status = 'accepted'`, in.id)
			if ok != 1 {
				g.Fatalf("intent %s: its application is not its accepted offer's", in.id)
			}
		}
		for _, o := range in.offers {
			if s := w.offerStatus(o.id); s != o.status {
				g.Fatalf("offer %s (%s of %s) is %s, model %s", o.id, o.bankOfferID, o.bank, s, o.status)
			}
		}
	}
}
