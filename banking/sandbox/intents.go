package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/signature"
	"procfin/platform/text"
)

// Competing offers (bank-protocol.md 1.1, "Competing offers (融资意向)"):
// procfin sends the bank a supplier's financing need (POST
// /v1/financing-intents); after DecisionDelay the bank answers by its
// OfferRule with a signed offer.made, or, declining, with nothing; procfin
// later tells it the supplier's decision (POST
// /v1/financing-intents/{intent_id}/decision). The credit application of
// an accepted offer names it (request.offer_id) and is approved within the
// offer: its amount at most the offer's, at the offer's rate and term.

// The event types and reason codes of competing offers.
const (
	TypeOfferMade      = "offer.made"
	TypeOfferWithdrawn = "offer.withdrawn"

	// ReasonOfferUnknown rejects an application naming an offer the bank
	// never made.
	ReasonOfferUnknown = "offer_unknown"
)

// The decisions procfin sends on an intent.
const (
	DecisionAccepted  = "accepted"
	DecisionDeclined  = "declined"
	DecisionExpired   = "expired"
	DecisionCancelled = "cancelled"
)

// The offer rule's defaults.
const (
	DefaultOfferValidFor   = 48 * time.Hour
	DefaultOfferConditions = "按中标合同回款账户还款，无需抵押。Repaid from the contract's repayment account; no collateral."
)

// The bounds of a financing-intents message.
const (
	maxIntentBytes = 256 << 10
	maxOfferText   = 2000
)

// OfferRule is how the bank answers a financing need. The zero rule
// offers the whole amount asked (within ApproveUpTo) at Config.Rate for
// the term asked, valid DefaultOfferValidFor.
type OfferRule struct {
	// Decline: the bank makes no offer (it sends nothing).
	Decline bool
	// Rate is the offer's annual rate (zero: Config.Rate).
	Rate money.Rate
	// MaxShare is the largest share of the amount asked the bank offers,
	// above 0 and at most 1 (zero: 1); the amount is cut down to the 分.
	MaxShare decimal.Decimal
	// MaxAmount, when above zero, caps the amount offered; ApproveUpTo
	// always does.
	MaxAmount money.Amount
	// TermDays is the offer's term (0: the term asked).
	TermDays int
	// ValidFor is how long the supplier may accept the offer (zero:
	// DefaultOfferValidFor).
	ValidFor time.Duration
	// Conditions are the offer's conditions, Chinese first (empty:
	// DefaultOfferConditions).
	Conditions string
}

// check fills in the rule's defaults and checks it.
func (r *OfferRule) check(rate money.Rate) error {
	if r.Rate.Decimal().IsZero() {
		r.Rate = rate
	}
	if !r.Rate.Decimal().IsPositive() {
		return errors.New("sandbox: Offers.Rate must be above zero")
	}
	one := decimal.NewFromInt(1)
	if r.MaxShare.IsZero() {
		r.MaxShare = one
	}
	if !r.MaxShare.IsPositive() || r.MaxShare.GreaterThan(one) {
		return errors.New("sandbox: Offers.MaxShare must be above 0 and at most 1")
	}
	if r.MaxAmount.IsNegative() {
		return errors.New("sandbox: Offers.MaxAmount may not be negative")
	}
	if r.TermDays < 0 || r.TermDays > maxTermDays {
		return fmt.Errorf("sandbox: Offers.TermDays must be 0 to %d", maxTermDays)
	}
	if r.ValidFor < 0 {
		return errors.New("sandbox: Offers.ValidFor may not be negative")
	}
	if r.ValidFor == 0 {
		r.ValidFor = DefaultOfferValidFor
	}
	if r.Conditions == "" {
		r.Conditions = DefaultOfferConditions
	}
	if !text.Valid(r.Conditions) || len(r.Conditions) > maxOfferText {
		return fmt.Errorf("sandbox: Offers.Conditions must be text of at most %d bytes", maxOfferText)
	}
	return nil
}

// OfferMade is offer.made's data.
type OfferMade struct {
	IntentID   string       `json:"intent_id"`
	OfferID    string       `json:"offer_id"`
	Amount     money.Amount `json:"amount"`
	AnnualRate money.Rate   `json:"annual_rate"`
	TermDays   int          `json:"term_days"`
	ValidUntil time.Time    `json:"valid_until"` // UTC, to the second
	Conditions string       `json:"conditions"`
}

