package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"procfin/platform/errs"
	"procfin/platform/signature"
)

// want is an event as the test expects it: its type and its data, whole.
type want struct {
	typ  string
	data string // JSON; "" leaves the data unchecked (decision events)
}

// TestLives: each life sends its events in order, each event's data
// exactly the protocol's fields with figures computed by hand. The
// decision is on 2026-11-21 (10:00 in Shanghai), LoanDays 90, so the
// first value date is 2026-08-23; 500,000.00 at 0.0345 in two tranches
// of 250,000.00.
func TestLives(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		life   Life
		events []want
	}{
		{LifeTranches, []want{
			{TypeReceived, `{}`}, {TypeApproved, ""},
			{TypeDisbursed, `{"loan_id":"LOAN","disbursement_id":"LOAN-D1","amount":"250000.00","value_date":"2026-08-23","maturity_date":"2027-02-19","annual_rate":"0.0345"}`},
			// 90 days / (2 tranches + 1) = 30 days apart.
			{TypeDisbursed, `{"loan_id":"LOAN","disbursement_id":"LOAN-D2","amount":"250000.00","value_date":"2026-09-22","maturity_date":"2027-02-19","annual_rate":"0.0345"}`},
			// 250,000.00 × 0.0345 = 8,625; × 90 / 360 = 2,156.25.
			{TypeRepaid, `{"loan_id":"LOAN","repayment_id":"LOAN-R1","disbursement_id":"LOAN-D1","principal":"250000.00","interest":"2156.25","paid_on":"2026-11-21","interest_period":{"start":"2026-08-23","end":"2026-11-21"}}`},
			// 8,625 × 60 / 360 = 1,437.50 (2026-09-22 to 2026-11-21).
			{TypeRepaid, `{"loan_id":"LOAN","repayment_id":"LOAN-R2","disbursement_id":"LOAN-D2","principal":"250000.00","interest":"1437.50","paid_on":"2026-11-21","interest_period":{"start":"2026-09-22","end":"2026-11-21"}}`},
			{TypeClosed, `{"loan_id":"LOAN","closed_on":"2026-11-21","reason":"repaid"}`},
		}},
		{LifeWhole, []want{
			{TypeReceived, `{}`}, {TypeApproved, ""},
			{TypeDisbursed, `{"loan_id":"LOAN","disbursement_id":"LOAN-D1","amount":"250000.00","value_date":"2026-08-23","maturity_date":"2027-02-19","annual_rate":"0.0345"}`},
			{TypeDisbursed, `{"loan_id":"LOAN","disbursement_id":"LOAN-D2","amount":"250000.00","value_date":"2026-08-23","maturity_date":"2027-02-19","annual_rate":"0.0345"}`},
			// No tranche named: 500,000.00 × 0.0345 = 17,250; × 90 / 360 = 4,312.50.
			{TypeRepaid, `{"loan_id":"LOAN","repayment_id":"LOAN-R1","principal":"500000.00","interest":"4312.50","paid_on":"2026-11-21","interest_period":{"start":"2026-08-23","end":"2026-11-21"}}`},
			{TypeClosed, `{"loan_id":"LOAN","closed_on":"2026-11-21","reason":"repaid"}`},
		}},
		{LifePartial, []want{
			{TypeReceived, `{}`}, {TypeApproved, ""},
			{TypeDisbursed, `{"loan_id":"LOAN","disbursement_id":"LOAN-D1","amount":"250000.00","value_date":"2026-08-23","maturity_date":"2027-02-19","annual_rate":"0.0345"}`},
			// A third of 90 days after the value date.
			{TypeDrawdownEnded, `{"loan_id":"LOAN","ended_on":"2026-09-22"}`},
			// 8,625 × 90 / 360 = 2,156.25.
			{TypeRepaid, `{"loan_id":"LOAN","repayment_id":"LOAN-R1","disbursement_id":"LOAN-D1","principal":"250000.00","interest":"2156.25","paid_on":"2026-11-21","interest_period":{"start":"2026-08-23","end":"2026-11-21"}}`},
			{TypeClosed, `{"loan_id":"LOAN","closed_on":"2026-11-21","reason":"repaid"}`},
		}},
		{LifeOverdue, []want{
			{TypeReceived, `{}`}, {TypeApproved, ""},
			{TypeDisbursed, `{"loan_id":"LOAN","disbursement_id":"LOAN-D1","amount":"250000.00","value_date":"2026-08-23","maturity_date":"2027-02-19","annual_rate":"0.0345"}`},
			{TypeDisbursed, `{"loan_id":"LOAN","disbursement_id":"LOAN-D2","amount":"250000.00","value_date":"2026-08-23","maturity_date":"2027-02-19","annual_rate":"0.0345"}`},
			// Since 30 days back.
			{TypeOverdue, `{"loan_id":"LOAN","overdue_principal":"250000.00","since":"2026-10-22"}`},
			// Paid 20 days back, while overdue: 70 days from 2026-08-23;
			// 8,625 × 70 / 360 = 1,677.0833… → 1,677.08.
			{TypeRepaid, `{"loan_id":"LOAN","repayment_id":"LOAN-R1","disbursement_id":"LOAN-D1","principal":"250000.00","interest":"1677.08","paid_on":"2026-11-01","interest_period":{"start":"2026-08-23","end":"2026-11-01"}}`},
			// Cured 15 days back, after the payment.
			{TypeOverdueCured, `{"loan_id":"LOAN","cured_on":"2026-11-06"}`},
			// 8,625 × 90 / 360 = 2,156.25.
			{TypeRepaid, `{"loan_id":"LOAN","repayment_id":"LOAN-R2","disbursement_id":"LOAN-D2","principal":"250000.00","interest":"2156.25","paid_on":"2026-11-21","interest_period":{"start":"2026-08-23","end":"2026-11-21"}}`},
			{TypeClosed, `{"loan_id":"LOAN","closed_on":"2026-11-21","reason":"repaid"}`},
		}},
		{LifeRepaid, []want{
			{TypeReceived, `{}`}, {TypeApproved, ""},
			{TypeDisbursed, `{"loan_id":"LOAN","disbursement_id":"LOAN-D1","amount":"250000.00","value_date":"2026-08-23","maturity_date":"2027-02-19","annual_rate":"0.0345"}`},
			{TypeDisbursed, `{"loan_id":"LOAN","disbursement_id":"LOAN-D2","amount":"250000.00","value_date":"2026-08-23","maturity_date":"2027-02-19","annual_rate":"0.0345"}`},
			{TypeRepaid, `{"loan_id":"LOAN","repayment_id":"LOAN-R1","disbursement_id":"LOAN-D1","principal":"250000.00","interest":"2156.25","paid_on":"2026-11-21","interest_period":{"start":"2026-08-23","end":"2026-11-21"}}`},
			{TypeRepaid, `{"loan_id":"LOAN","repayment_id":"LOAN-R2","disbursement_id":"LOAN-D2","principal":"250000.00","interest":"2156.25","paid_on":"2026-11-21","interest_period":{"start":"2026-08-23","end":"2026-11-21"}}`},
		}},
	} {
		t.Run(string(tc.life), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(c *Config) {
				c.RepayAfter, c.LoanDays = 2*time.Millisecond, 90
				c.Life = func(Application) Life { return tc.life }
			})
			id := "app-life-" + string(tc.life)
			if a := h.post(id, message(id, "500000.00", 180), nil); a.status != http.StatusAccepted {
				t.Fatalf("status %d %v", a.status, a.body)
			}
			ev := h.procfin.waitEvents(len(tc.events))
			if got, want := types(ev), typesOf(tc.events); !slices.Equal(got, want) {
				t.Fatalf("events %v, want %v", got, want)
			}
			loan := decode[Disbursed](t, ev[2].Data).LoanID
			for i, w := range tc.events {
				e := ev[i]
				if e.ApplicationID != id || e.answer != "processed" || !strings.HasPrefix(e.BankReference, "SBX-") {
					t.Errorf("event %d %s: application %q reference %q answer %s", i, e.Type, e.ApplicationID, e.BankReference, e.answer)
				}
				if w.data == "" {
					continue
				}
				if !sameJSON(t, e.Data, strings.ReplaceAll(w.data, "LOAN", loan)) {
					t.Errorf("event %d %s: data %s, want %s", i, e.Type, e.Data, w.data)
				}
			}
			if rec := h.bank.Received(); len(rec) != 1 || rec[0].Life != tc.life {
				t.Errorf("Received() = %+v, want one with life %s", rec, tc.life)
			}
			h.waitFor("over", func() bool { return h.bank.LifeOver(id) }) // then nothing more of it is sent
			if n := len(h.procfin.Events()); n != len(tc.events) {
				t.Errorf("%d events, want %d", n, len(tc.events))
			}
		})
	}
}

