package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/signature"
)

// The event types of the protocol.
const (
	TypeReceived       = "application.received"
	TypeApproved       = "application.approved"
	TypeRejected       = "application.rejected"
	TypeDisbursed      = "loan.disbursed"
	TypeRepaid         = "loan.repaid"
	TypeOverdue        = "loan.overdue"
	TypeLineGranted    = "credit_line.granted"
	TypeLineChanged    = "credit_line.changed"
	TypeLineRevoked    = "credit_line.revoked"
	ReasonOverLimit    = "over_limit"
	ReasonLineMismatch = "credit_line_mismatch"
)

// Event is the envelope of a bank event. Its JSON has occurred_at in RFC
// 3339 UTC to the second, and data {} when Data is nil; application_id and
// bank_reference are null when empty (credit line events).
type Event struct {
	EventID       string    `json:"event_id"`
	Type          string    `json:"type"`
	OccurredAt    time.Time `json:"occurred_at"`
	ApplicationID string    `json:"application_id,omitempty"`
	BankReference string    `json:"bank_reference,omitempty"`
	Data          any       `json:"data"`
}

// MarshalJSON writes the protocol's envelope.
func (e Event) MarshalJSON() ([]byte, error) {
	type envelope struct {
		EventID       string  `json:"event_id"`
		Type          string  `json:"type"`
		OccurredAt    string  `json:"occurred_at"`
		ApplicationID *string `json:"application_id"`
		BankReference *string `json:"bank_reference"`
		Data          any     `json:"data"`
	}
	data := e.Data
	if data == nil {
		data = struct{}{}
	}
	orNull := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	return json.Marshal(envelope{e.EventID, e.Type, e.OccurredAt.UTC().Format(time.RFC3339), orNull(e.ApplicationID), orNull(e.BankReference), data})
}

// RepaymentAccount is where the purchaser pays the contract.
type RepaymentAccount struct {
	BankName    string `json:"bank_name"`
	AccountNo   string `json:"account_no"`
	AccountName string `json:"account_name"`
}

// Approved is application.approved's data.
type Approved struct {
	ApprovedAmount   money.Amount     `json:"approved_amount"`
	AnnualRate       money.Rate       `json:"annual_rate"`
	TermDays         int              `json:"term_days"`
	RepaymentAccount RepaymentAccount `json:"repayment_account"`
}

// Rejected is application.rejected's data.
type Rejected struct {
	ReasonCode string `json:"reason_code"`
	Reason     string `json:"reason"`
}

// Disbursed is loan.disbursed's data.
type Disbursed struct {
	LoanID         string       `json:"loan_id"`
	DisbursementID string       `json:"disbursement_id"`
	Amount         money.Amount `json:"amount"`
	ValueDate      money.Date   `json:"value_date"`
	MaturityDate   money.Date   `json:"maturity_date"`
	AnnualRate     money.Rate   `json:"annual_rate"`
}

// Period is an interest period.
type Period struct {
	Start money.Date `json:"start"`
	End   money.Date `json:"end"`
}

// Repaid is loan.repaid's data. The sandbox names the tranche it repays
// (version 1.1), and sends no interest period with no interest.
type Repaid struct {
	LoanID         string       `json:"loan_id"`
	RepaymentID    string       `json:"repayment_id"`
	DisbursementID string       `json:"disbursement_id,omitempty"`
	Principal      money.Amount `json:"principal"`
	Interest       money.Amount `json:"interest"`
	PaidOn         money.Date   `json:"paid_on"`
	InterestPeriod *Period      `json:"interest_period,omitempty"`
}

// LineGranted is credit_line.granted's (and credit_line.changed's) data.
type LineGranted struct {
	CreditLineID      string       `json:"credit_line_id"`
	SupplierUSCC      string       `json:"supplier_uscc"`
	Limit             money.Amount `json:"limit"`
	ValidFrom         money.Date   `json:"valid_from"`
	ValidUntil        money.Date   `json:"valid_until"`
	Revolving         bool         `json:"revolving"`
	AnnualRateCeiling money.Rate   `json:"annual_rate_ceiling"`
}

