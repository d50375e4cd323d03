package sandbox

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"procfin/banking"
	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/signature"
)

// intentBody is a financing-intents message as bank-protocol.md 1.1 shows
// it, published an hour before the test clock's start (2026-11-21T02:00Z)
// and to be answered by respondBy.
func intentBody(id, amount string, termDays int, respondBy string) []byte {
	return []byte(`{"intent_id":"` + id + `","published_at":"2026-11-21T01:00:00Z","respond_by":"` + respondBy + `",
	"supplier":{"uscc":"91350100M000100Y43","name":"福州示例供应有限公司","size_class":"small"},
	"award":{"notice_no":"N-1","project_no":"P-1","issuer":"fz-ggzy","amount":"1200000.00","awarded_on":"2026-10-08"},
	"contract":{"contract_no":"C-1","amount":"1180000.00","signed_on":"2026-10-20",
		"period":{"start":"2026-11-01","end":"2027-04-30"},"payment_terms":[{"due_on":"2027-05-31","amount":"1180000.00"}]},
	"request":{"amount":"` + amount + `","currency":"CNY","term_days":` + jsonInt(termDays) + `,"purpose":"采购原材料"},
	"verification":{"verified_at":"2026-11-21T00:59:00Z","checks":[{"name":"award.signature","result":"pass"}]}}`)
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

// decisionBody is a decision on intent id.
func decisionBody(id, decision, offerID, applicationID string) []byte {
	orNull := func(s string) string {
		if s == "" {
			return "null"
		}
		return `"` + s + `"`
	}
	return []byte(`{"intent_id":"` + id + `","decision":"` + decision + `","offer_id":` + orNull(offerID) + `,"application_id":` + orNull(applicationID) + `}`)
}

// postPath sends body to the bank's path, signed by signer (nil:
// procfin's key) for the URL signedURL ("": the URL posted to).
func (h *harness) postPath(path, key string, body []byte, signer *signature.Signer, signedURL string) answer {
	h.t.Helper()
	u := h.srv.URL + path
	if signedURL == "" {
		signedURL = u
	}
	s := h.procfin.signer
	if signer != nil {
		s = *signer
	}
	sig, err := s.Sign(http.MethodPost, signedURL, "sandbox-bank", body, h.clk.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(signature.HeaderName, sig)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode}
	rb, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(rb, &a.body); err != nil {
		h.t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, rb)
	}
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
		h.t.Errorf("answer %d has Content-Type %q, want application/problem+json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return a
}

// waitAnswer waits until the bank answered the intent and returns how.
func (h *harness) waitAnswer(intentID string) string {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if a := h.bank.IntentAnswer(intentID); a != "" {
			return a
		}
		time.Sleep(2 * time.Millisecond)
	}
	h.t.Fatalf("the bank never answered intent %s", intentID)
	return ""
}

// waitOffers waits until the bank made n offers and has procfin's answer
// to each.
func (h *harness) waitOffers(n int) []OfferSent {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		o := h.bank.Offers()
		if len(o) >= n && !slices.ContainsFunc(o, func(o OfferSent) bool { return o.Status == 0 }) {
			return o
		}
		time.Sleep(2 * time.Millisecond)
	}
	h.t.Fatalf("offers %+v, want %d answered", h.bank.Offers(), n)
	return nil
}

// offerRule is the harness's rule of competing offers: 3.20 %, up to 80 %
// of the need, 150 days, valid a day.
func offerRule(c *Config) {
	c.Offers = OfferRule{Rate: money.MustRate("0.0320"), MaxShare: decimal.RequireFromString("0.8"), TermDays: 150,
		ValidFor: 24 * time.Hour, Conditions: "需提供中标通知书原件。Original award notice required."}
}

