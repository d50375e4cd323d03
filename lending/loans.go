package lending

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/lib/pq"

	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// RepaymentAccount is the repayment (collection) account (回款账户) the
// purchaser pays the contract into, and its lock.
type RepaymentAccount struct {
	BankName    string    `db:"bank_name" json:"bank_name"`
	AccountNo   string    `db:"account_no" json:"account_no"`
	AccountName string    `db:"account_name" json:"account_name"`
	Status      string    `db:"status" json:"status"` // proposed → confirmed → locked → released; refused by the purchaser
	UpdatedAt   time.Time `db:"updated_at" json:"updated_at"`
}

// accountSteps is the lock's state machine. The purchaser's confirmation
// and refusal move locks together (lending/receivables.go); refused may
// still be confirmed later, locked by a disbursement, or released.
var accountSteps = map[string][]string{
	"proposed":  {"confirmed", "locked", "released", "refused"},
	"refused":   {"confirmed", "locked", "released"},
	"confirmed": {"locked", "released"},
	"locked":    {"released"},
	"released":  {},
}

func (s *Service) moveAccount(ctx context.Context, tx *postgres.Tx, appID, to, actor string, why Cause) error {
	var acct RepaymentAccount
	err := tx.GetContext(ctx, &acct, `SELECT bank_name, account_no, account_name, status, updated_at FROM repayment_accounts WHERE application_id = $1 FOR UPDATE`, appID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // no account to move (an approval without one is refused earlier)
	}
	if err != nil {
		return postgres.Translate(err)
	}
	if acct.Status == to {
		return nil
	}
	ok := false
	for _, s := range accountSteps[acct.Status] {
		ok = ok || s == to
	}
	if !ok {
		return errs.E(errs.InvalidTransition, "the repayment account is %s and cannot become %s", acct.Status, to)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE repayment_accounts SET status = $2, updated_at = now() WHERE application_id = $1`, appID, to); err != nil {
		return postgres.Translate(err)
	}
	after := acct
	after.Status = to
	return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "repayment_account." + to, EntityType: "application",
		EntityID: appID, Before: acct, After: after, Reason: why.String()})
}

// BankApplication locks the application for a bank's event: not_found when
// it does not exist or is another bank's.
func (s *Service) BankApplication(ctx context.Context, tx *postgres.Tx, bankID, appID string) (Application, error) {
	return s.lockApplication(ctx, tx, Scope{BankID: bankID}, appID)
}

// MarkDelivered records that the bank accepted the application's message.
func (s *Service) MarkDelivered(ctx context.Context, tx *postgres.Tx, appID, bankReference string) error {
	return s.MarkDeliveredMany(ctx, tx, []Acceptance{{ApplicationID: appID, BankReference: bankReference}})
}

// Acceptance is one application the bank accepted, with its reference.
type Acceptance struct {
	ApplicationID string
	BankReference string
}

// MarkDeliveredMany does MarkDelivered for a batch: it locks the
// applications in id order (as any batch does) and moves those still
// submitted to delivered, with their bank's references, in one
// transitionMany.
func (s *Service) MarkDeliveredMany(ctx context.Context, tx *postgres.Tx, ds []Acceptance) error {
	if len(ds) == 0 {
		return nil
	}
	refs := make(map[string]string, len(ds))
	ids := make([]string, 0, len(ds))
	for _, d := range ds {
		refs[d.ApplicationID] = d.BankReference
		ids = append(ids, d.ApplicationID)
	}
	apps, err := s.lockApplications(ctx, tx, ids)
	if err != nil {
		return err
	}
	const actor = "system:relay"
	changes := make([]change, 0, len(apps))
	for i := range apps {
		a := &apps[i]
		if a.Status != Submitted {
			continue // cancelled meanwhile, or an answer to a retry: nothing to do
		}
		ref := refs[a.ID]
		changes = append(changes, change{app: a, to: Delivered, actor: actor, reference: &ref,
			cause: cause(CauseDelivered, "reference", ref)})
	}
	return s.transitionMany(ctx, tx, changes)
}

// MarkDeliveryFailed records that the message could not be delivered:
// detail is CauseConsentExpired, or why in the relay's words.
func (s *Service) MarkDeliveryFailed(ctx context.Context, tx *postgres.Tx, appID, detail string) error {
	a, err := s.lockApplication(ctx, tx, Scope{}, appID)
	if err != nil {
		return err
	}
	if a.Status != Submitted {
		return nil
	}
	why := cause(CauseDeliveryFailed, "detail", detail)
	if detail == CauseConsentExpired {
		why = cause(CauseConsentExpired)
	}
	return s.transition(ctx, tx, &a, DeliveryFailed, "system:relay", why)
}

// Requeued records an administrator's re-queue of a failed delivery:
// invalid_transition while another bank finances the contract
// (contract.single_bank).
func (s *Service) Requeued(ctx context.Context, tx *postgres.Tx, appID, actor string) error {
	a, err := s.lockApplication(ctx, tx, Scope{}, appID)
	if err != nil {
		return err
	}
	if a.Status != DeliveryFailed {
		return nil
	}
	if err := s.checkSingleBank(ctx, tx, a); err != nil {
		return err
	}
	return s.transition(ctx, tx, &a, Submitted, actor, cause(CauseRequeued))
}

// Received records application.received.
func (s *Service) Received(ctx context.Context, tx *postgres.Tx, bankID, appID, ref, actor string) error {
	a, err := s.BankApplication(ctx, tx, bankID, appID)
	if err != nil {
		return err
	}
	if ref != "" && a.BankReference == "" {
		a.BankReference = ref // written with the new status
	}
	switch a.Status {
	case Submitted: // the event overtook the delivery answer
		if err := s.transition(ctx, tx, &a, Delivered, actor, cause(CauseReceivedBeforeDelivery)); err != nil {
			return err
		}
	case Approved, Rejected, Disbursed, Repaid, Closed:
		// A receipt arriving after the bank's decision tells nothing new:
		// accept it, change nothing, so the bank's later events still flow.
		return nil
	}
	return s.transition(ctx, tx, &a, Received, actor, cause(CauseReceived))
}

// Approval is application.approved's data.
type Approval struct {
	ApprovedAmount   money.Amount     `json:"approved_amount"`
	AnnualRate       money.Rate       `json:"annual_rate"`
	TermDays         int              `json:"term_days"`
	RepaymentAccount RepaymentAccount `json:"repayment_account"`
}

// Approve records the bank's approval: the amount (at most what was asked;
// any difference is released), rate and term, proposes the repayment
// account lock, and makes the contract's receivable answer the approval
// (receivableAtApproval). Returns invalid_transition when the state or figures do not
// follow.
func (s *Service) Approve(ctx context.Context, tx *postgres.Tx, bankID, appID string, ap Approval, actor string) error {
	a, err := s.BankApplication(ctx, tx, bankID, appID)
	if err != nil {
		return err
	}
	if err := checkTransition(a.Status, Approved); err != nil && a.Status != Submitted {
		return err
	}
	switch {
	case !ap.ApprovedAmount.IsPositive():
		return errs.InvalidFields(errs.Field("data.approved_amount", errs.FieldNotPositive))
	case ap.ApprovedAmount.GreaterThan(a.Amount):
		return errs.E(errs.InvalidTransition, "approved %s, more than the %s applied for", ap.ApprovedAmount, a.Amount)
	case ap.TermDays < 1:
		return errs.InvalidFields(errs.Field("data.term_days", errs.FieldNotPositive))
	case ap.RepaymentAccount.AccountNo == "" || ap.RepaymentAccount.BankName == "" || ap.RepaymentAccount.AccountName == "":
		return errs.InvalidFields(errs.Field("data.repayment_account", errs.FieldRequired))
	}
	if err := checkWithinOffer(ctx, tx, a, ap); err != nil {
		return err
	}
	if a.CreditLineID != nil {
		var ceiling *money.Rate
		if err := tx.GetContext(ctx, &ceiling, `SELECT rate_ceiling FROM credit_lines WHERE id = $1`, *a.CreditLineID); err != nil {
			return postgres.Translate(err)
		}
		if ceiling != nil && ap.AnnualRate.Decimal().GreaterThan(ceiling.Decimal()) {
			return errs.E(errs.InvalidTransition, "the rate %s is above the credit line's ceiling %s", ap.AnnualRate, ceiling)
		}
	}
	if a.Status == Submitted { // the approval overtook the delivery answer
		if err := s.transition(ctx, tx, &a, Delivered, actor, cause(CauseAnsweredEarly)); err != nil {
			return err
		}
	}
	diff := a.Amount.Sub(ap.ApprovedAmount)
	lineDiff := money.Zero
	if a.LineHeld.IsPositive() {
		lineDiff = diff
	}
	if err := s.release(ctx, tx, &a, diff, lineDiff); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `
		UPDATE applications SET approved_amount = $2, annual_rate = $3, approved_term_days = $4 WHERE id = $1`,
		appID, ap.ApprovedAmount, ap.AnnualRate, ap.TermDays)
	if err != nil {
		return postgres.Translate(err)
	}
	a.ApprovedAmount, a.AnnualRate, a.ApprovedTermDays = &ap.ApprovedAmount, &ap.AnnualRate, &ap.TermDays
	_, err = tx.ExecContext(ctx, `
		INSERT INTO repayment_accounts (application_id, bank_name, account_no, account_name, status)
		VALUES ($1, $2, $3, $4, 'proposed')`, appID, ap.RepaymentAccount.BankName, ap.RepaymentAccount.AccountNo, ap.RepaymentAccount.AccountName)
	if err != nil {
		return postgres.Translate(err)
	}
	if err := s.receivableAtApproval(ctx, tx, a, ap.RepaymentAccount, actor); err != nil {
		return err
	}
	return s.transition(ctx, tx, &a, Approved, actor, cause(CauseApproved,
		"amount", ap.ApprovedAmount.String(), "rate", ap.AnnualRate.String(), "term_days", strconv.Itoa(ap.TermDays)))
}

// Reject records the bank's rejection and releases what the application
// held.
func (s *Service) Reject(ctx context.Context, tx *postgres.Tx, bankID, appID, code, reason, actor string) error {
	a, err := s.BankApplication(ctx, tx, bankID, appID)
	if err != nil {
		return err
	}
	if a.Status == Submitted {
		if err := s.transition(ctx, tx, &a, Delivered, actor, cause(CauseAnsweredEarly)); err != nil {
			return err
		}
	}
	if err := checkTransition(a.Status, Rejected); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE applications SET rejection_reason = $2 WHERE id = $1`, appID, code+": "+reason); err != nil {
		return postgres.Translate(err)
	}
	return s.transition(ctx, tx, &a, Rejected, actor, cause(CauseRejected, "code", code, "reason", reason))
}

