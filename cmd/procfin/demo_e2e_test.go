package main

import (
	"bufio"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"procfin/banking/sandbox"
	"procfin/platform/postgres/pgtest"
	"procfin/platform/waitfor"
)

// TestDemoLoanLives runs the demo and follows its own applications to the
// end of their lives as bank-protocol.md 1.1 has them: every event the
// sandbox banks send is taken (200), the loans close, the drawdown end and
// the overdue's cure are recorded, the held application is cancelled and
// its withdrawal reaches the bank, the claim of the repayment paid while
// overdue is rejected loan_overdue, and the lines are changed and revoked;
// and the purchaser's side (checkDemoPurchaserSide), and the competing
// offers on the demo's financing need (checkDemoOffers).
// It changes demoStep (a step a second), so it does not run in parallel.
func TestDemoLoanLives(t *testing.T) {
	saved := demoStep
	demoStep = time.Second
	t.Cleanup(func() { demoStep = saved })
	base, logs, stop := startDemo(t, testEnv(t, pgtest.URL(t)))

	type app struct {
		ID, Status string
		Amount     string `json:"amount"`
	}
	type loan struct {
		ApplicationID    string  `json:"application_id"`
		Disbursed        string  `json:"disbursed"`
		RepaidPrincipal  string  `json:"repaid_principal"`
		OverduePrincipal string  `json:"overdue_principal"`
		OverdueSince     *string `json:"overdue_since"`
		DrawdownEndedOn  *string `json:"drawdown_ended_on"`
		ClosedOn         *string `json:"closed_on"`
	}
	tokens := map[string]string{
		"quancheng": login(t, base, "quancheng", "procfin-demo-supplier"),
		"lixia":     login(t, base, "lixia", "procfin-demo-supplier"),
	}
	// The stories' applications, by life, once each has come to its end.
	apps := map[sandbox.Life]app{}
	final := map[sandbox.Life]string{sandbox.LifeTranches: "closed", sandbox.LifePartial: "closed",
		sandbox.LifeWhole: "closed", sandbox.LifeOverdue: "closed", sandbox.LifeHeld: "cancelled"}
	ended := waitfor.Within(90*time.Second, func() bool {
		for _, s := range demoStories {
			var list struct{ Items []app }
			getJSON(t, base+"/v1/credit-applications", tokens[s.user], &list)
			for _, a := range list.Items {
				if a.Amount == s.request {
					apps[s.life] = a
				}
			}
		}
		for life, status := range final {
			if apps[life].Status != status {
				return false
			}
		}
		return true
	})
	if !ended {
		t.Fatalf("the stories did not end: %+v (want %v)\n%s", apps, final, refusals(logs.String()))
	}
	if r := refusals(logs.String()); r != "" {
		t.Errorf("procfin refused events the sandbox banks sent:\n%s", r)
	}

	loans := map[string]loan{}
	for _, tok := range tokens {
		var list struct{ Items []loan }
		getJSON(t, base+"/v1/loans", tok, &list)
		for _, l := range list.Items {
			loans[l.ApplicationID] = l
		}
	}
	if l := loans[apps[sandbox.LifePartial].ID]; l.Disbursed != "150000.00" || l.DrawdownEndedOn == nil || l.ClosedOn == nil {
		t.Errorf("the partly drawn loan: %+v, want 150,000.00 of 300,000.00 disbursed, its drawdown ended and closed", l)
	}
	if l := loans[apps[sandbox.LifeOverdue].ID]; l.OverduePrincipal != "0.00" || l.OverdueSince != nil || l.ClosedOn == nil ||
		l.RepaidPrincipal != "250000.00" {
		t.Errorf("the overdue loan: %+v, want cured, repaid and closed", l)
	}
	for _, life := range []sandbox.Life{sandbox.LifeTranches, sandbox.LifeWhole} {
		if l := loans[apps[life].ID]; l.ClosedOn == nil || l.RepaidPrincipal != l.Disbursed {
			t.Errorf("the %s loan: %+v, want repaid and closed", life, l)
		}
	}

	// The held application's withdrawal reached its bank.
	if !waitfor.Within(30*time.Second, func() bool {
		return logged(logs.String(), "application withdrawn", apps[sandbox.LifeHeld].ID)
	}) {
		t.Errorf("no withdrawal of the cancelled application %s reached the sandbox bank", apps[sandbox.LifeHeld].ID)
	}

	// The claim of the repayment paid while overdue is rejected.
	officer := login(t, base, "officer", "procfin-demo-officer")
	var claims struct {
		Items []map[string]any
	}
	getJSON(t, base+"/v1/subsidy-claims", officer, &claims)
	var overdueClaims []map[string]any
	for _, c := range claims.Items {
		if c["application_id"] == apps[sandbox.LifeOverdue].ID {
			overdueClaims = append(overdueClaims, c)
		}
	}
	rejected := 0
	for _, c := range overdueClaims {
		b, _ := json.Marshal(c)
		if c["status"] == "rejected" && strings.Contains(string(b), "loan_overdue") {
			rejected++
		}
	}
	if len(overdueClaims) != 2 || rejected != 1 {
		t.Errorf("claims of the overdue loan: %v, want two, one rejected loan_overdue", overdueClaims)
	}

	// The lines: lixia's changed, quancheng's revoked (jinan-rural-sandbox's).
	var lines struct {
		Items []struct {
			BankID    string `json:"bank_id"`
			Limit     string `json:"limit"`
			Revolving bool   `json:"revolving"`
			Status    string `json:"status"`
		}
	}
	getJSON(t, base+"/v1/credit-lines", tokens["lixia"], &lines)
	for _, l := range lines.Items {
		if l.BankID == "jinan-rural-sandbox" && (l.Limit != demoChangedLimit || l.Revolving) {
			t.Errorf("lixia's changed line: %+v, want %s, not revolving", l, demoChangedLimit)
		}
	}
	getJSON(t, base+"/v1/credit-lines", tokens["quancheng"], &lines)
	for _, l := range lines.Items {
		if l.BankID == "jinan-rural-sandbox" && l.Status != "revoked" {
			t.Errorf("quancheng's revoked line: %+v, want revoked", l)
		}
	}
	checkDemoPurchaserSide(t, base)
	checkDemoOffers(t, base, logs)
	stop()
}

// startDemo runs the demo until stop is called, once it listens and has
// printed its log-ins, and returns its address and its logs.
func startDemo(t *testing.T, getenv func(string) string) (base string, logs *syncBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"procfin", "demo"}, getenv, logs) }()
	base = waitListening(t, logs, done)
	if !waitfor.Within(30*time.Second, func() bool { return strings.Contains(logs.String(), "procfin-demo-admin") }) {
		cancel()
		t.Fatalf("demo did not print its log-ins:\n%s", logs.String())
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("demo returned %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return base, logs, stop
}

// refusals are the log lines of events procfin refused, or did not take
// after every retry.
func refusals(logs string) string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"msg":"event refused"`) || strings.Contains(sc.Text(), `"msg":"event not delivered; the rest of its batch is dropped"`) {
			out = append(out, sc.Text())
		}
	}
	return strings.Join(out, "\n")
}

// logged reports whether a log line has the message and the application.
func logged(logs, msg, applicationID string) bool {
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Msg           string `json:"msg"`
			ApplicationID string `json:"application_id"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == msg && line.ApplicationID == applicationID {
			return true
		}
	}
	return false
}