// Interest is ACT/360 simple interest: principal × rate × days / 360,
// rounded half-up to the 分, in decimal arithmetic. Negative days count as
// none.
func Interest(principal money.Amount, rate money.Rate, days int) money.Amount {
	if days <= 0 {
		return money.Zero
	}
	// In 分 × 360, exactly; then divide by 360 with the remainder.
	num := principal.Decimal().Mul(rate.Decimal()).Mul(decimal.NewFromInt(int64(days))).Shift(2)
	q, r := num.QuoRem(decimal.NewFromInt(360), 0) // num = 360 q + r, 0 ≤ r < 360
	if r.Mul(decimal.NewFromInt(2)).GreaterThanOrEqual(decimal.NewFromInt(360)) {
		q = q.Add(decimal.NewFromInt(1)) // half-up
	}
	return money.AmountFromDecimal(q.Shift(-2))
}

// Split divides amount into n tranches of whole 分, equal but for the
// remainder, which goes to the last. It returns fewer tranches when amount
// has fewer than n 分.
func Split(amount money.Amount, n int) []money.Amount {
	cents := amount.Decimal().Shift(2).IntPart()
	if n < 1 {
		n = 1
	}
	if cents < int64(n) {
		n = max(int(cents), 1)
	}
	each := cents / int64(n)
	out := make([]money.Amount, n)
	for i := range out {
		c := each
		if i == n-1 {
			c = cents - each*int64(n-1)
		}
		out[i] = money.AmountFromDecimal(decimal.New(c, -2))
	}
	return out
}

// outEvent is an event with its body, fixed once so that every resend is
// the same message (a duplicate, not a conflict).
type outEvent struct {
	Event
	body []byte
}

func newOutEvent(e Event) (outEvent, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return outEvent{}, err
	}
	return outEvent{e, b}, nil
}

// process takes an application through its life from where it stands,
// so that a restarted bank carries on: each batch of its events in turn
// is due at a.nextAt, built then (the first, after DecisionDelay, is the
// decision; the disbursements of a bank that waits for confirmation wait
// for the purchaser's word) and stored before it is first sent, so that a
// batch sent again after a restart is the same messages; once procfin
// took a batch, the next is due RepayAfter later. A withdrawn application
// is not decided; a batch procfin refuses, or that is given up, ends the
// life.
func (b *Bank) process(ctx context.Context, a *application) {
	for {
		b.mu.Lock()
		k, due := a.sent, a.nextAt
		b.mu.Unlock()
		if !sleep(ctx, time.Until(due)) {
			return
		}
		events, err := b.batch(ctx, a, k)
		if err != nil {
			if ctx.Err() == nil {
				b.log.Error("build events", "application_id", a.rec.ApplicationID, "batch", k, "error", err)
			}
			return
		}
		if len(events) == 0 {
			b.log.Info("application withdrawn: no decision", "application_id", a.rec.ApplicationID)
			b.finish(a)
			return
		}
		if !b.sendBatch(ctx, a, events) {
			if ctx.Err() == nil {
				b.finish(a)
			}
			return
		}
		if k > 0 {
			b.log.Info("loan's life goes on", "application_id", a.rec.ApplicationID, "loan_id", a.loanID, "life", a.life, "batch", k, "events", len(events))
		}
		if !b.batchSent(a, k) {
			return
		}
	}
}

// batches is how many batches of events a's life sends, as far as the bank
// knows it: the decision, the disbursements or lapse of an approval that
// waits for confirmation, and the later steps.
func (b *Bank) batches(a *application) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !a.approved {
		return 1 // rejected or held (a withdrawn one has none)
	}
	n := 1
	if b.cfg.AwaitConfirmation {
		n++
		if a.receivable == TypeReceivableRefused {
			return n
		}
	}
	switch {
	case b.cfg.RepayAfter <= 0:
	case a.life == LifeRepaid:
		n++
	default:
		n += len(a.plan.steps)
	}
	return n
}

// batchSent records that procfin took batch k of a: the next is due
// RepayAfter later (at once when it is the disbursements that wait for
// confirmation), or the life is over. It reports whether a next batch
// follows.
func (b *Bank) batchSent(a *application, k int) bool {
	more := k+1 < b.batches(a)
	next := time.Now().Add(b.cfg.RepayAfter)
	if k == 0 && b.cfg.AwaitConfirmation {
		next = time.Now()
	}
	// Saved first, so that what the bank says of a (LifeOver) is saved.
	err := b.store.batchSent(a.rec.IdempotencyKey, k, next, !more)
	b.mu.Lock()
	a.sent, a.nextAt, a.done = k+1, next, !more
	b.mu.Unlock()
	if err != nil {
		b.log.Error("store a batch sent", "application_id", a.rec.ApplicationID, "batch", k, "error", err)
		return false
	}
	return more
}

