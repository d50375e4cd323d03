package lending

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"procfin/contracts"
	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// Competing offers (融资意向, bank-protocol.md 1.1): a supplier publishes
// one financing need (an intent) to several banks, each under its consent
// to that bank; banks answer with offers; the supplier accepts one, which
// becomes a credit application to that bank (holding the contract's
// headroom then), and every bank asked is told the decision.

// IntentStatus is the state of a financing intent.
type IntentStatus string

const (
	IntentOpen      IntentStatus = "open"      // published; banks may offer until respond_by
	IntentAccepted  IntentStatus = "accepted"  // an offer was accepted: its application exists
	IntentCancelled IntentStatus = "cancelled" // the supplier cancelled it
	IntentExpired   IntentStatus = "expired"   // respond_by passed and no offer is still valid
)

// OfferStatus is the state of one offer.
type OfferStatus string

const (
	OfferMadeStatus OfferStatus = "made"      // current: the supplier may accept it until valid_until
	OfferReplaced   OfferStatus = "replaced"  // the bank made a new offer on the intent
	OfferWithdrawn  OfferStatus = "withdrawn" // the bank withdrew it
	OfferAccepted   OfferStatus = "accepted"  // the supplier accepted it
	OfferDeclined   OfferStatus = "declined"  // the intent closed without it
)

// The decisions a bank asked is told (bank-protocol.md 1.1, "Competing
// offers").
const (
	DecisionAccepted  = "accepted"
	DecisionDeclined  = "declined"
	DecisionExpired   = "expired"
	DecisionCancelled = "cancelled"
)

// The codes of the data items a consent names (its words are the
// catalogue's consent.item.<code>): a financing-intents message carries
// only the parts its consent names.
const (
	ItemSupplier     = "supplier"
	ItemAward        = "award"
	ItemContract     = "contract"
	ItemPurchaser    = "purchaser"
	ItemRequest      = "request"
	ItemVerification = "verification"
)

// consentItemCodes are the codes of a consent's items, in their order
// (consentItems).
var consentItemCodes = []string{ItemSupplier, ItemAward, ItemContract, ItemPurchaser, ItemRequest, ItemVerification}

// Intent is a supplier's financing need published to banks, with the
// banks asked and their offers (current ones best first by effective rate,
// then the rest newest first).
type Intent struct {
	ID              string       `db:"id" json:"id"`
	Seq             int64        `db:"seq" json:"-"`
	SupplierUSCC    string       `db:"supplier_uscc" json:"supplier_uscc"`
	SupplierName    string       `db:"supplier_name" json:"supplier_name"`
	ContractID      string       `db:"contract_id" json:"contract_id"`
	ContractNo      string       `db:"contract_no" json:"contract_no"`
	Amount          money.Amount `db:"amount" json:"amount"`
	Currency        string       `db:"-" json:"currency"`
	TermDays        int          `db:"term_days" json:"term_days"`
	Purpose         string       `db:"purpose" json:"purpose"`
	Status          IntentStatus `db:"status" json:"status"`
	PublishedAt     time.Time    `db:"published_at" json:"published_at"`
	RespondBy       time.Time    `db:"respond_by" json:"respond_by"`
	PublishedBy     string       `db:"published_by" json:"-"`
	AcceptedOfferID *string      `db:"accepted_offer_id" json:"accepted_offer_id"`
	ApplicationID   *string      `db:"application_id" json:"application_id"`
	ClosedAt        *time.Time   `db:"closed_at" json:"closed_at"`

	Banks  []IntentBank `db:"-" json:"banks"`
	Offers []Offer      `db:"-" json:"offers"`
}

// IntentBank is one bank an intent was sent to.
type IntentBank struct {
	BankID    string     `db:"bank_id" json:"bank_id"`
	BankName  string     `db:"bank_name" json:"bank_name"`
	ConsentID string     `db:"consent_id" json:"consent_id"`
	OutAt     *time.Time `db:"out_at" json:"out_at"`     // taken out of the open intent (consent revoked)
	Decision  *string    `db:"decision" json:"decision"` // what it was told when the intent closed for it
	DecidedAt *time.Time `db:"decided_at" json:"decided_at"`
	// Delivery is the state of its financing-intents message: pending,
	// delivered, failed or dead.
	Delivery string `db:"delivery" json:"delivery"`
}