// OfferWithdrawn is offer.withdrawn's data.
type OfferWithdrawn struct {
	IntentID string `json:"intent_id"`
	OfferID  string `json:"offer_id"`
}

// IntentReceived is a financing-intents message the bank took.
type IntentReceived struct {
	MessageID   string // its Idempotency-Key
	IntentID    string
	PublishedAt time.Time
	RespondBy   time.Time
	Amount      money.Amount
	Currency    string
	TermDays    int
	Purpose     string
	// Parts are the optional parts the message carried, in the protocol's
	// order (supplier, purchaser, award, contract, verification): those
	// the supplier's consent names.
	Parts        []string
	SupplierUSCC string // "" when the message has no supplier
	BodyHash     string // signature.BodyHash of the body taken
	ReceivedAt   time.Time
	Deliveries   int // deliveries with this key and body, the first included
}

// DecisionReceived is a decision on an intent the bank took.
type DecisionReceived struct {
	MessageID     string // its Idempotency-Key
	IntentID      string
	Decision      string // Decision*
	OfferID       string // the bank's offer_id ("" when null)
	ApplicationID string // "" when null
	BodyHash      string
	ReceivedAt    time.Time
	Deliveries    int
	// Known: the bank had taken the intent; OwnOffer: OfferID is an offer
	// the bank made on it.
	Known, OwnOffer bool
}

// OfferSent is an offer the bank made, and what became of it.
type OfferSent struct {
	OfferMade
	// Status is procfin's answer to the offer.made: 200 when taken, the
	// refusal's status (409 for a late offer or a closed intent), 0 while
	// being sent or when it could not be delivered.
	Status int
}

// intentState is an intent the bank heard of (by its message or by a
// decision) and what it did about it.
type intentState struct {
	id       string
	msg      *intentMessage // nil when only a decision came
	decision string         // "" until procfin decided
	answer   string         // Answer*: "" until the bank answered
	offer    *OfferSent
	// offerEvent is the offer.made built, sent again by a restarted bank
	// until procfin answers it; queued: a reloaded intent waits for Run.
	offerEvent []byte
	queued     bool
}

// How the bank answered an intent (IntentAnswer).
const (
	AnswerOffered  = "offered"  // it made an offer
	AnswerDeclined = "declined" // its rule declines: no offer
	AnswerDecided  = "decided"  // procfin decided the intent first: no offer
	AnswerLate     = "late"     // respond_by had passed: no offer
)

