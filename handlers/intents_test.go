package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// intentWorld is a programme ready for competing offers (融资意向): the
// issuer's award notice and contract of supplier A (registered: small,
// so subsidised), four partner banks, and users of the roles that matter.
type intentWorld struct {
	*env
	banks                         map[string]*bankSystem
	supplierA, supplierB, officer string
	contractA                     string
}

func newIntentWorld(t *testing.T) *intentWorld {
	t.Helper()
	e := newEnv(t)
	w := &intentWorld{env: e, banks: map[string]*bankSystem{}}
	for _, id := range []string{"qilu-bank", "bank-b", "bank-c", "bank-d"} {
		w.banks[id] = e.bank(id)
	}
	is := e.issuer("jinan-pprc")
	if r := is.post("/v1/award-notices", noticeBody); r.status != 201 {
		t.Fatalf("award notice: %d %s", r.status, r.body)
	}
	r := is.post("/v1/contracts", contractBody)
	if r.status != 201 {
		t.Fatalf("contract: %d %s", r.status, r.body)
	}
	w.contractA = r.json(t)["contract"].(map[string]any)["id"].(string)
	_, admin := e.user("root", "admin", "")
	// software_it, 42 people, 8 000 000.00 a year: a small enterprise, which
	// the programme's policy subsidises.
	if r := e.do("POST", "/v1/admin/suppliers", admin, `{"uscc": "91350100M000100Y43", "name": "Quancheng Software Co.",
		"industry": "software_it", "employees": 42, "annual_revenue": "8000000.00", "total_assets": "5000000.00"}`); r.status != 200 && r.status != 201 {
		t.Fatalf("register supplier: %d %s", r.status, r.body)
	}
	_, w.supplierA = e.user("quancheng", "supplier", usccA)
	_, w.supplierB = e.user("other-firm", "supplier", usccB)
	_, w.officer = e.user("olga", "officer", "")
	return w
}

var intentIdemSeq atomic.Int64

// intentBody is a need of 800 000.00 for 180 days, to answer within a day.
func (w *intentWorld) intentBody(banks ...string) string {
	ids, _ := json.Marshal(banks)
	return fmt.Sprintf(`{"contract_id": %q, "amount": "800000.00", "term_days": 180, "purpose": "materials", "bank_ids": %s, "respond_by": %q}`,
		w.contractA, ids, time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339))
}

// publish publishes body as token under a new Idempotency-Key.
func (w *intentWorld) publish(token, body string, headers ...string) resp {
	w.t.Helper()
	return w.do("POST", "/v1/financing-intents", token, body,
		append([]string{"Idempotency-Key", fmt.Sprintf("publish-%d", intentIdemSeq.Add(1))}, headers...)...)
}

// published publishes a need to the banks as supplier A and returns its id.
func (w *intentWorld) published(banks ...string) string {
	w.t.Helper()
	r := w.publish(w.supplierA, w.intentBody(banks...))
	if r.status != 201 {
		w.t.Fatalf("publish: %d %s", r.status, r.body)
	}
	return r.json(w.t)["id"].(string)
}

// accept accepts offerID (procfin's id) of intent id as token.
func (w *intentWorld) accept(token, id, offerID string) resp {
	w.t.Helper()
	return w.do("POST", "/v1/financing-intents/"+id+"/accept", token, fmt.Sprintf(`{"offer_id": %q}`, offerID),
		"Idempotency-Key", fmt.Sprintf("accept-%d", intentIdemSeq.Add(1)))
}

// intent reads intent id as token, which must see it.
func (w *intentWorld) intent(token, id string) intentJSON {
	w.t.Helper()
	r := w.do("GET", "/v1/financing-intents/"+id, token, nil)
	if r.status != 200 {
		w.t.Fatalf("GET intent %s: %d %s", id, r.status, r.body)
	}
	var in intentJSON
	if err := json.Unmarshal(r.body, &in); err != nil {
		w.t.Fatal(err)
	}
	return in
}

