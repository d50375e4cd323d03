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
}

// Outbox queues an application's message for its bank in the caller's
// transaction (package banking implements it), so an application is never
// lost and never sent if rolled back.
type Outbox interface {
	Enqueue(ctx context.Context, tx *postgres.Tx, ms ...Message) error
	// Withdraw stops a queued message that was not delivered yet.
	Withdraw(ctx context.Context, tx *postgres.Tx, applicationID string) error
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
	s := &Service{db: db, contracts: cs, outbox: outbox, limits: limits, now: now}
	s.intake = newIntake(s, intakeWriters, intakeMaxBatch)
	return s
}

// Message is a credit application as the bank protocol carries it
// (bank-protocol.md, "Platform to bank").
type Message struct {
	ApplicationID string          `json:"application_id"`
	BankID        string          `json:"-"`
	SubmittedAt   time.Time       `json:"submitted_at"`
	Supplier      MessageSupplier `json:"supplier"`
	Purchaser     contracts.Party `json:"purchaser"`
	Award         MessageAward    `json:"award"`
	Contract      MessageContract `json:"contract"`
	Request       MessageRequest  `json:"request"`
	Verification  MessageVerified `json:"verification"`
}

type MessageSupplier struct {
	USCC      string `json:"uscc"`
	Name      string `json:"name"`
	SizeClass string `json:"size_class"`
}

type MessageAward struct {
	NoticeNo  string       `json:"notice_no"`
	ProjectNo string       `json:"project_no"`
	Issuer    string       `json:"issuer"`
	Amount    money.Amount `json:"amount"`
	AwardedOn money.Date   `json:"awarded_on"`
}

type MessagePaymentTerm struct {
	DueOn  money.Date   `json:"due_on"`
	Amount money.Amount `json:"amount"`
}

type MessageContract struct {
	ContractNo   string               `json:"contract_no"`
	Amount       money.Amount         `json:"amount"`
	SignedOn     money.Date           `json:"signed_on"`
	Period       contracts.Period     `json:"period"`
	PaymentTerms []MessagePaymentTerm `json:"payment_terms"`
}

type MessageRequest struct {
	Amount       money.Amount `json:"amount"`
	Currency     string       `json:"currency"`
	TermDays     int          `json:"term_days"`
	CreditLineID *string      `json:"credit_line_id"`
	Purpose      string       `json:"purpose"`
}

type MessageCheck struct {
	Name   string `json:"name"`
	Result string `json:"result"`
}

type MessageVerified struct {
	VerifiedAt time.Time      `json:"verified_at"`
	Checks     []MessageCheck `json:"checks"`
}

func paymentTerms(raw json.RawMessage) []MessagePaymentTerm {
	var terms []contracts.PaymentTerm
	_ = json.Unmarshal(raw, &terms)
	out := make([]MessagePaymentTerm, 0, len(terms))
	for _, t := range terms {
		out = append(out, MessagePaymentTerm{DueOn: t.DueOn, Amount: t.Amount})
	}
	return out
}