// Loan is a bank loan made on an approved application.
type Loan struct {
	ID               string       `db:"id" json:"id"`
	Seq              int64        `db:"seq" json:"-"`
	ApplicationID    string       `db:"application_id" json:"application_id"`
	BankID           string       `db:"bank_id" json:"bank_id"`
	BankLoanID       string       `db:"bank_loan_id" json:"bank_loan_id"`
	AnnualRate       money.Rate   `db:"annual_rate" json:"annual_rate"`
	MaturityDate     money.Date   `db:"maturity_date" json:"maturity_date"`
	Disbursed        money.Amount `db:"disbursed" json:"disbursed"`
	RepaidPrincipal  money.Amount `db:"repaid_principal" json:"repaid_principal"`
	InterestPaid     money.Amount `db:"interest_paid" json:"interest_paid"`
	Outstanding      money.Amount `db:"-" json:"outstanding"`
	OverduePrincipal money.Amount `db:"overdue_principal" json:"overdue_principal"`
	OverdueSince     *money.Date  `db:"overdue_since" json:"overdue_since"`
	DrawdownEndedOn  *money.Date  `db:"drawdown_ended_on" json:"drawdown_ended_on"`
	ClosedOn         *money.Date  `db:"closed_on" json:"closed_on"`
	CloseReason      string       `db:"close_reason" json:"close_reason,omitempty"`
	SupplierUSCC     string       `db:"supplier_uscc" json:"supplier_uscc"`
	CreatedAt        time.Time    `db:"created_at" json:"created_at"`
	UpdatedAt        time.Time    `db:"updated_at" json:"updated_at"`

	Disbursements []Disbursement `db:"-" json:"disbursements,omitempty"`
	Repayments    []Repayment    `db:"-" json:"repayments,omitempty"`
	// RepaymentAccount is the application's repayment account and its
	// lock's state (Service.Loan only; nil when none was approved).
	RepaymentAccount *RepaymentAccount `db:"-" json:"repayment_account,omitempty"`
	// Payments are the treasury's payments of the contract matched to the
	// loan's application, or misdirected while its lock held, newest first
	// (Service.Loan and LoansOf only).
	Payments []ContractPayment `db:"-" json:"payments,omitempty"`
}

