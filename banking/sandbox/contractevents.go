package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/signature"
)

// The contract events procfin sends (bank-protocol.md 1.1, "Contract
// events"), and the event the sandbox answers a refusal with.
const (
	TypeReceivableConfirmed = "receivable.confirmed"
	TypeReceivableRefused   = "receivable.refused"
	TypeContractAmended     = "contract.amended"
	TypePaymentReceived     = "payment.received"
	TypePaymentMisdirected  = "payment.misdirected"

	TypeLapsed              = "application.lapsed"
	ReasonReceivableRefused = "receivable_refused"
)

// maxContractEventBytes bounds a contract event's body: its largest, a
// confirmation, carries the purchaser's payment terms.
const maxContractEventBytes = 256 << 10

// Lapsed is application.lapsed's data.
type Lapsed struct {
	Reason string `json:"reason"`
}

// ContractEventReceived is a contract event the bank took.
type ContractEventReceived struct {
	EventID       string
	Type          string
	OccurredAt    time.Time
	ContractID    string
	ContractNo    string
	PurchaserID   string
	ApplicationID string
	LoanID        *string
	Data          json.RawMessage // as sent
	BodyHash      string          // signature.BodyHash of the body taken
	ReceivedAt    time.Time       // first delivery, by Config.Now
	Deliveries    int             // deliveries with this key and body, the first included
	// Known: the event's application is one the bank accepted.
	Known bool
}

// contractEvent is a contract event's envelope as the bank reads it.
type contractEvent struct {
	EventID    string    `json:"event_id"`
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurred_at"`
	Contract   struct {
		ID          string `json:"id"`
		ContractNo  string `json:"contract_no"`
		PurchaserID string `json:"purchaser_id"`
	} `json:"contract"`
	ApplicationID string          `json:"application_id"`
	LoanID        *string         `json:"loan_id"`
	Data          json.RawMessage `json:"data"`
}

// Account is a bank account as contract events carry it.
type Account struct {
	BankName    string `json:"bank_name"`
	AccountNo   string `json:"account_no"`
	AccountName string `json:"account_name"`
}

// ReceivableConfirmed is receivable.confirmed's data.
type ReceivableConfirmed struct {
	ConfirmedAmount  *money.Amount   `json:"confirmed_amount"`
	PaymentTerms     json.RawMessage `json:"payment_terms"`
	RepaymentAccount *Account        `json:"repayment_account"`
	ConfirmedBy      string          `json:"confirmed_by"`
	ConfirmedAt      *time.Time      `json:"confirmed_at"`
}

// ReceivableRefused is receivable.refused's data.
type ReceivableRefused struct {
	Reason string `json:"reason"`
}

// ContractAmended is contract.amended's data.
type ContractAmended struct {
	Version        int           `json:"version"`
	Amount         *money.Amount `json:"amount"`
	Status         string        `json:"status"`
	FinancingLimit *money.Amount `json:"financing_limit"`
	Financed       *money.Amount `json:"financed"`
	ExceedsLimit   *bool         `json:"exceeds_limit"`
}

// Payment is payment.received's and payment.misdirected's data
// (ExpectedAccount only, and required, in the latter).
type Payment struct {
	PaymentID       string        `json:"payment_id"`
	Amount          *money.Amount `json:"amount"`
	PaidOn          *money.Date   `json:"paid_on"`
	PayeeAccount    *Account      `json:"payee_account"`
	ExpectedAccount *Account      `json:"expected_account,omitempty"`
}

// The bounds of the texts of a contract event.
const (
	maxIDLen   = 200
	maxTextLen = 2000
)

