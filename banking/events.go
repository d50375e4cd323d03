package banking

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/jsonbody"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// Event types of the bank protocol.
const (
	EventApplicationReceived = "application.received"
	EventApplicationApproved = "application.approved"
	EventApplicationRejected = "application.rejected"
	EventLoanDisbursed       = "loan.disbursed"
	EventLoanRepaid          = "loan.repaid"
	EventLoanOverdue         = "loan.overdue"
	EventLineGranted         = "credit_line.granted"
	EventLineChanged         = "credit_line.changed"
	EventLineRevoked         = "credit_line.revoked"
)

var eventTypes = map[string]bool{
	EventApplicationReceived: true, EventApplicationApproved: true, EventApplicationRejected: true,
	EventLoanDisbursed: true, EventLoanRepaid: true, EventLoanOverdue: true,
	EventLineGranted: true, EventLineChanged: true, EventLineRevoked: true,
}

// Envelope is a bank event as it arrives (bank-protocol.md).
type Envelope struct {
	EventID       string          `json:"event_id"`
	Type          string          `json:"type"`
	OccurredAt    time.Time       `json:"occurred_at"`
	ApplicationID string          `json:"application_id"`
	BankReference string          `json:"bank_reference"`
	Data          json.RawMessage `json:"data"`
}

// Event data, one shape per type. Fields are pointers where the protocol
// requires them, so a missing one is told from a zero one.
type (
	approvedData struct {
		ApprovedAmount   *money.Amount             `json:"approved_amount"`
		AnnualRate       *money.Rate               `json:"annual_rate"`
		TermDays         *int                      `json:"term_days"`
		RepaymentAccount *lending.RepaymentAccount `json:"repayment_account"`
	}
	rejectedData struct {
		ReasonCode string `json:"reason_code"`
		Reason     string `json:"reason"`
	}
	disbursedData struct {
		LoanID         string        `json:"loan_id"`
		DisbursementID string        `json:"disbursement_id"`
		Amount         *money.Amount `json:"amount"`
		ValueDate      *money.Date   `json:"value_date"`
		MaturityDate   *money.Date   `json:"maturity_date"`
		AnnualRate     *money.Rate   `json:"annual_rate"`
	}
	repaidData struct {
		LoanID         string        `json:"loan_id"`
		RepaymentID    string        `json:"repayment_id"`
		Principal      *money.Amount `json:"principal"`
		Interest       *money.Amount `json:"interest"`
		PaidOn         *money.Date   `json:"paid_on"`
		InterestPeriod *struct {
			Start *money.Date `json:"start"`
			End   *money.Date `json:"end"`
		} `json:"interest_period"`
	}
	overdueData struct {
		LoanID           string        `json:"loan_id"`
		OverduePrincipal *money.Amount `json:"overdue_principal"`
		Since            *money.Date   `json:"since"`
	}
	lineData struct {
		CreditLineID      string        `json:"credit_line_id"`
		SupplierUSCC      string        `json:"supplier_uscc"`
		Limit             *money.Amount `json:"limit"`
		ValidFrom         *money.Date   `json:"valid_from"`
		ValidUntil        *money.Date   `json:"valid_until"`
		Revolving         *bool         `json:"revolving"`
		AnnualRateCeiling *money.Rate   `json:"annual_rate_ceiling"`
	}
	revokedData struct {
		CreditLineID string `json:"credit_line_id"`
		Reason       string `json:"reason"`
	}
)

// ParseEvent reads and checks an event body: a known type, an event id,
// an instant, an application id where the type needs one, and the data the
// type requires (amounts present and not negative, dates valid). Every
// failure is invalid (422) or malformed_request (400); it never panics.
func ParseEvent(body []byte) (Envelope, any, error) {
	var env Envelope
	if err := jsonbody.Decode(bytes.NewReader(body), &env); err != nil {
		return env, nil, err
	}
	var fe []errs.FieldError
	bad := func(field, code, msg string) {
		fe = append(fe, errs.FieldError{Field: field, Code: code, Message: msg})
	}
	if env.EventID == "" || len(env.EventID) > 200 || strings.ContainsRune(env.EventID, 0) {
		bad("event_id", "required", "is required, at most 200 bytes")
	}
	if !eventTypes[env.Type] {
		bad("type", "unknown_type", fmt.Sprintf("%q is not an event type of the protocol", env.Type))
	}
	if env.OccurredAt.IsZero() {
		bad("occurred_at", "required", "is required (RFC 3339)")
	}
	if !strings.HasPrefix(env.Type, "credit_line.") {
		if _, err := uuid.Parse(env.ApplicationID); err != nil {
			bad("application_id", "invalid", "must be the id of an application procfin sent")
		}
	}
	if len(fe) > 0 {
		return env, nil, errs.InvalidFields(fe...)
	}
	data, fe := parseData(env.Type, env.Data)
	if len(fe) > 0 {
		return env, nil, errs.InvalidFields(fe...)
	}
	return env, data, nil
}