// Disbursement is one tranche paid out (loan.disbursed).
type Disbursement struct {
	BankDisbursementID string       `db:"bank_disbursement_id" json:"disbursement_id"`
	Amount             money.Amount `db:"amount" json:"amount"`
	ValueDate          money.Date   `db:"value_date" json:"value_date"`
	MaturityDate       money.Date   `db:"maturity_date" json:"maturity_date"`
	AnnualRate         money.Rate   `db:"annual_rate" json:"annual_rate"`
	Outstanding        money.Amount `db:"outstanding" json:"outstanding"` // principal not yet repaid on the tranche
	LoanID             string       `db:"-" json:"loan_id"`
}

// Repayment is one repayment (loan.repaid). BankDisbursementID names the
// tranche it repays ("": the loan as a whole). A repayment with interest 0
// may have no interest period (zero PeriodStart and PeriodEnd).
type Repayment struct {
	ID                 string       `db:"id" json:"-"`
	Seq                int64        `db:"seq" json:"-"` // the order the loan's repayments were recorded in
	BankRepaymentID    string       `db:"bank_repayment_id" json:"repayment_id"`
	BankDisbursementID string       `db:"bank_disbursement_id" json:"disbursement_id,omitempty"`
	Principal          money.Amount `db:"principal" json:"principal"`
	Interest           money.Amount `db:"interest" json:"interest"`
	PaidOn             money.Date   `db:"paid_on" json:"paid_on"`
	PeriodStart        money.Date   `db:"period_start" json:"-"`
	PeriodEnd          money.Date   `db:"period_end" json:"-"`
	OutstandingBefore  money.Amount `db:"outstanding_before" json:"outstanding_before"`
	LoanID             string       `db:"-" json:"loan_id"`
	// InterestPeriod is PeriodStart and PeriodEnd as the API shows them
	// (Service.Loan only; nil for a repayment without one).
	InterestPeriod *InterestPeriod `db:"-" json:"interest_period,omitempty"`
}

// LoanKey names what a loan event acts on: a bank's application and the
// bank's loan id on it.
type LoanKey struct{ BankID, ApplicationID, BankLoanID string }

// Locked is an application locked in a transaction and read with the
// bank's loan a loan event names (LockApplications, LockLoan): what
// Disburse, Repay, Overdue, CureOverdue, EndDrawdown and CloseLoan act on. It is what the application was when
// read, so it serves one change: a second change of the same application
// in the transaction locks and reads it again (a Locked used twice is an
// internal error).
type Locked struct {
	key  LoanKey
	row  *applicationLoan // nil: no application of that id
	used bool
}

// LockLoan locks and reads the application and loan k names: a batch of
// one of LockApplications.
func (s *Service) LockLoan(ctx context.Context, tx *postgres.Tx, k LoanKey) (*Locked, error) {
	u, ok := ids.Parse(k.ApplicationID)
	if !ok {
		return &Locked{key: k}, nil // not found, when acted on
	}
	id := u.String()
	m, err := s.LockApplications(ctx, tx, []string{id}, []LoanKey{{BankID: k.BankID, ApplicationID: id, BankLoanID: k.BankLoanID}})
	if err != nil {
		return nil, err
	}
	l := m[id]
	l.key = k
	return l, nil
}

// open returns the application and loan l read (the loan nil when the bank
// has none of that id; it may belong to another application): not_found
// when the application does not exist or is another bank's.
func (s *Service) open(l *Locked) (Application, *Loan, error) {
	switch {
	case l == nil:
		return Application{}, nil, errs.E(errs.Internal, "a loan event without its application locked")
	case l.used:
		return Application{}, nil, errs.E(errs.Internal, "application %s read for an earlier change", l.key.ApplicationID)
	}
	l.used = true
	if l.row == nil || l.row.BankID != l.key.BankID {
		return Application{}, nil, errs.E(errs.NotFound, "no application %s", l.key.ApplicationID)
	}
	a, found := l.row.split(l.key.BankLoanID)
	return a, found, nil
}

