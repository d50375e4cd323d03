package lending

import (
	"context"
	"database/sql"
	"errors"

	"procfin/platform/ids"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// InterestPeriod is the days a repayment's interest was paid for:
// [Start, End).
type InterestPeriod struct {
	Start money.Date `json:"start"`
	End   money.Date `json:"end"`
}

// loanDetail reads what a loan's page and GET /v1/loans/{id} show beside
// its totals: its tranches with what each has outstanding (oldest first:
// earliest value date, then earliest recorded), its repayments in the
// order they were recorded (each naming its tranche, or none for the
// whole loan), and its application's repayment account with the lock's
// state.
func (s *Service) loanDetail(ctx context.Context, l *Loan) error {
	l.Disbursements, l.Repayments = []Disbursement{}, []Repayment{}
	if err := s.db.SelectContext(ctx, &l.Disbursements, `
		SELECT bank_disbursement_id, amount, value_date, maturity_date, annual_rate, outstanding
		FROM disbursements WHERE loan_id = $1 ORDER BY value_date, created_at, id`, l.ID); err != nil {
		return postgres.Translate(err)
	}
	if err := s.db.SelectContext(ctx, &l.Repayments, `
		SELECT r.id, r.bank_repayment_id, coalesce(d.bank_disbursement_id, '') AS bank_disbursement_id, r.principal, r.interest,
			r.paid_on, r.period_start, r.period_end, r.outstanding_before
		FROM repayments r LEFT JOIN disbursements d ON d.id = r.disbursement_id
		WHERE r.loan_id = $1 ORDER BY r.seq`, l.ID); err != nil {
		return postgres.Translate(err)
	}
	for i := range l.Disbursements {
		l.Disbursements[i].LoanID = l.ID
	}
	for i, r := range l.Repayments {
		l.Repayments[i].LoanID = l.ID
		if !r.PeriodStart.IsZero() {
			l.Repayments[i].InterestPeriod = &InterestPeriod{Start: r.PeriodStart, End: r.PeriodEnd}
		}
	}
	var acct RepaymentAccount
	err := s.db.GetContext(ctx, &acct, `SELECT bank_name, account_no, account_name, status, updated_at
		FROM repayment_accounts WHERE application_id = $1`, l.ApplicationID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return postgres.Translate(err)
	default:
		l.RepaymentAccount = &acct
	}
	l.Payments, err = s.applicationPayments(ctx, l.ApplicationID)
	return err
}

// LoansOf returns the loans made on an application in scope, oldest
// first, each with its detail as Loan gives it: what the application's
// page shows. An application out of scope has none.
func (s *Service) LoansOf(ctx context.Context, sc Scope, appID string) ([]Loan, error) {
	list := []Loan{}
	canon, isID := ids.Canonical(appID)
	if !isID || sc.purchaserScoped() {
		return list, nil
	}
	err := s.db.SelectContext(ctx, &list, `
		SELECT l.*, a.supplier_uscc FROM loans l JOIN applications a ON a.id = l.application_id
		WHERE l.application_id = $1 AND ($2 = '' OR a.supplier_uscc = $2) AND ($3 = '' OR l.bank_id = $3)
		ORDER BY l.seq`, canon, sc.SupplierUSCC, sc.BankID)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	for i := range list {
		list[i].Outstanding = list[i].Disbursed.Sub(list[i].RepaidPrincipal)
		if err := s.loanDetail(ctx, &list[i]); err != nil {
			return nil, err
		}
	}
	return list, nil
}
