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
	"procfin/platform/postgres"
)

// The model of TestIntentsStateMachine: what each need, each bank asked
// and the contract's live applications should be.
type (
	mBank struct {
		out, revoked bool
		decision     string    // what it was told ("" nothing yet)
		offer        string    // procfin's id of its current offer ("" none)
		bankOfferID  string    // the bank's id of it
		validUntil   time.Time // of it
	}
	mIntent struct {
		id           string
		status       lending.IntentStatus
		respondBy    time.Time
		banks        map[string]*mBank
		offers       []string // every offer made on it, current or not
		acceptedBank string
		application  string // the accepted offer's
	}
	intentModel struct {
		intents []*mIntent
		live    map[string]string // the contract's live applications: id → bank
	}
)

// tell records what bank is told of in, as closeIntent and takeOut do:
// once, and never to a bank taken out.
func (in *mIntent) tell(bank, decision string) {
	b := in.banks[bank]
	if b.out || b.decision != "" {
		return
	}
	b.decision, b.offer = decision, ""
}

// close closes in to status, telling each bank asked.
func (in *mIntent) close(status lending.IntentStatus, accepted string) {
	in.status, in.acceptedBank = status, accepted
	decision := map[lending.IntentStatus]string{lending.IntentAccepted: "declined", lending.IntentExpired: "expired", lending.IntentCancelled: "cancelled"}[status]
	for bank, b := range in.banks {
		switch {
		case bank == accepted:
			in.tell(bank, "accepted")
		default:
			in.tell(bank, decision)
		}
		b.offer = ""
	}
}

// TestIntentsStateMachine runs random sequences of needs published,
// offers made and withdrawn, cancellations, consents revoked, acceptances
// and the clock moving with the expiry sweep, against the real database
// and a model: after every operation each need's status, each bank's
// standing (taken out, told what, its current offer), what the banks were
// told (the intent-decision deliveries: each bank at most once per need)
// and the contract's live applications match the model, and a refused
// operation changed nothing. Each iteration has its own contract, in one
// shared world whose clock only moves on, in whole minutes, while every
// respond_by and valid_until falls on a half minute.
func TestIntentsStateMachine(t *testing.T) {
	limitRapidChecks(t, 25)
	w := newIntentWorld(t, nil)
	iteration := 0
	rapid.Check(t, func(r *rapid.T) {
		iteration++
		w.contractID = w.newContract(fmt.Sprintf("CI-%d", iteration), uscc)
		m := &intentModel{live: map[string]string{}}
		steps := rapid.IntRange(8, 24).Draw(r, "steps")
		for range steps {
			op := rapid.SampledFrom([]string{"publish", "publish", "offer", "offer", "offer", "withdraw", "cancel", "revoke", "accept", "accept", "expire"}).Draw(r, "op")
			if op != "publish" && op != "expire" && len(m.intents) == 0 {
				op = "publish"
			}
			m.step(r, w, op)
			m.check(r, w)
		}
	})
}

func (m *intentModel) pick(r *rapid.T) *mIntent {
	return m.intents[rapid.IntRange(0, len(m.intents)-1).Draw(r, "intent")]
}

// financing is the banks of the contract's live applications.
func (m *intentModel) financing() []string {
	var banks []string
	for _, b := range m.live {
		if !slices.Contains(banks, b) {
			banks = append(banks, b)
		}
	}
	return banks
}

