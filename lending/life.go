package lending

import (
	"context"
	"fmt"

	"github.com/lib/pq"

	"procfin/contracts"
	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// The loan's life after its tranches (bank-protocol.md 1.1, "Closing,
// overdue and cure"): the end of its drawdown, its closing, its overdue
// episodes and their cure, and an approval that lapses undrawn.

// Why a loan closed (loans.close_reason).
const (
	closedRepaid     = "repaid"
	closedWrittenOff = "written_off"
)

// Why an approval lapsed (application.lapsed's reason).
var lapseReasons = []string{"expired", "receivable_refused", "declined_by_supplier"}

// LapseReasons are the reasons application.lapsed may give.
func LapseReasons() []string { return append([]string(nil), lapseReasons...) }

// lineKept is what a's credit line keeps in use for good once a draws no
// more: principal not repaid (outstanding, or written off) and, on a line
// that is not revolving, repaid principal too (it is never given back).
// What the line holds beyond it is the undisbursed rest. Never more than
// a holds.
func (a *Application) lineKept() money.Amount {
	kept := a.Disbursed.Sub(a.RepaidPrincipal)
	if !a.LineRevolving {
		kept = a.Disbursed
	}
	switch {
	case kept.IsNegative():
		return money.Zero
	case kept.GreaterThan(a.LineHeld):
		return a.LineHeld
	}
	return kept
}

// releaseUndrawn gives back what a holds beyond what it drew: the
// undisbursed rest of the contract's financing and of the credit line.
func (s *Service) releaseUndrawn(ctx context.Context, tx *postgres.Tx, a *Application) error {
	financing := a.FinancingHeld.Sub(a.Disbursed)
	if financing.IsNegative() {
		financing = money.Zero
	}
	line := a.LineHeld.Sub(a.lineKept())
	if !financing.IsPositive() && !line.IsPositive() {
		return nil
	}
	return s.release(ctx, tx, a, financing, line)
}

// openLoan returns the application and its loan locked names, for an
// event that acts on a loan it has (not one that makes it): not_found
// (no such application of the bank) or invalid_transition (no such loan
// of the application).
func (s *Service) openLoan(ctx context.Context, tx *postgres.Tx, locked *Locked) (Application, Loan, error) {
	a, found, err := s.open(locked)
	if err != nil {
		return Application{}, Loan{}, err
	}
	l, err := s.loanOf(ctx, tx, a, found, locked.key.BankLoanID, nil)
	return a, l, err
}

// closeLoan closes a's loan l (a locked, in a state that may become
// closed) on the day on for reason: it records the closing on the loan
// (its drawdown ended too, by then), ends an open overdue episode on that
// day, records a write-off's day on the application, releases the
// repayment account's lock when all disbursed principal is repaid, and
// moves a to closed (transitionMany, which releases the contract's share
// and the line's undisbursed rest).
func (s *Service) closeLoan(ctx context.Context, tx *postgres.Tx, a *Application, l Loan, on money.Date, reason, actor string, why Cause) error {
	var writtenOff *money.Date
	if reason == closedWrittenOff {
		writtenOff = &on
	}
	if _, err := tx.ExecContext(ctx, `
		WITH ep AS (
			UPDATE loan_overdues SET cured_on = greatest(since, $2::date) WHERE loan_id = $1 AND cured_on IS NULL
		), l AS (
			UPDATE loans SET closed_on = $2, close_reason = $3, drawdown_ended_on = coalesce(drawdown_ended_on, $2),
				overdue_since = NULL, overdue_principal = 0, updated_at = now()
			WHERE id = $1
		)
		UPDATE applications SET overdue_since = NULL, written_off_on = coalesce($5, written_off_on) WHERE id = $4`,
		l.ID, on, reason, a.ID, writtenOff); err != nil {
		return postgres.Translate(err)
	}
	a.OverdueSince = nil
	if writtenOff != nil {
		a.WrittenOffOn = writtenOff
	}
	if a.Disbursed.Equal(a.RepaidPrincipal) {
		if err := s.moveAccount(ctx, tx, a.ID, "released", actor, cause(CauseAccountReleased)); err != nil {
			return err
		}
	}
	return s.transition(ctx, tx, a, Closed, actor, why)
}

// EndDrawdown records loan.drawdown_ended of the loan locked names: the
// bank disburses no more on it. It releases the undisbursed rest (the
// approval less what was disbursed) of the contract's financing and of the
// credit line, and closes the application when all disbursed principal is
// repaid already. A loan whose drawdown ended (or closed) before changes
// nothing. Returns not_found or invalid_transition (no such loan of the
// application).
func (s *Service) EndDrawdown(ctx context.Context, tx *postgres.Tx, locked *Locked, endedOn money.Date, actor string) error {
	a, l, err := s.openLoan(ctx, tx, locked)
	if err != nil {
		return err
	}
	bankLoanID := l.BankLoanID
	if l.DrawdownEndedOn != nil || l.ClosedOn != nil || a.Status == Closed {
		return nil // told before: nothing changes
	}
	if a.Status != Disbursed && a.Status != Repaid {
		return errs.E(errs.InvalidTransition, "an application that is %s has no drawdown to end", a.Status)
	}
	if a.Status == Repaid {
		return s.closeLoan(ctx, tx, &a, l, endedOn, closedRepaid, actor,
			cause(CauseDrawdownEndedRepaid, "loan", bankLoanID, "on", endedOn.String()))
	}
	why := cause(CauseDrawdownEnded, "loan", bankLoanID, "on", endedOn.String())
	if _, err := tx.ExecContext(ctx, `
		WITH l AS (
			UPDATE loans SET drawdown_ended_on = $2, updated_at = now() WHERE id = $1
		)`+insertNote, l.ID, endedOn, a.ID, string(a.Status), actor, why.Code, why.argsJSON()); err != nil {
		return postgres.Translate(err)
	}
	before := a
	if err := s.releaseUndrawn(ctx, tx, &a); err != nil {
		return err
	}
	entry, err := applicationEntry(actor, "loan.drawdown_ended", before, a, why.String())
	if err != nil {
		return err
	}
	return audit.Record(ctx, tx, entry)
}

// CloseLoan records loan.closed of the loan locked names, on closedOn for
// reason: repaid (all disbursed principal repaid; the lock is released)
// or written_off (principal outstanding; the lock stays locked, the
// application records the day, its cause is written_off). Either way the
// contract's share is released, and the line's undisbursed rest; a
// revolving line got repaid principal back as it was repaid, and no line
// gets written-off principal back. A loan closed before for the same
// reason (by itself, when repaid) changes nothing. Returns not_found or
// invalid (reason), or invalid_transition: repaid while principal is
// outstanding, written off with none outstanding, closed before for the
// other reason, no such loan of the application.
func (s *Service) CloseLoan(ctx context.Context, tx *postgres.Tx, locked *Locked, closedOn money.Date, reason, actor string) error {
	if reason != closedRepaid && reason != closedWrittenOff {
		return errs.InvalidFields(errs.Field("data.reason", errs.FieldInvalid))
	}
	a, l, err := s.openLoan(ctx, tx, locked)
	if err != nil {
		return err
	}
	bankLoanID := l.BankLoanID
	if a.Status == Closed {
		switch {
		case l.CloseReason == reason || (l.CloseReason == "" && reason == closedRepaid):
			return nil // closed before, as the bank says: nothing changes
		case l.CloseReason == closedWrittenOff && reason == closedRepaid:
			return s.repaidAfterWriteOff(ctx, tx, a, l, closedOn, actor)
		}
		return errs.E(errs.InvalidTransition, "loan %q is closed already (%s)", bankLoanID, l.CloseReason)
	}
	outstanding := a.Disbursed.Sub(a.RepaidPrincipal)
	switch {
	case a.Status != Disbursed && a.Status != Repaid:
		return errs.E(errs.InvalidTransition, "an application that is %s has no loan to close", a.Status)
	case reason == closedRepaid && outstanding.IsPositive():
		return errs.E(errs.InvalidTransition, "loan %q has %s of principal outstanding: it closes as repaid only when all is repaid", bankLoanID, outstanding)
	case reason == closedWrittenOff && !outstanding.IsPositive():
		return errs.E(errs.InvalidTransition, "loan %q has no principal outstanding to write off: it closes as repaid", bankLoanID)
	}
	why := cause(CauseLoanWrittenOff, "loan", bankLoanID, "on", closedOn.String())
	if reason == closedRepaid {
		why = cause(CauseLoanClosedRepaid, "loan", bankLoanID, "on", closedOn.String())
	}
	return s.closeLoan(ctx, tx, &a, l, closedOn, reason, actor, why)
}

// repaidAfterWriteOff records the bank's loan.closed repaid of a loan it
// wrote off: the bank was paid in the end (what the purchaser paid into the
// locked account), so the repayment account's lock is released (domain.md
// 1.1, clarifications: a written-off loan keeps its lock until the bank
// closes it as repaid). The loan's figures stay as recorded, the line
// keeps the written-off principal and the supplier's write-off stays on
// record.
func (s *Service) repaidAfterWriteOff(ctx context.Context, tx *postgres.Tx, a Application, l Loan, on money.Date, actor string) error {
	why := cause(CauseWrittenOffRepaid, "loan", l.BankLoanID, "on", on.String())
	if _, err := tx.ExecContext(ctx, `
		WITH l AS (
			UPDATE loans SET close_reason = 'repaid', closed_on = $2, updated_at = now() WHERE id = $1
		)`+insertNote, l.ID, on, a.ID, string(a.Status), actor, why.Code, why.argsJSON()); err != nil {
		return postgres.Translate(err)
	}
	if err := s.moveAccount(ctx, tx, a.ID, "released", actor, why); err != nil {
		return err
	}
	return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "loan.closed", EntityType: "application", EntityID: a.ID,
		Reason: why.String()})
}