func TestIntentAnsweredByOfferRule(t *testing.T) {
	t.Parallel()
	h := newHarness(t, offerRule)
	const id = "4a7e0000-0000-4000-8000-000000000001"
	body := intentBody(id, "800000.00", 180, "2026-11-24T02:00:00Z")
	a := h.postPath("/v1/financing-intents", "msg-1", body, nil, "")
	if a.status != http.StatusAccepted || a.body["intent_id"] != id {
		t.Fatalf("status %d %v, want 202", a.status, a.body)
	}
	if got := h.waitAnswer(id); got != AnswerOffered {
		t.Fatalf("answer %q, want offered", got)
	}
	ev := h.procfin.waitEvents(1)
	if ev[0].Type != TypeOfferMade || ev[0].ApplicationID != "" || ev[0].BankReference != "" || ev[0].answer != "processed" {
		t.Fatalf("event %+v, want offer.made without application", ev[0])
	}
	// The envelope's application_id and bank_reference are null, not absent.
	h.procfin.mu.Lock()
	raw := h.procfin.bodies[ev[0].EventID]
	h.procfin.mu.Unlock()
	if !bytes.Contains(raw, []byte(`"application_id":null`)) || !bytes.Contains(raw, []byte(`"bank_reference":null`)) {
		t.Errorf("envelope %s: want application_id and bank_reference null", raw)
	}
	d := decode[map[string]any](t, ev[0].Data)
	// 800000.00 × 0.8 = 640000.00; valid a day from 2026-11-21T02:00Z.
	want := map[string]any{"intent_id": id, "amount": "640000.00", "annual_rate": "0.032", "term_days": 150.0,
		"valid_until": "2026-11-22T02:00:00Z", "conditions": "需提供中标通知书原件。Original award notice required."}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("offer.made %s = %v, want %v", k, d[k], v)
		}
	}
	offerID, _ := d["offer_id"].(string)
	if !strings.HasPrefix(offerID, "SBX-O-") || len(d) != 7 {
		t.Errorf("offer.made data %v: want the protocol's 7 fields and the bank's own offer_id", d)
	}
	if o := h.waitOffers(1); o[0].OfferID != offerID || o[0].Status != http.StatusOK {
		t.Errorf("Offers() = %+v", o)
	}
	rec := h.bank.IntentsReceived()
	if len(rec) != 1 || rec[0].IntentID != id || rec[0].MessageID != "msg-1" || rec[0].Amount.String() != "800000.00" ||
		rec[0].TermDays != 180 || !slices.Equal(rec[0].Parts, []string{"supplier", "award", "contract", "verification"}) {
		t.Errorf("IntentsReceived() = %+v", rec)
	}

	// A resend: 200, no second offer; the same key with another body: 409.
	if again := h.postPath("/v1/financing-intents", "msg-1", body, nil, ""); again.status != http.StatusOK {
		t.Errorf("resend: %d %v, want 200", again.status, again.body)
	}
	other := h.postPath("/v1/financing-intents", "msg-1", intentBody(id, "700000.00", 180, "2026-11-24T02:00:00Z"), nil, "")
	if other.status != http.StatusConflict || other.body["type"] != string(errs.IdempotencyReused) {
		t.Errorf("other body: %d %v, want 409 idempotency_key_reused", other.status, other.body)
	}
	// Another message of the same intent is taken, and answered by no second offer.
	if again := h.postPath("/v1/financing-intents", "msg-2", body, nil, ""); again.status != http.StatusAccepted {
		t.Errorf("second message: %d %v, want 202", again.status, again.body)
	}
	if rec := h.bank.IntentsReceived(); len(rec) != 2 || rec[0].Deliveries != 2 {
		t.Errorf("IntentsReceived() = %+v, want two, the first delivered twice", rec)
	}
	if o := h.bank.Offers(); len(o) != 1 {
		t.Errorf("%d offers, want 1", len(o))
	}

	// The supplier accepts: the application names the offer and asks the
	// whole need; the bank approves the offer's 640000.00 at 3.20 % for
	// 150 days.
	dec := h.postPath("/v1/financing-intents/"+id+"/decision", "dec-1", decisionBody(id, DecisionAccepted, offerID, "app-of-offer"), nil, "")
	if dec.status != http.StatusAccepted {
		t.Fatalf("decision: %d %v, want 202", dec.status, dec.body)
	}
	if ds := h.bank.Decisions(); len(ds) != 1 || !ds[0].Known || !ds[0].OwnOffer || ds[0].Decision != DecisionAccepted ||
		ds[0].ApplicationID != "app-of-offer" {
		t.Errorf("Decisions() = %+v", ds)
	}
	app := offerApplication(t, "app-of-offer", "800000.00", 180, offerID)
	if a := h.post("app-of-offer", app, nil); a.status != http.StatusAccepted {
		t.Fatalf("application: %d %v", a.status, a.body)
	}
	ev = h.procfin.waitEvents(5) // offer.made, received, approved, two disbursements
	if got, want := types(ev[1:]), []string{TypeReceived, TypeApproved, TypeDisbursed, TypeDisbursed}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	ap := decode[Approved](t, ev[2].Data)
	if ap.ApprovedAmount.String() != "640000.00" || ap.AnnualRate.String() != "0.032" || ap.TermDays != 150 {
		t.Errorf("approved %+v, want 640000.00 at 0.032 for 150 days", ap)
	}
	for _, e := range ev[3:] {
		// 640000.00 in two tranches of 320000.00, maturing 150 days after
		// 2026-11-21: 2027-04-20.
		d := decode[Disbursed](t, e.Data)
		if d.Amount.String() != "320000.00" || d.AnnualRate.String() != "0.032" || d.MaturityDate.String() != "2027-04-20" {
			t.Errorf("disbursed %+v", d)
		}
	}
}