// loanColumns are the columns of loan l that an applicationLoan scans.
const loanColumns = `l.id AS loan_id, l.seq AS loan_seq, l.application_id AS loan_application_id,
	l.annual_rate AS loan_annual_rate, l.maturity_date AS loan_maturity_date, l.disbursed AS loan_disbursed,
	l.repaid_principal AS loan_repaid_principal, l.interest_paid AS loan_interest_paid,
	l.overdue_principal AS loan_overdue_principal, l.overdue_since AS loan_overdue_since,
	l.drawdown_ended_on AS loan_drawdown_ended_on, l.closed_on AS loan_closed_on, l.close_reason AS loan_close_reason,
	l.created_at AS loan_created_at, l.updated_at AS loan_updated_at`

// applicationLoan is an application with the loan a bank named, if found.
type applicationLoan struct {
	Application
	LoanID               *string       `db:"loan_id"`
	LoanSeq              *int64        `db:"loan_seq"`
	LoanApplicationID    *string       `db:"loan_application_id"`
	LoanAnnualRate       *money.Rate   `db:"loan_annual_rate"`
	LoanMaturityDate     *money.Date   `db:"loan_maturity_date"`
	LoanDisbursed        *money.Amount `db:"loan_disbursed"`
	LoanRepaidPrincipal  *money.Amount `db:"loan_repaid_principal"`
	LoanInterestPaid     *money.Amount `db:"loan_interest_paid"`
	LoanOverduePrincipal *money.Amount `db:"loan_overdue_principal"`
	LoanOverdueSince     *money.Date   `db:"loan_overdue_since"`
	LoanDrawdownEndedOn  *money.Date   `db:"loan_drawdown_ended_on"`
	LoanClosedOn         *money.Date   `db:"loan_closed_on"`
	LoanCloseReason      *string       `db:"loan_close_reason"`
	LoanCreatedAt        *time.Time    `db:"loan_created_at"`
	LoanUpdatedAt        *time.Time    `db:"loan_updated_at"`
}

func (row applicationLoan) split(bankLoanID string) (Application, *Loan) {
	a := row.Application
	a.derive()
	if row.LoanID == nil {
		return a, nil
	}
	return a, &Loan{ID: *row.LoanID, Seq: *row.LoanSeq, ApplicationID: *row.LoanApplicationID, BankID: a.BankID, BankLoanID: bankLoanID,
		AnnualRate: *row.LoanAnnualRate, MaturityDate: *row.LoanMaturityDate, Disbursed: *row.LoanDisbursed,
		RepaidPrincipal: *row.LoanRepaidPrincipal, InterestPaid: *row.LoanInterestPaid, OverduePrincipal: *row.LoanOverduePrincipal,
		OverdueSince: row.LoanOverdueSince, DrawdownEndedOn: row.LoanDrawdownEndedOn, ClosedOn: row.LoanClosedOn, CloseReason: *row.LoanCloseReason,
		SupplierUSCC: a.SupplierUSCC, CreatedAt: *row.LoanCreatedAt, UpdatedAt: *row.LoanUpdatedAt}
}

// LockApplications locks the applications ids (canonical spellings) for
// a batch of bank events (lockRows), and returns, by application id, each
// application that loans names (canonical ids, one each) read with the
// bank's loan a loan event acts on, for Disburse, Repay or Overdue to act
// on without a read of their own. An id naming no application is locked
// by nothing, and acting on it is not_found.
func (s *Service) LockApplications(ctx context.Context, tx *postgres.Tx, ids []string, loans []LoanKey) (map[string]*Locked, error) {
	rows, err := s.lockRows(ctx, tx, ids, loans)
	if err != nil || len(loans) == 0 {
		return nil, err
	}
	read := make(map[string]*applicationLoan, len(rows))
	for i := range rows {
		read[rows[i].ID] = &rows[i]
	}
	locked := make(map[string]*Locked, len(loans))
	for _, k := range loans {
		locked[k.ApplicationID] = &Locked{key: k, row: read[k.ApplicationID]}
	}
	return locked, nil
}

// lockRows locks the applications ids (UUIDs) for the rest of tx, in id
// order (the order of every transaction locking several: the intake, the
// relay, a batch of bank events), in one statement, and returns those
// that exist, in that order, each read with the bank's loan that loans
// names for it, if any. It does not check scope. Every change to an
// existing application, its history, consent, repayment account or loans
// locks it here first (lockApplication, lockApplications,
// LockApplications, LockLoan), so this is where the read cache learns of
// the change: the applications leave it when tx commits.
func (s *Service) lockRows(ctx context.Context, tx *postgres.Tx, ids []string, loans []LoanKey) ([]applicationLoan, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	apps, loanIDs := make([]string, len(loans)), make([]string, len(loans))
	for i, k := range loans {
		apps[i], loanIDs[i] = k.ApplicationID, k.BankLoanID
	}
	var rows []applicationLoan
	err := tx.SelectContext(ctx, &rows, `
		SELECT a.*, coalesce(cl.revolving, false) AS line_revolving, `+loanColumns+`
		FROM applications a
		LEFT JOIN credit_lines cl ON cl.id = a.credit_line_id
		LEFT JOIN unnest($2::uuid[], $3::text[]) AS v(application_id, bank_loan_id) ON v.application_id = a.id
		LEFT JOIN loans l ON l.bank_id = a.bank_id AND l.bank_loan_id = v.bank_loan_id
		WHERE a.id = ANY($1::uuid[]) ORDER BY a.id FOR UPDATE OF a`, pq.Array(ids), pq.Array(apps), pq.Array(loanIDs))
	if err != nil {
		return nil, postgres.Translate(err)
	}
	locked := make([]string, len(rows))
	for i := range rows {
		locked[i] = rows[i].ID // the stored id: the caller's may differ in case or form
	}
	s.changed(tx, locked...)
	return rows, nil
}

