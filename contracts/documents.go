package contracts

import (
	"procfin/platform/money"
)

// Document statuses an issuer may give. Cancelled and terminated documents
// stop new financing.
const (
	StatusActive     = "active"
	StatusCancelled  = "cancelled"
	StatusTerminated = "terminated"
	StatusCompleted  = "completed"
)

// Party names a purchaser (采购人) as the issuer knows it.
type Party struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// SupplierRef names a supplier by its USCC.
type SupplierRef struct {
	USCC string `json:"uscc"`
	Name string `json:"name,omitempty"`
}

// AwardNoticeDoc is an award (transaction) notice (中标(成交)通知书) as an
// issuer submits it (api.md).
type AwardNoticeDoc struct {
	NoticeNo          string       `json:"notice_no"`
	ProjectNo         string       `json:"project_no"`
	ProjectName       string       `json:"project_name"`
	Purchaser         Party        `json:"purchaser"`
	Supplier          SupplierRef  `json:"supplier"`
	Amount            money.Amount `json:"amount"`
	Currency          string       `json:"currency"`
	AwardedOn         money.Date   `json:"awarded_on"`
	ProcurementMethod string       `json:"procurement_method"`
	Status            string       `json:"status"`
}

// Period is a contract's performance period, both dates included.
type Period struct {
	Start money.Date `json:"start"`
	End   money.Date `json:"end"`
}

// PaymentTerm is one payment the purchaser owes under the contract.
type PaymentTerm struct {
	DueOn     money.Date   `json:"due_on"`
	Amount    money.Amount `json:"amount"`
	Condition string       `json:"condition,omitempty"`
}

// ContractDoc is a government procurement contract (政府采购合同) as an
// issuer submits it (api.md). Currency defaults to its award's; Retention
// (质保金) is the warranty deposit held back, when the contract names one.
type ContractDoc struct {
	ContractNo   string        `json:"contract_no"`
	NoticeNo     string        `json:"notice_no"`
	Purchaser    Party         `json:"purchaser"`
	Supplier     SupplierRef   `json:"supplier"`
	Amount       money.Amount  `json:"amount"`
	Currency     string        `json:"currency,omitempty"`
	Retention    *money.Amount `json:"retention,omitempty"`
	SignedOn     money.Date    `json:"signed_on"`
	Period       Period        `json:"period"`
	PaymentTerms []PaymentTerm `json:"payment_terms"`
	Status       string        `json:"status"`
}
