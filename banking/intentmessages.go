package banking

import (
	"slices"
	"time"

	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/money"
)

// The messages of competing offers (bank-protocol.md 1.1, "Competing
// offers (融资意向)"): a financing intent to each bank asked, and the
// decision on it to each bank asked once the intent closes for it.

// IntentMessage is a financing intent as the protocol carries it. It holds
// only the parts the supplier's consent to the bank names (lending.Item*);
// a part not consented to is absent from the body.
type IntentMessage struct {
	IntentID     string               `json:"intent_id"`
	PublishedAt  time.Time            `json:"published_at"`
	RespondBy    time.Time            `json:"respond_by"`
	Supplier     *MessageSupplier     `json:"supplier,omitempty"`
	Purchaser    *contracts.Party     `json:"purchaser,omitempty"`
	Award        *MessageAward        `json:"award,omitempty"`
	Contract     *MessageContract     `json:"contract,omitempty"`
	Request      *IntentRequest       `json:"request,omitempty"`
	Verification *MessageVerification `json:"verification,omitempty"`
	BankID       string               `json:"-"`
	MessageID    string               `json:"-"`
}

// IntentRequest is what the supplier asks for in a financing intent.
type IntentRequest struct {
	Amount   money.Amount `json:"amount"`
	Currency string       `json:"currency"`
	TermDays int          `json:"term_days"`
	Purpose  string       `json:"purpose"`
}

func (IntentMessage) Kind() string { return KindFinancingIntent }

func (m IntentMessage) Delivery() Address {
	return Address{BankID: m.BankID, IntentID: m.IntentID, MessageID: m.MessageID}
}

// NewIntentMessage makes the financing intent for one bank, with only the
// parts m.DataItems name. Times are sent in whole seconds, UTC.
func NewIntentMessage(m lending.IntentMessage) IntentMessage {
	out := IntentMessage{IntentID: m.IntentID, BankID: m.BankID, MessageID: m.MessageID,
		PublishedAt: m.PublishedAt.UTC().Truncate(time.Second), RespondBy: m.RespondBy.UTC().Truncate(time.Second)}
	has := func(item string) bool { return slices.Contains(m.DataItems, item) }
	n, c := m.Notice, m.Contract
	if has(lending.ItemSupplier) {
		out.Supplier = &MessageSupplier{USCC: m.Supplier.USCC, Name: m.Supplier.Name, SizeClass: string(m.Supplier.SizeClass)}
	}
	if has(lending.ItemPurchaser) {
		p := c.Purchaser
		out.Purchaser = &p
	}
	if has(lending.ItemAward) {
		out.Award = &MessageAward{NoticeNo: n.NoticeNo, ProjectNo: n.ProjectNo, Issuer: n.IssuerID, Amount: n.Amount, AwardedOn: n.AwardedOn}
	}
	if has(lending.ItemContract) {
		out.Contract = &MessageContract{ContractNo: c.ContractNo, Amount: c.Amount, SignedOn: c.SignedOn, Period: c.Period,
			PaymentTerms: paymentTerms(c.PaymentTerms)}
	}
	if has(lending.ItemRequest) {
		out.Request = &IntentRequest{Amount: m.Amount, Currency: c.Currency, TermDays: m.TermDays, Purpose: m.Purpose}
	}
	if has(lending.ItemVerification) {
		checks := make([]MessageCheck, 0, len(m.Verification.Checks))
		for _, ch := range m.Verification.Checks {
			checks = append(checks, MessageCheck{Name: ch.Name, Result: ch.Result})
		}
		out.Verification = &MessageVerification{VerifiedAt: m.Verification.VerifiedAt.UTC().Truncate(time.Second), Checks: checks}
	}
	return out
}

// DecisionMessage tells a bank asked what became of an intent.
type DecisionMessage struct {
	IntentID      string  `json:"intent_id"`
	Decision      string  `json:"decision"`       // accepted, declined, expired or cancelled
	OfferID       *string `json:"offer_id"`       // the bank's offer_id of the accepted offer, else null
	ApplicationID *string `json:"application_id"` // the application it became, else null
	BankID        string  `json:"-"`
	MessageID     string  `json:"-"`
}

func (DecisionMessage) Kind() string { return KindIntentDecision }

func (m DecisionMessage) Delivery() Address {
	return Address{BankID: m.BankID, IntentID: m.IntentID, MessageID: m.MessageID}
}

// NewDecisionMessage makes the decision message for one bank asked.
func NewDecisionMessage(d lending.Decision) DecisionMessage {
	return DecisionMessage{IntentID: d.IntentID, Decision: d.Decision, OfferID: d.BankOfferID, ApplicationID: d.ApplicationID,
		BankID: d.BankID, MessageID: d.MessageID}
}
