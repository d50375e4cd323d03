package sandbox

import (
	"strconv"

	"procfin/platform/money"
)

// Life is what the bank does with an application after accepting it: how
// it decides, disburses, repays and closes the loan (bank-protocol.md 1.1).
// Config.Life chooses each application's life by a rule of the
// application, so the same application has the same life whatever the order
// the applications arrive in.
//
// Every life but LifeRepaid and LifeHeld dates its loan within the
// LoanDays (at least 30) before the decision and ends it on the day of the
// decision: every date it sends is past or today, as procfin requires. Its
// later steps go one after another, RepayAfter apart (none when RepayAfter
// is 0).
type Life string

// The lives. In each, the application is received and approved, its loan
// disbursed, and then:
const (
	// LifeRepaid: Tranches equal tranches valued LoanDays back, each repaid
	// RepayAfter later, naming it, with interest to the day of the
	// repayment. No closing is sent: a loan disbursed in full and repaid
	// closes by itself. The default.
	LifeRepaid Life = "repaid"
	// LifeTranches: at least two tranches valued on different days; each
	// repaid on the day of the decision, naming it, with interest for its
	// own days; then loan.closed repaid.
	LifeTranches Life = "tranches"
	// LifeWhole: the tranches repaid together by one repayment of the whole
	// loan, naming no tranche; then loan.closed repaid.
	LifeWhole Life = "whole"
	// LifePartial: only the first of at least two tranches is disbursed;
	// then loan.drawdown_ended (the bank disburses no more); then the
	// tranche repaid and loan.closed repaid.
	LifePartial Life = "partial"
	// LifeOverdue: loan.overdue on the first tranche's principal; then that
	// tranche repaid while overdue and loan.overdue_cured after the payment;
	// then the other tranches repaid and loan.closed repaid.
	LifeOverdue Life = "overdue"
	// LifeHeld: application.received and no decision: the bank holds the
	// application, as if under review, until the supplier withdraws it.
	LifeHeld Life = "held"
)

// Lives are all the lives, LifeRepaid first.
var Lives = []Life{LifeRepaid, LifeTranches, LifeWhole, LifePartial, LifeOverdue, LifeHeld}

// Application is what a Config.Life rule is told of an application.
type Application struct {
	ApplicationID string
	SupplierUSCC  string
	Amount        money.Amount
	TermDays      int
	CreditLineID  string // "" when the request names no line
}

// minLifeDays is the shortest span of a life's dates (LoanDays below it
// count as it), so that the overdue life's days stay apart.
const minLifeDays = 30

// The event types of version 1.1 that the sandbox sends.
const (
	TypeDrawdownEnded = "loan.drawdown_ended"
	TypeClosed        = "loan.closed"
	TypeOverdueCured  = "loan.overdue_cured"
	ReasonRepaid      = "repaid"
)

// DrawdownEnded is loan.drawdown_ended's data.
type DrawdownEnded struct {
	LoanID  string     `json:"loan_id"`
	EndedOn money.Date `json:"ended_on"`
}

// Closed is loan.closed's data.
type Closed struct {
	LoanID   string     `json:"loan_id"`
	ClosedOn money.Date `json:"closed_on"`
	Reason   string     `json:"reason"`
}

// Overdue is loan.overdue's data.
type Overdue struct {
	LoanID           string       `json:"loan_id"`
	OverduePrincipal money.Amount `json:"overdue_principal"`
	Since            money.Date   `json:"since"`
}

// OverdueCured is loan.overdue_cured's data.
type OverdueCured struct {
	LoanID  string     `json:"loan_id"`
	CuredOn money.Date `json:"cured_on"`
}

// tranche is a disbursement the bank makes.
type tranche struct {
	amount    money.Amount
	valueDate money.Date
}

// plan is an approved application's loan: its tranches, and the events of
// each later step (none for LifeRepaid, whose repayment is built when it
// is sent). undisbursed is the part of the approval never disbursed.
type plan struct {
	tranches    []tranche
	steps       [][]Event
	undisbursed money.Amount
}