// loanOf returns a's loan as LockApplications found it, or, for a
// disbursement (create), makes it. A loan of another application, none
// when one is needed, or a second loan of an application (one loan per
// application, bank-protocol.md 1.1: an application with money disbursed
// has its loan) is an invalid transition.
func (s *Service) loanOf(ctx context.Context, tx *postgres.Tx, a Application, found *Loan, bankLoanID string, create *Disbursement) (Loan, error) {
	switch {
	case found != nil && found.ApplicationID != a.ID:
		return Loan{}, errs.E(errs.InvalidTransition, "loan %q belongs to another application", bankLoanID)
	case found != nil:
		return *found, nil
	case create == nil:
		return Loan{}, errs.E(errs.InvalidTransition, "no loan %q on this application", bankLoanID)
	case a.Disbursed.IsPositive():
		return Loan{}, errs.E(errs.InvalidTransition, "the application has its loan already: loan %q would be a second", bankLoanID)
	}
	var l Loan
	err := tx.GetContext(ctx, &l, `
		INSERT INTO loans (application_id, bank_id, bank_loan_id, annual_rate, maturity_date)
		VALUES ($1, $2, $3, $4, $5) RETURNING *, $6::text AS supplier_uscc`,
		a.ID, a.BankID, bankLoanID, create.AnnualRate, create.MaturityDate, a.SupplierUSCC)
	return l, postgres.Translate(err)
}

// Disburse records a tranche (loan.disbursed) of the loan l names on its
// application: never more in all than was approved. The repayment account
// is locked from the first tranche on, whether or not the purchaser
// confirmed it (lockOnDisbursement).
func (s *Service) Disburse(ctx context.Context, tx *postgres.Tx, l *Locked, d Disbursement, actor string) error {
	bankID, bankLoanID := l.key.BankID, l.key.BankLoanID
	a, found, err := s.open(l)
	if err != nil {
		return err
	}
	if !d.Amount.IsPositive() {
		return errs.InvalidFields(errs.Field("data.amount", errs.FieldNotPositive))
	}
	if err := checkTransition(a.Status, Disbursed); err != nil {
		return err
	}
	if a.ApprovedAmount == nil || a.Disbursed.Add(d.Amount).GreaterThan(*a.ApprovedAmount) {
		return errs.E(errs.InvalidTransition, "disbursing %s would take the loan past the approved %s (already disbursed %s)", d.Amount, a.ApprovedAmount, a.Disbursed)
	}
	if d.MaturityDate.Before(d.ValueDate) {
		return errs.InvalidFields(errs.FieldError{Field: "data.maturity_date", Code: "before_value_date", Message: "is before the value date"})
	}
	loan, err := s.loanOf(ctx, tx, a, found, bankLoanID, &d)
	if err != nil {
		return err
	}
	if loan.DrawdownEndedOn != nil {
		return errs.E(errs.InvalidTransition, "the drawdown of loan %q ended on %s: nothing more is disbursed", bankLoanID, loan.DrawdownEndedOn)
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO disbursements (loan_id, bank_id, bank_disbursement_id, amount, outstanding, value_date, maturity_date, annual_rate, created_at)
		VALUES ($1, $2, $3, $4::numeric, $4::numeric, $5, $6, $7, clock_timestamp())`, loan.ID, bankID, d.BankDisbursementID, d.Amount, d.ValueDate, d.MaturityDate, d.AnnualRate)
	if err != nil {
		if errs.Is(postgres.Translate(err), errs.Conflict) {
			return errs.E(errs.InvalidTransition, "disbursement %q was recorded before", d.BankDisbursementID)
		}
		return postgres.Translate(err)
	}
	if _, err := tx.ExecContext(ctx, `
		UPDATE loans SET disbursed = disbursed + $2, maturity_date = greatest(maturity_date, $3), annual_rate = $4, updated_at = now()
		WHERE id = $1`, loan.ID, d.Amount, d.MaturityDate, d.AnnualRate); err != nil {
		return postgres.Translate(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE applications SET disbursed = disbursed + $2 WHERE id = $1`, a.ID, d.Amount); err != nil {
		return postgres.Translate(err)
	}
	a.Disbursed = a.Disbursed.Add(d.Amount)
	if err := s.lockOnDisbursement(ctx, tx, a.ID, actor); err != nil {
		return err
	}
	return s.transition(ctx, tx, &a, Disbursed, actor, cause(CauseDisbursed,
		"loan", bankLoanID, "tranche", d.BankDisbursementID, "amount", d.Amount.String(), "value_date", d.ValueDate.String()))
}

// RepaymentResult is what a recorded repayment tells its caller (the
// subsidy computation needs the loan's state before it).
type RepaymentResult struct {
	Repayment   Repayment
	Application Application
	Loan        Loan
}

// OverdueResult is a loan.overdue recorded in a transaction: the subsidy
// claims of repayments paid on or after Since that wait for an officer
// are no longer eligible (subsidies.Service.OnOverdue).
type OverdueResult struct {
	ApplicationID string
	LoanID        string // procfin's id of the loan
	Since         money.Date
}

