package handlers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"procfin/platform/money"
)

// lifeWorld is a supplier with the verified contract of 1,180,000.00
// (financing limit 0.85 × 1,180,000.00 = 1,003,000.00), a credit line of
// 600,000.00 at qilu-bank, granted by the bank's signed event, revolving
// or not, and lending's today 2026-12-15: the loan's life is told by the
// bank's signed events.
type lifeWorld struct {
	*env
	qilu               *bankSystem
	supplier, officer  string
	contractID, lineID string
	n                  int
}

func newLifeWorld(t *testing.T, revolving bool) *lifeWorld {
	t.Helper()
	e := newEnv(t)
	e.repaidOn("2026-12-15")
	lw := &lifeWorld{env: e, qilu: e.bank("qilu-bank")}
	is := e.issuer("jinan-pprc")
	is.post("/v1/award-notices", noticeBody)
	lw.contractID = is.post("/v1/contracts", contractBody).json(t)["contract"].(map[string]any)["id"].(string)
	_, admin := e.user("root", "admin", "")
	if r := e.do("POST", "/v1/admin/suppliers", admin, `{"uscc": "91350100M000100Y43", "name": "Quancheng Software Co.", "industry": "software_it", "employees": 42, "annual_revenue": "8000000.00", "total_assets": "5000000.00"}`); r.status != 200 && r.status != 201 {
		t.Fatalf("register supplier: %d %s", r.status, r.body)
	}
	_, lw.supplier = e.user("quancheng", "supplier", usccA)
	_, lw.officer = e.user("olga", "officer", "")
	lw.ok("", "credit_line.granted", fmt.Sprintf(`{"credit_line_id": "QL-LINE-1", "supplier_uscc": %q, "limit": "600000.00",
		"valid_from": "2026-01-01", "valid_until": "2027-12-31", "revolving": %v}`, usccA, revolving))
	if err := e.db.Get(&lw.lineID, `SELECT id FROM credit_lines WHERE bank_line_id = 'QL-LINE-1'`); err != nil {
		t.Fatal(err)
	}
	return lw
}

// event sends the bank's signed event of typ about appID.
func (lw *lifeWorld) event(appID, typ, data string) resp {
	lw.t.Helper()
	lw.n++
	return lw.qilu.send(fmt.Sprintf("life-%d", lw.n), typ, appID, data)
}

// ok sends an event that must be processed.
func (lw *lifeWorld) ok(appID, typ, data string) {
	lw.t.Helper()
	if r := lw.event(appID, typ, data); r.status != 200 || r.json(lw.t)["status"] != "processed" {
		lw.t.Fatalf("%s: %d %s", typ, r.status, r.body)
	}
}

// apply applies for amount on the line and answers the response.
func (lw *lifeWorld) apply(amount string) resp {
	lw.t.Helper()
	lw.n++
	return lw.do("POST", "/v1/credit-applications", lw.supplier, fmt.Sprintf(`{"contract_id": %q, "bank_id": "qilu-bank",
		"amount": %q, "term_days": 180, "purpose": "materials", "credit_line_id": %q}`, lw.contractID, amount, lw.lineID),
		"Idempotency-Key", fmt.Sprintf("life-apply-%d", lw.n))
}

// approved applies for 500,000.00 on the line and has the bank approve
// 400,000.00 of it (the 100,000.00 asked beyond goes back at once).
func (lw *lifeWorld) approved() string {
	lw.t.Helper()
	r := lw.apply("500000.00")
	if r.status != 201 {
		lw.t.Fatalf("apply: %d %s", r.status, r.body)
	}
	id := r.json(lw.t)["id"].(string)
	lw.ok(id, "application.approved", strings.Replace(approvedData, "800000.00", "400000.00", 1))
	return id
}