// finish records that a's life is over.
func (b *Bank) finish(a *application) {
	// Saved first, so that what the bank says of a (LifeOver) is saved.
	if err := b.store.finish(a.rec.IdempotencyKey); err != nil {
		b.log.Error("store a life over", "application_id", a.rec.ApplicationID, "error", err)
	}
	b.mu.Lock()
	a.done = true
	b.mu.Unlock()
}

// batch returns batch k of a's events: as stored, when it was built
// before, else built now and stored. The decision (k 0) is none when the
// application was withdrawn.
func (b *Bank) batch(ctx context.Context, a *application, k int) ([]outEvent, error) {
	stored, err := b.store.batch(a.rec.IdempotencyKey, k)
	if err != nil || stored != nil {
		return stored, err
	}
	if k == 0 {
		return b.decision(a)
	}
	step := k - 1
	if b.cfg.AwaitConfirmation {
		if k == 1 {
			return b.settledBatch(ctx, a)
		}
		step--
	}
	var list []Event
	var line string
	var used money.Amount
	if a.life == LifeRepaid {
		list = b.repayments(a)
		line, used = b.settleLine(a, money.Zero)
	} else {
		now := b.now()
		list = slices.Clone(a.plan.steps[step])
		for i := range list {
			list[i].OccurredAt = now
		}
		if step == len(a.plan.steps)-1 {
			line, used = b.settleLine(a, a.plan.undisbursed)
		}
	}
	events, err := outEvents(list)
	if err != nil {
		return nil, err
	}
	return events, b.store.storeBatch(a, k, events, "", line, used)
}

// decision decides a and stores its first batch: received, approved or
// rejected, and the disbursements, but for a bank that waits for
// confirmation; none when it was withdrawn.
func (b *Bank) decision(a *application) ([]outEvent, error) {
	events, err := b.decide(a)
	if err != nil || len(events) == 0 {
		return nil, err
	}
	if b.cfg.AwaitConfirmation && a.approved {
		if i := slices.IndexFunc(events, func(e outEvent) bool { return e.Type == TypeDisbursed }); i >= 0 {
			events = events[:i]
		}
	}
	var decision, line string
	var used money.Amount
	b.mu.Lock()
	if a.decided {
		decision, err = decisionOf(a)
	}
	if a.line != nil {
		line, used = a.line.id, a.amount
	}
	b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return events, b.store.storeBatch(a, 0, events, decision, line, used)
}

