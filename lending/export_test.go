package lending

import (
	"context"

	"procfin/platform/money"
	"procfin/platform/postgres"
)

// ApplyBatch writes the applications in one batch of the intake, as it
// writes those of concurrent requests, and returns each one's answer.
func (s *Service) ApplyBatch(whos []Applicant, ins []ApplyInput) ([]Application, []error) {
	items := make([]*intakeItem, len(ins))
	for i := range ins {
		items[i] = &intakeItem{ctx: context.Background(), who: whos[i], in: ins[i], done: make(chan struct{})}
	}
	s.intake.write(items)
	apps, errs := make([]Application, len(items)), make([]error, len(items))
	for i, it := range items {
		apps[i], errs[i] = it.app, it.err
	}
	return apps, errs
}

// DisburseOne, RepayOne and OverdueOne lock the application and loan
// (LockLoan) and act on them, as a lone bank event does.
func (s *Service) DisburseOne(ctx context.Context, tx *postgres.Tx, bankID, appID, bankLoanID string, d Disbursement, actor string) error {
	l, err := s.LockLoan(ctx, tx, LoanKey{BankID: bankID, ApplicationID: appID, BankLoanID: bankLoanID})
	if err != nil {
		return err
	}
	return s.Disburse(ctx, tx, l, d, actor)
}

func (s *Service) RepayOne(ctx context.Context, tx *postgres.Tx, bankID, appID, bankLoanID string, r Repayment, actor string) (RepaymentResult, error) {
	l, err := s.LockLoan(ctx, tx, LoanKey{BankID: bankID, ApplicationID: appID, BankLoanID: bankLoanID})
	if err != nil {
		return RepaymentResult{}, err
	}
	return s.Repay(ctx, tx, l, r, actor)
}

func (s *Service) OverdueOne(ctx context.Context, tx *postgres.Tx, bankID, appID, bankLoanID string, principal money.Amount, since money.Date, actor string) error {
	l, err := s.LockLoan(ctx, tx, LoanKey{BankID: bankID, ApplicationID: appID, BankLoanID: bankLoanID})
	if err != nil {
		return err
	}
	_, err = s.Overdue(ctx, tx, l, principal, since, actor)
	return err
}

// EndDrawdownOne, CloseOne and CureOne lock the application and loan and
// act on them, as a lone bank event does.
func (s *Service) EndDrawdownOne(ctx context.Context, tx *postgres.Tx, bankID, appID, bankLoanID string, on money.Date, actor string) error {
	l, err := s.LockLoan(ctx, tx, LoanKey{BankID: bankID, ApplicationID: appID, BankLoanID: bankLoanID})
	if err != nil {
		return err
	}
	return s.EndDrawdown(ctx, tx, l, on, actor)
}

func (s *Service) CloseOne(ctx context.Context, tx *postgres.Tx, bankID, appID, bankLoanID string, on money.Date, reason, actor string) error {
	l, err := s.LockLoan(ctx, tx, LoanKey{BankID: bankID, ApplicationID: appID, BankLoanID: bankLoanID})
	if err != nil {
		return err
	}
	return s.CloseLoan(ctx, tx, l, on, reason, actor)
}

func (s *Service) CureOne(ctx context.Context, tx *postgres.Tx, bankID, appID, bankLoanID string, on money.Date, actor string) error {
	l, err := s.LockLoan(ctx, tx, LoanKey{BankID: bankID, ApplicationID: appID, BankLoanID: bankLoanID})
	if err != nil {
		return err
	}
	return s.CureOverdue(ctx, tx, l, on, actor)
}

// AcceptInput is in as the application accepting the offer offerID of
// intent intentID (as Accept queues it): for ApplyBatch.
func AcceptInput(in ApplyInput, intentID, offerID string) ApplyInput {
	in.offer = &offerRef{IntentID: intentID, OfferID: offerID}
	return in
}
