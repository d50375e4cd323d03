package banking

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// The messages procfin sends to banks (bank-protocol.md, "Platform to
// bank"). A kind of message is a Go type whose JSON is the protocol's body
// (the Outbound interface) and one entry in outboundKinds, which gives its
// path at the bank's base URL and what the bank's answer means for the
// business. The outbox stores a message's kind and message id beside its
// body (deliveries.kind, deliveries.message_id), and the relay posts the
// body to the bank's base URL and that kind's path, under the message id
// as its Idempotency-Key, after any earlier message of its application
// (of a message about a financing intent: of its intent and bank).

// Outbound is a message for a bank. json.Marshal of it is its body, stored
// once by the outbox and sent as it is at every attempt.
type Outbound interface {
	// Kind is the message's entry in outboundKinds.
	Kind() string
	// Delivery names the bank it goes to, what it concerns and its own
	// message id, its Idempotency-Key at every attempt.
	Delivery() Address
}

// Address is where a message goes and what it concerns: an application
// or, for the messages of competing offers, a financing intent (then
// ApplicationID is empty and deliveries.application_id NULL).
type Address struct {
	BankID        string
	ApplicationID string
	IntentID      string
	MessageID     string
}

// The kinds of outbound message.
const (
	KindCreditApplication = "credit-application"
	KindWithdrawal        = "withdrawal"
	KindContractEvent     = "contract-event"
	KindFinancingIntent   = "financing-intent"
	KindIntentDecision    = "intent-decision"
)

// outboundKind is what the relay needs of a kind of message.
type outboundKind struct {
	// path is where the bank takes it, below its base URL; {application_id}
	// in it stands for the message's application, {intent_id} for its
	// intent.
	path string
	// carriesData says the message carries the supplier's data, so it
	// needs the supplier's consent to that bank in force when it is sent
	// (domain.md 1.1, "Consent"): otherwise it fails with consent_expired,
	// and an administrator cannot re-queue it.
	carriesData bool
	// requeued records what an administrator's re-queue of a failed or dead
	// message means; nil for nothing.
	requeued func(ls *lending.Service, ctx context.Context, tx *postgres.Tx, applicationID, actor string) error
	// delivered records what the bank's acceptance of messages of the kind
	// means, for all those of one batch at once, in the transaction that
	// marks them delivered; nil for nothing.
	delivered func(ls *lending.Service, ctx context.Context, tx *postgres.Tx, accepted []lending.Acceptance) error
	// failed records what a message the bank refused for good, or that
	// could not be delivered for 24 hours, means, in the transaction that
	// marks it so; nil for nothing.
	failed func(ls *lending.Service, ctx context.Context, tx *postgres.Tx, applicationID, detail string) error
}

// outboundKinds is the one registry of the messages procfin sends to banks.
var outboundKinds = map[string]outboundKind{
	KindCreditApplication: {path: "/v1/credit-applications", carriesData: true,
		delivered: (*lending.Service).MarkDeliveredMany, failed: (*lending.Service).MarkDeliveryFailed,
		requeued: (*lending.Service).Requeued},
	// The application is already cancelled when its withdrawal is queued:
	// the bank's acceptance or refusal of it changes nothing more. It
	// carries no data of the supplier's, so no consent is needed to send it.
	KindWithdrawal: {path: "/v1/credit-applications/{application_id}/withdrawal"},
	// Contract events tell the bank what the purchaser, the treasury or
	// the issuer did; they carry no data of the supplier's (a consent's
	// expiry never blocks them, domain.md 1.1 "Consent").
	KindContractEvent: {path: "/v1/contract-events"},
	// A financing intent carries the data its consent to the bank names
	// (that consent: consents.intent_id and bank_id). Its delivery state is
	// what the supplier sees of the bank (lending.IntentBank.Delivery):
	// one failed or dead changes nothing else, and an administrator may
	// re-queue it while the consent holds.
	KindFinancingIntent: {path: "/v1/financing-intents", carriesData: true},
	// The decision on an intent carries no data of the supplier's.
	KindIntentDecision: {path: "/v1/financing-intents/{intent_id}/decision"},
}

// firstKinds are the kinds of message always the first of what they
// concern (a credit application of its application, a financing intent of
// its intent to a bank): the relay sends them without looking for earlier
// ones.
var firstKinds = []string{KindCreditApplication, KindFinancingIntent}

// dataKinds are the kinds of message that carry the supplier's data.
var dataKinds = func() []string {
	var ks []string
	for k, o := range outboundKinds {
		if o.carriesData {
			ks = append(ks, k)
		}
	}
	return ks
}()

// pathOf is where the bank takes a message of the kind about the
// application or intent.
func (k outboundKind) pathOf(applicationID, intentID string) string {
	if !strings.Contains(k.path, "{") {
		return k.path
	}
	return strings.NewReplacer("{application_id}", applicationID, "{intent_id}", intentID).Replace(k.path)
}

// ApplicationMessage is a credit application as the protocol carries it
// (bank-protocol.md, "Platform to bank: a credit application").
type ApplicationMessage struct {
	ApplicationID string              `json:"application_id"`
	BankID        string              `json:"-"`
	SubmittedAt   time.Time           `json:"submitted_at"`
	Supplier      MessageSupplier     `json:"supplier"`
	Purchaser     contracts.Party     `json:"purchaser"`
	Award         MessageAward        `json:"award"`
	Contract      MessageContract     `json:"contract"`
	Request       MessageRequest      `json:"request"`
	Verification  MessageVerification `json:"verification"`
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
	// OfferID is the bank's offer_id of the offer the application was
	// accepted from (bank-protocol.md 1.1, "Competing offers"); a direct
	// application's body has no offer_id, as in version 1.
	OfferID *string `json:"offer_id,omitempty"`
}