// parseContractEvent reads a contract event strictly: JSON with no field
// the protocol does not name, nothing after it, every field its type
// requires, texts bounded. It returns status 0, or 400 (not JSON) or 422
// (not a contract event) with what is wrong. It never panics.
func parseContractEvent(body []byte) (e contractEvent, status int, detail string) {
	if !json.Valid(body) {
		return e, http.StatusBadRequest, "the body is not JSON"
	}
	if err := strictDecode(body, &e); err != nil {
		return e, http.StatusUnprocessableEntity, "the body is not a contract event: " + err.Error()
	}
	var bad []string
	need := func(field, v string, max int) {
		switch {
		case strings.TrimSpace(v) == "":
			bad = append(bad, field+" is required")
		case len(v) > max:
			bad = append(bad, fmt.Sprintf("%s is longer than %d bytes", field, max))
		}
	}
	need("event_id", e.EventID, maxIDLen)
	need("contract.id", e.Contract.ID, maxIDLen)
	need("contract.contract_no", e.Contract.ContractNo, maxIDLen)
	need("contract.purchaser_id", e.Contract.PurchaserID, maxIDLen)
	need("application_id", e.ApplicationID, maxIDLen)
	if e.LoanID != nil {
		need("loan_id", *e.LoanID, maxIDLen)
	}
	if e.OccurredAt.IsZero() {
		bad = append(bad, "occurred_at is required (RFC 3339)")
	}
	if len(bytes.TrimSpace(e.Data)) == 0 || bytes.TrimSpace(e.Data)[0] != '{' {
		bad = append(bad, "data must be an object")
	} else if detail := checkData(e.Type, e.Data); detail != "" {
		bad = append(bad, detail)
	}
	if len(bad) > 0 {
		return e, http.StatusUnprocessableEntity, strings.Join(bad, "; ")
	}
	return e, 0, ""
}

// checkData returns what is wrong with the data of a contract event of
// type typ, or "".
func checkData(typ string, data json.RawMessage) string {
	var bad []string
	need := func(field, v string, max int) {
		switch {
		case strings.TrimSpace(v) == "":
			bad = append(bad, field+" is required")
		case len(v) > max:
			bad = append(bad, fmt.Sprintf("%s is longer than %d bytes", field, max))
		}
	}
	positive := func(field string, a *money.Amount) {
		if a == nil || !a.IsPositive() {
			bad = append(bad, field+" must be an amount above zero")
		}
	}
	notNegative := func(field string, a *money.Amount) {
		if a == nil || a.IsNegative() {
			bad = append(bad, field+" must be an amount, zero or more")
		}
	}
	account := func(field string, a *Account) {
		if a == nil {
			bad = append(bad, field+" is required")
			return
		}
		need(field+".bank_name", a.BankName, maxTextLen)
		need(field+".account_no", a.AccountNo, maxIDLen)
		need(field+".account_name", a.AccountName, maxTextLen)
	}
	decode := func(v any) bool {
		if err := strictDecode(data, v); err != nil {
			bad = append(bad, "data: "+err.Error())
			return false
		}
		return true
	}
	switch typ {
	case TypeReceivableConfirmed:
		var d ReceivableConfirmed
		if decode(&d) {
			positive("data.confirmed_amount", d.ConfirmedAmount)
			if t := bytes.TrimSpace(d.PaymentTerms); len(t) == 0 || t[0] != '[' {
				bad = append(bad, "data.payment_terms must be an array")
			}
			account("data.repayment_account", d.RepaymentAccount)
			need("data.confirmed_by", d.ConfirmedBy, maxTextLen)
			if d.ConfirmedAt == nil || d.ConfirmedAt.IsZero() {
				bad = append(bad, "data.confirmed_at is required (RFC 3339)")
			}
		}
	case TypeReceivableRefused:
		var d ReceivableRefused
		if decode(&d) {
			need("data.reason", d.Reason, maxTextLen)
		}
	case TypeContractAmended:
		var d ContractAmended
		if decode(&d) {
			if d.Version < 1 {
				bad = append(bad, "data.version must be 1 or more")
			}
			positive("data.amount", d.Amount)
			switch d.Status {
			case "active", "cancelled", "terminated", "completed":
			default:
				bad = append(bad, "data.status must be active, cancelled, terminated or completed")
			}
			notNegative("data.financing_limit", d.FinancingLimit)
			notNegative("data.financed", d.Financed)
			if d.ExceedsLimit == nil {
				bad = append(bad, "data.exceeds_limit is required (true or false)")
			}
		}
	case TypePaymentReceived, TypePaymentMisdirected:
		var d Payment
		if decode(&d) {
			need("data.payment_id", d.PaymentID, maxIDLen)
			positive("data.amount", d.Amount)
			if d.PaidOn == nil || d.PaidOn.IsZero() {
				bad = append(bad, "data.paid_on is required (YYYY-MM-DD)")
			}
			account("data.payee_account", d.PayeeAccount)
			switch {
			case typ == TypePaymentMisdirected:
				account("data.expected_account", d.ExpectedAccount)
			case d.ExpectedAccount != nil:
				bad = append(bad, "data.expected_account is only for payment.misdirected")
			}
		}
	default:
		return fmt.Sprintf("type %q is not a contract event", typ)
	}
	return strings.Join(bad, "; ")
}