// CheckFigures refuses, with invalid_figures, a repayment whose figures
// cannot be true whatever was recorded before (bank-protocol.md 1.1): an
// interest period that does not start before it ends or ends after the
// payment, a payment dated after tomorrow (today is the Asia/Shanghai date
// of now), interest without an interest period. What depends on the loan
// (the value date, overlaps, what is outstanding) is Repay's.
func CheckFigures(r Repayment, now time.Time) error {
	var fe []errs.FieldError
	bad := func(field, code, msg string) {
		fe = append(fe, errs.FieldError{Field: "data." + field, Code: code, Message: msg})
	}
	hasPeriod := !r.PeriodStart.IsZero() || !r.PeriodEnd.IsZero()
	switch {
	case !hasPeriod && r.Interest.IsPositive():
		bad("interest_period", "required", "interest is paid for a period: start and end are required")
	case !hasPeriod:
	case r.PeriodStart.IsZero() || r.PeriodEnd.IsZero():
		bad("interest_period", "required", "start and end are required")
	case !r.PeriodStart.Before(r.PeriodEnd):
		bad("interest_period.end", "not_after_start", fmt.Sprintf("%s is not after the start %s: a period has at least one day", r.PeriodEnd, r.PeriodStart))
	case r.PeriodEnd.After(r.PaidOn):
		bad("interest_period.end", "after_paid_on", fmt.Sprintf("%s is after the payment on %s", r.PeriodEnd, r.PaidOn))
	}
	if tomorrow := money.DateOf(now).AddDays(1); r.PaidOn.After(tomorrow) {
		bad("paid_on", "in_future", fmt.Sprintf("%s is after tomorrow (%s, Asia/Shanghai)", r.PaidOn, tomorrow))
	}
	if len(fe) == 0 {
		return nil
	}
	return figuresError(fe...)
}

// CheckRepayment is CheckFigures today.
func (s *Service) CheckRepayment(r Repayment) error { return CheckFigures(r, s.now()) }

// figuresError is invalid_figures naming the fields.
func figuresError(fe ...errs.FieldError) error {
	msg := "the repayment's figures cannot be true"
	if len(fe) == 1 {
		msg = fe[0].Field + ": " + fe[0].Message
	}
	return &errs.Error{Code: errs.InvalidFigures, Message: msg, Fields: fe}
}

// Repay records a repayment (loan.repaid): never more principal than is
// outstanding on the loan, or on the tranche it names; never an interest
// period overlapping an earlier repayment's period of the same tranche or
// of the whole loan (a whole-loan repayment's, of any tranche or of the
// whole loan); never one starting before the tranche's value date (the
// loan's first, for a whole-loan repayment). A whole-loan repayment
// reduces the oldest tranches first (earliest value date, then earliest
// recorded). Repaid principal restores a revolving credit line; when
// nothing is outstanding the application is repaid, and its loan closes
// by itself (closeLoan: the contract's share and the account released)
// when all that was approved was disbursed or its drawdown ended.
//
// The loan is the one l names on its application. Returns invalid_figures
// (CheckFigures, and a period starting before the value date),
// invalid_transition (an unknown tranche or another loan's, principal
// above what is outstanding, an overlap, a repayment id seen before), and
// nothing is stored.
func (s *Service) Repay(ctx context.Context, tx *postgres.Tx, locked *Locked, r Repayment, actor string) (RepaymentResult, error) {
	var out RepaymentResult
	bankID, bankLoanID := locked.key.BankID, locked.key.BankLoanID
	a, found, err := s.open(locked)
	if err != nil {
		return out, err
	}
	switch {
	case r.Principal.IsNegative() || r.Interest.IsNegative():
		return out, errs.InvalidFields(errs.Field("data.principal", errs.FieldNegative))
	case r.Principal.IsZero() && r.Interest.IsZero():
		return out, errs.InvalidFields(errs.Field("data.principal", errs.FieldZero))
	}
	if err := CheckFigures(r, s.now()); err != nil {
		return out, err
	}
	if a.Status != Disbursed && a.Status != Repaid {
		return out, errs.E(errs.InvalidTransition, "an application that is %s has nothing to repay", a.Status)
	}
	l, err := s.loanOf(ctx, tx, a, found, bankLoanID, nil)
	if err != nil {
		return out, err
	}
	l.Outstanding = l.Disbursed.Sub(l.RepaidPrincipal)
	if r.Principal.GreaterThan(l.Outstanding) {
		return out, errs.E(errs.InvalidTransition, "repaying %s of principal, but only %s is outstanding", r.Principal, l.Outstanding)
	}
	r.OutstandingBefore = l.Outstanding
	// One round trip, under the application's lock (which covers its loan
	// and tranches): the checks that need the loan's tranches and earlier
	// periods, and, if they pass, the repayment, the principal on the
	// tranches, the loan's and the application's totals. A repayment id
	// seen before fails it whole.
	var res struct {
		Refusal     string        `db:"refusal"`
		ValueDate   *money.Date   `db:"value_date"`
		Outstanding *money.Amount `db:"outstanding"`
		ID          *string       `db:"id"`
		Seq         *int64        `db:"seq"`
	}
	statement := repayLoanStatement
	if r.BankDisbursementID != "" {
		statement = repayTrancheStatement
	}
	entry := cause(CauseRepayment, "loan", bankLoanID, "repayment", r.BankRepaymentID, "tranche", r.BankDisbursementID,
		"principal", r.Principal.String(), "interest", r.Interest.String(), "paid_on", r.PaidOn.String())
	err = tx.GetContext(ctx, &res, statement,
		l.ID, bankID, r.BankRepaymentID, r.Principal, r.Interest, r.PaidOn, r.PeriodStart, r.PeriodEnd, r.OutstandingBefore, a.ID, r.BankDisbursementID,
		string(a.Status), actor, entry.argsJSON())
	if err != nil {
		if errs.Is(postgres.Translate(err), errs.Conflict) {
			return out, errs.E(errs.InvalidTransition, "repayment %q was recorded before", r.BankRepaymentID)
		}
		return out, postgres.Translate(err)
	}
	tranche := "the loan"
	if r.BankDisbursementID != "" {
		tranche = fmt.Sprintf("tranche %q", r.BankDisbursementID)
	}
	switch res.Refusal {
	case "":
	case "no_tranche":
		return out, errs.E(errs.InvalidTransition, "loan %q has no tranche %q", bankLoanID, r.BankDisbursementID)
	case "before_value_date":
		return out, figuresError(errs.FieldError{Field: "data.interest_period.start", Code: "before_value_date",
			Message: fmt.Sprintf("%s is before the value date %s of %s", r.PeriodStart, res.ValueDate, tranche)})
	case "outstanding":
		return out, errs.E(errs.InvalidTransition, "repaying %s of principal, but only %s is outstanding on %s", r.Principal, res.Outstanding, tranche)
	case "overlap":
		return out, errs.E(errs.InvalidTransition, "the interest period %s to %s overlaps an earlier repayment's period of %s: every day of principal earns interest once",
			r.PeriodStart, r.PeriodEnd, tranche)
	default:
		return out, errs.E(errs.Internal, "repayment refused for %q", res.Refusal)
	}
	if res.ID == nil {
		return out, errs.E(errs.Internal, "the repayment was not written")
	}
	r.ID, r.Seq = *res.ID, *res.Seq
	a.RepaidPrincipal = a.RepaidPrincipal.Add(r.Principal)
	a.InterestPaid = a.InterestPaid.Add(r.Interest)
	a.derive()
	// Revolving use (循环使用): repaid principal is available again.
	if a.CreditLineID != nil && a.LineHeld.IsPositive() && r.Principal.IsPositive() {
		if a.LineRevolving {
			restore := r.Principal
			if restore.GreaterThan(a.LineHeld) {
				restore = a.LineHeld
			}
			if err := s.release(ctx, tx, &a, money.Zero, restore); err != nil {
				return out, err
			}
		}
	}
	// The repayment's history entry was written with it (the statement's
	// hist): every repayment has one, whether or not the state changes.
	if a.Outstanding.IsZero() && a.Status == Disbursed {
		if err := s.transition(ctx, tx, &a, Repaid, actor, cause(CauseRepaidInFull)); err != nil {
			return out, err
		}
		if (a.ApprovedAmount != nil && a.Disbursed.Equal(*a.ApprovedAmount)) || l.DrawdownEndedOn != nil {
			// Nothing outstanding and nothing more to draw: the loan closes by itself.
			if err := s.closeLoan(ctx, tx, &a, l, r.PaidOn, closedRepaid, actor,
				cause(CauseLoanClosedRepaid, "loan", bankLoanID, "on", r.PaidOn.String())); err != nil {
				return out, err
			}
		}
	} else if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "loan.repaid", EntityType: "application",
		EntityID: a.ID, After: r, Reason: entry.String()}); err != nil {
		return out, err
	}
	r.LoanID = l.BankLoanID
	out.Repayment, out.Application, out.Loan = r, a, l
	return out, nil
}