// holds reads the contract's financed, the line's use, and the
// application's status and repayment account's lock as the supplier sees
// them.
func (lw *lifeWorld) holds(appID string) string {
	lw.t.Helper()
	var financed, used string
	if err := lw.db.Get(&financed, `SELECT financed::text FROM contracts WHERE id = $1`, lw.contractID); err != nil {
		lw.t.Fatal(err)
	}
	if err := lw.db.Get(&used, `SELECT used::text FROM credit_lines WHERE id = $1`, lw.lineID); err != nil {
		lw.t.Fatal(err)
	}
	a := lw.do("GET", "/v1/credit-applications/"+appID, lw.supplier, nil).json(lw.t)
	lock := "none"
	if acct, ok := a["repayment_account"].(map[string]any); ok {
		lock = acct["status"].(string)
	}
	return fmt.Sprintf("financed %s, line %s, %s, lock %s", financed, used, a["status"], lock)
}

func (lw *lifeWorld) wantHolds(appID, want string) {
	lw.t.Helper()
	if got := lw.holds(appID); got != want {
		lw.t.Fatalf("%s\nwant %s", got, want)
	}
}

func loanRepaid(id, principal, paidOn string) string {
	return fmt.Sprintf(`{"loan_id": "LN-1", "repayment_id": %q, "principal": %q, "interest": "0.00", "paid_on": %q}`, id, principal, paidOn)
}

// TestLoanDrawdownEndAndClose: a loan approved at 400,000.00 and drawn
// to 250,000.00, its drawdown ended, repaid in two payments, closes by
// itself; the contract gets back everything, a revolving line too, a
// line that is not revolving only the undisbursed rest (bank-protocol.md
// 1.1, "Closing, overdue and cure").
func TestLoanDrawdownEndAndClose(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		revolving bool
		// The line's use after the first repayment, after the drawdown
		// ended, and after the loan closed.
		repaid, ended, closed string
	}{
		// Revolving: 400,000.00 − 100,000.00 repaid = 300,000.00; less
		// the undisbursed 400,000.00 − 250,000.00 = 150,000.00 is
		// 150,000.00, the principal outstanding; repaid, 0.00.
		{"Revolving", true, "300000.00", "150000.00", "0.00"},
		// Not revolving: repaid principal stays used: 400,000.00; less the
		// undisbursed 150,000.00 is 250,000.00, what was disbursed, which
		// it keeps when the loan closes.
		{"NotRevolving", false, "400000.00", "250000.00", "250000.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lw := newLifeWorld(t, tc.revolving)
			app := lw.approved()
			lw.wantHolds(app, "financed 400000.00, line 400000.00, approved, lock proposed")
			lw.ok(app, "loan.disbursed", disbursed("D1", "250000.00"))
			lw.ok(app, "loan.repaid", loanRepaid("R1", "100000.00", "2026-12-01"))
			lw.wantHolds(app, "financed 400000.00, line "+tc.repaid+", disbursed, lock locked")

			// 400,000.00 − 150,000.00 undisbursed = 250,000.00 financed.
			lw.ok(app, "loan.drawdown_ended", `{"loan_id": "LN-1", "ended_on": "2026-12-02"}`)
			lw.wantHolds(app, "financed 250000.00, line "+tc.ended+", disbursed, lock locked")
			// Told again: nothing changes.
			lw.ok(app, "loan.drawdown_ended", `{"loan_id": "LN-1", "ended_on": "2026-12-03"}`)
			lw.wantHolds(app, "financed 250000.00, line "+tc.ended+", disbursed, lock locked")

			wantProblem(t, lw.event(app, "loan.disbursed", disbursed("D2", "1.00")), 409, "invalid_transition")
			wantProblem(t, lw.event(app, "loan.closed", `{"loan_id": "LN-1", "closed_on": "2026-12-05", "reason": "repaid"}`), 409, "invalid_transition")
			lw.wantHolds(app, "financed 250000.00, line "+tc.ended+", disbursed, lock locked")

			// The last 150,000.00: nothing outstanding, nothing more to draw.
			lw.ok(app, "loan.repaid", loanRepaid("R2", "150000.00", "2026-12-10"))
			lw.wantHolds(app, "financed 0.00, line "+tc.closed+", closed, lock released")
			var closed string
			if err := lw.db.Get(&closed, `SELECT closed_on || ' ' || close_reason || ' ' || drawdown_ended_on FROM loans`); err != nil {
				t.Fatal(err)
			}
			if closed != "2026-12-10 repaid 2026-12-02" {
				t.Fatalf("loan closed %q", closed)
			}
			// The bank's own closing of it changes nothing; a write-off now
			// is refused.
			lw.ok(app, "loan.closed", `{"loan_id": "LN-1", "closed_on": "2026-12-10", "reason": "repaid"}`)
			wantProblem(t, lw.event(app, "loan.closed", `{"loan_id": "LN-1", "closed_on": "2026-12-10", "reason": "written_off"}`), 409, "invalid_transition")
			lw.wantHolds(app, "financed 0.00, line "+tc.closed+", closed, lock released")
		})
	}
}