type intentJSON struct {
	ID              string    `json:"id"`
	Status          string    `json:"status"`
	Amount          string    `json:"amount"`
	ContractID      string    `json:"contract_id"`
	AcceptedOfferID *string   `json:"accepted_offer_id"`
	ApplicationID   *string   `json:"application_id"`
	RespondBy       time.Time `json:"respond_by"`
	PublishedAt     time.Time `json:"published_at"`
	Banks           []struct {
		BankID    string  `json:"bank_id"`
		ConsentID string  `json:"consent_id"`
		Delivery  string  `json:"delivery"`
		Decision  *string `json:"decision"`
	} `json:"banks"`
	Offers []offerJSON `json:"offers"`
}

type offerJSON struct {
	ID                  string `json:"id"`
	BankID              string `json:"bank_id"`
	BankOfferID         string `json:"bank_offer_id"`
	Amount              string `json:"amount"`
	AnnualRate          string `json:"annual_rate"`
	EffectiveAnnualRate string `json:"effective_annual_rate"`
	Status              string `json:"status"`
	Subsidy             *struct {
		Rate         string              `json:"effective_annual_rate"`
		Eligible     bool                `json:"eligible"`
		Cap          *string             `json:"cap"`
		SubsidyRatio *string             `json:"subsidy_ratio"`
		Steps        []map[string]string `json:"steps"`
	} `json:"subsidy"`
}

// sameRate reports whether the rate got is want, however many trailing
// zeros either is written with.
func sameRate(got, want string) bool {
	g, err := decimal.NewFromString(got)
	return err == nil && g.Equal(decimal.RequireFromString(want))
}

// offerOf is the offer the bank made with its offer_id on the intent.
func (in intentJSON) offerOf(bankOfferID string) offerJSON {
	for _, o := range in.Offers {
		if o.BankOfferID == bankOfferID {
			return o
		}
	}
	panic("no offer " + bankOfferID + " on intent " + in.ID)
}

// sendOffer posts a signed offer.* event of bank b: its envelope's
// application_id is null (bank-protocol.md 1.1, "Clarifications").
func (b *bankSystem) sendOffer(eventID, typ, data string) resp {
	b.e.t.Helper()
	body := fmt.Sprintf(`{"event_id": %q, "type": %q, "occurred_at": %q, "application_id": null, "bank_reference": "", "data": %s}`,
		eventID, typ, time.Now().UTC().Format(time.RFC3339), data)
	h, err := b.signer.Sign("POST", base+"/v1/bank-events", "procfin", []byte(body), time.Now())
	if err != nil {
		b.e.t.Fatal(err)
	}
	return b.e.do("POST", "/v1/bank-events", "", body, "Procfin-Signature", h)
}

// offerMade is the data of an offer.made valid for two days.
func offerMade(intentID, offerID, amount, rate string) string {
	return fmt.Sprintf(`{"intent_id": %q, "offer_id": %q, "amount": %q, "annual_rate": %q, "term_days": 180, "valid_until": %q, "conditions": "收款账户须锁定 / the repayment account is locked"}`,
		intentID, offerID, amount, rate, time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339))
}

// offered makes bank's offer and wants it processed.
func (w *intentWorld) offered(bank, eventID, intentID, offerID, amount, rate string) {
	w.t.Helper()
	r := w.banks[bank].sendOffer(eventID, "offer.made", offerMade(intentID, offerID, amount, rate))
	if r.status != 200 || r.json(w.t)["status"] != "processed" {
		w.t.Fatalf("%s's offer %s: %d %s", bank, offerID, r.status, r.body)
	}
}

// queued are the bodies of the messages of kind queued for the intent's
// banks, by bank, oldest first.
func (w *intentWorld) queued(kind, intentID string) map[string][]map[string]any {
	w.t.Helper()
	var rows []struct {
		Bank    string `db:"bank_id"`
		Payload []byte `db:"payload"`
	}
	if err := w.db.Select(&rows, `SELECT bank_id, payload FROM deliveries WHERE kind = $1 AND intent_id = $2 ORDER BY id`, kind, intentID); err != nil {
		w.t.Fatal(err)
	}
	out := map[string][]map[string]any{}
	for _, r := range rows {
		var m map[string]any
		if err := json.Unmarshal(r.Payload, &m); err != nil {
			w.t.Fatal(err)
		}
		out[r.Bank] = append(out[r.Bank], m)
	}
	return out
}

