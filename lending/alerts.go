package lending

import (
	"context"
	"time"

	"procfin/platform/errs"
)

// Alerts for the finance officers (api.md 1.1, GET /v1/alerts): each is
// read from the state that raises it, never stored apart from it.

// Alert kinds.
const (
	AlertMisdirectedPayment          = "misdirected_payment"
	AlertUnmatchedPayment            = "unmatched_payment"
	AlertDisbursedBeforeConfirmation = "disbursed_before_confirmation"
	AlertAmendmentPending            = "amendment_pending"
	AlertOverdueLoan                 = "overdue_loan"
	AlertDeadDelivery                = "dead_delivery"
)

// Alert is one thing an officer should look at.
type Alert struct {
	Kind          string    `json:"kind"`
	RaisedAt      time.Time `json:"raised_at"`
	EntityType    string    `json:"entity_type"` // contract_payment, application, contract, loan, delivery
	EntityID      string    `json:"entity_id"`
	ContractID    *string   `json:"contract_id"`
	ContractNo    string    `json:"contract_no,omitempty"`
	ApplicationID *string   `json:"application_id"`
	SupplierName  string    `json:"supplier_name,omitempty"`
	BankID        *string   `json:"bank_id"`
	// Detail says what happened, in English; the web page words it from
	// Kind and the fields.
	Detail string `json:"detail"`
}

// AlertPage is a page of alerts, newest first.
type AlertPage struct {
	Items      []Alert `json:"items"`
	NextCursor string  `json:"next_cursor"`
}

// Alerts lists the open alerts, newest first, kind one of the Alert*
// kinds or "" for all, from the opaque cursor ("" for the first page).
func (s *Service) Alerts(ctx context.Context, kind, cursor string, limit int) (AlertPage, error) {
	return AlertPage{}, errs.E(errs.Internal, "not implemented")
}