func parseData(typ string, raw json.RawMessage) (any, []errs.FieldError) {
	var fe []errs.FieldError
	bad := func(field, code, msg string) {
		fe = append(fe, errs.FieldError{Field: "data." + field, Code: code, Message: msg})
	}
	amount := func(field string, a *money.Amount, positive bool) {
		switch {
		case a == nil:
			bad(field, "required", "is required")
		case a.IsNegative(), positive && a.IsZero():
			bad(field, "not_positive", "must be above zero")
		}
	}
	date := func(field string, d *money.Date) {
		if d == nil || d.IsZero() {
			bad(field, "required", "is required (YYYY-MM-DD)")
		}
	}
	text := func(field, v string) {
		if v == "" || len(v) > 200 {
			bad(field, "required", "is required, at most 200 bytes")
		}
	}
	decode := func(dst any) bool {
		if len(raw) == 0 || string(raw) == "null" {
			raw = json.RawMessage("{}")
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				msg := te.Value
				if te.Type != nil && te.Type.PkgPath() != "procfin/platform/money" {
					msg = "has the wrong type (" + te.Value + ")"
				}
				bad(te.Field, "invalid", msg)
				return false
			}
			bad("", "invalid", "does not match the event type")
			return false
		}
		return true
	}
	switch typ {
	case EventApplicationReceived:
		return nil, nil
	case EventApplicationApproved:
		var d approvedData
		if !decode(&d) {
			return nil, fe
		}
		amount("approved_amount", d.ApprovedAmount, true)
		if d.AnnualRate == nil {
			bad("annual_rate", "required", "is required")
		}
		if d.TermDays == nil || *d.TermDays < 1 {
			bad("term_days", "required", "is required, at least 1")
		}
		if d.RepaymentAccount == nil {
			bad("repayment_account", "required", "is required")
		}
		return d, fe
	case EventApplicationRejected:
		var d rejectedData
		if !decode(&d) {
			return nil, fe
		}
		text("reason_code", d.ReasonCode)
		return d, fe
	case EventLoanDisbursed:
		var d disbursedData
		if !decode(&d) {
			return nil, fe
		}
		text("loan_id", d.LoanID)
		text("disbursement_id", d.DisbursementID)
		amount("amount", d.Amount, true)
		date("value_date", d.ValueDate)
		date("maturity_date", d.MaturityDate)
		if d.AnnualRate == nil {
			bad("annual_rate", "required", "is required")
		}
		return d, fe
	case EventLoanRepaid:
		var d repaidData
		if !decode(&d) {
			return nil, fe
		}
		text("loan_id", d.LoanID)
		text("repayment_id", d.RepaymentID)
		amount("principal", d.Principal, false)
		amount("interest", d.Interest, false)
		date("paid_on", d.PaidOn)
		if d.InterestPeriod == nil {
			bad("interest_period", "required", "start and end are required")
		} else {
			date("interest_period.start", d.InterestPeriod.Start)
			date("interest_period.end", d.InterestPeriod.End)
		}
		return d, fe
	case EventLoanOverdue:
		var d overdueData
		if !decode(&d) {
			return nil, fe
		}
		text("loan_id", d.LoanID)
		amount("overdue_principal", d.OverduePrincipal, false)
		date("since", d.Since)
		return d, fe
	case EventLineGranted, EventLineChanged:
		var d lineData
		if !decode(&d) {
			return nil, fe
		}
		text("credit_line_id", d.CreditLineID)
		text("supplier_uscc", d.SupplierUSCC)
		amount("limit", d.Limit, false)
		date("valid_from", d.ValidFrom)
		date("valid_until", d.ValidUntil)
		if d.Revolving == nil {
			bad("revolving", "required", "is required")
		}
		return d, fe
	case EventLineRevoked:
		var d revokedData
		if !decode(&d) {
			return nil, fe
		}
		text("credit_line_id", d.CreditLineID)
		return d, fe
	}
	return nil, fe
}

// Events applies bank events through the lending state machine.
type Events struct {
	db      *sqlx.DB
	lending *lending.Service
	inbox   *inbox
	// OnRepaid, when set, runs in the repayment's own transaction (the
	// subsidy claim is computed there).
	OnRepaid func(ctx context.Context, tx *sqlx.Tx, r lending.RepaymentResult) error
}

// NewEvents returns the event handler.
func NewEvents(db *sqlx.DB, ls *lending.Service) *Events {
	ev := &Events{db: db, lending: ls}
	ev.inbox = newInbox(ev, inboxWriters, inboxMaxBatch)
	return ev
}

// Outcomes of Apply.
const (
	Processed = "processed"
	Duplicate = "duplicate"
)