func (m *intentModel) step(r *rapid.T, w *intentWorld, op string) {
	now := w.peek()
	halfMinutes := func(label string) time.Time {
		return now.Add(time.Duration(rapid.IntRange(1, 240).Draw(r, label))*time.Minute + 30*time.Second)
	}
	switch op {
	case "publish":
		mask := rapid.IntRange(1, 7).Draw(r, "banks")
		var banks []string
		for i, b := range threeBanks {
			if mask&(1<<i) != 0 {
				banks = append(banks, b)
			}
		}
		by := halfMinutes("respond_by")
		need := w.need("1000.00", banks...)
		need.RespondBy = ptr(by.Format(time.RFC3339))
		in, err := w.ls.Publish(ctx, w.who, need)
		fin := m.financing()
		ok := len(fin) == 0 || (len(fin) == 1 && len(banks) == 1 && banks[0] == fin[0])
		if ok != (err == nil) || (err != nil && !errs.Is(err, errs.VerificationFailed)) {
			r.Fatalf("publish to %v with %v financing: %v", banks, fin, err)
		}
		if err != nil {
			return
		}
		mi := &mIntent{id: in.ID, status: lending.IntentOpen, respondBy: by, banks: map[string]*mBank{}}
		for _, b := range banks {
			mi.banks[b] = &mBank{}
		}
		m.intents = append(m.intents, mi)
	case "offer":
		in, bank := m.pick(r), rapid.SampledFrom(threeBanks).Draw(r, "bank")
		bankOfferID := rapid.SampledFrom([]string{"A", "B"}).Draw(r, "bank_offer_id")
		valid := halfMinutes("valid_until")
		o := lending.OfferMade{EventID: uuid.NewString(), IntentID: in.id, BankOfferID: bankOfferID, Amount: money.MustAmount("900.00"),
			AnnualRate: money.MustRate(rapid.SampledFrom([]string{"0.03", "0.035", "0.04"}).Draw(r, "rate")), TermDays: 180, ValidUntil: valid}
		err := w.bankTx(func(tx *postgres.Tx) error { return w.ls.MakeOffer(ctx, tx, bank, o) })
		b, asked := in.banks[bank]
		ok := in.status == lending.IntentOpen && asked && !b.out && !now.After(in.respondBy)
		if ok != (err == nil) {
			r.Fatalf("offer by %s on %+v: %v", bank, in, err)
		}
		if err != nil {
			return
		}
		var id string
		if err := w.db.Get(&id, `SELECT id FROM offers WHERE event_id = $1`, o.EventID); err != nil {
			r.Fatal(err)
		}
		b.offer, b.bankOfferID, b.validUntil = id, bankOfferID, valid
		in.offers = append(in.offers, id)
	case "withdraw":
		in, bank := m.pick(r), rapid.SampledFrom(threeBanks).Draw(r, "bank")
		bankOfferID := rapid.SampledFrom([]string{"A", "B"}).Draw(r, "bank_offer_id")
		err := w.bankTx(func(tx *postgres.Tx) error { return w.ls.WithdrawOffer(ctx, tx, bank, in.id, bankOfferID) })
		if b, asked := in.banks[bank]; asked && in.status == lending.IntentOpen && !b.out && b.offer != "" && b.bankOfferID == bankOfferID {
			if err != nil {
				r.Fatalf("withdraw %s's %s: %v", bank, bankOfferID, err)
			}
			b.offer = ""
		}
	case "cancel":
		in := m.pick(r)
		_, err := w.ls.CancelIntent(ctx, lending.Scope{SupplierUSCC: uscc}, in.id, "user:u1")
		if (in.status == lending.IntentOpen) != (err == nil) {
			r.Fatalf("cancel %+v: %v", in, err)
		}
		if err == nil {
			in.close(lending.IntentCancelled, "")
		}
	case "revoke":
		in := m.pick(r)
		var asked []string
		for b := range in.banks {
			asked = append(asked, b)
		}
		slices.Sort(asked)
		bank := rapid.SampledFrom(asked).Draw(r, "bank")
		var consent string
		if err := w.db.Get(&consent, `SELECT consent_id FROM intent_banks WHERE intent_id = $1 AND bank_id = $2`, in.id, bank); err != nil {
			r.Fatal(err)
		}
		_, err := w.ls.RevokeConsent(ctx, lending.Scope{SupplierUSCC: uscc}, consent, "user:u1")
		if err != nil {
			r.Fatalf("revoke %s on %+v: %v", bank, in, err)
		}
		b := in.banks[bank]
		switch {
		case b.revoked:
		case in.acceptedBank == bank: // the application's consent: the application (submitted) is withdrawn
			delete(m.live, in.application)
		case in.status == lending.IntentOpen:
			in.tell(bank, "cancelled")
			b.out = true
			left := 0
			for _, ob := range in.banks {
				if !ob.out {
					left++
				}
			}
			if left == 0 {
				in.close(lending.IntentCancelled, "")
			}
		}
		b.revoked = true
	case "accept":
		in := m.pick(r)
		if len(in.offers) == 0 {
			return
		}
		offer := rapid.SampledFrom(in.offers).Draw(r, "offer")
		var bank string
		if err := w.db.Get(&bank, `SELECT bank_id FROM offers WHERE id = $1`, offer); err != nil {
			r.Fatal(err)
		}
		app, err := w.ls.Accept(ctx, w.who, in.id, offer)
		b := in.banks[bank]
		fin := m.financing()
		ok := in.status == lending.IntentOpen && b.offer == offer && !now.After(b.validUntil) && !b.out && !b.revoked &&
			(len(fin) == 0 || (len(fin) == 1 && fin[0] == bank))
		if ok != (err == nil) {
			r.Fatalf("accept %s's offer on %+v (financing %v): %v", bank, in, fin, err)
		}
		if err == nil {
			in.close(lending.IntentAccepted, bank)
			in.application, m.live[app.ID] = app.ID, bank
		}
	case "expire":
		w.setClock(now.Add(time.Duration(rapid.IntRange(0, 180).Draw(r, "minutes")) * time.Minute))
		now = w.peek()
		if _, err := w.ls.ExpireIntents(ctx); err != nil {
			r.Fatal(err)
		}
		for _, in := range m.intents {
			if in.status != lending.IntentOpen || !now.After(in.respondBy) {
				continue
			}
			valid := false
			for _, b := range in.banks {
				valid = valid || (b.offer != "" && !now.After(b.validUntil))
			}
			if !valid {
				in.close(lending.IntentExpired, "")
			}
		}
	}
}

