package lending

import (
	"context"
	"time"

	"procfin/platform/errs"
	"procfin/platform/money"
)

// The treasury's payments of contracts (国库集中支付; domain.md 1.1,
// "Payments"; api.md 1.1 POST /v1/contract-payments; table
// contract_payments).

// Payment statuses.
const (
	PaymentMatched     = "matched"
	PaymentMisdirected = "misdirected"
	PaymentUnlocked    = "unlocked"
	PaymentUnmatched   = "unmatched"
)

// PaymentRecord is a payment system's signed record of a payment.
type PaymentRecord struct {
	PaymentID    string       `json:"payment_id"`
	ContractNo   string       `json:"contract_no"`
	IssuerID     string       `json:"issuer_id"`
	PurchaserID  string       `json:"purchaser_id"`
	Amount       money.Amount `json:"amount"`
	PaidOn       money.Date   `json:"paid_on"`
	PayeeAccount Account      `json:"payee_account"`
}

// ContractPayment is a recorded payment with where it went.
type ContractPayment struct {
	ID              string       `json:"id"`
	SystemID        string       `json:"payment_system_id"`
	PaymentID       string       `json:"payment_id"`
	ContractID      *string      `json:"contract_id"`
	ContractNo      string       `json:"contract_no"`
	IssuerID        string       `json:"issuer_id"`
	PurchaserID     string       `json:"purchaser_id"`
	Amount          money.Amount `json:"amount"`
	PaidOn          money.Date   `json:"paid_on"`
	PayeeAccount    Account      `json:"payee_account"`
	Status          string       `json:"status"` // matched, misdirected, unlocked, unmatched
	ExpectedAccount *Account     `json:"expected_account,omitempty"`
	BankID          *string      `json:"bank_id"`
	ApplicationIDs  []string     `json:"application_ids"`
	ReceivedAt      time.Time    `json:"received_at"`
	Seq             int64        `json:"-"`
}

// RecordPayment records a payment system's payment record, matches it and
// tells the bank; created is false when it repeats the recorded one
// (another with the same payment_id and other figures is conflict).
func (s *Service) RecordPayment(ctx context.Context, systemID string, p PaymentRecord, actor string) (cp ContractPayment, created bool, err error) {
	return ContractPayment{}, false, errs.E(errs.Internal, "not implemented")
}

// ContractPayments lists the payments of the contract in scope, newest
// first, below the cursor seq (0: from the newest); not_found when the
// contract is not in scope.
func (s *Service) ContractPayments(ctx context.Context, sc Scope, contractID string, before int64, limit int) ([]ContractPayment, error) {
	return nil, errs.E(errs.Internal, "not implemented")
}