// offerApplication is a credit application naming the bank's offer.
func offerApplication(t *testing.T, id, amount string, termDays int, offerID string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(message(id, amount, termDays), &m); err != nil {
		t.Fatal(err)
	}
	m["request"].(map[string]any)["offer_id"] = offerID
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestApplicationOfUnknownOfferRejected(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	app := offerApplication(t, "app-x", "100000.00", 90, "SBX-O-NEVER")
	if a := h.post("app-x", app, nil); a.status != http.StatusAccepted {
		t.Fatalf("application: %d %v", a.status, a.body)
	}
	ev := h.procfin.waitEvents(2)
	if got, want := types(ev), []string{TypeReceived, TypeRejected}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if r := decode[Rejected](t, ev[1].Data); r.ReasonCode != ReasonOfferUnknown {
		t.Errorf("rejected %+v, want offer_unknown", r)
	}
}

// TestOfferWithinBankLimits: the whole need is offered, up to MaxAmount,
// and never above ApproveUpTo; the zero rule offers the need at the bank's
// rate for the term asked, valid two days.
func TestOfferWithinBankLimits(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		rule       OfferRule
		asked      string
		wantAmount string
		wantRate   string
	}{
		{"ZeroRule", OfferRule{}, "800000.00", "800000.00", "0.0345"},
		// 333333.33 × 0.5 = 166666.665, cut down to 166666.66.
		{"ShareCutToFen", OfferRule{MaxShare: decimal.RequireFromString("0.5")}, "333333.33", "166666.66", "0.0345"},
		{"MaxAmount", OfferRule{MaxAmount: money.MustAmount("500000.00"), Rate: money.MustRate("0.031")}, "800000.00", "500000.00", "0.031"},
		{"ApproveUpTo", OfferRule{}, "1500000.00", "1000000.00", "0.0345"}, // the harness approves up to 1000000.00
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(cfg *Config) { cfg.Offers = c.rule })
			const id = "intent-limits"
			if a := h.postPath("/v1/financing-intents", "m", intentBody(id, c.asked, 90, "2026-11-24T02:00:00Z"), nil, ""); a.status != http.StatusAccepted {
				t.Fatalf("status %d %v", a.status, a.body)
			}
			h.waitAnswer(id)
			ev := h.procfin.waitEvents(1)
			d := decode[OfferMade](t, ev[0].Data)
			// Valid 48 h from 2026-11-21T02:00Z by default.
			if d.Amount.String() != c.wantAmount || d.AnnualRate.String() != c.wantRate || d.TermDays != 90 ||
				(c.rule.ValidFor == 0 && !d.ValidUntil.Equal(time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC))) || d.Conditions == "" {
				t.Errorf("offer %+v, want %s at %s", d, c.wantAmount, c.wantRate)
			}
		})
	}
}