// Lapse records application.lapsed: an approval that will never be drawn
// (reason: expired, receivable_refused, declined_by_supplier) closes the
// application, its cause the reason, releasing everything it holds and the
// repayment account's lock. Returns not_found, invalid (reason) or
// invalid_transition (not approved, or money disbursed).
func (s *Service) Lapse(ctx context.Context, tx *postgres.Tx, bankID, appID, reason, actor string) error {
	known := false
	for _, r := range lapseReasons {
		known = known || r == reason
	}
	if !known {
		return errs.InvalidFields(errs.Field("data.reason", errs.FieldInvalid))
	}
	a, err := s.BankApplication(ctx, tx, bankID, appID)
	if err != nil {
		return err
	}
	if a.Status != Approved || a.Disbursed.IsPositive() {
		return errs.E(errs.InvalidTransition, "an application that is %s cannot lapse: only an approval with nothing disbursed does", a.Status)
	}
	if err := s.moveAccount(ctx, tx, a.ID, "released", actor, cause(CauseAccountReleasedLapsed, "reason", reason)); err != nil {
		return err
	}
	return s.transition(ctx, tx, &a, Closed, actor, cause(CauseLapsed, "reason", reason))
}

// Overdue records loan.overdue of the loan locked names on its
// application: it opens the loan's overdue episode from since (or, with
// one open, sets its principal), and marks the loan and application
// overdue since the episode's start. Returns not_found, or
// invalid_transition (principal above what is outstanding, a closed loan,
// no such loan of the application).
func (s *Service) Overdue(ctx context.Context, tx *postgres.Tx, locked *Locked, principal money.Amount, since money.Date, actor string) (OverdueResult, error) {
	a, l, err := s.openLoan(ctx, tx, locked)
	if err != nil {
		return OverdueResult{}, err
	}
	bankLoanID := l.BankLoanID
	if a.Status == Closed {
		return OverdueResult{}, errs.E(errs.InvalidTransition, "loan %q is closed", bankLoanID)
	}
	if principal.IsNegative() || principal.GreaterThan(l.Disbursed.Sub(l.RepaidPrincipal)) {
		return OverdueResult{}, errs.E(errs.InvalidTransition, "overdue principal %s is more than is outstanding", principal)
	}
	// The history entry names the episode's start: the one open already,
	// or since.
	var start money.Date
	err = tx.GetContext(ctx, &start, `
		WITH ep AS (
			INSERT INTO loan_overdues (loan_id, since, principal) VALUES ($1, $3, $2)
			ON CONFLICT (loan_id) WHERE cured_on IS NULL DO UPDATE SET principal = EXCLUDED.principal
			RETURNING since
		), l AS (
			UPDATE loans SET overdue_principal = $2, overdue_since = (SELECT since FROM ep), updated_at = now() WHERE id = $1
		), a AS (
			UPDATE applications SET overdue_since = (SELECT since FROM ep) WHERE id = $4
		), hist AS (
			INSERT INTO application_transitions (application_id, n, from_status, to_status, actor, cause, cause_args)
			SELECT $4, (SELECT coalesce(max(n), 0) + 1 FROM application_transitions t WHERE t.application_id = $4),
				$5, $5, $6, '`+CauseOverdue+`', $7::jsonb || jsonb_build_object('since', ep.since::text) FROM ep
		)
		SELECT since FROM ep`, l.ID, principal, since, a.ID, string(a.Status), actor,
		cause(CauseOverdue, "loan", bankLoanID, "principal", principal.String()).argsJSON())
	if err != nil {
		return OverdueResult{}, postgres.Translate(err)
	}
	err = audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "loan.overdue", EntityType: "application", EntityID: a.ID,
		Reason: cause(CauseOverdue, "loan", bankLoanID, "principal", principal.String(), "since", start.String()).String()})
	return OverdueResult{ApplicationID: a.ID, LoanID: l.ID, Since: start}, err
}

