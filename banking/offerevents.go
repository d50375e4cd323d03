package banking

import (
	"context"
	"fmt"
	"time"

	"procfin/lending"
	"procfin/platform/ids"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// The event types of competing offers (bank-protocol.md 1.1, "Competing
// offers (融资意向)"): a bank's offer on an intent it was asked, and its
// withdrawal. Their envelope's application_id is null (Clarifications,
// "Envelopes"); data.intent_id names the intent. Lending applies them
// under the intent's lock, and answers not_found, as if the intent did not
// exist, unless it was asked of the bank: a bank never touches another
// bank's intent.
const (
	EventOfferMade      = "offer.made"
	EventOfferWithdrawn = "offer.withdrawn"
)

// The bounds of an offer's data read here: its conditions, shown to the
// supplier as they are, in bytes (lending's bound); its term, which
// lending then judges against financing.max_term_days.
const (
	maxConditions    = 2000
	maxOfferTermDays = 3650
)

// onIntent is the subject of an offer event: the intent, no application.
func onIntent(intentID string) subject { return subject{intent: true, intentID: intentID} }

// offerMadeData is offer.made's.
type offerMadeData struct {
	IntentID   string        `json:"intent_id"`
	OfferID    string        `json:"offer_id"`
	Amount     *money.Amount `json:"amount"`
	AnnualRate *money.Rate   `json:"annual_rate"`
	TermDays   *int          `json:"term_days"`
	ValidUntil *string       `json:"valid_until"`
	Conditions string        `json:"conditions"`

	validUntil time.Time // ValidUntil read (check passed)
}

func (d *offerMadeData) check(c *checker) {
	if !c.decode(d) {
		return
	}
	c.intent(&d.IntentID)
	c.text("offer_id", d.OfferID)
	c.amount("amount", d.Amount, true)
	switch {
	case d.AnnualRate == nil:
		c.bad("annual_rate", "required", "is required")
	case !d.AnnualRate.Decimal().IsPositive() || !d.AnnualRate.Decimal().LessThan(money.MustRate("1").Decimal()):
		c.bad("annual_rate", "invalid", "must be above 0 and below 1")
	}
	if d.TermDays == nil || *d.TermDays < 1 || *d.TermDays > maxOfferTermDays {
		c.bad("term_days", "required", fmt.Sprintf("is required, from 1 to %d", maxOfferTermDays))
	}
	if d.ValidUntil == nil {
		c.bad("valid_until", "required", "is required (an RFC 3339 instant)")
	} else if t, err := time.Parse(time.RFC3339, *d.ValidUntil); err != nil {
		c.bad("valid_until", "invalid", "must be an RFC 3339 instant, such as 2026-11-24T10:00:00+08:00")
	} else {
		d.validUntil = t
	}
	c.words("conditions", d.Conditions, maxConditions)
}

func (d *offerMadeData) subject(Envelope) subject { return onIntent(d.IntentID) }

func (d *offerMadeData) apply(ctx context.Context, tx *postgres.Tx, e *applying) error {
	return e.ls.MakeOffer(ctx, tx, e.bankID, lending.OfferMade{EventID: e.env.EventID, IntentID: d.IntentID, BankOfferID: d.OfferID,
		Amount: *d.Amount, AnnualRate: *d.AnnualRate, TermDays: *d.TermDays, ValidUntil: d.validUntil, Conditions: d.Conditions})
}

// offerWithdrawnData is offer.withdrawn's.
type offerWithdrawnData struct {
	IntentID string `json:"intent_id"`
	OfferID  string `json:"offer_id"`
}

func (d *offerWithdrawnData) check(c *checker) {
	if !c.decode(d) {
		return
	}
	c.intent(&d.IntentID)
	c.text("offer_id", d.OfferID)
}

func (d *offerWithdrawnData) subject(Envelope) subject { return onIntent(d.IntentID) }

func (d *offerWithdrawnData) apply(ctx context.Context, tx *postgres.Tx, e *applying) error {
	return e.ls.WithdrawOffer(ctx, tx, e.bankID, d.IntentID, d.OfferID)
}

// intent requires data.intent_id, a UUID, and keeps its one spelling.
func (c *checker) intent(id *string) {
	canonical, ok := ids.Canonical(*id)
	if !ok {
		c.bad("intent_id", "invalid", "must be the id of a financing intent procfin sent")
		return
	}
	*id = canonical
}