func TestIntentNotOffered(t *testing.T) {
	t.Parallel()
	t.Run("Declined", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *Config) { c.Offers.Decline = true })
		if a := h.postPath("/v1/financing-intents", "m", intentBody("i-1", "800000.00", 180, "2026-11-24T02:00:00Z"), nil, ""); a.status != http.StatusAccepted {
			t.Fatalf("status %d %v", a.status, a.body)
		}
		if got := h.waitAnswer("i-1"); got != AnswerDeclined {
			t.Errorf("answer %q, want declined", got)
		}
		if ev, o := h.procfin.Events(), h.bank.Offers(); len(ev) != 0 || len(o) != 0 {
			t.Errorf("events %v, offers %+v: a declining bank sends nothing", types(ev), o)
		}
	})
	t.Run("Late", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		// respond_by 2026-11-21T01:30Z is before the bank's clock (02:00Z).
		if a := h.postPath("/v1/financing-intents", "m", intentBody("i-2", "800000.00", 180, "2026-11-21T01:30:00Z"), nil, ""); a.status != http.StatusAccepted {
			t.Fatalf("status %d %v", a.status, a.body)
		}
		if got := h.waitAnswer("i-2"); got != AnswerLate {
			t.Errorf("answer %q, want late", got)
		}
		if ev := h.procfin.Events(); len(ev) != 0 {
			t.Errorf("events %v after respond_by", types(ev))
		}
	})
	t.Run("DecidedFirst", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		if a := h.postPath("/v1/financing-intents/i-3/decision", "d", decisionBody("i-3", DecisionCancelled, "", ""), nil, ""); a.status != http.StatusAccepted {
			t.Fatalf("decision: %d %v", a.status, a.body)
		}
		if a := h.postPath("/v1/financing-intents", "m", intentBody("i-3", "800000.00", 180, "2026-11-24T02:00:00Z"), nil, ""); a.status != http.StatusAccepted {
			t.Fatalf("intent: %d %v", a.status, a.body)
		}
		if got := h.waitAnswer("i-3"); got != AnswerDecided {
			t.Errorf("answer %q, want decided", got)
		}
		if ds := h.bank.Decisions(); len(ds) != 1 || ds[0].Known || ds[0].OwnOffer {
			t.Errorf("Decisions() = %+v, want one on an intent not yet known", ds)
		}
		if ev := h.procfin.Events(); len(ev) != 0 {
			t.Errorf("events %v on a cancelled intent", types(ev))
		}
	})
	t.Run("RefusedByProcfin", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.procfin.setAnswer(func(int, gotEvent) (int, string) {
			return http.StatusConflict, `{"type":"invalid_transition","status":409,"detail":"the intent is closed"}`
		})
		if a := h.postPath("/v1/financing-intents", "m", intentBody("i-4", "800000.00", 180, "2026-11-24T02:00:00Z"), nil, ""); a.status != http.StatusAccepted {
			t.Fatalf("status %d %v", a.status, a.body)
		}
		h.waitOffers(1)
		// An offer refused as late or on a closed intent is not resent.
		h.procfin.mu.Lock()
		posts := h.procfin.posts
		h.procfin.mu.Unlock()
		if o := h.bank.Offers(); len(o) != 1 || o[0].Status != http.StatusConflict || posts != 1 {
			t.Errorf("offers %+v after %d posts, want one refused 409 after one post", o, posts)
		}
	})
}

func TestIntentRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	stranger := signature.Signer{ID: PlatformID, KeyID: "procfin-1", Key: otherKey, Algorithm: signature.AlgEdDSA}
	good := intentBody("i-bad", "800000.00", 180, "2026-11-24T02:00:00Z")
	for _, c := range []struct {
		name      string
		path      string
		key       string
		body      []byte
		signer    *signature.Signer
		signedURL string
		status    int
		typ       errs.Code
		detail    string
	}{
		{"ForeignKey", "/v1/financing-intents", "k1", good, &stranger, "", 401, errs.SignatureInvalid, ""},
		{"OtherURL", "/v1/financing-intents", "k2", good, nil, h.srv.URL + "/v1/credit-applications", 401, errs.SignatureInvalid, ""},
		{"NoKey", "/v1/financing-intents", "", good, nil, "", 400, errs.MalformedRequest, "Idempotency-Key"},
		{"NotJSON", "/v1/financing-intents", "k3", []byte(`{"intent_id":`), nil, "", 400, errs.MalformedRequest, ""},
		{"NotUTF8", "/v1/financing-intents", "k4", []byte("{\"intent_id\":\"\xff\"}"), nil, "", 400, errs.MalformedRequest, ""},
		{"UnknownField", "/v1/financing-intents", "k5", bytes.Replace(good, []byte(`"purpose"`), []byte(`"credit_line_id":null,"purpose"`), 1), nil, "", 422, errs.Invalid, "credit_line_id"},
		{"NoRequest", "/v1/financing-intents", "k6", []byte(`{"intent_id":"i","published_at":"2026-11-21T01:00:00Z","respond_by":"2026-11-24T02:00:00Z"}`), nil, "", 422, errs.Invalid, "request is required"},
		{"EveryBadField", "/v1/financing-intents", "k7", []byte(`{"intent_id":"","published_at":"2026-11-21T01:00:00Z","respond_by":"2026-11-20T02:00:00Z",
			"request":{"amount":"0.00","currency":"USD","term_days":0,"purpose":"a\u0000b"}}`), nil, "", 422, errs.Invalid,
			"intent_id is required; respond_by must be after published_at; request.amount must be an amount above zero; request.currency must be \"CNY\"; request.term_days must be 1 to 3650; request.purpose has control characters"},
		{"DecisionOtherIntent", "/v1/financing-intents/i-1/decision", "k8", decisionBody("i-2", DecisionDeclined, "", ""), nil, "", 422, errs.Invalid, "intent of the path"},
		{"DecisionAcceptedBare", "/v1/financing-intents/i-1/decision", "k9", decisionBody("i-1", DecisionAccepted, "", ""), nil, "", 422, errs.Invalid,
			"offer_id is required when the decision is accepted; application_id is required when the decision is accepted"},
		{"DecisionUnknown", "/v1/financing-intents/i-1/decision", "k10", decisionBody("i-1", "maybe", "", ""), nil, "", 422, errs.Invalid, "decision must be"},
		{"DecisionForeignKey", "/v1/financing-intents/i-1/decision", "k11", decisionBody("i-1", DecisionDeclined, "", ""), &stranger, "", 401, errs.SignatureInvalid, ""},
	} {
		a := h.postPath(c.path, c.key, c.body, c.signer, c.signedURL)
		if a.status != c.status || a.body["type"] != string(c.typ) {
			t.Errorf("%s: %d %v, want %d %s", c.name, a.status, a.body, c.status, c.typ)
		}
		if detail, _ := a.body["detail"].(string); !strings.Contains(detail, c.detail) {
			t.Errorf("%s: detail %q, want it to say %q", c.name, detail, c.detail)
		}
	}
	if r, d := h.bank.IntentsReceived(), h.bank.Decisions(); len(r) != 0 || len(d) != 0 {
		t.Errorf("taken %+v and %+v from refused messages", r, d)
	}
	if a := h.bank.IntentAnswer("i-bad"); a != "" {
		t.Errorf("answered a refused intent: %q", a)
	}
}