// Offer is one bank's offer on an intent. ID is procfin's: each offer.made
// is an offer of its own, so the supplier accepts exactly the terms it saw;
// BankOfferID is the bank's own offer_id.
type Offer struct {
	ID          string       `db:"id" json:"id"`
	IntentID    string       `db:"intent_id" json:"intent_id"`
	BankID      string       `db:"bank_id" json:"bank_id"`
	BankName    string       `db:"bank_name" json:"bank_name"`
	BankOfferID string       `db:"bank_offer_id" json:"bank_offer_id"`
	Amount      money.Amount `db:"amount" json:"amount"`
	AnnualRate  money.Rate   `db:"annual_rate" json:"annual_rate"`
	TermDays    int          `db:"term_days" json:"term_days"`
	ValidUntil  time.Time    `db:"valid_until" json:"valid_until"`
	Conditions  string       `db:"conditions" json:"conditions"`
	Status      OfferStatus  `db:"status" json:"status"`
	MadeAt      time.Time    `db:"made_at" json:"made_at"`
	// EffectiveAnnualRate is the rate after the programme's interest
	// subsidy (bank-protocol.md 1.1, "Clarifications"), Subsidy how.
	EffectiveAnnualRate money.Rate        `db:"-" json:"effective_annual_rate"`
	Subsidy             *RateAfterSubsidy `db:"-" json:"subsidy"`
}

// RateAfterSubsidy is an annual rate after the programme's interest
// subsidy, for one supplier on one day: rate − min(rate, cap) × ratio for
// a supplier the policy in force subsidises, else the rate, to 6 decimal
// places; with the computation's steps.
type RateAfterSubsidy struct {
	Rate          money.Rate  `json:"effective_annual_rate"`
	Eligible      bool        `json:"eligible"`
	PolicyVersion int         `json:"policy_version"`
	Cap           *money.Rate `json:"cap"`           // the 1-year LPR in force on the day
	Ratio         *money.Rate `json:"subsidy_ratio"` // nil when not eligible
	Steps         []RateStep  `json:"steps"`
}

// RateStep is one line of the computation of an effective rate, as the
// supplier checks it by hand.
type RateStep struct {
	Name    string `json:"step"`
	Formula string `json:"formula"`
	Value   string `json:"value"`
}

// SubsidyRates says what the programme's interest subsidy takes off rates
// (package subsidies implements it): one answer per rate, in order, for
// the supplier on day.
type SubsidyRates interface {
	AfterSubsidy(ctx context.Context, supplierUSCC string, day money.Date, rates []money.Rate) ([]RateAfterSubsidy, error)
}

// UseSubsidyRates registers what computes offers' effective rates. Call it
// before the service is used; without it an offer's effective rate is its
// rate.
func (s *Service) UseSubsidyRates(r SubsidyRates) { s.subsidy = r }

// PublishInput is a supplier's financing need (api.md 1.1,
// POST /v1/financing-intents). BankIDs ["*"] means every bank of the
// programme. RespondBy is RFC 3339; default now + lending.intent_ttl.
type PublishInput struct {
	ContractID string        `json:"contract_id"`
	Amount     *money.Amount `json:"amount"`
	TermDays   *int          `json:"term_days"`
	Purpose    string        `json:"purpose"`
	BankIDs    []string      `json:"bank_ids"`
	RespondBy  *string       `json:"respond_by"`
}

// IntentFilter narrows a list of intents.
type IntentFilter struct {
	Status IntentStatus
}

// IntentMessage is what a financing-intents message to one bank is made
// of: DataItems are the item codes its consent names (Item*), and the
// message carries only those parts.
type IntentMessage struct {
	MessageID    string // a new UUID
	IntentID     string
	BankID       string
	PublishedAt  time.Time
	RespondBy    time.Time
	DataItems    []string
	Supplier     contracts.Supplier
	Notice       contracts.AwardNotice
	Contract     contracts.Contract // with its purchaser, currency and payment terms
	Amount       money.Amount
	TermDays     int
	Purpose      string
	Verification contracts.Report
}

