package banking

import (
	"context"
	"strings"

	"procfin/lending"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// Event types of the bank protocol.
const (
	EventApplicationReceived = "application.received"
	EventApplicationApproved = "application.approved"
	EventApplicationRejected = "application.rejected"
	EventLoanDisbursed       = "loan.disbursed"
	EventLoanRepaid          = "loan.repaid"
	EventLoanOverdue         = "loan.overdue"
	EventLoanOverdueCured    = "loan.overdue_cured"
	EventLoanDrawdownEnded   = "loan.drawdown_ended"
	EventLoanClosed          = "loan.closed"
	EventApplicationLapsed   = "application.lapsed"
	EventAccountChange       = "account.change_consented"
	EventLineGranted         = "credit_line.granted"
	EventLineChanged         = "credit_line.changed"
	EventLineRevoked         = "credit_line.revoked"
)

// eventTypes is the registry of the protocol's event types: each type's
// name and its data, new and empty. Adding an event type is its data type
// (below: check, subject, apply) and its line here.
var eventTypes = map[string]func() eventData{
	EventApplicationReceived: func() eventData { return &receivedData{} },
	EventApplicationApproved: func() eventData { return &approvedData{} },
	EventApplicationRejected: func() eventData { return &rejectedData{} },
	EventLoanDisbursed:       func() eventData { return &disbursedData{} },
	EventLoanRepaid:          func() eventData { return &repaidData{} },
	EventLoanOverdue:         func() eventData { return &overdueData{} },
	EventLoanOverdueCured:    func() eventData { return &curedData{} },
	EventLoanDrawdownEnded:   func() eventData { return &drawdownEndedData{} },
	EventLoanClosed:          func() eventData { return &closedData{} },
	EventApplicationLapsed:   func() eventData { return &lapsedData{} },
	EventAccountChange:       func() eventData { return &accountChangeData{} },
	EventLineGranted:         func() eventData { return &lineData{granted: true} },
	EventLineChanged:         func() eventData { return &lineData{} },
	EventLineRevoked:         func() eventData { return &revokedData{} },
	EventOfferMade:           func() eventData { return &offerMadeData{} },
	EventOfferWithdrawn:      func() eventData { return &offerWithdrawnData{} },
}

// eventData is the data of one type of bank event, which knows what the
// event needs, touches and does.
type eventData interface {
	// check reads the event's data (c.decode) and names each field of it
	// that is missing or wrong (c.bad and the checks of c). The envelope
	// is checked already.
	check(c *checker)
	// subject is what the event acts on. Whether that is a credit line
	// does not depend on the data: ParseEvent asks the new, empty data,
	// to know whether the envelope must name an application.
	subject(env Envelope) subject
	// apply applies the event in tx, in its batch's turn, under its
	// subject's lock (a loan event's: e.locked).
	apply(ctx context.Context, tx *postgres.Tx, e *applying) error
}

// subject is what an event acts on: the envelope's application (and the
// bank's loan on it a loan event names), a credit line, or a financing
// intent. It gives the inbox shard of the event, the batch's lock and read
// of its application and loan, and the inbox row's application_id.
type subject struct {
	line     bool   // a credit line, not an application
	lineID   string // the bank's credit line id, of a line event
	loanID   string // the bank's loan id, of a loan event
	intent   bool   // a financing intent, not an application (offer events)
	intentID string // the intent, of an offer event
}

// application says the subject is the envelope's application.
func (s subject) application() bool { return !s.line && !s.intent }

// prechecked is event data with checks to make before the inbox, which
// need more than the event (procfin's clock): refused there, the event
// costs no transaction and disturbs no batch.
type prechecked interface {
	precheck(ls *lending.Service) error
}

// applying is what an event's apply is given: the event, its subject's
// lock for a loan event, and the batch's repayments so far.
type applying struct {
	ls     *lending.Service
	bankID string
	env    Envelope
	// locked is a loan event's application and loan, locked and read for
	// it by the batch.
	locked *lending.Locked
	// repaid are the repayments applied in the batch, in order: their
	// subsidy claims are made together once the batch's events are
	// applied (Events.OnRepaid).
	repaid []lending.RepaymentResult
	// overdue are the loan.overdue events applied in the batch, in order
	// (Events.OnOverdue).
	overdue []lending.OverdueResult
}

func (e *applying) actor() string { return "bank:" + e.bankID }

// onApplication and onLoan are the subjects of the events on an
// application.
func onApplication() subject             { return subject{} }
func onLoan(loanID string) subject       { return subject{loanID: loanID} }
func onLine(creditLineID string) subject { return subject{line: true, lineID: creditLineID} }

// receivedData is application.received's: none (the data is not read).
type receivedData struct{}

func (*receivedData) check(*checker)           {}
func (*receivedData) subject(Envelope) subject { return onApplication() }
func (*receivedData) apply(ctx context.Context, tx *postgres.Tx, e *applying) error {
	return e.ls.Received(ctx, tx, e.bankID, e.env.ApplicationID, e.env.BankReference, e.actor())
}

// Event data, one shape per type. Fields are pointers where the protocol
// requires them, so a missing one is told from a zero one.

type approvedData struct {
	ApprovedAmount   *money.Amount             `json:"approved_amount"`
	AnnualRate       *money.Rate               `json:"annual_rate"`
	TermDays         *int                      `json:"term_days"`
	RepaymentAccount *lending.RepaymentAccount `json:"repayment_account"`
}

func (d *approvedData) check(c *checker) {
	if !c.decode(d) {
		return
	}
	c.amount("approved_amount", d.ApprovedAmount, true)
	if d.AnnualRate == nil {
		c.bad("annual_rate", "required", "is required")
	}
	if d.TermDays == nil || *d.TermDays < 1 {
		c.bad("term_days", "required", "is required, at least 1")
	}
	if d.RepaymentAccount == nil {
		c.bad("repayment_account", "required", "is required")
	} else {
		c.words("repayment_account.bank_name", d.RepaymentAccount.BankName, maxWords)
		c.words("repayment_account.account_no", d.RepaymentAccount.AccountNo, maxWords)
		c.words("repayment_account.account_name", d.RepaymentAccount.AccountName, maxWords)
	}
}

func (*approvedData) subject(Envelope) subject { return onApplication() }

func (d *approvedData) apply(ctx context.Context, tx *postgres.Tx, e *applying) error {
	return e.ls.Approve(ctx, tx, e.bankID, e.env.ApplicationID, lending.Approval{ApprovedAmount: *d.ApprovedAmount,
		AnnualRate: *d.AnnualRate, TermDays: *d.TermDays, RepaymentAccount: *d.RepaymentAccount}, e.actor())
}

type rejectedData struct {
	ReasonCode string `json:"reason_code"`
	Reason     string `json:"reason"`
}

func (d *rejectedData) check(c *checker) {
	if !c.decode(d) {
		return
	}
	c.text("reason_code", d.ReasonCode)
	c.words("reason", d.Reason, maxReason)
}

func (*rejectedData) subject(Envelope) subject { return onApplication() }

func (d *rejectedData) apply(ctx context.Context, tx *postgres.Tx, e *applying) error {
	return e.ls.Reject(ctx, tx, e.bankID, e.env.ApplicationID, d.ReasonCode, d.Reason, e.actor())
}

type disbursedData struct {
	LoanID         string        `json:"loan_id"`
	DisbursementID string        `json:"disbursement_id"`
	Amount         *money.Amount `json:"amount"`
	ValueDate      *money.Date   `json:"value_date"`
	MaturityDate   *money.Date   `json:"maturity_date"`
	AnnualRate     *money.Rate   `json:"annual_rate"`
}

func (d *disbursedData) check(c *checker) {
	if !c.decode(d) {
		return
	}
	c.text("loan_id", d.LoanID)
	c.text("disbursement_id", d.DisbursementID)
	c.amount("amount", d.Amount, true)
	c.date("value_date", d.ValueDate)
	c.date("maturity_date", d.MaturityDate)
	if d.AnnualRate == nil {
		c.bad("annual_rate", "required", "is required")
	}
}

func (d *disbursedData) subject(Envelope) subject { return onLoan(d.LoanID) }

func (d *disbursedData) apply(ctx context.Context, tx *postgres.Tx, e *applying) error {
	return e.ls.Disburse(ctx, tx, e.locked, lending.Disbursement{BankDisbursementID: d.DisbursementID,
		Amount: *d.Amount, ValueDate: *d.ValueDate, MaturityDate: *d.MaturityDate, AnnualRate: *d.AnnualRate}, e.actor())
}

type repaidData struct {
	LoanID         string        `json:"loan_id"`
	RepaymentID    string        `json:"repayment_id"`
	DisbursementID *string       `json:"disbursement_id"` // 1.1: the tranche; absent: the whole loan
	Principal      *money.Amount `json:"principal"`
	Interest       *money.Amount `json:"interest"`
	PaidOn         *money.Date   `json:"paid_on"`
	InterestPeriod *struct {
		Start *money.Date `json:"start"`
		End   *money.Date `json:"end"`
	} `json:"interest_period"` // may be absent when interest is 0
}

func (d *repaidData) check(c *checker) {
	if !c.decode(d) {
		return
	}
	c.text("loan_id", d.LoanID)
	c.text("repayment_id", d.RepaymentID)
	if d.DisbursementID != nil {
		c.text("disbursement_id", *d.DisbursementID)
	}
	c.amount("principal", d.Principal, false)
	c.amount("interest", d.Interest, false)
	c.date("paid_on", d.PaidOn)
	switch {
	case d.InterestPeriod == nil && d.Interest != nil && d.Interest.IsZero():
		// No interest, no period (domain.md, clarifications 1.1).
	case d.InterestPeriod == nil:
		c.bad("interest_period", "required", "start and end are required")
	default:
		c.date("interest_period.start", d.InterestPeriod.Start)
		c.date("interest_period.end", d.InterestPeriod.End)
	}
}

func (d *repaidData) subject(Envelope) subject { return onLoan(d.LoanID) }

// precheck refuses figures that cannot be true whatever was recorded
// before (lending.CheckRepayment).
func (d *repaidData) precheck(ls *lending.Service) error { return ls.CheckRepayment(d.repayment()) }

func (d *repaidData) apply(ctx context.Context, tx *postgres.Tx, e *applying) error {
	r, err := e.ls.Repay(ctx, tx, e.locked, d.repayment(), e.actor())
	if err != nil {
		return err
	}
	e.repaid = append(e.repaid, r)
	return nil
}

// repayment is the repayment d describes (check passed).
func (d *repaidData) repayment() lending.Repayment {
	r := lending.Repayment{BankRepaymentID: d.RepaymentID, Principal: *d.Principal, Interest: *d.Interest, PaidOn: *d.PaidOn}
	if d.DisbursementID != nil {
		r.BankDisbursementID = *d.DisbursementID
	}
	if p := d.InterestPeriod; p != nil {
		r.PeriodStart, r.PeriodEnd = *p.Start, *p.End
	}
	return r
}

type overdueData struct {
	LoanID           string        `json:"loan_id"`
	OverduePrincipal *money.Amount `json:"overdue_principal"`
	Since            *money.Date   `json:"since"`
}

func (d *overdueData) check(c *checker) {
	if !c.decode(d) {
		return
	}
	c.text("loan_id", d.LoanID)
	c.amount("overdue_principal", d.OverduePrincipal, false)
	c.date("since", d.Since)
}

func (d *overdueData) subject(Envelope) subject { return onLoan(d.LoanID) }

func (d *overdueData) apply(ctx context.Context, tx *postgres.Tx, e *applying) error {
	o, err := e.ls.Overdue(ctx, tx, e.locked, *d.OverduePrincipal, *d.Since, e.actor())
	if err != nil {
		return err
	}
	e.overdue = append(e.overdue, o)
	return nil
}

// lineData is credit_line.granted's and credit_line.changed's.
type lineData struct {
	CreditLineID      string        `json:"credit_line_id"`
	SupplierUSCC      string        `json:"supplier_uscc"`
	Limit             *money.Amount `json:"limit"`
	ValidFrom         *money.Date   `json:"valid_from"`
	ValidUntil        *money.Date   `json:"valid_until"`
	Revolving         *bool         `json:"revolving"`
	AnnualRateCeiling *money.Rate   `json:"annual_rate_ceiling"`

	granted bool // credit_line.granted: the line may be new
}

func (d *lineData) check(c *checker) {
	if !c.decode(d) {
		return
	}
	c.text("credit_line_id", d.CreditLineID)
	c.text("supplier_uscc", d.SupplierUSCC)
	c.amount("limit", d.Limit, false)
	c.date("valid_from", d.ValidFrom)
	c.date("valid_until", d.ValidUntil)
	if d.Revolving == nil {
		c.bad("revolving", "required", "is required")
	}
}

func (d *lineData) subject(Envelope) subject { return onLine(d.CreditLineID) }

func (d *lineData) apply(ctx context.Context, tx *postgres.Tx, e *applying) error {
	_, err := e.ls.SetLine(ctx, tx, e.bankID, lending.LineTerms{BankLineID: d.CreditLineID, SupplierUSCC: strings.ToUpper(d.SupplierUSCC),
		Limit: *d.Limit, ValidFrom: *d.ValidFrom, ValidUntil: *d.ValidUntil, Revolving: *d.Revolving, RateCeiling: d.AnnualRateCeiling},
		d.granted, e.actor())
	return err
}

type revokedData struct {
	CreditLineID string `json:"credit_line_id"`
	Reason       string `json:"reason"`
}

func (d *revokedData) check(c *checker) {
	if !c.decode(d) {
		return
	}
	c.text("credit_line_id", d.CreditLineID)
	c.words("reason", d.Reason, maxReason)
}

func (d *revokedData) subject(Envelope) subject { return onLine(d.CreditLineID) }

func (d *revokedData) apply(ctx context.Context, tx *postgres.Tx, e *applying) error {
	_, err := e.ls.RevokeLine(ctx, tx, e.bankID, d.CreditLineID, d.Reason, e.actor())
	return err
}