// planLoan lays out the life of a's loan, decided on the day today: its
// tranches and later steps. a's loanID, amount, rate and life are set.
func (b *Bank) planLoan(a *application, today money.Date) plan {
	n := b.cfg.Tranches
	if a.life == LifeRepaid {
		v := today.AddDays(-max(b.cfg.LoanDays, 0))
		var p plan
		for _, t := range Split(a.amount, n) {
			p.tranches = append(p.tranches, tranche{t, v})
		}
		return p
	}
	days := max(b.cfg.LoanDays, minLifeDays)
	first := today.AddDays(-days) // the first value date
	rate := a.rate
	mk := func(suffix, typ string, data any) Event {
		return Event{EventID: a.rec.BankReference + "." + suffix, Type: typ,
			ApplicationID: a.rec.ApplicationID, BankReference: a.rec.BankReference, Data: data}
	}
	// repaid is the repayment of tranche i (from 0; -1: the whole loan) of
	// principal, paid on paidOn with interest from its value date.
	repaid := func(seq, i int, principal money.Amount, from, paidOn money.Date) Event {
		n := strconv.Itoa(seq)
		r := Repaid{LoanID: a.loanID, RepaymentID: a.loanID + "-R" + n, Principal: principal,
			Interest: Interest(principal, rate, from.DaysUntil(paidOn)), PaidOn: paidOn,
			InterestPeriod: &Period{Start: from, End: paidOn}}
		if i >= 0 {
			r.DisbursementID = trancheID(a, i)
		}
		return mk("repaid."+n, TypeRepaid, r)
	}
	closed := mk("closed", TypeClosed, Closed{LoanID: a.loanID, ClosedOn: today, Reason: ReasonRepaid})

	var p plan
	switch a.life {
	case LifeTranches:
		amounts := Split(a.amount, max(n, 2))
		gap := days / (len(amounts) + 1) // the last is valued before today
		var step []Event
		for i, t := range amounts {
			v := first.AddDays(i * gap)
			p.tranches = append(p.tranches, tranche{t, v})
			step = append(step, repaid(i+1, i, t, v, today))
		}
		p.steps = [][]Event{append(step, closed)}
	case LifeWhole:
		for _, t := range Split(a.amount, n) {
			p.tranches = append(p.tranches, tranche{t, first})
		}
		p.steps = [][]Event{{repaid(1, -1, a.amount, first, today), closed}}
	case LifePartial:
		t := Split(a.amount, max(n, 2))[0]
		p.tranches = []tranche{{t, first}}
		p.undisbursed = a.amount.Sub(t)
		p.steps = [][]Event{
			{mk("drawdown_ended", TypeDrawdownEnded, DrawdownEnded{LoanID: a.loanID, EndedOn: first.AddDays(days / 3)})},
			{repaid(1, 0, t, first, today), closed},
		}
	case LifeOverdue:
		amounts := Split(a.amount, n)
		for _, t := range amounts {
			p.tranches = append(p.tranches, tranche{t, first})
		}
		// Overdue since a third of the days back; the first tranche paid
		// ten days on (of ninety), while overdue; cured five days after.
		since, paid, cured := today.AddDays(-days/3), today.AddDays(-2*days/9), today.AddDays(-days/6)
		last := []Event{}
		for i, t := range amounts[1:] {
			last = append(last, repaid(i+2, i+1, t, first, today))
		}
		p.steps = [][]Event{
			{mk("overdue", TypeOverdue, Overdue{LoanID: a.loanID, OverduePrincipal: amounts[0], Since: since})},
			{repaid(1, 0, amounts[0], first, paid), mk("overdue_cured", TypeOverdueCured, OverdueCured{LoanID: a.loanID, CuredOn: cured})},
			append(last, closed),
		}
	}
	return p
}