// TestLoanClosedWhenRepaid: a loan drawn below its approval and fully
// repaid waits (repaid); the bank's loan.closed repaid, or the end of its
// drawdown, closes it and frees what it no longer uses.
func TestLoanClosedWhenRepaid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, typ, data string
		revolving       bool
		line            string // the line's use once closed
	}{
		// Revolving: 400,000.00 − 200,000.00 repaid = 200,000.00 held,
		// all of it the undisbursed rest: 0.00.
		{"ClosedRevolving", "loan.closed", `{"loan_id": "LN-1", "closed_on": "2026-12-10", "reason": "repaid"}`, true, "0.00"},
		// Not revolving: 400,000.00 held; the undisbursed 200,000.00 goes
		// back, the 200,000.00 repaid does not.
		{"ClosedNotRevolving", "loan.closed", `{"loan_id": "LN-1", "closed_on": "2026-12-10", "reason": "repaid"}`, false, "200000.00"},
		{"DrawdownEndedRevolving", "loan.drawdown_ended", `{"loan_id": "LN-1", "ended_on": "2026-12-10"}`, true, "0.00"},
		{"DrawdownEndedNotRevolving", "loan.drawdown_ended", `{"loan_id": "LN-1", "ended_on": "2026-12-10"}`, false, "200000.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lw := newLifeWorld(t, tc.revolving)
			app := lw.approved()
			lw.ok(app, "loan.disbursed", disbursed("D1", "200000.00"))
			lw.ok(app, "loan.repaid", loanRepaid("R1", "200000.00", "2026-12-01"))
			held := "200000.00" // revolving: 400,000.00 − 200,000.00 repaid
			if !tc.revolving {
				held = "400000.00"
			}
			lw.wantHolds(app, "financed 400000.00, line "+held+", repaid, lock locked")
			lw.ok(app, tc.typ, tc.data)
			lw.wantHolds(app, "financed 0.00, line "+tc.line+", closed, lock released")
			wantProblem(t, lw.event(app, "loan.disbursed", disbursed("D2", "1.00")), 409, "invalid_transition")
		})
	}
}