// settledBatch waits for the purchaser's confirmation or refusal of an
// approved application (procfin's contract event) and returns, stored, its
// disbursements once confirmed, or its lapse (application.lapsed,
// receivable_refused) once refused.
func (b *Bank) settledBatch(ctx context.Context, a *application) ([]outEvent, error) {
	b.log.Info("approved: waiting for the purchaser's confirmation before disbursing", "application_id", a.rec.ApplicationID)
	select {
	case <-a.settled:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	b.mu.Lock()
	refused := a.receivable == TypeReceivableRefused
	b.mu.Unlock()
	var list []Event
	var line string
	var used money.Amount
	if refused {
		b.log.Info("receivable refused: the approval lapses", "application_id", a.rec.ApplicationID)
		list = []Event{{EventID: a.rec.BankReference + ".lapsed", Type: TypeLapsed, OccurredAt: b.now(),
			ApplicationID: a.rec.ApplicationID, BankReference: a.rec.BankReference, Data: Lapsed{Reason: ReasonReceivableRefused}}}
		line, used = b.settleLine(a, a.amount)
	} else {
		b.log.Info("receivable confirmed: disbursing", "application_id", a.rec.ApplicationID)
		list = b.disbursements(a, b.now())
	}
	events, err := outEvents(list)
	if err != nil {
		return nil, err
	}
	return events, b.store.storeBatch(a, 1, events, "", line, used)
}

// decide approves or rejects the application and returns its events:
// received, approved or rejected, and the disbursements; received alone
// when its life is LifeHeld; none when it was withdrawn.
func (b *Bank) decide(a *application) ([]outEvent, error) {
	now := b.now()
	req := a.msg.Request
	amount := *req.Amount
	ref := a.rec.BankReference
	mk := func(suffix, typ string, data any) Event {
		return Event{EventID: ref + "." + suffix, Type: typ, OccurredAt: now, ApplicationID: a.rec.ApplicationID, BankReference: ref, Data: data}
	}
	list := []Event{mk("received", TypeReceived, nil)}

	b.mu.Lock()
	if _, ok := b.withdrawnApps[a.rec.ApplicationID]; ok {
		b.mu.Unlock()
		return nil, nil
	}
	if a.life == LifeHeld {
		b.mu.Unlock()
		b.log.Info("application held: no decision until it is withdrawn", "application_id", a.rec.ApplicationID)
		return outEvents(list)
	}
	limit, what := b.cfg.ApproveUpTo, "the bank's limit"
	rate, termDays := b.cfg.Rate, req.TermDays
	var line *creditLine
	var reject *Rejected
	if req.OfferID != nil {
		// An accepted offer: approved within it, at its rate and term.
		if o, ok := b.offerOf(*req.OfferID); !ok {
			reject = &Rejected{ReasonCode: ReasonOfferUnknown, Reason: fmt.Sprintf("the bank made no offer %s", *req.OfferID)}
		} else {
			rate, termDays = o.AnnualRate, o.TermDays
			amount = money.AmountFromDecimal(decimal.Min(amount.Decimal(), o.Amount.Decimal()))
			limit, what = o.Amount, "offer "+o.OfferID
		}
	} else if req.CreditLineID != nil {
		if l, ok := b.lines[*req.CreditLineID]; ok {
			if l.uscc != a.msg.Supplier.USCC {
				reject = &Rejected{ReasonCode: ReasonLineMismatch, Reason: fmt.Sprintf("credit line %s is not the supplier's", l.id)}
			}
			line, limit, what = l, l.limit.Sub(l.used), "what is left of credit line "+l.id
		}
	}
	if reject == nil && amount.GreaterThan(limit) {
		reject = &Rejected{ReasonCode: ReasonOverLimit, Reason: fmt.Sprintf("%s requested is above %s (%s)", amount, what, limit)}
	}
	a.decided = true
	if reject == nil {
		a.approved, a.amount, a.line, a.rate, a.termDays = true, amount, line, rate, termDays
		if line != nil {
			line.used = line.used.Add(amount)
		}
		a.loanID = "SBX-L-" + a.rec.BankReference[len("SBX-"):]
		a.plan = b.planLoan(a, money.DateOf(now))
	}
	b.mu.Unlock()

	if reject != nil {
		b.log.Info("application rejected", "application_id", a.rec.ApplicationID, "reason_code", reject.ReasonCode)
		list = append(list, mk("rejected", TypeRejected, *reject))
		return outEvents(list)
	}
	b.log.Info("application approved", "application_id", a.rec.ApplicationID, "amount", amount, "life", a.life)
	list = append(list, mk("approved", TypeApproved, Approved{
		ApprovedAmount: amount, AnnualRate: a.rate, TermDays: a.termDays,
		RepaymentAccount: RepaymentAccount{
			BankName:    b.cfg.BankName,
			AccountNo:   accountNo(a.rec.ApplicationID),
			AccountName: a.msg.Supplier.Name,
		},
	}))
	return outEvents(append(list, b.disbursements(a, now)...))
}

// disbursements are the loan.disbursed of a's tranches, occurring at now.
func (b *Bank) disbursements(a *application, now time.Time) []Event {
	var list []Event
	maturity := a.plan.tranches[0].valueDate.AddDays(a.termDays)
	for i, t := range a.plan.tranches {
		n := strconv.Itoa(i + 1)
		list = append(list, Event{EventID: a.rec.BankReference + ".disbursed." + n, Type: TypeDisbursed, OccurredAt: now,
			ApplicationID: a.rec.ApplicationID, BankReference: a.rec.BankReference, Data: Disbursed{
				LoanID: a.loanID, DisbursementID: trancheID(a, i), Amount: t.amount,
				ValueDate: t.valueDate, MaturityDate: maturity, AnnualRate: a.rate,
			}})
	}
	return list
}

// trancheID is the bank's id of a's tranche i (from 0).
func trancheID(a *application, i int) string { return a.loanID + "-D" + strconv.Itoa(i+1) }

// repayments are the repayment of every tranche of a LifeRepaid loan,
// naming it, paid today with interest from its value date to today (none,
// and no interest period, when that is no day).
func (b *Bank) repayments(a *application) []Event {
	now := b.now()
	today := money.DateOf(now)
	ref := a.rec.BankReference
	var list []Event
	for i, t := range a.plan.tranches {
		n := strconv.Itoa(i + 1)
		paidOn := today
		if paidOn.Before(t.valueDate) {
			paidOn = t.valueDate
		}
		days := t.valueDate.DaysUntil(paidOn)
		r := Repaid{LoanID: a.loanID, RepaymentID: a.loanID + "-R" + n, DisbursementID: trancheID(a, i), Principal: t.amount,
			Interest: Interest(t.amount, a.rate, days), PaidOn: paidOn}
		if days > 0 {
			r.InterestPeriod = &Period{Start: t.valueDate, End: paidOn}
		}
		list = append(list, Event{
			EventID: ref + ".repaid." + n, Type: TypeRepaid, OccurredAt: now,
			ApplicationID: a.rec.ApplicationID, BankReference: ref, Data: r,
		})
	}
	b.log.Info("loan repaid", "application_id", a.rec.ApplicationID, "loan_id", a.loanID, "paid_on", today)
	return list
}

// settleLine gives a's credit line back what the closed loan no longer
// uses: all of the approval to a revolving line, only the undisbursed
// part to one that is not. It returns the line's id ("" for none) and the
// change of its use, to store.
func (b *Bank) settleLine(a *application, undisbursed money.Amount) (line string, used money.Amount) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if a.line == nil {
		return "", money.Zero
	}
	back := undisbursed
	if a.line.revolving {
		back = a.amount
	}
	a.line.used = a.line.used.Sub(back)
	if a.line.used.IsNegative() {
		a.line.used = money.Zero
	}
	return a.line.id, money.Zero.Sub(back)
}