type MessageCheck struct {
	Name   string `json:"name"`
	Result string `json:"result"`
}

type MessageVerification struct {
	VerifiedAt time.Time      `json:"verified_at"`
	Checks     []MessageCheck `json:"checks"`
}

func (ApplicationMessage) Kind() string { return KindCreditApplication }

// Delivery: a credit application's message id is its application's id.
func (m ApplicationMessage) Delivery() Address {
	return Address{BankID: m.BankID, ApplicationID: m.ApplicationID, MessageID: m.ApplicationID}
}

// Withdrawal tells the bank that the supplier cancelled the application,
// or revoked its consent, after it was sent and before the bank decided
// (bank-protocol.md 1.1, "Withdrawal").
type Withdrawal struct {
	ApplicationID string    `json:"application_id"`
	WithdrawnAt   time.Time `json:"withdrawn_at"`
	Reason        string    `json:"reason"` // cancelled_by_supplier or consent_revoked
	BankID        string    `json:"-"`
	MessageID     string    `json:"-"`
}

func (Withdrawal) Kind() string { return KindWithdrawal }

func (m Withdrawal) Delivery() Address {
	return Address{BankID: m.BankID, ApplicationID: m.ApplicationID, MessageID: m.MessageID}
}

// ContractEventMessage is a contract event's envelope (bank-protocol.md
// 1.1, "Contract events").
type ContractEventMessage struct {
	EventID       string                `json:"event_id"`
	Type          string                `json:"type"`
	OccurredAt    time.Time             `json:"occurred_at"`
	Contract      ContractEventContract `json:"contract"`
	ApplicationID string                `json:"application_id"`
	LoanID        *string               `json:"loan_id"`
	Data          any                   `json:"data"`
	BankID        string                `json:"-"`
}

// ContractEventContract names the contract of a contract event.
type ContractEventContract struct {
	ID          string `json:"id"`
	ContractNo  string `json:"contract_no"`
	PurchaserID string `json:"purchaser_id"`
}

func (ContractEventMessage) Kind() string { return KindContractEvent }

// Delivery: a contract event's message id is its event id.
func (m ContractEventMessage) Delivery() Address {
	return Address{BankID: m.BankID, ApplicationID: m.ApplicationID, MessageID: m.EventID}
}

// NewContractEventMessage makes the envelope of a contract event, its
// time in whole seconds, UTC.
func NewContractEventMessage(e lending.ContractEvent) ContractEventMessage {
	return ContractEventMessage{
		EventID: e.EventID, Type: e.Type, OccurredAt: e.OccurredAt.UTC().Truncate(time.Second),
		Contract:      ContractEventContract{ID: e.ContractID, ContractNo: e.ContractNo, PurchaserID: e.PurchaserID},
		ApplicationID: e.ApplicationID, LoanID: e.BankLoanID, Data: e.Data, BankID: e.BankID,
	}
}

// NewApplicationMessage makes the credit application that tells the bank
// of an accepted application. Times are sent in whole seconds, UTC; of a
// payment term, its date and amount.
func NewApplicationMessage(s lending.Submission) ApplicationMessage {
	checks := make([]MessageCheck, 0, len(s.Verification.Checks))
	for _, ch := range s.Verification.Checks {
		checks = append(checks, MessageCheck{Name: ch.Name, Result: ch.Result})
	}
	sup, n, c := s.Supplier, s.Notice, s.Contract
	return ApplicationMessage{
		ApplicationID: s.ApplicationID, BankID: s.BankID, SubmittedAt: s.SubmittedAt.UTC().Truncate(time.Second),
		Supplier:  MessageSupplier{USCC: sup.USCC, Name: sup.Name, SizeClass: string(sup.SizeClass)},
		Purchaser: c.Purchaser,
		Award:     MessageAward{NoticeNo: n.NoticeNo, ProjectNo: n.ProjectNo, Issuer: n.IssuerID, Amount: n.Amount, AwardedOn: n.AwardedOn},
		Contract: MessageContract{ContractNo: c.ContractNo, Amount: c.Amount, SignedOn: c.SignedOn, Period: c.Period,
			PaymentTerms: paymentTerms(c.PaymentTerms)},
		Request: MessageRequest{Amount: s.Amount, Currency: c.Currency, TermDays: s.TermDays, CreditLineID: s.BankLineID, Purpose: s.Purpose,
			OfferID: s.BankOfferID},
		Verification: MessageVerification{VerifiedAt: s.Verification.VerifiedAt, Checks: checks},
	}
}

// paymentTerms reads a contract's stored payment terms (its own JSON,
// written by package contracts) for the message.
func paymentTerms(raw json.RawMessage) []MessagePaymentTerm {
	var terms []contracts.PaymentTerm
	_ = json.Unmarshal(raw, &terms)
	out := make([]MessagePaymentTerm, 0, len(terms))
	for _, t := range terms {
		out = append(out, MessagePaymentTerm{DueOn: t.DueOn, Amount: t.Amount})
	}
	return out
}
