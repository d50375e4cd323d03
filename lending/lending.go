package lending

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"procfin/contracts"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// Limits are the programme's limits on one application (configs/).
type Limits struct {
	MaxAmount   money.Amount
	MaxTermDays int
	ConsentTTL  time.Duration // how long a consent to share data lasts
	// WriteOffBarDays is how long after a write-off the supplier's new
	// applications fail supplier.not_overdue (lending.write_off_bar_days).
	WriteOffBarDays int
}

// Outbox queues the message telling an application's bank of it, in the
// caller's transaction (package banking implements it), so an application
// is never lost and never sent if rolled back.
type Outbox interface {
	Enqueue(ctx context.Context, tx *postgres.Tx, ss ...Submission) error
	// Withdraw stops what the bank was to be told of a cancelled
	// application and, if the bank may have heard of it, queues a
	// withdrawal; it reports whether it did.
	Withdraw(ctx context.Context, tx *postgres.Tx, w Withdrawal) (bool, error)
}

// Withdrawal is a cancelled application the bank may have to be told of.
type Withdrawal struct {
	ApplicationID string
	BankID        string
	Reason        string // CauseCancelledBySupplier or CauseConsentRevoked
	// Known: the bank has heard of the application (it was delivered or
	// its delivery failed), so it is told whatever its delivery's state.
	Known bool
}

// Service keeps credit lines, applications and loans.
type Service struct {
	db        *sqlx.DB
	contracts *contracts.Service
	outbox    Outbox
	limits    Limits
	now       func() time.Time
	cache     *readCache // nil: off (UseReadCache)
	intake    *intake
	banks     bankSet
}

// NewService returns the lending service. A nil now means time.Now.
func NewService(db *sqlx.DB, cs *contracts.Service, outbox Outbox, limits Limits, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if limits.ConsentTTL == 0 {
		limits.ConsentTTL = 365 * 24 * time.Hour
	}
	if limits.WriteOffBarDays == 0 {
		limits.WriteOffBarDays = 365
	}
	s := &Service{db: db, contracts: cs, outbox: outbox, limits: limits, now: now}
	s.intake = newIntake(s, intakeWriters, intakeMaxBatch)
	return s
}

// Submission is what an accepted application tells its bank: the facts
// its credit-application message is made of (package banking makes the
// message). It is built once, in the application's transaction.
type Submission struct {
	ApplicationID string
	BankID        string
	SubmittedAt   time.Time
	Supplier      contracts.Supplier
	Notice        contracts.AwardNotice
	Contract      contracts.Contract // with its purchaser, currency and payment terms
	Amount        money.Amount
	TermDays      int
	BankLineID    *string // the bank's id of the credit line drawn on; nil for none
	Purpose       string
	Verification  contracts.Report
}
