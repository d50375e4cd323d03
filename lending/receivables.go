package lending

import (
	"context"
	"encoding/json"
	"time"

	"procfin/platform/errs"
	"procfin/platform/money"
)

// The purchaser's confirmation of the receivable (确权) and the repayment
// lock (domain.md 1.1, "The purchaser (采购人) and the repayment lock
// (回款控制)"; table receivables, one per financed contract, and the lock
// of each application's repayment account, repayment_accounts).

// Receivable statuses.
const (
	ReceivablePending   = "pending"
	ReceivableConfirmed = "confirmed"
	ReceivableRefused   = "refused"
)

// Receivable is what a purchaser is asked to confirm, and what it said.
type Receivable struct {
	ContractID     string       `json:"contract_id"`
	ContractNo     string       `json:"contract_no"`
	IssuerID       string       `json:"issuer_id"`
	PurchaserID    string       `json:"purchaser_id"`
	PurchaserName  string       `json:"purchaser_name"`
	SupplierUSCC   string       `json:"supplier_uscc"`
	SupplierName   string       `json:"supplier_name"`
	BankID         string       `json:"bank_id"`
	BankName       string       `json:"bank_name"`
	ContractAmount money.Amount `json:"contract_amount"`
	// Approved is the sum approved by the bank over the applications the
	// confirmation covers; the purchaser confirms at least that.
	Approved money.Amount `json:"approved_amount"`
	// PaymentTerms are the contract's, as its issuer signed them.
	PaymentTerms json.RawMessage `json:"payment_terms"`
	// RepaymentAccount is the account the bank approved (the one to
	// confirm); NewAccount the one the bank consented to change to, which
	// waits for the purchaser's confirmation.
	RepaymentAccount Account  `json:"repayment_account"`
	NewAccount       *Account `json:"new_account,omitempty"`
	// LockStatus is the lock of the contract's live applications:
	// proposed, confirmed, locked, released or refused.
	LockStatus string `json:"lock_status"`
	// DisbursedBeforeConfirmation: the bank disbursed before the purchaser
	// confirmed (the alert disbursed_before_confirmation).
	DisbursedBeforeConfirmation bool `json:"disbursed_before_confirmation"`

	Status          string          `json:"status"` // pending, confirmed, refused
	ConfirmedAmount *money.Amount   `json:"confirmed_amount,omitempty"`
	ConfirmedTerms  json.RawMessage `json:"confirmed_payment_terms,omitempty"`
	ConfirmedBy     string          `json:"confirmed_by,omitempty"`
	ConfirmedAt     *time.Time      `json:"confirmed_at,omitempty"`
	RefusalReason   string          `json:"refusal_reason,omitempty"`
	RefusedBy       string          `json:"refused_by,omitempty"`
	RefusedAt       *time.Time      `json:"refused_at,omitempty"`
	// ApplicationIDs are the applications the receivable covers.
	ApplicationIDs []string  `json:"application_ids"`
	Seq            int64     `json:"-"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// Confirmation is a purchaser's confirmation (POST
// /v1/contracts/{id}/confirmation).
type Confirmation struct {
	ConfirmedAmount  money.Amount    `json:"confirmed_amount"`
	RepaymentAccount Account         `json:"repayment_account"`
	PaymentTerms     json.RawMessage `json:"payment_terms"`
}

// Refusal is a purchaser's refusal (POST /v1/contracts/{id}/refusal).
type Refusal struct {
	Reason string `json:"reason"`
}

// Receivables lists the receivables in scope (a purchaser's own), newest
// first, with the status if not "", below the cursor seq (0: from the
// newest).
func (s *Service) Receivables(ctx context.Context, sc Scope, status string, before int64, limit int) ([]Receivable, error) {
	return nil, errs.E(errs.Internal, "not implemented")
}

// Receivable is the contract's receivable, in scope: not_found otherwise.
func (s *Service) Receivable(ctx context.Context, sc Scope, contractID string) (Receivable, error) {
	return Receivable{}, errs.E(errs.Internal, "not implemented")
}

// Confirm records the purchaser's confirmation of the contract's
// receivable and tells the bank; changed is false when it repeats the
// recorded one.
func (s *Service) Confirm(ctx context.Context, sc Scope, contractID string, c Confirmation, actor string) (r Receivable, changed bool, err error) {
	return Receivable{}, false, errs.E(errs.Internal, "not implemented")
}

// Refuse records the purchaser's refusal and tells the bank; changed is
// false when it repeats the recorded one.
func (s *Service) Refuse(ctx context.Context, sc Scope, contractID string, r Refusal, actor string) (rec Receivable, changed bool, err error) {
	return Receivable{}, false, errs.E(errs.Internal, "not implemented")
}
