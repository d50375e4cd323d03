package sandbox

import (
	"context"
	"encoding/json"
	"fmt"

	"procfin/platform/money"
)

// Purchaser is a sandbox purchaser's own signing system (采购人系统): it
// confirms (确权) or refuses the receivables of its contracts with signed
// messages, exactly as an issuer signs (api.md 1.1: POST
// /v1/contracts/{id}/confirmation and /refusal, iss = the purchaser's id).
// Its JWKS is registered with the purchaser (POST /v1/admin/purchasers).
type Purchaser struct{ *signedClient }

// NewPurchaser checks cfg and returns the purchaser system.
func NewPurchaser(cfg ClientConfig) (*Purchaser, error) {
	c, err := newSignedClient("purchaser", cfg)
	if err != nil {
		return nil, err
	}
	return &Purchaser{c}, nil
}

// Confirmation is the body of a purchaser's confirmation: the amount it
// owes under the contract (at least the approved amount, at most the
// contract's), the bank's repayment account it will pay into, and the
// payment terms, as it confirms them.
type Confirmation struct {
	ConfirmedAmount  money.Amount    `json:"confirmed_amount"`
	RepaymentAccount Account         `json:"repayment_account"`
	PaymentTerms     json.RawMessage `json:"payment_terms"`
}

// Confirm posts the purchaser's signed confirmation of the contract's
// receivable. procfin answers 200 with the receivable (also for the
// confirmation it recorded already), 409 for another one; err only when
// no answer came.
func (p *Purchaser) Confirm(ctx context.Context, contractID string, c Confirmation) (Answer, error) {
	if c.PaymentTerms == nil {
		c.PaymentTerms = json.RawMessage(`[]`)
	}
	return p.post(ctx, fmt.Sprintf("/v1/contracts/%s/confirmation", contractID), c)
}

// Refuse posts the purchaser's signed refusal of the contract's
// receivable, for reason.
func (p *Purchaser) Refuse(ctx context.Context, contractID, reason string) (Answer, error) {
	return p.post(ctx, fmt.Sprintf("/v1/contracts/%s/refusal", contractID), map[string]string{"reason": reason})
}