// TestLoanWrittenOff: a loan written off with principal outstanding
// closes (cause written_off): the contract's share is released, the line
// keeps the written-off principal (and, not revolving, the repaid), the
// lock stays locked, the open overdue ends on the closing day, and the
// supplier fails supplier.not_overdue.
func TestLoanWrittenOff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		revolving bool
		before    string // the line's use before the write-off
		after     string
	}{
		// Revolving: 400,000.00 − 100,000.00 repaid = 300,000.00; the
		// undisbursed 100,000.00 goes back: 200,000.00, the principal
		// written off.
		{"Revolving", true, "300000.00", "200000.00"},
		// Not revolving: 400,000.00; less the undisbursed 100,000.00:
		// 300,000.00, all that was disbursed.
		{"NotRevolving", false, "400000.00", "300000.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lw := newLifeWorld(t, tc.revolving)
			app := lw.approved()
			lw.ok(app, "loan.disbursed", disbursed("D1", "300000.00"))
			lw.ok(app, "loan.repaid", loanRepaid("R1", "100000.00", "2026-12-01"))
			lw.ok(app, "loan.overdue", `{"loan_id": "LN-1", "overdue_principal": "200000.00", "since": "2026-12-05"}`)
			lw.wantHolds(app, "financed 400000.00, line "+tc.before+", disbursed, lock locked")
			wantProblem(t, lw.event(app, "loan.closed", `{"loan_id": "LN-1", "closed_on": "2026-12-12", "reason": "repaid"}`), 409, "invalid_transition")

			lw.ok(app, "loan.closed", `{"loan_id": "LN-1", "closed_on": "2026-12-12", "reason": "written_off"}`)
			lw.wantHolds(app, "financed 0.00, line "+tc.after+", closed, lock locked")
			a := lw.do("GET", "/v1/credit-applications/"+app, lw.supplier, nil).json(t)
			h := a["history"].([]any)
			if last := h[len(h)-1].(map[string]any); last["to"] != "closed" || last["cause"] != "loan_written_off" ||
				fmt.Sprint(last["cause_args"]) != "map[loan:LN-1 on:2026-12-12]" ||
				a["written_off_on"] != "2026-12-12" || a["overdue_since"] != nil {
				t.Fatalf("written off: last transition %v, written_off_on %v, overdue_since %v", last, a["written_off_on"], a["overdue_since"])
			}
			var episode string
			if err := lw.db.Get(&episode, `SELECT since || ' ' || principal || ' ' || cured_on FROM loan_overdues`); err != nil {
				t.Fatal(err)
			}
			if episode != "2026-12-05 200000.00 2026-12-12" {
				t.Fatalf("overdue episode %q", episode)
			}
			// Again: nothing changes.
			lw.ok(app, "loan.closed", `{"loan_id": "LN-1", "closed_on": "2026-12-12", "reason": "written_off"}`)
			wantProblem(t, lw.event(app, "loan.overdue", `{"loan_id": "LN-1", "overdue_principal": "1.00", "since": "2026-12-13"}`), 409, "invalid_transition")
			lw.wantHolds(app, "financed 0.00, line "+tc.after+", closed, lock locked")

			p := wantProblem(t, lw.apply("1000.00"), 422, "verification_failed")
			if checkResult(p["verification"].(map[string]any), "supplier.not_overdue") != "fail" {
				t.Fatalf("after a write-off: %v", p["verification"])
			}

			// The bank is paid in the end and closes it as repaid: the lock
			// is released; the line keeps what it kept, the write-off stays
			// on record.
			lw.ok(app, "loan.closed", `{"loan_id": "LN-1", "closed_on": "2027-01-20", "reason": "repaid"}`)
			lw.wantHolds(app, "financed 0.00, line "+tc.after+", closed, lock released")
			var closed string
			if err := lw.db.Get(&closed, `SELECT close_reason || ' ' || closed_on FROM loans`); err != nil || closed != "repaid 2027-01-20" {
				t.Fatalf("loan closed %q (%v), want repaid 2027-01-20", closed, err)
			}
			lw.ok(app, "loan.closed", `{"loan_id": "LN-1", "closed_on": "2027-01-20", "reason": "repaid"}`)
			wantProblem(t, lw.event(app, "loan.closed", `{"loan_id": "LN-1", "closed_on": "2027-01-21", "reason": "written_off"}`), 409, "invalid_transition")
		})
	}
}