// wantDecisions checks that each bank was sent exactly one decision on
// the intent, the one given (bank → decision), with the offer and
// application ids only for accepted.
func (w *intentWorld) wantDecisions(intentID string, want map[string]string, bankOfferID, appID string) {
	w.t.Helper()
	got := w.queued("intent-decision", intentID)
	if len(got) != len(want) {
		w.t.Fatalf("decisions %v, want one for each of %v", got, want)
	}
	for bank, decision := range want {
		ds := got[bank]
		if len(ds) != 1 {
			w.t.Fatalf("bank %s was sent %d decisions: %v", bank, len(ds), ds)
		}
		d := ds[0]
		if d["intent_id"] != intentID || d["decision"] != decision {
			w.t.Fatalf("bank %s was sent %v, want %s on %s", bank, d, decision, intentID)
		}
		wantOffer, wantApp := any(nil), any(nil)
		if decision == "accepted" {
			wantOffer, wantApp = bankOfferID, appID
		}
		if v, ok := d["offer_id"]; !ok || v != wantOffer {
			w.t.Fatalf("bank %s's %s decision has offer_id %v, want %v", bank, decision, v, wantOffer)
		}
		if v, ok := d["application_id"]; !ok || v != wantApp {
			w.t.Fatalf("bank %s's %s decision has application_id %v, want %v", bank, decision, v, wantApp)
		}
	}
}

