package sandbox

import (
	"context"

	"procfin/platform/money"
)

// Treasury is a sandbox treasury payment system (国库集中支付): it posts
// signed records of the payments it made of contracts (api.md 1.1: POST
// /v1/contract-payments, iss = the payment system's id). Its JWKS is
// registered by an administrator (POST /v1/admin/payment-systems).
type Treasury struct{ *signedClient }

// NewTreasury checks cfg and returns the treasury system.
func NewTreasury(cfg ClientConfig) (*Treasury, error) {
	c, err := newSignedClient("treasury", cfg)
	if err != nil {
		return nil, err
	}
	return &Treasury{c}, nil
}

// PaymentRecord is a payment the treasury made of a contract, as it
// reports it.
type PaymentRecord struct {
	PaymentID    string       `json:"payment_id"`
	ContractNo   string       `json:"contract_no"`
	IssuerID     string       `json:"issuer_id"`
	PurchaserID  string       `json:"purchaser_id"`
	Amount       money.Amount `json:"amount"`
	PaidOn       money.Date   `json:"paid_on"`
	PayeeAccount Account      `json:"payee_account"`
}

// Pay posts the signed record of a payment. procfin answers 201 with the
// payment's status (matched, misdirected, unlocked or unmatched), 200 for
// the same record again, 409 for the same payment_id with other figures;
// err only when no answer came.
func (t *Treasury) Pay(ctx context.Context, r PaymentRecord) (Answer, error) {
	return t.post(ctx, "/v1/contract-payments", r)
}