func typesOf(ws []want) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.typ)
	}
	return out
}

// sameJSON reports whether got and want are the same JSON value (keys in
// any order, none more, none less).
func sameJSON(t *testing.T, got json.RawMessage, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: %v", want, err)
	}
	return jsonEqual(g, w)
}

// TestLifeChoice: Config.Life chooses by the application, whatever the
// order the applications come in; no rule, or a life that is not one,
// is LifeRepaid.
func TestLifeChoice(t *testing.T) {
	t.Parallel()
	byAmount := func(a Application) Life {
		return map[string]Life{"100.00": LifeOverdue, "200.00": LifeHeld, "300.00": "no such life"}[a.Amount.String()]
	}
	for _, order := range [][]string{{"100.00", "200.00", "300.00", "400.00"}, {"400.00", "300.00", "200.00", "100.00"}} {
		h := newHarness(t, func(c *Config) { c.Life = byAmount; c.DecisionDelay = time.Hour })
		for _, amount := range order {
			id := "app-choice-" + amount
			if a := h.post(id, message(id, amount, 90), nil); a.status != http.StatusAccepted {
				t.Fatalf("status %d %v", a.status, a.body)
			}
		}
		got := map[string]Life{}
		for _, r := range h.bank.Received() {
			got[r.ApplicationID] = r.Life
		}
		want := map[string]Life{"app-choice-100.00": LifeOverdue, "app-choice-200.00": LifeHeld,
			"app-choice-300.00": LifeRepaid, "app-choice-400.00": LifeRepaid}
		if !jsonEqual(got, want) {
			t.Errorf("order %v: lives %v, want %v", order, got, want)
		}
	}
	h := newHarness(t, func(c *Config) { c.DecisionDelay = time.Hour })
	if a := h.post("app-no-rule", message("app-no-rule", "100.00", 90), nil); a.status != http.StatusAccepted {
		t.Fatalf("status %d %v", a.status, a.body)
	}
	if rec := h.bank.Received(); rec[0].Life != LifeRepaid {
		t.Errorf("no rule: life %s, want %s", rec[0].Life, LifeRepaid)
	}
}