// TestFinancingIntentStory walks competing offers through the API with
// signed bank messages: publication to three banks with a consent each,
// their messages, offers in and refused, the comparison by effective rate
// after the subsidy, acceptance into an application with the decisions to
// every bank, and the approval held to the accepted offer.
func TestFinancingIntentStory(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t)
	asked := []string{"qilu-bank", "bank-b", "bank-c"}
	body := w.intentBody(asked...)

	first := w.do("POST", "/v1/financing-intents", w.supplierA, body, "Idempotency-Key", "need-1", "Accept-Language", "en")
	if first.status != 201 {
		t.Fatalf("publish: %d %s", first.status, first.body)
	}
	var in intentJSON
	if err := json.Unmarshal(first.body, &in); err != nil {
		t.Fatal(err)
	}
	if first.header.Get("Location") != "/v1/financing-intents/"+in.ID || in.Status != "open" || in.Amount != "800000.00" ||
		in.ContractID != w.contractA || len(in.Banks) != 3 || len(in.Offers) != 0 || in.ApplicationID != nil {
		t.Fatalf("published (Location %q): %s", first.header.Get("Location"), first.body)
	}
	// Publication holds nothing: the headroom is held at acceptance.
	if n := w.count("applications"); n != 0 {
		t.Fatalf("%d applications after publishing", n)
	}
	again := w.do("POST", "/v1/financing-intents", w.supplierA, body, "Idempotency-Key", "need-1", "Accept-Language", "en")
	if again.status != 201 || string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %v %s", again.status, again.header, again.body)
	}
	wantProblem(t, w.do("POST", "/v1/financing-intents", w.supplierA, w.intentBody("qilu-bank"), "Idempotency-Key", "need-1"),
		409, "idempotency_key_reused")
	if n := w.count("financing_intents"); n != 1 {
		t.Fatalf("%d intents after a replay and a reused key, want 1", n)
	}

	// A consent per bank asked, in the language the supplier read.
	var consents struct{ Items []map[string]any }
	json.Unmarshal(w.do("GET", "/v1/consents", w.supplierA, nil).body, &consents)
	var consented []string
	for _, c := range consents.Items {
		consented = append(consented, c["bank_id"].(string))
		if c["lang"] != "en" || c["revoked_at"] != nil {
			t.Fatalf("consent %v, want one given in en", c)
		}
	}
	slices.Sort(consented)
	if !slices.Equal(consented, []string{"bank-b", "bank-c", "qilu-bank"}) {
		t.Fatalf("consents to %v, want bank-b, bank-c, qilu-bank", consented)
	}

	// Each bank asked is sent its financing-intents message, and only they.
	sent := w.queued("financing-intent", in.ID)
	if len(sent) != 3 {
		t.Fatalf("financing-intents messages to %d banks, want 3: %v", len(sent), sent)
	}
	for _, bank := range asked {
		m := sent[bank]
		if len(m) != 1 || m[0]["intent_id"] != in.ID {
			t.Fatalf("bank %s was sent %v", bank, m)
		}
		req, _ := m[0]["request"].(map[string]any)
		if req["amount"] != "800000.00" || req["currency"] != "CNY" || req["term_days"] != 180.0 {
			t.Fatalf("bank %s's request %v", bank, m[0]["request"])
		}
	}

	// Offers. bank-c makes none.
	w.offered("qilu-bank", "q-1", in.ID, "Q-OFFER-1", "800000.00", "0.0345")
	w.offered("bank-b", "b-1", in.ID, "B-OFFER-1", "700000.00", "0.0320")
	// Above the 800 000.00 asked.
	wantProblem(t, w.banks["bank-b"].sendOffer("b-2", "offer.made", offerMade(in.ID, "B-OFFER-2", "800000.01", "0.0300")), 409, "invalid_transition")
	// bank-d was not asked: to it the intent does not exist.
	wantProblem(t, w.banks["bank-d"].sendOffer("d-1", "offer.made", offerMade(in.ID, "D-OFFER-1", "500000.00", "0.0200")), 404, "not_found")
	wantProblem(t, w.banks["bank-d"].sendOffer("d-2", "offer.withdrawn", fmt.Sprintf(`{"intent_id": %q, "offer_id": "B-OFFER-1"}`, in.ID)), 404, "not_found")

	// The policy in force: cap (the 1-year LPR) 0.0310, subsidy ratio 0.5,
	// and supplier A is small, so eligible. Effective rate =
	// rate − min(rate, 0.0310) × 0.5:
	//   qilu   0.0345: 0.0345 − 0.0310 × 0.5 = 0.0345 − 0.0155 = 0.019000
	//   bank-b 0.0320: 0.0320 − 0.0310 × 0.5 = 0.0320 − 0.0155 = 0.016500
	// so bank-b's offer comes first although it lends less.
	got := w.intent(w.supplierA, in.ID)
	if len(got.Offers) != 2 || got.Offers[0].BankOfferID != "B-OFFER-1" || !sameRate(got.Offers[0].EffectiveAnnualRate, "0.016500") ||
		got.Offers[1].BankOfferID != "Q-OFFER-1" || !sameRate(got.Offers[1].EffectiveAnnualRate, "0.019000") {
		t.Fatalf("offers %+v, want bank-b's (0.016500) then qilu's (0.019000)", got.Offers)
	}
	for _, o := range got.Offers {
		if o.Status != "made" || o.Subsidy == nil || !o.Subsidy.Eligible || o.Subsidy.Cap == nil || !sameRate(*o.Subsidy.Cap, "0.0310") ||
			o.Subsidy.SubsidyRatio == nil || !sameRate(*o.Subsidy.SubsidyRatio, "0.5") || o.Subsidy.Rate != o.EffectiveAnnualRate || len(o.Subsidy.Steps) == 0 {
			t.Fatalf("offer %+v: want it current, with the subsidy's computation", o)
		}
	}
	oldQilu := got.offerOf("Q-OFFER-1").ID

	// qilu improves its offer, reusing its offer_id: a new offer (a new id)
	// replaces the old one. 0.0300 is under the cap:
	//   0.0300 − 0.0300 × 0.5 = 0.0300 − 0.0150 = 0.015000, now the best.
	w.offered("qilu-bank", "q-2", in.ID, "Q-OFFER-1", "800000.00", "0.0300")
	got = w.intent(w.supplierA, in.ID)
	if len(got.Offers) != 3 || got.Offers[0].BankID != "qilu-bank" || !sameRate(got.Offers[0].EffectiveAnnualRate, "0.015000") ||
		got.Offers[0].ID == oldQilu || got.Offers[1].BankOfferID != "B-OFFER-1" || got.Offers[2].ID != oldQilu ||
		got.Offers[2].Status != "replaced" {
		t.Fatalf("offers after qilu's new one: %+v", got.Offers)
	}
	best := got.Offers[0].ID
	// The supplier accepts the terms it saw: the replaced offer is gone.
	wantProblem(t, w.accept(w.supplierA, in.ID, oldQilu), 409, "invalid_transition")

	// Another supplier sees none of it; an officer sees it all.
	wantProblem(t, w.do("GET", "/v1/financing-intents/"+in.ID, w.supplierB, nil), 404, "not_found")
	wantProblem(t, w.accept(w.supplierB, in.ID, best), 404, "not_found")
	wantProblem(t, w.do("POST", "/v1/financing-intents/"+in.ID+"/cancel", w.supplierB, nil), 404, "not_found")
	if items, _ := (&lendingWorld{env: w.env}).list(w.supplierB, "/v1/financing-intents"); len(items) != 0 {
		t.Fatalf("supplier B lists %v", items)
	}
	if items, _ := (&lendingWorld{env: w.env}).list(w.officer, "/v1/financing-intents?status=open"); len(items) != 1 || items[0]["id"] != in.ID {
		t.Fatalf("the officer lists %v", items)
	}
	if o := w.intent(w.officer, in.ID); len(o.Offers) != 3 {
		t.Fatalf("the officer reads %d offers", len(o.Offers))
	}
	if n := w.count("applications"); n != 0 {
		t.Fatalf("%d applications before acceptance", n)
	}

	// Acceptance: a credit application to qilu for its offer, the intent
	// closed, and every bank asked told.
	acceptBody := fmt.Sprintf(`{"offer_id": %q}`, best)
	acc := w.do("POST", "/v1/financing-intents/"+in.ID+"/accept", w.supplierA, acceptBody, "Idempotency-Key", "take-best")
	if acc.status != 201 {
		t.Fatalf("accept: %d %s", acc.status, acc.body)
	}
	replayed := w.do("POST", "/v1/financing-intents/"+in.ID+"/accept", w.supplierA, acceptBody, "Idempotency-Key", "take-best")
	if replayed.status != 201 || string(replayed.body) != string(acc.body) || replayed.header.Get("Idempotent-Replayed") != "true" ||
		replayed.header.Get("Location") != acc.header.Get("Location") {
		t.Fatalf("accept replayed: %d %v %s", replayed.status, replayed.header, replayed.body)
	}
	wantProblem(t, w.do("POST", "/v1/financing-intents/"+in.ID+"/accept", w.supplierA, fmt.Sprintf(`{"offer_id": %q}`, oldQilu),
		"Idempotency-Key", "take-best"), 409, "idempotency_key_reused")
	a := acc.json(t)
	appID, _ := a["id"].(string)
	if a["offer_id"] != best || a["bank_id"] != "qilu-bank" || a["amount"] != "800000.00" || a["status"] != "submitted" ||
		acc.header.Get("Location") != "/v1/credit-applications/"+appID {
		t.Fatalf("accepted into %s", acc.body)
	}
	if f := (&lendingWorld{env: w.env}).financed(w.contractA); f != "800000.00" {
		t.Fatalf("financed %s after acceptance, want 800000.00", f)
	}
	got = w.intent(w.supplierA, in.ID)
	if got.Status != "accepted" || got.ApplicationID == nil || *got.ApplicationID != appID || got.AcceptedOfferID == nil || *got.AcceptedOfferID != best {
		t.Fatalf("intent after acceptance: %+v", got)
	}
	w.wantDecisions(in.ID, map[string]string{"qilu-bank": "accepted", "bank-b": "declined", "bank-c": "declined"}, "Q-OFFER-1", appID)
	var request map[string]any
	var payload []byte
	if err := w.db.Get(&payload, `SELECT payload FROM deliveries WHERE application_id = $1 AND kind = 'credit-application'`, appID); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(payload, &struct{ Request *map[string]any }{&request})
	if request["offer_id"] != "Q-OFFER-1" {
		t.Fatalf("the credit application to qilu carries request %v, want offer_id Q-OFFER-1", request)
	}

	// The intent is closed: no more offers, acceptances or cancellation;
	// the accepted offer cannot be withdrawn.
	wantProblem(t, w.banks["bank-b"].sendOffer("b-3", "offer.made", offerMade(in.ID, "B-OFFER-3", "600000.00", "0.0250")), 409, "invalid_transition")
	wantProblem(t, w.banks["qilu-bank"].sendOffer("q-3", "offer.withdrawn", fmt.Sprintf(`{"intent_id": %q, "offer_id": "Q-OFFER-1"}`, in.ID)), 409, "invalid_transition")
	wantProblem(t, w.accept(w.supplierA, in.ID, got.offerOf("B-OFFER-1").ID), 409, "invalid_transition")
	wantProblem(t, w.do("POST", "/v1/financing-intents/"+in.ID+"/cancel", w.supplierA, nil), 409, "invalid_transition")
	if n := w.count("applications"); n != 1 {
		t.Fatalf("%d applications, want 1", n)
	}

	// The bank's approval may not exceed the offer: 800 000.00 at 0.0300.
	qilu := w.banks["qilu-bank"]
	approved := func(amount, rate string) string {
		return fmt.Sprintf(`{"approved_amount": %q, "annual_rate": %q, "term_days": 180, "repayment_account": {"bank_name": "Qilu Bank", "account_no": "6222", "account_name": "Quancheng"}}`, amount, rate)
	}
	wantProblem(t, qilu.send("q-4", "application.approved", appID, approved("800000.00", "0.0301")), 409, "invalid_transition")
	if st := w.do("GET", "/v1/credit-applications/"+appID, w.supplierA, nil, "Cache-Control", "no-cache").json(t)["status"]; st != "submitted" {
		t.Fatalf("after an approval above the offer's rate the application is %v", st)
	}
	if r := qilu.send("q-5", "application.approved", appID, approved("800000.00", "0.0300")); r.status != 200 || r.json(t)["status"] != "processed" {
		t.Fatalf("approval within the offer: %d %s", r.status, r.body)
	}
}