func outEvents(list []Event) ([]outEvent, error) {
	out := make([]outEvent, 0, len(list))
	for _, e := range list {
		o, err := newOutEvent(e)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// accountNo is a repayment account number derived from the application.
func accountNo(applicationID string) string {
	h := signature.BodyHash([]byte(applicationID))
	n := uint64(0)
	for _, c := range []byte(h[:10]) {
		n = n*131 + uint64(c)
	}
	return fmt.Sprintf("6222%012d", n%1_000_000_000_000)
}

// sendBatch sends the events of a batch in order, each with retries, and
// reports whether all were delivered. With ReorderEvents it first sends
// them once each in a shuffled order; with DuplicateEvents each goes twice.
func (b *Bank) sendBatch(ctx context.Context, a *application, events []outEvent) bool {
	f := b.Faults()
	if f.ReorderEvents && len(events) > 1 {
		for _, e := range shuffled(events) {
			status, _, err := b.post(ctx, e.body)
			b.log.Info("event sent out of order (fault)", "event_id", e.EventID, "type", e.Type, "status", status, "error", err)
			if ctx.Err() != nil {
				return false
			}
		}
	}
	for _, e := range events {
		if err := b.deliver(ctx, e, a); err != nil {
			b.log.Warn("event not delivered; the rest of its batch is dropped", "event_id", e.EventID, "type", e.Type, "error", err)
			return false
		}
		if f.DuplicateEvents {
			if err := b.deliver(ctx, e, a); err != nil {
				b.log.Warn("duplicate event not delivered", "event_id", e.EventID, "type", e.Type, "error", err)
			}
		}
	}
	return true
}

// shuffled returns the events in a random order that is not theirs.
func shuffled(events []outEvent) []outEvent {
	s := append([]outEvent(nil), events...)
	rand.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	same := true
	for i := range s {
		if s[i].EventID != events[i].EventID {
			same = false
			break
		}
	}
	if same {
		s[0], s[len(s)-1] = s[len(s)-1], s[0]
	}
	return s
}

// errDropped: procfin refused an event for good.
var errDropped = errors.New("refused by procfin")

// errWithdrawn: the event's application was withdrawn meanwhile.
var errWithdrawn = errors.New("the application was withdrawn")

// deliver sends an event until procfin answers 200: it resends on a
// connection error, time-out, 408, 429, 5xx and 409 invalid_transition
// (the event may have come before what it follows), with a doubling
// back-off, at most 10 times, but not once a (non-nil) a has been
// withdrawn. Any other answer drops it.
func (b *Bank) deliver(ctx context.Context, e outEvent, a *application) error {
	var stop func() error
	if a != nil {
		stop = func() error {
			if b.withdrawn(a.rec.ApplicationID) {
				return errWithdrawn
			}
			return nil
		}
	}
	_, err := b.deliverWith(ctx, e, true, stop)
	return err
}

// deliverWith sends an event until procfin answers 200, as deliver does,
// resending on 409 invalid_transition only when retryTransition; before
// each resend a non-nil stop may end the tries with its error. It returns
// procfin's last status (0 when no answer came).
func (b *Bank) deliverWith(ctx context.Context, e outEvent, retryTransition bool, stop func() error) (int, error) {
	backoff := b.cfg.RetryBackoff
	for try := 1; ; try++ {
		status, body, err := b.post(ctx, e.body)
		if ctx.Err() != nil {
			return status, ctx.Err()
		}
		retry := false
		switch {
		case err != nil:
			retry = true
		case status == http.StatusOK:
			b.log.Debug("event delivered", "event_id", e.EventID, "type", e.Type, "answer", statusOf(body))
			return status, nil
		case retryTransition && status == http.StatusConflict && problemType(body) == string(errs.InvalidTransition):
			retry = true
		case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
			retry = true
		}
		if !retry {
			b.log.Warn("event refused", "event_id", e.EventID, "type", e.Type, "status", status, "problem", string(truncate(body, 500)))
			return status, fmt.Errorf("%w: status %d: %s", errDropped, status, truncate(body, 200))
		}
		if try >= maxTries {
			return 0, fmt.Errorf("gave up after %d tries: status %d, error %v", try, status, err)
		}
		if stop != nil {
			if err := stop(); err != nil {
				return 0, err
			}
		}
		b.log.Info("event not taken; resending", "event_id", e.EventID, "type", e.Type, "try", try, "status", status, "error", err)
		// Full jitter in [backoff/2, backoff].
		pause := backoff/2 + rand.N(backoff/2+1)
		if !sleep(ctx, pause) {
			return 0, ctx.Err()
		}
		backoff = min(2*backoff, maxRetryBackoff)
	}
}

// post signs body and posts it to procfin's event endpoint once.
func (b *Bank) post(ctx context.Context, body []byte) (int, []byte, error) {
	sig, err := b.signer.Sign(http.MethodPost, b.eventsURL, PlatformID, body, b.now())
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.eventsURL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set(signature.HeaderName, sig)
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	return resp.StatusCode, rb, err
}

// Send signs and posts one event to procfin now, once, without retries,
// and returns procfin's answer. An empty EventID gets a random one, a zero
// OccurredAt the current time.
func (b *Bank) Send(ctx context.Context, e Event) (status int, body []byte, err error) {
	if e.EventID == "" {
		e.EventID = "SBX-EV-" + randomID(8)
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = b.now()
	}
	o, err := newOutEvent(e)
	if err != nil {
		return 0, nil, err
	}
	return b.post(ctx, o.body)
}

// GrantLine grants the supplier a credit line of limit (a decimal string),
// valid from today for a year, at the bank's rate as its ceiling: it sends
// credit_line.granted (with retries) and, once procfin took it, measures
// the supplier's applications naming the line against it.
func (b *Bank) GrantLine(ctx context.Context, supplierUSCC, limit string, revolving bool) (lineID string, err error) {
	amount, err := money.ParseAmount(limit)
	if err != nil {
		return "", fmt.Errorf("sandbox: limit: %w", err)
	}
	if !amount.IsPositive() || supplierUSCC == "" {
		return "", errors.New("sandbox: a credit line needs a supplier and a limit above zero")
	}
	now := b.now()
	from := money.DateOf(now)
	until := money.DateOf(from.Time().AddDate(1, 0, 0))
	id := "SBX-CL-" + randomID(5)
	o, err := newOutEvent(Event{
		EventID: id + ".granted", Type: TypeLineGranted, OccurredAt: now,
		Data: LineGranted{
			CreditLineID: id, SupplierUSCC: supplierUSCC, Limit: amount,
			ValidFrom: from, ValidUntil: until, Revolving: revolving, AnnualRateCeiling: b.cfg.Rate,
		},
	})
	if err != nil {
		return "", err
	}
	if err := b.deliver(ctx, o, nil); err != nil {
		return "", fmt.Errorf("sandbox: credit_line.granted: %w", err)
	}
	l := &creditLine{id: id, uscc: supplierUSCC, limit: amount, revolving: revolving, validFrom: from, validUntil: until}
	if err := b.store.grantLine(l); err != nil {
		return "", fmt.Errorf("sandbox: store credit line: %w", err)
	}
	b.mu.Lock()
	b.lines[id] = l
	b.mu.Unlock()
	return id, nil
}

// LineRevoked is credit_line.revoked's data.
type LineRevoked struct {
	CreditLineID string `json:"credit_line_id"`
	Reason       string `json:"reason"`
}

// ChangeLine changes the limit (a decimal string) and revolving of a line
// the bank granted, its dates and rate ceiling kept: it sends
// credit_line.changed (with retries) and, once procfin took it, measures
// applications against the new limit.
func (b *Bank) ChangeLine(ctx context.Context, lineID, limit string, revolving bool) error {
	amount, err := money.ParseAmount(limit)
	if err != nil {
		return fmt.Errorf("sandbox: limit: %w", err)
	}
	if amount.IsNegative() {
		return errors.New("sandbox: a credit line's limit may not be negative")
	}
	b.mu.Lock()
	l, ok := b.lines[lineID]
	if !ok {
		b.mu.Unlock()
		return fmt.Errorf("sandbox: no credit line %q in force", lineID)
	}
	l.changes++
	changes := l.changes
	data := LineGranted{CreditLineID: l.id, SupplierUSCC: l.uscc, Limit: amount, ValidFrom: l.validFrom,
		ValidUntil: l.validUntil, Revolving: revolving, AnnualRateCeiling: b.cfg.Rate}
	eventID := l.id + ".changed." + strconv.Itoa(l.changes)
	b.mu.Unlock()
	if err := b.store.countChange(lineID, changes); err != nil {
		return fmt.Errorf("sandbox: store credit line: %w", err)
	}
	o, err := newOutEvent(Event{EventID: eventID, Type: TypeLineChanged, OccurredAt: b.now(), Data: data})
	if err != nil {
		return err
	}
	if err := b.deliver(ctx, o, nil); err != nil {
		return fmt.Errorf("sandbox: credit_line.changed: %w", err)
	}
	if err := b.store.changeLine(lineID, amount, revolving, changes); err != nil {
		return fmt.Errorf("sandbox: store credit line: %w", err)
	}
	b.mu.Lock()
	l.limit, l.revolving = amount, revolving
	b.mu.Unlock()
	return nil
}

// RevokeLine revokes a line the bank granted, for reason: it sends
// credit_line.revoked (with retries) and, once procfin took it, measures
// an application naming the line against the bank's own limit.
func (b *Bank) RevokeLine(ctx context.Context, lineID, reason string) error {
	b.mu.Lock()
	_, ok := b.lines[lineID]
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("sandbox: no credit line %q in force", lineID)
	}
	o, err := newOutEvent(Event{EventID: lineID + ".revoked", Type: TypeLineRevoked, OccurredAt: b.now(),
		Data: LineRevoked{CreditLineID: lineID, Reason: reason}})
	if err != nil {
		return err
	}
	if err := b.deliver(ctx, o, nil); err != nil {
		return fmt.Errorf("sandbox: credit_line.revoked: %w", err)
	}
	if err := b.store.revokeLine(lineID); err != nil {
		return fmt.Errorf("sandbox: store credit line: %w", err)
	}
	b.mu.Lock()
	delete(b.lines, lineID)
	b.mu.Unlock()
	return nil
}

// sleep waits d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func problemType(body []byte) string {
	var p struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &p)
	return p.Type
}

func statusOf(body []byte) string {
	var s struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(body, &s)
	return s.Status
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
