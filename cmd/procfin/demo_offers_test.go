package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"procfin/platform/waitfor"
)

// checkDemoOffers follows the demo's financing need: it reached the three
// banks; qilu-sandbox offers the whole 600,000.00 at 3.45 % and
// jinan-rural-sandbox 80 % of it, 480,000.00, at 3.20 % (best first);
// laishang-sandbox declines and offers nothing. Accepting jinan-rural's
// offer makes the credit application to it, with the offer's amount and
// term, which the bank approves within the offer; every bank asked hears
// the decision.
func checkDemoOffers(t *testing.T, base string, logs *syncBuffer) {
	t.Helper()
	tok := login(t, base, demoNeed.user, "procfin-demo-supplier")
	type offer struct {
		ID          string `json:"id"`
		BankID      string `json:"bank_id"`
		BankOfferID string `json:"bank_offer_id"`
		Amount      string `json:"amount"`
		AnnualRate  string `json:"annual_rate"`
		TermDays    int    `json:"term_days"`
		Status      string `json:"status"`
	}
	type intent struct {
		ID         string `json:"id"`
		ContractNo string `json:"contract_no"`
		Status     string `json:"status"`
		Banks      []struct {
			BankID   string  `json:"bank_id"`
			Delivery string  `json:"delivery"`
			Decision *string `json:"decision"`
		} `json:"banks"`
		Offers []offer `json:"offers"`
	}
	var need intent
	declined := func() bool {
		return loggedIntent(logs.String(), "financing intent: the bank makes no offer (its rule declines)", need.ID)
	}
	if !waitfor.Within(60*time.Second, func() bool {
		var list struct{ Items []intent }
		getJSON(t, base+"/v1/financing-intents", tok, &list)
		for _, i := range list.Items {
			if i.ContractNo == "HT-"+demoNeed.contract {
				need = i
			}
		}
		return need.ID != "" && len(need.Offers) == 2 && declined()
	}) {
		t.Fatalf("the demo's need did not get its two offers and one bank's silence: %+v (declined logged: %v)", need, declined())
	}
	if need.Status != "open" || len(need.Banks) != 3 {
		t.Errorf("the need: %+v, want open, asked of three banks", need)
	}
	for _, b := range need.Banks {
		if b.Delivery != "delivered" {
			t.Errorf("the need's message to %s: %s, want delivered", b.BankID, b.Delivery)
		}
	}
	// 600000.00 × 0.8 = 480000.00; best first: 3.20 % before 3.45 %.
	want := []offer{
		{BankID: "jinan-rural-sandbox", Amount: "480000.00", AnnualRate: "0.032", TermDays: 180, Status: "made"},
		{BankID: "qilu-sandbox", Amount: "600000.00", AnnualRate: "0.0345", TermDays: 180, Status: "made"},
	}
	for i, o := range need.Offers {
		got := o
		got.ID, got.BankOfferID = "", ""
		if got != want[i] || !strings.HasPrefix(o.BankOfferID, "SBX-O-") {
			t.Errorf("offer %d: %+v, want %+v with the bank's own offer id", i, o, want[i])
		}
	}

	// Accept jinan-rural-sandbox's offer: its application, approved within
	// the offer.
	body, _ := json.Marshal(map[string]string{"offer_id": need.Offers[0].ID})
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/financing-intents/"+need.ID+"/accept", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Idempotency-Key", "demo-test-accept")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("accept: %d %s", res.StatusCode, rb)
	}
	var app struct {
		ID             string  `json:"id"`
		BankID         string  `json:"bank_id"`
		OfferID        *string `json:"offer_id"`
		Amount         string  `json:"amount"`
		TermDays       int     `json:"term_days"`
		Status         string  `json:"status"`
		ApprovedAmount *string `json:"approved_amount"`
		AnnualRate     *string `json:"annual_rate"`
	}
	if err := json.Unmarshal(rb, &app); err != nil {
		t.Fatal(err)
	}
	if app.BankID != "jinan-rural-sandbox" || app.OfferID == nil || *app.OfferID != need.Offers[0].ID || app.Amount != "480000.00" || app.TermDays != 180 {
		t.Errorf("the accepted offer's application: %s", rb)
	}
	if !waitfor.Within(30*time.Second, func() bool {
		getJSON(t, base+"/v1/credit-applications/"+app.ID, tok, &app)
		return app.ApprovedAmount != nil
	}) {
		t.Fatalf("the accepted offer's application stayed %s", app.Status)
	}
	if *app.ApprovedAmount != "480000.00" || app.AnnualRate == nil || *app.AnnualRate != "0.032" {
		t.Errorf("approved %v at %v, want 480000.00 at 0.032, within the offer", *app.ApprovedAmount, app.AnnualRate)
	}
	// Every bank asked hears the decision: accepted to jinan-rural,
	// declined to the others.
	if !waitfor.Within(30*time.Second, func() bool {
		return decisionLogged(logs.String(), need.ID, "jinan-rural-sandbox", "accepted") &&
			decisionLogged(logs.String(), need.ID, "qilu-sandbox", "declined") &&
			decisionLogged(logs.String(), need.ID, "laishang-sandbox", "declined")
	}) {
		t.Errorf("the banks asked did not all hear the decision on %s", need.ID)
	}
}

// loggedIntent reports whether a log line has the message and the intent.
func loggedIntent(logs, msg, intentID string) bool {
	return scanLog(logs, func(l logLine) bool { return l.Msg == msg && l.IntentID == intentID })
}

// decisionLogged reports whether the bank logged taking the decision on
// the intent.
func decisionLogged(logs, intentID, bank, decision string) bool {
	return scanLog(logs, func(l logLine) bool {
		return l.Msg == "decision on a financing intent taken" && l.IntentID == intentID && l.Bank == bank && l.Decision == decision
	})
}

type logLine struct {
	Msg      string `json:"msg"`
	Bank     string `json:"bank"`
	IntentID string `json:"intent_id"`
	Decision string `json:"decision"`
}

func scanLog(logs string, match func(logLine) bool) bool {
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && match(l) {
			return true
		}
	}
	return false
}