// Decision is the decision on an intent for one bank asked.
type Decision struct {
	MessageID     string // a new UUID
	IntentID      string
	BankID        string
	Decision      string  // Decision*
	BankOfferID   *string // the bank's offer_id: the accepted offer's for accepted, else nil
	ApplicationID *string // the application the accepted offer became, else nil
}

// OfferMade is a bank's offer.made, as package banking parsed it.
type OfferMade struct {
	EventID     string
	IntentID    string
	BankOfferID string
	Amount      money.Amount
	AnnualRate  money.Rate
	TermDays    int
	ValidUntil  time.Time
	Conditions  string
}

// acceptedOffer is the offer an intent closes on when accepted.
type acceptedOffer struct {
	OfferID       string // procfin's
	BankID        string
	BankOfferID   string // the bank's
	ApplicationID string
}

// closeIntent closes an open intent the caller has locked (SELECT … FOR
// UPDATE on financing_intents), to accepted (acc set), cancelled or
// expired: its current offers become declined (the accepted one
// accepted), every bank asked and not taken out is told the decision
// (accepted to acc's bank, declined to the others; expired or cancelled to
// all), and the change is audited. Returns invalid_transition when the
// intent is not open.
func (s *Service) closeIntent(ctx context.Context, tx *postgres.Tx, id string, to IntentStatus, actor string, acc *acceptedOffer) error {
	if (to == IntentAccepted) != (acc != nil) || to == IntentOpen {
		return errs.E(errs.Internal, "closeIntent to %s with accepted offer %v", to, acc != nil)
	}
	var offerID, applicationID, acceptedBank any
	if acc != nil {
		offerID, applicationID, acceptedBank = acc.OfferID, acc.ApplicationID, acc.BankID
	}
	var closed []struct {
		ID string `db:"id"`
	}
	err := tx.SelectContext(ctx, &closed, `
		UPDATE financing_intents SET status = $2, closed_at = $3, closed_by = $4, accepted_offer_id = $5, application_id = $6
		WHERE id = $1 AND status = 'open' RETURNING id`, id, string(to), tx.Now(), actor, offerID, applicationID)
	if err != nil {
		return postgres.Translate(err)
	}
	if len(closed) == 0 {
		return errs.E(errs.InvalidTransition, "the financing intent %s is no longer open", id)
	}
	if _, err := tx.ExecContext(ctx, `
		UPDATE offers SET status = CASE WHEN id = $2 THEN 'accepted' ELSE 'declined' END, closed_at = $3
		WHERE intent_id = $1 AND status = 'made'`, id, offerID, tx.Now()); err != nil {
		return postgres.Translate(err)
	}
	decision := map[IntentStatus]string{IntentAccepted: DecisionDeclined, IntentExpired: DecisionExpired, IntentCancelled: DecisionCancelled}[to]
	var told []struct {
		BankID   string `db:"bank_id"`
		Decision string `db:"decision"`
	}
	err = tx.SelectContext(ctx, &told, `
		UPDATE intent_banks SET decision = CASE WHEN bank_id = $2 THEN 'accepted' ELSE $3 END, decided_at = $4
		WHERE intent_id = $1 AND out_at IS NULL AND decision IS NULL
		RETURNING bank_id, decision`, id, acceptedBank, decision, tx.Now())
	if err != nil {
		return postgres.Translate(err)
	}
	ds := make([]Decision, 0, len(told))
	for _, b := range told {
		d := Decision{MessageID: uuid.NewString(), IntentID: id, BankID: b.BankID, Decision: b.Decision}
		if b.Decision == DecisionAccepted {
			d.BankOfferID, d.ApplicationID = &acc.BankOfferID, &acc.ApplicationID
		}
		ds = append(ds, d)
	}
	slices.SortFunc(ds, func(a, b Decision) int { return strings.Compare(a.BankID, b.BankID) })
	if err := s.outbox.Decisions(ctx, tx, ds...); err != nil {
		return err
	}
	return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "financing_intent." + string(to), EntityType: "financing_intent",
		EntityID: id, After: map[string]any{"status": to, "accepted_offer_id": offerID, "application_id": applicationID, "decisions": told}})
}