// withdraw posts a withdrawal signed by procfin's key to the bank.
func (h *harness) withdraw(pathID, key string, body []byte) answer {
	h.t.Helper()
	return h.postPath("/v1/credit-applications/"+pathID+"/withdrawal", key, body, nil, "")
}

func withdrawalBody(id, reason string) []byte {
	return []byte(`{"application_id":"` + id + `","withdrawn_at":"2026-11-21T02:00:00Z","reason":"` + reason + `"}`)
}

// TestWithdrawal: a held application withdrawn by procfin's signed
// message is taken (202, then 200 for the same message), recorded, and
// never decided; a withdrawal that is not procfin's, or not a
// withdrawal, changes nothing.
func TestWithdrawal(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.Life = func(Application) Life { return LifeHeld } })
	const id = "0b5e6f7a-0000-4000-8000-0000000000a1"
	if a := h.post(id, message(id, "100000.00", 90), nil); a.status != http.StatusAccepted {
		t.Fatalf("status %d %v", a.status, a.body)
	}
	if ev := h.procfin.waitEvents(1); ev[0].Type != TypeReceived {
		t.Fatalf("events %v, want received", types(ev))
	}
	body := withdrawalBody(id, WithdrawnByCancel)

	// Refused: signed by another key, no key, not JSON, not a withdrawal
	// of the path's application, an unknown reason.
	other := h.procfin.signer
	other.ID = "mallory"
	u := h.srv.URL + "/v1/credit-applications/" + id + "/withdrawal"
	sig, _ := other.Sign(http.MethodPost, u, "sandbox-bank", body, h.clk.Now())
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	req.Header.Set(signature.HeaderName, sig)
	req.Header.Set("Idempotency-Key", "w-1")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("signed by another: %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}
	for name, c := range map[string]struct {
		path, key string
		body      []byte
		status    int
	}{
		"no key":          {id, "", body, http.StatusBadRequest},
		"not JSON":        {id, "w-2", []byte(`{"application_id":`), http.StatusBadRequest},
		"other path":      {"app-other", "w-3", body, http.StatusUnprocessableEntity},
		"unknown reason":  {id, "w-4", withdrawalBody(id, "changed_mind"), http.StatusUnprocessableEntity},
		"no withdrawn_at": {id, "w-5", []byte(`{"application_id":"` + id + `","reason":"consent_revoked"}`), http.StatusUnprocessableEntity},
	} {
		if a := h.withdraw(c.path, c.key, c.body); a.status != c.status {
			t.Errorf("%s: %d %v, want %d", name, a.status, a.body, c.status)
		}
	}
	if w := h.bank.Withdrawals(); len(w) != 0 {
		t.Fatalf("refused withdrawals were recorded: %+v", w)
	}

	if a := h.withdraw(id, "w-ok", body); a.status != http.StatusAccepted || a.body["application_id"] != id {
		t.Fatalf("withdrawal: %d %v, want 202", a.status, a.body)
	}
	if a := h.withdraw(id, "w-ok", body); a.status != http.StatusOK {
		t.Errorf("resent withdrawal: %d %v, want 200", a.status, a.body)
	}
	if a := h.withdraw(id, "w-ok", withdrawalBody(id, WithdrawnByConsent)); a.status != http.StatusConflict || a.body["type"] != string(errs.IdempotencyReused) {
		t.Errorf("same key, other body: %d %v, want 409", a.status, a.body)
	}
	w := h.bank.Withdrawals()
	if len(w) != 1 || w[0].ApplicationID != id || w[0].MessageID != "w-ok" || w[0].Reason != WithdrawnByCancel ||
		w[0].Deliveries != 2 || w[0].Decided || !w[0].WithdrawnAt.Equal(time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("Withdrawals() = %+v", w)
	}
	h.waitFor("over", func() bool { return h.bank.LifeOver(id) }) // then nothing more of it is sent
	if got := types(h.procfin.Events()); !slices.Equal(got, []string{TypeReceived}) {
		t.Errorf("events %v, want only received", got)
	}
}