// check compares the database with the model.
func (m *intentModel) check(r *rapid.T, w *intentWorld) {
	for _, in := range m.intents {
		got, err := w.ls.Intent(ctx, lending.Scope{SupplierUSCC: uscc}, in.id)
		if err != nil {
			r.Fatal(err)
		}
		if got.Status != in.status {
			r.Fatalf("need %s is %s, model %s", in.id, got.Status, in.status)
		}
		var wantTold []string
		for _, gb := range got.Banks {
			b := in.banks[gb.BankID]
			decision := ""
			if gb.Decision != nil {
				decision = *gb.Decision
			}
			if (gb.OutAt != nil) != b.out || decision != b.decision {
				r.Fatalf("need %s, bank %s: out %v told %q; model %+v", in.id, gb.BankID, gb.OutAt != nil, decision, b)
			}
			if b.decision != "" {
				wantTold = append(wantTold, gb.BankID+":"+b.decision)
			}
			current := ""
			for _, o := range got.Offers {
				if o.BankID == gb.BankID && o.Status == lending.OfferMadeStatus {
					if current != "" {
						r.Fatalf("bank %s has two current offers on %s", gb.BankID, in.id)
					}
					current = o.ID
				}
			}
			if current != b.offer {
				r.Fatalf("need %s, bank %s: current offer %q, model %q", in.id, gb.BankID, current, b.offer)
			}
		}
		told := w.told(in.id)
		slices.Sort(told)
		slices.Sort(wantTold)
		if !slices.Equal(told, wantTold) {
			r.Fatalf("need %s: told %v, model %v", in.id, told, wantTold)
		}
	}
	var live []string
	if err := w.db.Select(&live, `SELECT id FROM applications WHERE contract_id = $1 AND status NOT IN ('cancelled', 'rejected', 'closed')`, w.contractID); err != nil {
		r.Fatal(err)
	}
	if len(live) != len(m.live) {
		r.Fatalf("%d live applications, model %d", len(live), len(m.live))
	}
	for _, id := range live {
		if _, ok := m.live[id]; !ok {
			r.Fatalf("application %s live, not in the model", id)
		}
	}
}