// TestFinancingIntentApprovalAboveTheOfferedAmount: an application from an
// offer of 600 000.00 (the supplier asked 800 000.00) may be approved for
// at most 600 000.00.
func TestFinancingIntentApprovalAboveTheOfferedAmount(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t)
	id := w.published("qilu-bank")
	w.offered("qilu-bank", "q-1", id, "Q-1", "600000.00", "0.0345")
	r := w.accept(w.supplierA, id, w.intent(w.supplierA, id).offerOf("Q-1").ID)
	if r.status != 201 {
		t.Fatalf("accept: %d %s", r.status, r.body)
	}
	appID := r.json(t)["id"].(string)
	qilu := w.banks["qilu-bank"]
	above := `{"approved_amount": "600000.01", "annual_rate": "0.0345", "term_days": 180, "repayment_account": {"bank_name": "Qilu Bank", "account_no": "6222", "account_name": "Quancheng"}}`
	wantProblem(t, qilu.send("q-2", "application.approved", appID, above), 409, "invalid_transition")
	within := strings.Replace(above, "600000.01", "600000.00", 1)
	if r := qilu.send("q-3", "application.approved", appID, within); r.status != 200 {
		t.Fatalf("approval of the offered amount: %d %s", r.status, r.body)
	}
}

// TestFinancingIntentLateAndExpiredOffers: an offer after respond_by is
// refused; an offer past its valid_until cannot be accepted.
func TestFinancingIntentLateAndExpiredOffers(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t)
	id := w.published("qilu-bank", "bank-b")
	w.offered("qilu-bank", "q-1", id, "Q-1", "800000.00", "0.0345")
	// respond_by passes (banks' offers are judged on receipt, by the real
	// time: the intent's deadline is moved instead).
	if _, err := w.db.Exec(`UPDATE financing_intents SET respond_by = now() - interval '1 minute' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, w.banks["bank-b"].sendOffer("b-1", "offer.made", offerMade(id, "B-1", "700000.00", "0.0300")), 409, "invalid_transition")
	in := w.intent(w.supplierA, id)
	if len(in.Offers) != 1 || in.Status != "open" {
		t.Fatalf("after a late offer: %+v", in)
	}
	// Three days later qilu's offer (valid for two) has expired.
	w.mu.Lock()
	w.lendingAt = time.Now().Add(72 * time.Hour)
	w.mu.Unlock()
	wantProblem(t, w.accept(w.supplierA, id, in.Offers[0].ID), 409, "offer_expired")
	if n := w.count("applications"); n != 0 {
		t.Fatalf("%d applications after accepting an expired offer", n)
	}
}

// TestFinancingIntentConcurrentAccepts: twenty acceptances at once, of
// either of two offers, make exactly one application.
func TestFinancingIntentConcurrentAccepts(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t)
	id := w.published("qilu-bank", "bank-b")
	w.offered("qilu-bank", "q-1", id, "Q-1", "800000.00", "0.0345")
	w.offered("bank-b", "b-1", id, "B-1", "800000.00", "0.0320")
	in := w.intent(w.supplierA, id)
	offers := []string{in.Offers[0].ID, in.Offers[1].ID}

	const n = 20
	statuses := make([]int, n)
	bodies := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := w.accept(w.supplierA, id, offers[i%2])
			statuses[i], bodies[i] = r.status, string(r.body)
		}()
	}
	close(start)
	wg.Wait()
	created := 0
	for i, st := range statuses {
		switch {
		case st == 201:
			created++
		case st == 409 && strings.Contains(bodies[i], `"invalid_transition"`):
		default:
			t.Fatalf("accept %d: %d %s", i, st, bodies[i])
		}
	}
	if created != 1 {
		t.Fatalf("%d acceptances succeeded, want 1: %v", created, statuses)
	}
	if c := w.count("applications"); c != 1 {
		t.Fatalf("%d applications, want 1", c)
	}
	if f := (&lendingWorld{env: w.env}).financed(w.contractA); f != "800000.00" {
		t.Fatalf("financed %s, want 800000.00 (one acceptance)", f)
	}
	got := w.intent(w.supplierA, id)
	var winner offerJSON
	for _, o := range got.Offers {
		if o.Status == "accepted" {
			winner = o
		}
	}
	other := map[string]string{"qilu-bank": "bank-b", "bank-b": "qilu-bank"}[winner.BankID]
	w.wantDecisions(id, map[string]string{winner.BankID: "accepted", other: "declined"}, winner.BankOfferID, *got.ApplicationID)
}

// TestFinancingIntentCancelAndExpire: cancelling tells every bank asked
// cancelled; an intent past respond_by with no valid offer expires and
// every bank asked is told expired; one with an offer still valid stays
// open.
func TestFinancingIntentCancelAndExpire(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t)
	cancelled := w.published("qilu-bank", "bank-b", "bank-c")
	w.offered("bank-b", "b-1", cancelled, "B-1", "500000.00", "0.0330")
	r := w.do("POST", "/v1/financing-intents/"+cancelled+"/cancel", w.supplierA, nil, "Idempotency-Key", "cancel-1")
	if r.status != 200 || r.json(t)["status"] != "cancelled" {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	w.wantDecisions(cancelled, map[string]string{"qilu-bank": "cancelled", "bank-b": "cancelled", "bank-c": "cancelled"}, "", "")
	if in := w.intent(w.supplierA, cancelled); in.Offers[0].Status != "declined" {
		t.Fatalf("bank-b's offer on the cancelled intent is %s", in.Offers[0].Status)
	}

	expiring := w.published("qilu-bank", "bank-b")
	withOffer := w.published("bank-c")
	w.offered("bank-c", "c-1", withOffer, "C-1", "800000.00", "0.0330")
	if _, err := w.db.Exec(`UPDATE financing_intents SET respond_by = now() - interval '1 minute' WHERE id = ANY($1::uuid[])`,
		"{"+expiring+","+withOffer+"}"); err != nil {
		t.Fatal(err)
	}
	closed, err := w.lending.ExpireIntents(context.Background())
	if err != nil || closed != 1 {
		t.Fatalf("ExpireIntents: %d, %v; want 1 closed", closed, err)
	}
	if in := w.intent(w.supplierA, expiring); in.Status != "expired" {
		t.Fatalf("intent past respond_by without offers is %s", in.Status)
	}
	w.wantDecisions(expiring, map[string]string{"qilu-bank": "expired", "bank-b": "expired"}, "", "")
	if in := w.intent(w.supplierA, withOffer); in.Status != "open" {
		t.Fatalf("intent with an offer still valid is %s", in.Status)
	}
	if d := w.queued("intent-decision", withOffer); len(d) != 0 {
		t.Fatalf("decisions sent on an open intent: %v", d)
	}
	expired, _ := (&lendingWorld{env: w.env}).list(w.supplierA, "/v1/financing-intents?status=expired")
	if len(expired) != 1 || expired[0]["id"] != expiring {
		t.Fatalf("expired intents listed: %v", expired)
	}
}

// TestFinancingIntentDefaultRespondBy: without respond_by banks have
// lending.intent_ttl (72 h) from publication.
func TestFinancingIntentDefaultRespondBy(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t)
	r := w.publish(w.supplierA, fmt.Sprintf(`{"contract_id": %q, "amount": "800000.00", "term_days": 180, "purpose": "materials", "bank_ids": ["*"]}`, w.contractA))
	if r.status != 201 {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	var in intentJSON
	json.Unmarshal(r.body, &in)
	if d := in.RespondBy.Sub(in.PublishedAt); d != 72*time.Hour {
		t.Fatalf("respond_by %s is %s after publication, want 72h", in.RespondBy, d)
	}
	// ["*"]: every bank of the programme.
	if len(in.Banks) != 4 {
		t.Fatalf("published to %d banks, want all 4: %+v", len(in.Banks), in.Banks)
	}
}

// TestFinancingIntentBadInput: every bad field is named at once, and a
// refused request changes nothing.
func TestFinancingIntentBadInput(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t)
	changes := func() int {
		return w.count("financing_intents") + w.count("consents") + w.count("deliveries") + w.count("audit_log")
	}
	before := changes()
	p := wantProblem(t, w.publish(w.supplierA, `{"contract_id": "nope", "amount": "-1.00", "term_days": 0, "purpose": "", "bank_ids": [], "respond_by": "tomorrow"}`), 422, "invalid")
	fields := problemFields(p)
	for _, f := range []string{"contract_id", "amount", "term_days", "purpose", "bank_ids", "respond_by"} {
		if !slices.Contains(fields, f) {
			t.Errorf("problem names %v, not %s", fields, f)
		}
	}
	wantProblem(t, w.publish(w.supplierA, `{"contract_id": "x", "surprise": 1}`), 422, "invalid")
	wantProblem(t, w.publish(w.supplierA, `{"contract_id": `), 400, "malformed_request")
	p = wantProblem(t, w.do("POST", "/v1/financing-intents", w.supplierA, w.intentBody("qilu-bank")), 422, "invalid")
	if fields := problemFields(p); !slices.Equal(fields, []string{"Idempotency-Key"}) {
		t.Fatalf("without a key the problem names %v", fields)
	}
	wantProblem(t, w.publish(w.supplierA, w.intentBody("no-such-bank")), 422, "invalid")
	// Supplier B has no such contract.
	if r := w.publish(w.supplierB, w.intentBody("qilu-bank")); r.status != 404 && r.status != 422 {
		t.Fatalf("supplier B publishing on A's contract: %d %s", r.status, r.body)
	}
	if after := changes(); after != before {
		t.Fatalf("refused requests changed %d rows", after-before)
	}

	id := w.published("qilu-bank")
	p = wantProblem(t, w.accept(w.supplierA, id, "Q-1"), 422, "invalid")
	if fields := problemFields(p); !slices.Equal(fields, []string{"offer_id"}) {
		t.Fatalf("a bank's offer_id for procfin's: the problem names %v", fields)
	}
	wantProblem(t, w.do("POST", "/v1/financing-intents/"+id+"/accept", w.supplierA, `{}`, "Idempotency-Key", "a-empty"), 422, "invalid")
	wantProblem(t, w.accept(w.supplierA, id, "00000000-0000-4000-8000-000000000000"), 404, "not_found")
	p = wantProblem(t, w.do("GET", "/v1/financing-intents?status=won", w.supplierA, nil), 422, "invalid")
	if fields := problemFields(p); !slices.Equal(fields, []string{"status"}) {
		t.Fatalf("?status=won: the problem names %v", fields)
	}
	wantProblem(t, w.do("GET", "/v1/financing-intents/not-an-id", w.supplierA, nil), 404, "not_found")
}

// TestFinancingIntentListPages: the list pages by cursor, newest first.
func TestFinancingIntentListPages(t *testing.T) {
	t.Parallel()
	w := newIntentWorld(t)
	var ids []string
	for range 3 {
		ids = append(ids, w.published("qilu-bank"))
	}
	lw := &lendingWorld{env: w.env}
	page1, next := lw.list(w.supplierA, "/v1/financing-intents?limit=2")
	if !slices.Equal(itemIDs(page1), []string{ids[2], ids[1]}) || next == nil {
		t.Fatalf("page 1: %v, next %v", itemIDs(page1), next)
	}
	page2, next := lw.list(w.supplierA, "/v1/financing-intents?limit=2&cursor="+*next)
	if !slices.Equal(itemIDs(page2), []string{ids[0]}) || next != nil {
		t.Fatalf("page 2: %v, next %v", itemIDs(page2), next)
	}
}
