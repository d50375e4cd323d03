package lending

import (
	"context"
	"encoding/json"
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
	// IntentTTL is how long banks have to answer a financing intent when
	// the supplier names no respond_by (lending.intent_ttl, 72 h).
	IntentTTL time.Duration
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
	// ContractEvents queues contract events (bank-protocol.md 1.1,
	// "Contract events"), each for its application's bank.
	ContractEvents(ctx context.Context, tx *postgres.Tx, es ...ContractEvent) error
	// Intents queues a financing-intents message for each bank asked
	// (bank-protocol.md 1.1, "Competing offers"), each with only the data
	// its consent names.
	Intents(ctx context.Context, tx *postgres.Tx, ms ...IntentMessage) error
	// Decisions queues the decision on an intent for each bank asked
	// (POST {base}/v1/financing-intents/{intent_id}/decision).
	Decisions(ctx context.Context, tx *postgres.Tx, ds ...Decision) error
}

// The types of contract event (bank-protocol.md 1.1, "Contract events").
const (
	EventReceivableConfirmed = "receivable.confirmed"
	EventReceivableRefused   = "receivable.refused"
	EventContractAmended     = "contract.amended"
	EventPaymentReceived     = "payment.received"
	EventPaymentMisdirected  = "payment.misdirected"
)

// ContractEvent is one contract event for the bank of one live application
// or loan on the contract: each such application gets its own, with its
// own event id (its message id).
type ContractEvent struct {
	EventID       string // a new UUID
	Type          string // one of the Event* types
	OccurredAt    time.Time
	ContractID    string
	ContractNo    string
	PurchaserID   string
	ApplicationID string
	BankID        string
	BankLoanID    *string // the bank's id of the application's loan; nil before any
	// Data is the event's data, marshalled as the envelope's "data": one
	// of the *Data types below.
	Data any
}

// ReceivableConfirmedData is receivable.confirmed's data.
type ReceivableConfirmedData struct {
	ConfirmedAmount  money.Amount    `json:"confirmed_amount"`
	PaymentTerms     json.RawMessage `json:"payment_terms"` // as the purchaser gave them
	RepaymentAccount Account         `json:"repayment_account"`
	ConfirmedBy      string          `json:"confirmed_by"`
	ConfirmedAt      time.Time       `json:"confirmed_at"`
}

// ReceivableRefusedData is receivable.refused's data.
type ReceivableRefusedData struct {
	Reason string `json:"reason"`
}

// ContractAmendedData is contract.amended's data.
type ContractAmendedData struct {
	Version        int          `json:"version"`
	Amount         money.Amount `json:"amount"`
	Status         string       `json:"status"`
	FinancingLimit money.Amount `json:"financing_limit"`
	Financed       money.Amount `json:"financed"`
	ExceedsLimit   bool         `json:"exceeds_limit"`
}

// PaymentData is payment.received's and payment.misdirected's data
// (ExpectedAccount only in the latter).
type PaymentData struct {
	PaymentID       string       `json:"payment_id"`
	Amount          money.Amount `json:"amount"`
	PaidOn          money.Date   `json:"paid_on"`
	PayeeAccount    Account      `json:"payee_account"`
	ExpectedAccount *Account     `json:"expected_account,omitempty"`
}

// Account is a bank account as the protocol carries it.
type Account struct {
	BankName    string `json:"bank_name"`
	AccountNo   string `json:"account_no"`
	AccountName string `json:"account_name"`
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
	// onConfirmed is told, in the confirmation's transaction, of the
	// applications whose repayment account the purchaser has just
	// confirmed for the first time (OnConfirmed).
	onConfirmed func(ctx context.Context, tx *postgres.Tx, applicationIDs []string) error
	// subsidy says what the programme's interest subsidy takes off an
	// offer's rate (UseSubsidyRates); nil: nothing.
	subsidy SubsidyRates
}

// OnConfirmed registers what a purchaser's first confirmation of
// applications' repayment accounts sets off (package subsidies releases the
// claims it held): called in the confirmation's transaction. Call it before
// the service is used.
func (s *Service) OnConfirmed(f func(ctx context.Context, tx *postgres.Tx, applicationIDs []string) error) {
	s.onConfirmed = f
}

// NewService returns the lending service. A nil now means time.Now.
func NewService(db *sqlx.DB, cs *contracts.Service, outbox Outbox, limits Limits, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if limits.ConsentTTL == 0 {
		limits.ConsentTTL = 365 * 24 * time.Hour
	}
	if limits.IntentTTL == 0 {
		limits.IntentTTL = 72 * time.Hour
	}
	if limits.WriteOffBarDays == 0 {
		limits.WriteOffBarDays = 365
	}
	s := &Service{db: db, contracts: cs, outbox: outbox, limits: limits, now: now}
	s.intake = newIntake(s, intakeWriters, intakeMaxBatch)
	if cs != nil {
		cs.OnNewVersion(s.contractAmended) // the banks hear of new versions of the contracts they finance
	}
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
	// BankOfferID is the bank's own offer_id of the offer this application
	// accepted (request.offer_id); nil for a direct application.
	BankOfferID  *string
	Purpose      string
	Verification contracts.Report
}