// CureOverdue records loan.overdue_cured of the loan locked names: its
// open overdue episode ends on curedOn, and the loan and application are
// no longer overdue. Returns not_found, invalid (curedOn before the
// episode began, naming data.cured_on) or invalid_transition (the loan is
// not overdue, no such loan of the application).
func (s *Service) CureOverdue(ctx context.Context, tx *postgres.Tx, locked *Locked, curedOn money.Date, actor string) error {
	a, l, err := s.openLoan(ctx, tx, locked)
	if err != nil {
		return err
	}
	bankLoanID := l.BankLoanID
	switch {
	case l.OverdueSince == nil:
		return errs.E(errs.InvalidTransition, "loan %q is not overdue", bankLoanID)
	case curedOn.Before(*l.OverdueSince):
		return errs.InvalidFields(errs.FieldError{Field: "data.cured_on", Code: "before_since",
			Message: fmt.Sprintf("%s is before the overdue began (%s)", curedOn, l.OverdueSince)})
	}
	why := cause(CauseOverdueCured, "loan", bankLoanID, "since", l.OverdueSince.String(), "on", curedOn.String())
	if _, err := tx.ExecContext(ctx, `
		WITH ep AS (
			UPDATE loan_overdues SET cured_on = $2 WHERE loan_id = $1 AND cured_on IS NULL
		), l AS (
			UPDATE loans SET overdue_since = NULL, overdue_principal = 0, updated_at = now() WHERE id = $1
		), a AS (
			UPDATE applications SET overdue_since = NULL WHERE id = $3
		)`+insertNote, l.ID, curedOn, a.ID, string(a.Status), actor, why.Code, why.argsJSON()); err != nil {
		return postgres.Translate(err)
	}
	return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "loan.overdue_cured", EntityType: "application", EntityID: a.ID,
		Reason: why.String()})
}