// repayTrancheStatement and repayLoanStatement check a repayment against
// its loan's tranches and earlier periods and, if it passes, write it with
// its effects: the first for a repayment naming its tranche, the second
// for one of the whole loan (two statements, so that each plan holds only
// its own case: the named tranche is the common one, and its plan is half
// the other's). $1 loan, $2 bank, $3 repayment id, $4 principal, $5
// interest, $6 paid on, $7 and $8 the interest period (NULL: none), $9 the
// loan's outstanding before, $10 the application, $11 the bank's tranche
// id (” for the whole loan), $12 the application's status, $13 the actor,
// $14 the arguments of the repayment's history entry (hist: written with
// the repayment, its state unchanged). Each answers one row: refusal (empty when
// written, else no_tranche, before_value_date, outstanding, overlap), the
// value date of the tranche (the loan's first, for a whole-loan
// repayment), the tranche's outstanding principal, and the repayment's id
// when written.
//
// Overlap: within a group of periods (one tranche's, or the whole loan's)
// the stored periods never overlap, so the new period overlaps the group
// exactly when the group's period starting last before the new one ends
// ends after the new one starts: one probe of repayments_periods per
// group. A tranche's repayment is checked against its tranche's and the
// whole loan's groups; a whole-loan repayment against every group of the
// loan. A repayment without an interest period overlaps nothing.
// The parts the two statements share: the whole loan's group of periods
// (a tranche's repayment must not overlap it either), the repayment's
// row, and the loan's and application's totals with the answer.
const (
	overlapsWholeLoan = `EXISTS (SELECT FROM (SELECT p.period_end FROM repayments p
		WHERE p.loan_id = $1 AND p.disbursement_id IS NULL AND p.period_start < $8::date
		ORDER BY p.period_start DESC LIMIT 1) w WHERE w.period_end > $7::date)`
	insertRepayment = `
		INSERT INTO repayments (loan_id, bank_id, bank_repayment_id, principal, interest, paid_on, period_start, period_end,
			outstanding_before, disbursement_id, created_at)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, chk.tranche, clock_timestamp() FROM chk WHERE chk.refusal = ''
		RETURNING id, seq`
	repaidTotals = `loan AS (
		UPDATE loans SET repaid_principal = repaid_principal + $4, interest_paid = interest_paid + $5, updated_at = now()
		FROM chk WHERE loans.id = $1 AND chk.refusal = ''
	), app AS (
		UPDATE applications SET repaid_principal = repaid_principal + $4, interest_paid = interest_paid + $5
		FROM chk WHERE applications.id = $10 AND chk.refusal = ''
	), hist AS (
		INSERT INTO application_transitions (application_id, n, from_status, to_status, actor, cause, cause_args)
		SELECT $10, (SELECT coalesce(max(n), 0) + 1 FROM application_transitions t WHERE t.application_id = $10),
			$12, $12, $13, '` + CauseRepayment + `', $14::jsonb
		FROM chk WHERE chk.refusal = ''
	)
	SELECT chk.refusal, chk.value_date, chk.outstanding, r.id, r.seq FROM chk LEFT JOIN r ON true`
)

