package banking

import (
	"context"
	"slices"

	"procfin/lending"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// The event types of a loan's life after its tranches (bank-protocol.md
// 1.1, "Closing, overdue and cure"; "Clarifications": application.lapsed).

// curedData is loan.overdue_cured's.
type curedData struct {
	LoanID  string      `json:"loan_id"`
	CuredOn *money.Date `json:"cured_on"`
}

func (d *curedData) check(c *checker) {
	if !c.decode(d) {
		return
	}
	c.text("loan_id", d.LoanID)
	c.date("cured_on", d.CuredOn)
}

func (d *curedData) subject(Envelope) subject { return onLoan(d.LoanID) }

func (d *curedData) apply(ctx context.Context, tx *postgres.Tx, e *applying) error {
	return e.ls.CureOverdue(ctx, tx, e.locked, *d.CuredOn, e.actor())
}

// drawdownEndedData is loan.drawdown_ended's.
type drawdownEndedData struct {
	LoanID  string      `json:"loan_id"`
	EndedOn *money.Date `json:"ended_on"`
}

func (d *drawdownEndedData) check(c *checker) {
	if !c.decode(d) {
		return
	}
	c.text("loan_id", d.LoanID)
	c.date("ended_on", d.EndedOn)
}

func (d *drawdownEndedData) subject(Envelope) subject { return onLoan(d.LoanID) }

func (d *drawdownEndedData) apply(ctx context.Context, tx *postgres.Tx, e *applying) error {
	return e.ls.EndDrawdown(ctx, tx, e.locked, *d.EndedOn, e.actor())
}

// closedData is loan.closed's.
type closedData struct {
	LoanID   string      `json:"loan_id"`
	ClosedOn *money.Date `json:"closed_on"`
	Reason   string      `json:"reason"`
}

func (d *closedData) check(c *checker) {
	if !c.decode(d) {
		return
	}
	c.text("loan_id", d.LoanID)
	c.date("closed_on", d.ClosedOn)
	if d.Reason != "repaid" && d.Reason != "written_off" {
		c.bad("reason", "invalid", "must be repaid or written_off")
	}
}

func (d *closedData) subject(Envelope) subject { return onLoan(d.LoanID) }

func (d *closedData) apply(ctx context.Context, tx *postgres.Tx, e *applying) error {
	return e.ls.CloseLoan(ctx, tx, e.locked, *d.ClosedOn, d.Reason, e.actor())
}

// lapsedData is application.lapsed's.
type lapsedData struct {
	Reason string `json:"reason"`
}

func (d *lapsedData) check(c *checker) {
	if !c.decode(d) {
		return
	}
	if !slices.Contains(lending.LapseReasons(), d.Reason) {
		c.bad("reason", "invalid", "must be expired, receivable_refused or declined_by_supplier")
	}
}

func (*lapsedData) subject(Envelope) subject { return onApplication() }

func (d *lapsedData) apply(ctx context.Context, tx *postgres.Tx, e *applying) error {
	return e.ls.Lapse(ctx, tx, e.bankID, e.env.ApplicationID, d.Reason, e.actor())
}