// TestOverdueAndCure: an overdue loan bars its supplier's new
// applications until the bank reports the cure; a cure before the overdue
// began, or of a loan not overdue, is refused; the bank report counts
// overdue as of the month reported.
func TestOverdueAndCure(t *testing.T) {
	t.Parallel()
	lw := newLifeWorld(t, true)
	app := lw.approved()
	lw.ok(app, "loan.disbursed", disbursed("D1", "300000.00"))
	wantProblem(t, lw.event(app, "loan.overdue_cured", `{"loan_id": "LN-1", "cured_on": "2026-11-30"}`), 409, "invalid_transition")
	if r := lw.apply("1000.00"); r.status != 201 {
		t.Fatalf("before the overdue: %d %s", r.status, r.body)
	}

	lw.ok(app, "loan.overdue", `{"loan_id": "LN-1", "overdue_principal": "50000.00", "since": "2026-11-25"}`)
	// A second report of the same episode sets its principal.
	lw.ok(app, "loan.overdue", `{"loan_id": "LN-1", "overdue_principal": "80000.00", "since": "2026-11-26"}`)
	p := wantProblem(t, lw.apply("1000.00"), 422, "verification_failed")
	if checkResult(p["verification"].(map[string]any), "supplier.not_overdue") != "fail" {
		t.Fatalf("while overdue: %v", p["verification"])
	}
	p = wantProblem(t, lw.event(app, "loan.overdue_cured", `{"loan_id": "LN-1", "cured_on": "2026-11-24"}`), 422, "invalid")
	if !strings.Contains(fmt.Sprint(p["errors"]), "field:data.cured_on ") {
		t.Fatalf("cured before the overdue began: %v", p["errors"])
	}
	lw.ok(app, "loan.overdue_cured", `{"loan_id": "LN-1", "cured_on": "2026-12-08"}`)
	wantProblem(t, lw.event(app, "loan.overdue_cured", `{"loan_id": "LN-1", "cured_on": "2026-12-09"}`), 409, "invalid_transition")
	a := lw.do("GET", "/v1/credit-applications/"+app, lw.supplier, nil).json(t)
	if a["overdue_since"] != nil || a["status"] != "disbursed" {
		t.Fatalf("cured: %v, %v", a["overdue_since"], a["status"])
	}
	r := lw.apply("1000.00")
	if r.status != 201 || checkResult(r.json(t)["verification"].(map[string]any), "supplier.not_overdue") != "pass" {
		t.Fatalf("after the cure: %d %s", r.status, r.body)
	}
	var episodes []string
	if err := lw.db.Select(&episodes, `SELECT since || ' ' || principal || ' ' || coalesce(cured_on::text, 'open') FROM loan_overdues`); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(episodes) != "[2026-11-25 80000.00 2026-12-08]" {
		t.Fatalf("episodes %v", episodes)
	}

	// Overdue from 2026-11-25, cured 2026-12-08: 80,000.00 at the end of
	// November, nothing at the end of October or December.
	for month, want := range map[string]string{"2026-10-01": "0.00", "2026-11-01": "80000.00", "2026-12-01": "0.00"} {
		lines, err := lw.subsidies.BankReport(context.Background(), money.MustDate(month))
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) != 1 || lines[0].Overdue.String() != want {
			t.Errorf("bank report of %s: %+v, want overdue %s", month, lines, want)
		}
	}
}

// TestOneLoanPerApplication: a second loan id on an application is
// refused, and changes nothing.
func TestOneLoanPerApplication(t *testing.T) {
	t.Parallel()
	lw := newLifeWorld(t, true)
	app := lw.approved()
	lw.ok(app, "loan.disbursed", disbursed("D1", "100000.00"))
	wantProblem(t, lw.event(app, "loan.disbursed", strings.Replace(disbursed("D2", "100000.00"), "LN-1", "LN-2", 1)), 409, "invalid_transition")
	if n := lw.count("loans"); n != 1 {
		t.Fatalf("%d loans", n)
	}
	lw.wantHolds(app, "financed 400000.00, line 400000.00, disbursed, lock locked")
}

// TestApplicationLapsed: an approval never drawn lapses: closed with its
// reason as cause, everything released, the lock released.
func TestApplicationLapsed(t *testing.T) {
	t.Parallel()
	lw := newLifeWorld(t, false)
	app := lw.approved()
	p := wantProblem(t, lw.event(app, "application.lapsed", `{"reason": "bored"}`), 422, "invalid")
	if !strings.Contains(fmt.Sprint(p["errors"]), "field:data.reason ") {
		t.Fatalf("a bad reason: %v", p["errors"])
	}
	lw.ok(app, "application.lapsed", `{"reason": "receivable_refused"}`)
	lw.wantHolds(app, "financed 0.00, line 0.00, closed, lock released")
	a := lw.do("GET", "/v1/credit-applications/"+app, lw.supplier, nil).json(t)
	h := a["history"].([]any)
	if last := h[len(h)-1].(map[string]any); last["from"] != "approved" || last["cause"] != "lapsed" ||
		fmt.Sprint(last["cause_args"]) != "map[reason:receivable_refused]" {
		t.Fatalf("lapsed: %v", last)
	}
	wantProblem(t, lw.event(app, "application.lapsed", `{"reason": "expired"}`), 409, "invalid_transition")

	// Drawn: it cannot lapse.
	drawn := lw.approved()
	lw.ok(drawn, "loan.disbursed", disbursed("D1", "1.00"))
	wantProblem(t, lw.event(drawn, "application.lapsed", `{"reason": "expired"}`), 409, "invalid_transition")
}