// Apply records and applies one event from bankID in one transaction: the
// inbox row, the change, the audit trail. The same event id with the same
// body is a Duplicate and changes nothing; with another body it is an
// event_conflict. A bank touching another bank's application gets
// not_found; an event that does not follow from the current state gets
// invalid_transition, and nothing changes (the bank may resend later).
// consume, when set, runs first in that transaction: the caller's
// replay check of the signed message (signature.Verifier.Consume), so that
// the message is consumed in the same commit as its effect.
//
// The transaction may be shared with other events applied at the same
// time (the inbox, inbox.go); each is applied as it would be alone.
func (ev *Events) Apply(ctx context.Context, bankID string, body []byte, consume func(context.Context, *sqlx.Tx) error) (string, Envelope, error) {
	env, data, err := ParseEvent(body)
	if err != nil {
		return "", env, err
	}
	sum := sha256.Sum256(body)
	it := &inboxItem{ctx: ctx, bankID: bankID, env: env, data: data, hash: hex.EncodeToString(sum[:]), consume: consume}
	outcome, err := ev.inbox.apply(it)
	return outcome, env, err
}

// applyIn applies it in tx: its replay check, its inbox row, and, unless
// a duplicate, its change.
func (ev *Events) applyIn(ctx context.Context, tx *sqlx.Tx, it *inboxItem) (string, error) {
	env := it.env
	if it.consume != nil {
		if err := it.consume(ctx, tx); err != nil {
			return "", err
		}
	}
	var appID any
	if env.ApplicationID != "" && !strings.HasPrefix(env.Type, "credit_line.") {
		appID = env.ApplicationID
	}
	res, err := tx.ExecContext(ctx, `
		INSERT INTO bank_events (bank_id, event_id, body_hash, type, application_id, occurred_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (bank_id, event_id) DO NOTHING`,
		it.bankID, env.EventID, it.hash, env.Type, appID, env.OccurredAt)
	if err != nil {
		return "", postgres.Translate(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var seen string
		if err := tx.GetContext(ctx, &seen, `SELECT body_hash FROM bank_events WHERE bank_id = $1 AND event_id = $2`, it.bankID, env.EventID); err != nil {
			return "", postgres.Translate(err)
		}
		if seen != it.hash {
			return "", errs.E(errs.EventConflict, "event %q came before with a different body", env.EventID)
		}
		return Duplicate, nil
	}
	if err := ev.apply(ctx, tx, it.bankID, env, it.data); err != nil {
		return "", err
	}
	return Processed, nil
}

func (ev *Events) apply(ctx context.Context, tx *sqlx.Tx, bankID string, env Envelope, data any) error {
	actor := "bank:" + bankID
	ls := ev.lending
	switch d := data.(type) {
	case nil:
		return ls.Received(ctx, tx, bankID, env.ApplicationID, env.BankReference, actor)
	case approvedData:
		return ls.Approve(ctx, tx, bankID, env.ApplicationID, lending.Approval{ApprovedAmount: *d.ApprovedAmount,
			AnnualRate: *d.AnnualRate, TermDays: *d.TermDays, RepaymentAccount: *d.RepaymentAccount}, actor)
	case rejectedData:
		return ls.Reject(ctx, tx, bankID, env.ApplicationID, d.ReasonCode, d.Reason, actor)
	case disbursedData:
		return ls.Disburse(ctx, tx, bankID, env.ApplicationID, d.LoanID, lending.Disbursement{BankDisbursementID: d.DisbursementID,
			Amount: *d.Amount, ValueDate: *d.ValueDate, MaturityDate: *d.MaturityDate, AnnualRate: *d.AnnualRate}, actor)
	case repaidData:
		r, err := ls.Repay(ctx, tx, bankID, env.ApplicationID, d.LoanID, lending.Repayment{BankRepaymentID: d.RepaymentID,
			Principal: *d.Principal, Interest: *d.Interest, PaidOn: *d.PaidOn,
			PeriodStart: *d.InterestPeriod.Start, PeriodEnd: *d.InterestPeriod.End}, actor)
		if err != nil || ev.OnRepaid == nil {
			return err
		}
		return ev.OnRepaid(ctx, tx, r)
	case overdueData:
		return ls.Overdue(ctx, tx, bankID, env.ApplicationID, d.LoanID, *d.OverduePrincipal, *d.Since, actor)
	case lineData:
		_, err := ls.SetLine(ctx, tx, bankID, lending.LineTerms{BankLineID: d.CreditLineID, SupplierUSCC: strings.ToUpper(d.SupplierUSCC),
			Limit: *d.Limit, ValidFrom: *d.ValidFrom, ValidUntil: *d.ValidUntil, Revolving: *d.Revolving, RateCeiling: d.AnnualRateCeiling},
			env.Type == EventLineGranted, actor)
		return err
	case revokedData:
		_, err := ls.RevokeLine(ctx, tx, bankID, d.CreditLineID, d.Reason, actor)
		return err
	}
	return errs.E(errs.Internal, "event type %s has no handler", env.Type)
}