func TestOfferRuleChecked(t *testing.T) {
	t.Parallel()
	for _, r := range []OfferRule{
		{MaxShare: decimal.RequireFromString("1.01")},
		{MaxShare: decimal.RequireFromString("-0.5")},
		{MaxAmount: money.MustAmount("-1.00")},
		{TermDays: -1},
		{ValidFor: -time.Second},
		{Conditions: "a\x00b"},
	} {
		if _, err := New(Config{BankID: "b", ProcfinURL: "http://127.0.0.1:1", Offers: r}); err == nil {
			t.Errorf("New took the offer rule %+v", r)
		}
	}
}

// TestProcfinsMessagesParsed: the intent and decision bodies procfin
// writes (package banking), every part consented to, are what the bank
// takes.
func TestProcfinsMessagesParsed(t *testing.T) {
	t.Parallel()
	published := time.Date(2026, 11, 21, 1, 0, 0, 0, time.UTC)
	in := lending.IntentMessage{MessageID: "m-1", IntentID: "i-1", BankID: "sandbox-bank", PublishedAt: published,
		RespondBy: published.Add(72 * time.Hour), DataItems: []string{lending.ItemSupplier, lending.ItemAward, lending.ItemContract,
			lending.ItemPurchaser, lending.ItemRequest, lending.ItemVerification},
		Supplier: contracts.Supplier{USCC: "91350100M000100Y43", Name: "泉城软件", SizeClass: contracts.SizeSmall},
		Notice: contracts.AwardNotice{NoticeNo: "N-1", ProjectNo: "P-1", IssuerID: "jinan-pprc", Amount: money.MustAmount("1200000.00"),
			AwardedOn: money.MustDate("2026-10-08")},
		Contract: contracts.Contract{ContractNo: "HT-1", Amount: money.MustAmount("1180000.00"), SignedOn: money.MustDate("2026-10-20"),
			Currency: "CNY", Purchaser: contracts.Party{ID: "jn-edu", Name: "济南市教育局"},
			Period:       contracts.Period{Start: money.MustDate("2026-11-01"), End: money.MustDate("2027-04-30")},
			PaymentTerms: json.RawMessage(`[{"due_on":"2027-05-31","amount":"1180000.00","condition":"acceptance"}]`)},
		Amount: money.MustAmount("600000.00"), TermDays: 180, Purpose: "设备采购",
		Verification: contracts.Report{VerifiedAt: published, Checks: []contracts.Check{{Name: "award.signature", Result: "pass"}}},
	}
	body, err := json.Marshal(banking.NewIntentMessage(in))
	if err != nil {
		t.Fatal(err)
	}
	m, status, detail := parseIntent(body)
	if status != 0 || m.IntentID != "i-1" || m.Request.Amount.String() != "600000.00" ||
		!slices.Equal(m.parts(), []string{"supplier", "purchaser", "award", "contract", "verification"}) {
		t.Fatalf("procfin's intent %s: %d %s %+v", body, status, detail, m)
	}
	offerID, appID := "SBX-O-1", "a-1"
	for _, d := range []lending.Decision{
		{MessageID: "d-1", IntentID: "i-1", BankID: "b", Decision: lending.DecisionAccepted, BankOfferID: &offerID, ApplicationID: &appID},
		{MessageID: "d-2", IntentID: "i-1", BankID: "b", Decision: lending.DecisionDeclined},
	} {
		body, err := json.Marshal(banking.NewDecisionMessage(d))
		if err != nil {
			t.Fatal(err)
		}
		if m, status, detail := parseDecision(body, "i-1"); status != 0 || m.Decision != d.Decision {
			t.Errorf("procfin's decision %s: %d %s", body, status, detail)
		}
	}
}