const repayTrancheStatement = `
	WITH t AS (
		SELECT id, outstanding, value_date FROM disbursements
		WHERE bank_id = $2 AND bank_disbursement_id = $11 AND loan_id = $1
	), chk AS (
		SELECT CASE
			WHEN t.id IS NULL THEN 'no_tranche'
			WHEN $7::date < t.value_date THEN 'before_value_date'
			WHEN $4::numeric > t.outstanding THEN 'outstanding'
			WHEN $7::date IS NOT NULL AND (
				` + overlapsWholeLoan + `
				OR EXISTS (SELECT FROM (SELECT p.period_end FROM repayments p
					WHERE p.loan_id = $1 AND p.disbursement_id = t.id AND p.period_start < $8::date
					ORDER BY p.period_start DESC LIMIT 1) w WHERE w.period_end > $7::date)
			) THEN 'overlap'
			ELSE '' END AS refusal,
			t.id AS tranche, t.outstanding, t.value_date
		FROM (SELECT) one LEFT JOIN t ON true
	), r AS (` + insertRepayment + `
	), tr AS (
		UPDATE disbursements d SET outstanding = d.outstanding - $4
		FROM chk WHERE d.id = chk.tranche AND chk.refusal = '' AND $4::numeric > 0
	), ` + repaidTotals

const repayLoanStatement = `
	WITH first AS ( -- the loan's first value date
		SELECT min(value_date) AS value_date, $11::text AS none FROM disbursements WHERE loan_id = $1
	), chk AS (
		SELECT CASE
			WHEN $7::date < first.value_date THEN 'before_value_date'
			WHEN $7::date IS NOT NULL AND (
				` + overlapsWholeLoan + `
				OR EXISTS (SELECT FROM disbursements g CROSS JOIN LATERAL (SELECT p.period_end FROM repayments p
					WHERE p.loan_id = $1 AND p.disbursement_id = g.id AND p.period_start < $8::date
					ORDER BY p.period_start DESC LIMIT 1) w
					WHERE g.loan_id = $1 AND w.period_end > $7::date)
			) THEN 'overlap'
			ELSE '' END AS refusal,
			NULL::uuid AS tranche, NULL::numeric AS outstanding, first.value_date
		FROM first
	), r AS (` + insertRepayment + `
	), alloc AS (
		-- The principal on the tranches, the oldest first.
		SELECT d.id, least(d.outstanding, greatest(0, $4::numeric - coalesce(sum(d.outstanding) OVER w, 0))) AS take
		FROM chk JOIN disbursements d ON d.loan_id = $1
		WHERE chk.refusal = '' AND $4::numeric > 0
		WINDOW w AS (ORDER BY d.value_date, d.created_at, d.id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
	), tr AS (
		UPDATE disbursements d SET outstanding = d.outstanding - alloc.take
		FROM alloc WHERE d.loan_id = $1 AND d.id = alloc.id AND alloc.take > 0
	), ` + repaidTotals

// Loans lists loans in scope, newest first, with seq below before (0:
// from the newest), at most limit.
func (s *Service) Loans(ctx context.Context, sc Scope, before int64, limit int) ([]Loan, error) {
	list := []Loan{}
	if sc.purchaserScoped() {
		return list, nil
	}
	err := s.db.SelectContext(ctx, &list, `
		SELECT l.*, a.supplier_uscc FROM loans l JOIN applications a ON a.id = l.application_id
		WHERE ($1 = '' OR a.supplier_uscc = $1) AND ($2 = '' OR l.bank_id = $2) AND ($3 = 0 OR l.seq < $3)
		ORDER BY l.seq DESC LIMIT $4`, sc.SupplierUSCC, sc.BankID, before, limit)
	for i := range list {
		list[i].Outstanding = list[i].Disbursed.Sub(list[i].RepaidPrincipal)
	}
	return list, postgres.Translate(err)
}

// Loan returns one loan with its disbursements and repayments.
func (s *Service) Loan(ctx context.Context, sc Scope, id string) (Loan, error) {
	var l Loan
	canon, isID := ids.Canonical(id)
	if !isID || sc.purchaserScoped() {
		return l, errs.E(errs.NotFound, "no loan %s", id)
	}
	id = canon
	err := s.db.GetContext(ctx, &l, `SELECT l.*, a.supplier_uscc FROM loans l JOIN applications a ON a.id = l.application_id WHERE l.id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && ((sc.SupplierUSCC != "" && sc.SupplierUSCC != l.SupplierUSCC) || (sc.BankID != "" && sc.BankID != l.BankID))) {
		return Loan{}, errs.E(errs.NotFound, "no loan %s", id)
	}
	if err != nil {
		return l, postgres.Translate(err)
	}
	l.Outstanding = l.Disbursed.Sub(l.RepaidPrincipal)
	return l, s.loanDetail(ctx, &l)
}