// TestWithdrawnBeforeDecision: an application withdrawn before the bank
// decided it (here before it even arrived) is never decided.
func TestWithdrawnBeforeDecision(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	const id = "app-withdrawn-first"
	if a := h.withdraw(id, "w-first", withdrawalBody(id, WithdrawnByConsent)); a.status != http.StatusAccepted {
		t.Fatalf("withdrawal: %d %v", a.status, a.body)
	}
	if a := h.post(id, message(id, "100000.00", 90), nil); a.status != http.StatusAccepted {
		t.Fatalf("status %d %v", a.status, a.body)
	}
	h.waitFor("over", func() bool { return h.bank.LifeOver(id) }) // then nothing more of it is sent
	if ev := h.procfin.Events(); len(ev) != 0 {
		t.Errorf("events %v, want none", types(ev))
	}
}

// TestWithdrawalStopsResending: procfin refuses the approval of a
// cancelled application (409 invalid_transition); once withdrawn, the bank
// stops resending it.
func TestWithdrawalStopsResending(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	const id = "app-cancelled"
	var approvals atomic.Int32
	h.procfin.setAnswer(func(_ int, e gotEvent) (int, string) {
		if e.Type != TypeApproved {
			return 0, ""
		}
		if approvals.Add(1) == 1 {
			// The supplier cancelled; procfin's withdrawal reaches the
			// bank while it waits to resend.
			if a := h.withdraw(id, "w-late", withdrawalBody(id, WithdrawnByCancel)); a.status != http.StatusAccepted {
				t.Errorf("withdrawal: %d %v", a.status, a.body)
			}
		}
		return http.StatusConflict, `{"type":"invalid_transition","status":409}`
	})
	if a := h.post(id, message(id, "100000.00", 90), nil); a.status != http.StatusAccepted {
		t.Fatalf("status %d %v", a.status, a.body)
	}
	// Once the bank is done with the application, it sends nothing more
	// of it: every post it made is counted.
	h.waitFor("over", func() bool { return h.bank.LifeOver(id) })
	h.procfin.mu.Lock()
	posts := h.procfin.posts
	h.procfin.mu.Unlock()
	if n := approvals.Load(); n != 1 || posts != 2 {
		t.Errorf("approval posted %d times (%d posts), want once: the bank resent after the withdrawal", n, posts)
	}
	if w := h.bank.Withdrawals(); len(w) != 1 || !w[0].Decided {
		t.Errorf("Withdrawals() = %+v, want one after the decision", w)
	}
}

