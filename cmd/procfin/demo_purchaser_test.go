package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"procfin/platform/waitfor"
)

// demoReceivable is a receivable as GET /v1/receivables lists it.
type demoReceivable struct {
	ContractID       string            `json:"contract_id"`
	ContractNo       string            `json:"contract_no"`
	Status           string            `json:"status"`
	Approved         string            `json:"approved_amount"`
	RepaymentAccount map[string]string `json:"repayment_account"`
	PaymentTerms     json.RawMessage   `json:"payment_terms"`
	ApplicationIDs   []string          `json:"application_ids"`
	ConfirmedBy      string            `json:"confirmed_by"`
}

// receivablesOf lists the receivables of a status as token sees them, by
// contract number.
func receivablesOf(t *testing.T, base, token, status string) map[string]demoReceivable {
	t.Helper()
	var list struct{ Items []demoReceivable }
	getJSON(t, base+"/v1/receivables?status="+status+"&limit=100", token, &list)
	out := map[string]demoReceivable{}
	for _, r := range list.Items {
		out[r.ContractNo] = r
	}
	return out
}

// checkDemoPurchaserSide follows the purchaser's side of a running demo
// whose stories have lived their lives: the purchaser's signing system
// confirmed the stories' receivables (their banks, 1.1 banks, disbursed
// only after that); the receivable of demoHandConfirm waits, its
// application approved and not disbursed, until the purchaser user
// confirms it by hand, and then its bank disburses; the treasury's
// payments are matched into the locked account and misdirected into the
// supplier's own, the latter raised as an alert.
func checkDemoPurchaserSide(t *testing.T, base string) {
	t.Helper()
	officer := login(t, base, "officer", "procfin-demo-officer")
	purchaser := login(t, base, demoPurchaserUser.Username, demoPurchaserUser.Password)

	confirmed := receivablesOf(t, base, officer, "confirmed")
	for _, no := range []string{"HT-JNCG-2026-0818", "HT-JNCG-2026-0819", "HT-JNCG-2026-0821", "HT-JNCG-2026-0822"} {
		if r, ok := confirmed[no]; !ok || r.ConfirmedBy == "" {
			t.Errorf("the receivable of %s is not confirmed: %+v", no, r)
		}
	}
	var hand demoReceivable
	if !waitfor.Within(30*time.Second, func() bool {
		var ok bool
		hand, ok = receivablesOf(t, base, purchaser, "pending")[demoHandConfirm]
		return ok
	}) {
		t.Fatalf("the receivable of %s does not wait for the purchaser", demoHandConfirm)
	}
	if len(hand.ApplicationIDs) != 1 {
		t.Fatalf("the receivable of %s covers %v, want one application", demoHandConfirm, hand.ApplicationIDs)
	}
	appID := hand.ApplicationIDs[0]
	status := func() string {
		var a struct{ Status string }
		getJSON(t, base+"/v1/credit-applications/"+appID, officer, &a)
		return a.Status
	}
	if s := status(); s != "approved" {
		t.Fatalf("the application waiting for the purchaser is %s, want approved (the bank waits)", s)
	}

	// The purchaser user confirms by hand: the bank disburses.
	body, _ := json.Marshal(map[string]any{"confirmed_amount": hand.Approved, "repayment_account": hand.RepaymentAccount,
		"payment_terms": hand.PaymentTerms})
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/contracts/"+hand.ContractID+"/confirmation", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+purchaser)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "demo-test-confirm")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
		t.Fatalf("the purchaser's confirmation: %d %s", res.StatusCode, answer)
	}
	if !waitfor.Within(30*time.Second, func() bool { return slices.Contains([]string{"disbursed", "repaid", "closed"}, status()) }) {
		t.Errorf("after the purchaser's confirmation the application is %s, want disbursed", status())
	}

	// The treasury's payments.
	for _, p := range demoPayments {
		r, ok := confirmed[p.contractNo]
		if !ok {
			continue // reported above
		}
		want := map[bool]string{false: "matched", true: "misdirected"}[p.misdirected]
		var got string
		waitfor.Within(30*time.Second, func() bool {
			var list struct {
				Items []struct {
					PaymentID string `json:"payment_id"`
					Status    string `json:"status"`
				}
			}
			getJSON(t, base+"/v1/contracts/"+r.ContractID+"/payments", officer, &list)
			for _, it := range list.Items {
				if it.PaymentID == p.paymentID {
					got = it.Status
				}
			}
			return got == want
		})
		if got != want {
			t.Errorf("payment %s of %s: %q, want %s", p.paymentID, p.contractNo, got, want)
		}
		if !p.misdirected {
			continue
		}
		var alerts struct {
			Items []struct {
				Kind       string `json:"kind"`
				ContractNo string `json:"contract_no"`
			}
		}
		getJSON(t, base+"/v1/alerts", officer, &alerts)
		raised := false
		for _, a := range alerts.Items {
			raised = raised || a.Kind == "misdirected_payment" && a.ContractNo == p.contractNo
		}
		if !raised {
			t.Errorf("no misdirected_payment alert for %s: %+v", p.contractNo, alerts.Items)
		}
	}
}