// supplierBars reads, in one statement, which of the suppliers usccs may
// not borrow again today (the check supplier.not_overdue): a supplier with
// an application overdue, or one written off within the programme's bar
// (Limits.WriteOffBarDays before today). It returns the reason of each
// that fails, keyed by USCC.
func (s *Service) supplierBars(ctx context.Context, tx *postgres.Tx, usccs []string, today money.Date) (map[string]contracts.Reason, error) {
	var rows []struct {
		USCC         string      `db:"supplier_uscc"`
		OverdueSince *money.Date `db:"overdue_since"`
		WrittenOffOn *money.Date `db:"written_off_on"`
	}
	err := tx.SelectContext(ctx, &rows, `
		SELECT supplier_uscc, min(overdue_since) AS overdue_since, max(written_off_on) AS written_off_on
		FROM applications
		WHERE supplier_uscc = ANY($1::text[]) AND (overdue_since IS NOT NULL OR written_off_on > $2::date)
		GROUP BY supplier_uscc`, pq.Array(usccs), today.AddDays(-s.limits.WriteOffBarDays))
	if err != nil {
		return nil, postgres.Translate(err)
	}
	bars := make(map[string]contracts.Reason, len(rows))
	for _, r := range rows {
		if r.OverdueSince != nil {
			bars[r.USCC] = contracts.Because("overdue_since", r.OverdueSince.String())
		} else if r.WrittenOffOn != nil {
			bars[r.USCC] = contracts.Because("written_off", r.WrittenOffOn.String(), r.WrittenOffOn.AddDays(s.limits.WriteOffBarDays).String())
		}
	}
	return bars, nil
}