// intentMessage is a financing-intents body as the bank reads it: the
// parts of an application (supplier, purchaser, award, contract,
// verification, each present only when the consent names it) and the need.
type intentMessage struct {
	IntentID    string    `json:"intent_id"`
	PublishedAt time.Time `json:"published_at"`
	RespondBy   time.Time `json:"respond_by"`
	Supplier    *struct {
		USCC      string `json:"uscc"`
		Name      string `json:"name"`
		SizeClass string `json:"size_class"`
	} `json:"supplier"`
	Purchaser *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"purchaser"`
	Award *struct {
		NoticeNo  string        `json:"notice_no"`
		ProjectNo string        `json:"project_no"`
		Issuer    string        `json:"issuer"`
		Amount    *money.Amount `json:"amount"`
		AwardedOn *money.Date   `json:"awarded_on"`
	} `json:"award"`
	Contract *struct {
		ContractNo string        `json:"contract_no"`
		Amount     *money.Amount `json:"amount"`
		SignedOn   *money.Date   `json:"signed_on"`
		Period     *struct {
			Start money.Date `json:"start"`
			End   money.Date `json:"end"`
		} `json:"period"`
		PaymentTerms []struct {
			DueOn  money.Date   `json:"due_on"`
			Amount money.Amount `json:"amount"`
		} `json:"payment_terms"`
	} `json:"contract"`
	Request *struct {
		Amount   *money.Amount `json:"amount"`
		Currency string        `json:"currency"`
		TermDays int           `json:"term_days"`
		Purpose  string        `json:"purpose"`
	} `json:"request"`
	Verification *struct {
		VerifiedAt time.Time `json:"verified_at"`
		Checks     []struct {
			Name   string `json:"name"`
			Result string `json:"result"`
		} `json:"checks"`
	} `json:"verification"`
}

// decisionMessage is a decision's body.
type decisionMessage struct {
	IntentID      string  `json:"intent_id"`
	Decision      string  `json:"decision"`
	OfferID       *string `json:"offer_id"`
	ApplicationID *string `json:"application_id"`
}

// fields collects what is wrong with a message, field by field.
type fields []string

func (f *fields) add(format string, a ...any) { *f = append(*f, fmt.Sprintf(format, a...)) }

// text checks a text field: required (when need), at most max bytes, no
// control characters.
func (f *fields) text(name, v string, max int, need bool) {
	switch {
	case need && strings.TrimSpace(v) == "":
		f.add("%s is required", name)
	case len(v) > max:
		f.add("%s is longer than %d bytes", name, max)
	case !text.Valid(v):
		f.add("%s has control characters", name)
	}
}

// parseStrict reads body as one JSON object into v: valid UTF-8, no field
// v does not name, nothing after it; status 0, or 400 (not JSON) or 422
// with what is wrong.
func parseStrict(body []byte, what string, v any) (status int, detail string) {
	if !utf8.Valid(body) || !json.Valid(body) {
		return http.StatusBadRequest, "the body is not JSON (UTF-8)"
	}
	if err := strictDecode(body, v); err != nil {
		return http.StatusUnprocessableEntity, "the body is not " + what + ": " + err.Error()
	}
	return 0, ""
}

// parseIntent reads a financing-intents message strictly: every field of
// the protocol and no other, the need (request) required, texts bounded.
// It returns status 0, or 400 (not JSON) or 422 with every bad field. It
// never panics.
func parseIntent(body []byte) (m intentMessage, status int, detail string) {
	if status, detail := parseStrict(body, "a financing intent", &m); status != 0 {
		return m, status, detail
	}
	var bad fields
	bad.text("intent_id", m.IntentID, maxIDLen, true)
	if m.PublishedAt.IsZero() {
		bad.add("published_at is required (RFC 3339)")
	}
	if m.RespondBy.IsZero() {
		bad.add("respond_by is required (RFC 3339)")
	} else if !m.PublishedAt.IsZero() && !m.RespondBy.After(m.PublishedAt) {
		bad.add("respond_by must be after published_at")
	}
	if r := m.Request; r == nil {
		bad.add("request is required")
	} else {
		if r.Amount == nil || !r.Amount.IsPositive() {
			bad.add("request.amount must be an amount above zero")
		}
		if r.Currency != "CNY" {
			bad.add(`request.currency must be "CNY"`)
		}
		if r.TermDays < 1 || r.TermDays > maxTermDays {
			bad.add("request.term_days must be 1 to %d", maxTermDays)
		}
		bad.text("request.purpose", r.Purpose, maxTextLen, false)
	}
	if s := m.Supplier; s != nil {
		bad.text("supplier.uscc", s.USCC, maxIDLen, true)
		bad.text("supplier.name", s.Name, maxTextLen, false)
		bad.text("supplier.size_class", s.SizeClass, maxIDLen, false)
	}
	if p := m.Purchaser; p != nil {
		bad.text("purchaser.id", p.ID, maxIDLen, true)
		bad.text("purchaser.name", p.Name, maxTextLen, false)
	}
	if a := m.Award; a != nil {
		bad.text("award.notice_no", a.NoticeNo, maxIDLen, true)
		bad.text("award.project_no", a.ProjectNo, maxIDLen, false)
		bad.text("award.issuer", a.Issuer, maxIDLen, false)
		if a.Amount == nil || !a.Amount.IsPositive() {
			bad.add("award.amount must be an amount above zero")
		}
		if a.AwardedOn == nil || a.AwardedOn.IsZero() {
			bad.add("award.awarded_on is required (YYYY-MM-DD)")
		}
	}
	if c := m.Contract; c != nil {
		bad.text("contract.contract_no", c.ContractNo, maxIDLen, true)
		if c.Amount == nil || !c.Amount.IsPositive() {
			bad.add("contract.amount must be an amount above zero")
		}
		if c.SignedOn == nil || c.SignedOn.IsZero() {
			bad.add("contract.signed_on is required (YYYY-MM-DD)")
		}
		if len(c.PaymentTerms) > 1000 {
			bad.add("contract.payment_terms has more than 1000 terms")
		}
		for i, t := range c.PaymentTerms {
			if t.DueOn.IsZero() || !t.Amount.IsPositive() {
				bad.add("contract.payment_terms[%d] needs due_on and an amount above zero", i)
			}
		}
	}
	if v := m.Verification; v != nil {
		if v.VerifiedAt.IsZero() {
			bad.add("verification.verified_at is required (RFC 3339)")
		}
		if len(v.Checks) > 100 {
			bad.add("verification.checks has more than 100 checks")
		}
		for i, c := range v.Checks {
			bad.text(fmt.Sprintf("verification.checks[%d].name", i), c.Name, maxIDLen, true)
			bad.text(fmt.Sprintf("verification.checks[%d].result", i), c.Result, maxIDLen, true)
		}
	}
	if len(bad) > 0 {
		return m, http.StatusUnprocessableEntity, strings.Join(bad, "; ")
	}
	return m, 0, ""
}

// parts names the optional parts m carries.
func (m *intentMessage) parts() []string {
	var p []string
	for _, part := range []struct {
		name string
		in   bool
	}{{"supplier", m.Supplier != nil}, {"purchaser", m.Purchaser != nil}, {"award", m.Award != nil},
		{"contract", m.Contract != nil}, {"verification", m.Verification != nil}} {
		if part.in {
			p = append(p, part.name)
		}
	}
	return p
}

// parseDecision reads a decision on the intent the path names strictly:
// accepted carries the offer and application ids, the others no
// application. It returns status 0, or 400 or 422 with every bad field. It
// never panics.
func parseDecision(body []byte, pathID string) (m decisionMessage, status int, detail string) {
	if status, detail := parseStrict(body, "a decision", &m); status != 0 {
		return m, status, detail
	}
	var bad fields
	if m.IntentID == "" || !strings.EqualFold(m.IntentID, pathID) {
		bad.add("intent_id must be the intent of the path")
	} else {
		bad.text("intent_id", m.IntentID, maxIDLen, true)
	}
	switch m.Decision {
	case DecisionAccepted:
		if m.OfferID == nil {
			bad.add("offer_id is required when the decision is accepted")
		}
		if m.ApplicationID == nil {
			bad.add("application_id is required when the decision is accepted")
		}
	case DecisionDeclined, DecisionExpired, DecisionCancelled:
		if m.ApplicationID != nil {
			bad.add("application_id must be null unless the decision is accepted")
		}
	default:
		bad.add("decision must be accepted, declined, expired or cancelled")
	}
	if m.OfferID != nil {
		bad.text("offer_id", *m.OfferID, maxIDLen, true)
	}
	if m.ApplicationID != nil {
		bad.text("application_id", *m.ApplicationID, maxIDLen, true)
	}
	if len(bad) > 0 {
		return m, http.StatusUnprocessableEntity, strings.Join(bad, "; ")
	}
	return m, 0, ""
}

// signedMessage reads a signed message from procfin with its
// Idempotency-Key (at most 200 bytes) and body (at most max bytes); on a
// failure it answers and returns false.
func (b *Bank) signedMessage(w http.ResponseWriter, r *http.Request, max int) (key string, body []byte, ok bool) {
	body, ok = b.readSigned(w, r)
	if !ok {
		return "", nil, false
	}
	if len(body) > max {
		writeProblem(w, http.StatusRequestEntityTooLarge, string(errs.BodyTooLarge), fmt.Sprintf("the body is over %d bytes", max))
		return "", nil, false
	}
	key = r.Header.Get("Idempotency-Key")
	if key == "" || len(key) > maxIDLen {
		writeProblem(w, http.StatusBadRequest, string(errs.MalformedRequest), "the Idempotency-Key header is required (the message id, at most 200 bytes)")
		return "", nil, false
	}
	return key, body, true
}

// resent answers, with b.mu held (it releases it), a message of kind taken
// before under its Idempotency-Key: the same body again is counted
// (deliveries) and answered 200 with answer, another body 409.
func (b *Bank) resent(w http.ResponseWriter, kind, key, hash, takenHash string, deliveries *int, answer map[string]string) {
	same := hash == takenHash
	if same {
		*deliveries++
	}
	b.mu.Unlock()
	if !same {
		writeProblem(w, http.StatusConflict, string(errs.IdempotencyReused), "this Idempotency-Key came before with a different body")
		return
	}
	b.countResend(kind, key)
	writeJSON(w, http.StatusOK, answer)
}

// refuseBody answers a message whose body a parser refused with status:
// 400 malformed_request (not the JSON asked for) or 422 invalid.
func refuseBody(w http.ResponseWriter, status int, detail string) {
	code := errs.Invalid
	if status == http.StatusBadRequest {
		code = errs.MalformedRequest
	}
	writeProblem(w, status, string(code), detail)
}

// takeIntent is POST /v1/financing-intents: procfin's signed message of a
// supplier's financing need. The signature is checked as a credit
// application's; the bank answers 202 and, after DecisionDelay, makes its
// offer (OfferRule); a resend (same Idempotency-Key and body) is answered
// 200, the same key with another body 409. A second message of an intent
// it already took is taken but answered by no second offer.
func (b *Bank) takeIntent(w http.ResponseWriter, r *http.Request) {
	key, body, ok := b.signedMessage(w, r, maxIntentBytes)
	if !ok {
		return
	}
	hash := signature.BodyHash(body)
	b.mu.Lock()
	if rec, ok := b.intentMsgs[key]; ok {
		b.resent(w, kindIntent, key, hash, rec.BodyHash, &rec.Deliveries, map[string]string{"intent_id": rec.IntentID, "status": "received"})
		return
	}
	b.mu.Unlock()
	m, status, detail := parseIntent(body)
	if status != 0 {
		refuseBody(w, status, detail)
		return
	}

	b.mu.Lock()
	if rec, ok := b.intentMsgs[key]; ok { // a concurrent delivery won
		b.resent(w, kindIntent, key, hash, rec.BodyHash, &rec.Deliveries, map[string]string{"intent_id": rec.IntentID, "status": "received"})
		return
	}
	rec := &IntentReceived{MessageID: key, IntentID: m.IntentID, PublishedAt: m.PublishedAt, RespondBy: m.RespondBy,
		Amount: *m.Request.Amount, Currency: m.Request.Currency, TermDays: m.Request.TermDays, Purpose: m.Request.Purpose,
		Parts: m.parts(), BodyHash: hash, ReceivedAt: b.now(), Deliveries: 1}
	if m.Supplier != nil {
		rec.SupplierUSCC = m.Supplier.USCC
	}
	if err := b.store.takeMessage(kindIntent, key, hash, rec, "", ""); err != nil {
		b.mu.Unlock()
		b.unstored(w, "financing intent", key, err)
		return
	}
	b.intentMsgs[key] = rec
	b.iOrder = append(b.iOrder, rec)
	st := b.intentState(m.IntentID)
	fresh := st.msg == nil
	if fresh {
		st.msg = &m
		b.pendingIntents = append(b.pendingIntents, st)
	}
	b.mu.Unlock()
	if fresh {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	b.log.Info("financing intent taken", "intent_id", m.IntentID, "amount", rec.Amount, "term_days", rec.TermDays,
		"respond_by", m.RespondBy, "parts", rec.Parts, "first", fresh)
	writeJSON(w, http.StatusAccepted, map[string]string{"intent_id": m.IntentID, "status": "received"})
}

// takeDecision is POST /v1/financing-intents/{intent_id}/decision:
// procfin's signed word of what the supplier decided, or that the intent
// expired or was cancelled. The bank answers 202 and makes no offer on the
// intent from then on; a resend is answered 200, the same key with another
// body 409. A decision on an intent the bank never took is taken all the
// same (if the intent comes later, the bank does not answer it).
func (b *Bank) takeDecision(w http.ResponseWriter, r *http.Request) {
	key, body, ok := b.signedMessage(w, r, maxBodyBytes)
	if !ok {
		return
	}
	hash := signature.BodyHash(body)
	b.mu.Lock()
	if rec, ok := b.decisions[key]; ok {
		b.resent(w, kindDecision, key, hash, rec.BodyHash, &rec.Deliveries, map[string]string{"intent_id": rec.IntentID, "decision": rec.Decision})
		return
	}
	b.mu.Unlock()
	m, status, detail := parseDecision(body, r.PathValue("intent_id"))
	if status != 0 {
		refuseBody(w, status, detail)
		return
	}

	b.mu.Lock()
	if rec, ok := b.decisions[key]; ok { // a concurrent delivery won
		b.resent(w, kindDecision, key, hash, rec.BodyHash, &rec.Deliveries, map[string]string{"intent_id": rec.IntentID, "decision": rec.Decision})
		return
	}
	rec := &DecisionReceived{MessageID: key, IntentID: m.IntentID, Decision: m.Decision, BodyHash: hash, ReceivedAt: b.now(), Deliveries: 1}
	if m.OfferID != nil {
		rec.OfferID = *m.OfferID
	}
	if m.ApplicationID != nil {
		rec.ApplicationID = *m.ApplicationID
	}
	st := b.intentState(m.IntentID)
	rec.Known = st.msg != nil
	rec.OwnOffer = st.offer != nil && rec.OfferID != "" && st.offer.OfferID == rec.OfferID
	if err := b.store.takeMessage(kindDecision, key, hash, rec, "", ""); err != nil {
		b.mu.Unlock()
		b.unstored(w, "decision", key, err)
		return
	}
	if st.decision == "" {
		st.decision = m.Decision
	}
	b.decisions[key] = rec
	b.dOrder = append(b.dOrder, rec)
	b.mu.Unlock()
	b.log.Info("decision on a financing intent taken", "intent_id", m.IntentID, "decision", m.Decision,
		"offer_id", rec.OfferID, "application_id", rec.ApplicationID, "known", rec.Known, "own_offer", rec.OwnOffer)
	writeJSON(w, http.StatusAccepted, map[string]string{"intent_id": m.IntentID, "decision": m.Decision})
}

// errIntentDecided: procfin decided the intent while its offer was being
// sent.
var errIntentDecided = errors.New("the intent was decided")

// answerIntent answers an intent after DecisionDelay by the offer rule:
// an offer.made, or nothing when the bank declines, the intent was decided
// meanwhile, or its respond_by passed (by the bank's clock). The answer
// and the offer.made are stored before it is sent; an offer a restarted
// bank had made and procfin not yet answered is sent again at once.
func (b *Bank) answerIntent(ctx context.Context, st *intentState) {
	b.mu.Lock()
	o, body := st.offer, st.offerEvent
	b.mu.Unlock()
	if o == nil || body == nil {
		if !sleep(ctx, b.cfg.DecisionDelay) {
			return
		}
		if o, body = b.offer(st); o == nil {
			return
		}
	}
	e := outEvent{Event{EventID: o.OfferID + ".made", Type: TypeOfferMade}, body}
	stop := func() error {
		b.mu.Lock()
		defer b.mu.Unlock()
		if st.decision != "" {
			return errIntentDecided
		}
		return nil
	}
	status, err := b.deliverWith(ctx, e, false, stop)
	if err == nil && b.Faults().DuplicateEvents {
		_, _ = b.deliverWith(ctx, e, false, stop)
	}
	if err != nil {
		b.log.Warn("offer not taken", "intent_id", st.id, "offer_id", o.OfferID, "status", status, "error", err)
	}
	if ctx.Err() != nil {
		return // a restarted bank sends it again
	}
	b.mu.Lock()
	o.Status = status
	b.mu.Unlock()
	if err := b.store.offerAnswered(st.id, status); err != nil {
		b.log.Error("store procfin's answer to an offer", "intent_id", st.id, "error", err)
	}
}

// offer answers the intent by the offer rule and returns the offer made
// and its offer.made, stored; nil when the bank makes none.
func (b *Bank) offer(st *intentState) (*OfferSent, []byte) {
	rule := b.cfg.Offers
	now := b.now()
	b.mu.Lock()
	m := st.msg
	var answer, why string
	switch {
	case st.decision != "":
		answer, why = AnswerDecided, "financing intent decided before the bank answered: no offer"
	case rule.Decline:
		answer, why = AnswerDeclined, "financing intent: the bank makes no offer (its rule declines)"
	case !now.Before(m.RespondBy):
		answer, why = AnswerLate, "financing intent past respond_by: no offer"
	}
	if answer != "" {
		st.answer = answer
		b.mu.Unlock()
		b.log.Info(why, "intent_id", st.id, "decision", st.decision, "respond_by", m.RespondBy)
		if err := b.store.answerIntent(st.id, answer, nil, nil); err != nil {
			b.log.Error("store the answer to an intent", "intent_id", st.id, "error", err)
		}
		return nil, nil
	}
	o := &OfferSent{OfferMade: OfferMade{
		IntentID: st.id, OfferID: "SBX-O-" + randomID(5), Amount: b.offerAmount(*m.Request.Amount),
		AnnualRate: rule.Rate, TermDays: m.Request.TermDays,
		ValidUntil: now.Add(rule.ValidFor).UTC().Truncate(time.Second), Conditions: rule.Conditions,
	}}
	if rule.TermDays > 0 {
		o.TermDays = rule.TermDays
	}
	e, err := newOutEvent(Event{EventID: o.OfferID + ".made", Type: TypeOfferMade, OccurredAt: now, Data: o.OfferMade})
	if err == nil {
		err = b.store.answerIntent(st.id, AnswerOffered, o, e.body)
	}
	if err != nil {
		b.mu.Unlock()
		b.log.Error("build or store an offer", "intent_id", st.id, "error", err)
		return nil, nil
	}
	st.offer, st.offerEvent, st.answer = o, e.body, AnswerOffered
	b.offers[o.OfferID] = o
	b.oOrder = append(b.oOrder, o)
	b.mu.Unlock()
	b.log.Info("offer made", "intent_id", st.id, "offer_id", o.OfferID, "amount", o.Amount, "annual_rate", o.AnnualRate, "term_days", o.TermDays)
	return o, e.body
}

// offerAmount is what the rule offers of asked: MaxShare of it, cut down
// to the 分, at most MaxAmount (when set) and ApproveUpTo.
func (b *Bank) offerAmount(asked money.Amount) money.Amount {
	rule := b.cfg.Offers
	amount := money.AmountFromDecimal(asked.Decimal().Mul(rule.MaxShare).Truncate(2))
	if rule.MaxAmount.IsPositive() && amount.GreaterThan(rule.MaxAmount) {
		amount = rule.MaxAmount
	}
	if amount.GreaterThan(b.cfg.ApproveUpTo) {
		amount = b.cfg.ApproveUpTo
	}
	return amount
}

// offerOf returns the offer the bank made under its offer_id; b.mu is
// held.
func (b *Bank) offerOf(offerID string) (OfferMade, bool) {
	o, ok := b.offers[offerID]
	if !ok {
		return OfferMade{}, false
	}
	return o.OfferMade, true
}

// WithdrawOffer withdraws the bank's offer on an intent: it sends
// offer.withdrawn (with retries on 5xx and time-outs) and returns procfin's
// answer's status (200 when taken, 409 after the supplier accepted it).
func (b *Bank) WithdrawOffer(ctx context.Context, intentID string) (int, error) {
	b.mu.Lock()
	st, ok := b.intents[intentID]
	if !ok || st.offer == nil {
		b.mu.Unlock()
		return 0, fmt.Errorf("sandbox: no offer on intent %q", intentID)
	}
	offerID := st.offer.OfferID
	b.mu.Unlock()
	e, err := newOutEvent(Event{EventID: offerID + ".withdrawn", Type: TypeOfferWithdrawn, OccurredAt: b.now(),
		Data: OfferWithdrawn{IntentID: intentID, OfferID: offerID}})
	if err != nil {
		return 0, err
	}
	return b.deliverWith(ctx, e, false, nil)
}

// IntentAnswer returns how the bank answered the intent (Answer*), ""
// while it has not.
func (b *Bank) IntentAnswer(intentID string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st, ok := b.intents[intentID]; ok {
		return st.answer
	}
	return ""
}

// IntentsReceived returns the financing-intents messages taken so far, in
// the order taken.
func (b *Bank) IntentsReceived() []IntentReceived { return copies(&b.mu, &b.iOrder) }

// Decisions returns the decisions on intents taken so far, in the order
// taken.
func (b *Bank) Decisions() []DecisionReceived { return copies(&b.mu, &b.dOrder) }

// Offers returns the offers the bank made so far, in the order made.
func (b *Bank) Offers() []OfferSent { return copies(&b.mu, &b.oOrder) }

func (b *Bank) takePendingIntents() []*intentState {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.pendingIntents
	b.pendingIntents = nil
	return p
}