// TestChangeAndRevokeLine: credit_line.changed carries the line whole
// with its new limit, credit_line.revoked its id and reason; both with a
// null application_id and bank_reference. The new limit is what the bank
// measures applications against.
func TestChangeAndRevokeLine(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	const uscc = "91350100M000100Y43"
	lineID, err := h.bank.GrantLine(ctx, uscc, "2000000.00", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.bank.ChangeLine(ctx, lineID, "1500000.00", false); err != nil {
		t.Fatal(err)
	}
	if err := h.bank.RevokeLine(ctx, lineID, "the supplier's rating fell"); err != nil {
		t.Fatal(err)
	}
	ev := h.procfin.waitEvents(3)
	if got, want := types(ev), []string{TypeLineGranted, TypeLineChanged, TypeLineRevoked}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if !sameJSON(t, ev[1].Data, `{"credit_line_id":"`+lineID+`","supplier_uscc":"`+uscc+`","limit":"1500000.00",
		"valid_from":"2026-11-21","valid_until":"2027-11-21","revolving":false,"annual_rate_ceiling":"0.0345"}`) {
		t.Errorf("changed %s", ev[1].Data)
	}
	if !sameJSON(t, ev[2].Data, `{"credit_line_id":"`+lineID+`","reason":"the supplier's rating fell"}`) {
		t.Errorf("revoked %s", ev[2].Data)
	}
	h.procfin.mu.Lock()
	for _, e := range ev {
		var env map[string]json.RawMessage
		_ = json.Unmarshal(h.procfin.bodies[e.EventID], &env)
		if string(env["application_id"]) != "null" || string(env["bank_reference"]) != "null" {
			t.Errorf("%s: application_id %s, bank_reference %s, want null", e.Type, env["application_id"], env["bank_reference"])
		}
	}
	h.procfin.mu.Unlock()
	if err := h.bank.ChangeLine(ctx, lineID, "1.00", true); err == nil {
		t.Error("a revoked line was changed")
	}
	if err := h.bank.RevokeLine(ctx, "SBX-CL-NONE", "x"); err == nil {
		t.Error("an unknown line was revoked")
	}
}

// TestChangedLimitIsMeasured: an application naming a changed line is
// measured against its new limit.
func TestChangedLimitIsMeasured(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	lineID, err := h.bank.GrantLine(ctx, "91350100M000100Y43", "900000.00", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.bank.ChangeLine(ctx, lineID, "300000.00", true); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	_ = json.Unmarshal(message("app-changed", "400000.00", 90), &v)
	v["request"].(map[string]any)["credit_line_id"] = lineID
	b, _ := json.Marshal(v)
	if a := h.post("app-changed", b, nil); a.status != http.StatusAccepted {
		t.Fatalf("status %d", a.status)
	}
	ev := h.procfin.waitEvents(4)
	if ev[3].Type != TypeRejected || decode[Rejected](t, ev[3].Data).ReasonCode != ReasonOverLimit {
		t.Fatalf("events %v, want the 400,000.00 refused over the changed 300,000.00", types(ev))
	}
}