// strictDecode decodes one JSON value into v, refusing fields v does not
// have and anything after the value.
func strictDecode(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var e *errs.Error
		if errors.As(err, &e) {
			return errors.New(e.Message)
		}
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("data after the value")
	}
	return nil
}

// contractEvents is POST /v1/contract-events: procfin's signed word of
// what the purchaser, the treasury or the issuer did on a contract the
// bank finances. The signature is checked as a credit application's; the
// Idempotency-Key must be the event_id. The bank answers 202 and records
// the event (exposed by ContractEvents), whether or not it knows the
// application (it may know the contract from elsewhere); a resend of the
// same message is answered 200, the same key with another body 409. A
// bank that waits for confirmation (Config.AwaitConfirmation) disburses
// an application it approved once receivable.confirmed for it arrives,
// and lapses it (application.lapsed, receivable_refused) on
// receivable.refused.
func (b *Bank) contractEvents(w http.ResponseWriter, r *http.Request) {
	body, ok := b.readSigned(w, r)
	if !ok {
		return
	}
	if len(body) > maxContractEventBytes {
		writeProblem(w, http.StatusRequestEntityTooLarge, string(errs.BodyTooLarge), fmt.Sprintf("a contract event is at most %d bytes", maxContractEventBytes))
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" || len(key) > maxIDLen {
		writeProblem(w, http.StatusBadRequest, string(errs.MalformedRequest), "the Idempotency-Key header is required (the event_id, at most 200 bytes)")
		return
	}
	hash := signature.BodyHash(body)
	if b.contractEventBefore(w, key, hash) {
		return
	}
	e, status, detail := parseContractEvent(body)
	if status == 0 && e.EventID != key {
		status, detail = http.StatusUnprocessableEntity, "the Idempotency-Key must be the event_id"
	}
	if status != 0 {
		refuseBody(w, status, detail)
		return
	}

	b.mu.Lock()
	if _, ok := b.cEvents[key]; ok { // a concurrent delivery won
		b.mu.Unlock()
		b.contractEventBefore(w, key, hash)
		return
	}
	rec := &ContractEventReceived{EventID: e.EventID, Type: e.Type, OccurredAt: e.OccurredAt, ContractID: e.Contract.ID,
		ContractNo: e.Contract.ContractNo, PurchaserID: e.Contract.PurchaserID, ApplicationID: e.ApplicationID,
		LoanID: e.LoanID, Data: e.Data, BodyHash: hash, ReceivedAt: b.now(), Deliveries: 1}
	a, known := b.apps[e.ApplicationID] // keyed by application_id
	rec.Known = known
	settles := ""
	if known && a.receivable == "" && (e.Type == TypeReceivableConfirmed || e.Type == TypeReceivableRefused) {
		settles = e.Type
	}
	if err := b.store.takeMessage(kindContractEvent, key, hash, rec, e.ApplicationID, settles); err != nil {
		b.mu.Unlock()
		b.unstored(w, "contract event", key, err)
		return
	}
	b.cEvents[key] = rec
	b.cOrder = append(b.cOrder, rec)
	if settles != "" {
		a.receivable = settles
		close(a.settled)
	}
	b.mu.Unlock()
	b.log.Info("contract event taken", "event_id", e.EventID, "type", e.Type, "contract_no", e.Contract.ContractNo,
		"application_id", e.ApplicationID, "known", known)
	writeJSON(w, http.StatusAccepted, map[string]string{"event_id": e.EventID, "status": "accepted"})
}

// contractEventBefore answers a resend of the contract event under key
// (200, or 409 for another body) and reports whether it did.
func (b *Bank) contractEventBefore(w http.ResponseWriter, key, hash string) bool {
	b.mu.Lock()
	rec, ok := b.cEvents[key]
	if !ok {
		b.mu.Unlock()
		return false
	}
	b.resent(w, kindContractEvent, key, hash, rec.BodyHash, &rec.Deliveries, map[string]string{"event_id": rec.EventID, "status": "accepted"})
	return true
}

// ContractEvents returns the contract events taken so far, in the order
// taken.
func (b *Bank) ContractEvents() []ContractEventReceived { return copies(&b.mu, &b.cOrder) }
