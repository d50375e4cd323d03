package lending

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/lib/pq"

	"procfin/contracts"
	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/platform/jsonbody"
	"procfin/platform/money"
	"procfin/platform/postgres"
	"procfin/platform/text"
)

// The treasury's payments of contracts (国库集中支付; domain.md 1.1,
// "Payments"; api.md 1.1 POST /v1/contract-payments; table
// contract_payments).

// Payment statuses.
const (
	PaymentMatched     = "matched"
	PaymentMisdirected = "misdirected"
	PaymentUnlocked    = "unlocked"
	PaymentUnmatched   = "unmatched"
)

// PaymentRecord is a payment system's signed record of a payment.
type PaymentRecord struct {
	PaymentID    string       `json:"payment_id"`
	ContractNo   string       `json:"contract_no"`
	IssuerID     string       `json:"issuer_id"`
	PurchaserID  string       `json:"purchaser_id"`
	Amount       money.Amount `json:"amount"`
	PaidOn       money.Date   `json:"paid_on"`
	PayeeAccount Account      `json:"payee_account"`
}

// ContractPayment is a recorded payment with where it went.
type ContractPayment struct {
	ID              string       `json:"id"`
	SystemID        string       `json:"payment_system_id"`
	PaymentID       string       `json:"payment_id"`
	ContractID      *string      `json:"contract_id"`
	ContractNo      string       `json:"contract_no"`
	IssuerID        string       `json:"issuer_id"`
	PurchaserID     string       `json:"purchaser_id"`
	Amount          money.Amount `json:"amount"`
	PaidOn          money.Date   `json:"paid_on"`
	PayeeAccount    Account      `json:"payee_account"`
	Status          string       `json:"status"` // matched, misdirected, unlocked, unmatched
	ExpectedAccount *Account     `json:"expected_account,omitempty"`
	BankID          *string      `json:"bank_id"`
	ApplicationIDs  []string     `json:"application_ids"`
	ReceivedAt      time.Time    `json:"received_at"`
	Seq             int64        `json:"-"`
	// Detail says why an unmatched record found no contract.
	Detail string `json:"detail,omitempty"`
}

// Bounds of a payment record's text fields, in bytes.
const (
	maxPaymentID  = 100
	maxPaymentRef = 200 // contract_no, issuer_id, purchaser_id
)

// paymentRecordBody is a payment record as sent: amount and paid_on are
// read here, so that every bad field is named at once.
type paymentRecordBody struct {
	PaymentID    string          `json:"payment_id"`
	ContractNo   string          `json:"contract_no"`
	IssuerID     string          `json:"issuer_id"`
	PurchaserID  string          `json:"purchaser_id"`
	Amount       json.RawMessage `json:"amount"`
	PaidOn       json.RawMessage `json:"paid_on"`
	PayeeAccount *Account        `json:"payee_account"`
}

// ParsePaymentRecord reads a payment system's record strictly (api.md 1.1,
// POST /v1/contract-payments): every field required; the ids and the
// contract number text within their bounds; amount a decimal string above
// zero; paid_on a date no later than the day after today (Shanghai); the
// payee account's fields as a settlement account's. Returns invalid naming
// every bad field, or malformed_request for a body that is no such JSON
// object. It never panics.
func ParsePaymentRecord(body io.Reader, today money.Date) (PaymentRecord, error) {
	var b paymentRecordBody
	if err := jsonbody.Decode(body, &b); err != nil {
		return PaymentRecord{}, err
	}
	var fe []errs.FieldError
	words := func(field, v string, max int) {
		switch {
		case strings.TrimSpace(v) == "":
			fe = append(fe, errs.Field(field, errs.FieldRequired))
		case len(v) > max:
			fe = append(fe, errs.Field(field, errs.FieldTooLong, max))
		case !text.Valid(v):
			fe = append(fe, errs.Field(field, errs.FieldInvalidText))
		}
	}
	words("payment_id", b.PaymentID, maxPaymentID)
	words("contract_no", b.ContractNo, maxPaymentRef)
	words("issuer_id", b.IssuerID, maxPaymentRef)
	words("purchaser_id", b.PurchaserID, maxPaymentRef)
	p := PaymentRecord{PaymentID: b.PaymentID, ContractNo: b.ContractNo, IssuerID: b.IssuerID, PurchaserID: b.PurchaserID}
	var s string
	switch {
	case len(b.Amount) == 0 || string(b.Amount) == "null":
		fe = append(fe, errs.Field("amount", errs.FieldRequired))
	case json.Unmarshal(b.Amount, &s) != nil:
		fe = append(fe, errs.Field("amount", errs.FieldInvalidAmount))
	default:
		a, err := money.ParseAmount(s)
		switch {
		case err != nil:
			fe = append(fe, money.Problem("amount", err))
		case !a.IsPositive():
			fe = append(fe, errs.Field("amount", errs.FieldNotPositive))
		default:
			p.Amount = a
		}
	}
	switch {
	case len(b.PaidOn) == 0 || string(b.PaidOn) == "null":
		fe = append(fe, errs.Field("paid_on", errs.FieldRequired))
	case json.Unmarshal(b.PaidOn, &s) != nil:
		fe = append(fe, errs.Field("paid_on", errs.FieldInvalidDate))
	default:
		d, err := money.ParseDate(s)
		switch {
		case err != nil:
			fe = append(fe, money.Problem("paid_on", err))
		case d.After(today.AddDays(1)):
			fe = append(fe, errs.Field("paid_on", errs.FieldInFuture, today.AddDays(1).String()))
		default:
			p.PaidOn = d
		}
	}
	if b.PayeeAccount == nil {
		fe = append(fe, errs.Field("payee_account", errs.FieldRequired))
	} else {
		acct := contracts.SettlementAccount(*b.PayeeAccount)
		fe = append(fe, contracts.CheckAccount("payee_account", &acct)...)
		p.PayeeAccount = Account(acct)
	}
	if len(fe) > 0 {
		return PaymentRecord{}, errs.InvalidFields(fe...)
	}
	return p, nil
}

// ReadPaymentRecord is ParsePaymentRecord on the service's today.
func (s *Service) ReadPaymentRecord(body io.Reader) (PaymentRecord, error) {
	return ParsePaymentRecord(body, money.DateOf(s.now()))
}

// digest is the record's figures' digest: the same payment_id with
// another digest is another record (conflict).
func (p PaymentRecord) digest() string {
	b, _ := json.Marshal([]string{p.ContractNo, p.IssuerID, p.PurchaserID, p.Amount.String(), p.PaidOn.String(),
		p.PayeeAccount.BankName, p.PayeeAccount.AccountNo, p.PayeeAccount.AccountName})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// sameAccountNo reports whether two account numbers are the same with
// spaces removed (domain.md 1.1, "Clarifications").
func sameAccountNo(a, b string) bool {
	return strings.ReplaceAll(a, " ", "") == strings.ReplaceAll(b, " ", "")
}

// accountJSON stores an Account in a jsonb column.
type accountJSON struct{ a *Account }

func (j accountJSON) Value() (driver.Value, error) {
	if j.a == nil {
		return nil, nil
	}
	b, err := json.Marshal(j.a)
	return string(b), err // jsonb takes text (binary_parameters)
}

func (j *accountJSON) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		j.a = nil
		return nil
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("cannot scan %T into an account", src)
	}
	j.a = new(Account)
	return json.NewDecoder(bytes.NewReader(b)).Decode(j.a)
}

// paymentRow is a contract_payments row.
type paymentRow struct {
	ID              string         `db:"id"`
	Seq             int64          `db:"seq"`
	SystemID        string         `db:"system_id"`
	PaymentID       string         `db:"payment_id"`
	ContractID      *string        `db:"contract_id"`
	ContractNo      string         `db:"contract_no"`
	IssuerID        string         `db:"issuer_id"`
	PurchaserID     string         `db:"purchaser_id"`
	Amount          money.Amount   `db:"amount"`
	PaidOn          money.Date     `db:"paid_on"`
	PayeeAccount    accountJSON    `db:"payee_account"`
	Status          string         `db:"status"`
	ExpectedAccount accountJSON    `db:"expected_account"`
	BankID          *string        `db:"bank_id"`
	ApplicationIDs  pq.StringArray `db:"application_ids"`
	Digest          string         `db:"digest"`
	Detail          string         `db:"detail"`
	ReceivedAt      time.Time      `db:"received_at"`
}

func (r paymentRow) payment() ContractPayment {
	p := ContractPayment{ID: r.ID, SystemID: r.SystemID, PaymentID: r.PaymentID, ContractID: r.ContractID,
		ContractNo: r.ContractNo, IssuerID: r.IssuerID, PurchaserID: r.PurchaserID, Amount: r.Amount, PaidOn: r.PaidOn,
		Status: r.Status, ExpectedAccount: r.ExpectedAccount.a, BankID: r.BankID, ApplicationIDs: []string(r.ApplicationIDs),
		ReceivedAt: r.ReceivedAt, Seq: r.Seq, Detail: r.Detail}
	if r.PayeeAccount.a != nil {
		p.PayeeAccount = *r.PayeeAccount.a
	}
	if p.ApplicationIDs == nil {
		p.ApplicationIDs = []string{}
	}
	return p
}

const paymentColumns = `id, seq, system_id, payment_id, contract_id, contract_no, issuer_id, purchaser_id, amount, paid_on,
	payee_account, status, expected_account, bank_id, application_ids, digest, detail, received_at`

// lockedApplication is a live application of a contract whose repayment
// account's lock is in force (confirmed or locked).
type lockedApplication struct {
	ID          string  `db:"id"`
	BankID      string  `db:"bank_id"`
	BankName    string  `db:"bank_name"`
	AccountNo   string  `db:"account_no"`
	AccountName string  `db:"account_name"`
	BankLoanID  *string `db:"bank_loan_id"`
}

// RecordPayment records a payment system's payment record, matches it and
// tells the bank; created is false when it repeats the recorded one
// (another with the same payment_id and other figures is conflict).
//
// The record is matched to the contract the issuer published under its
// number, if that contract's purchaser is the record's (otherwise it is
// unmatched, and its detail says why). Of that contract's applications,
// those whose repayment account's lock is in force (confirmed or locked:
// approved, disbursed, or written off and still locked) decide: a payee
// account number equal (spaces removed) to theirs is matched to them, and
// each one's bank is sent payment.received; another account is
// misdirected, and each one's bank is sent payment.misdirected with the
// account in force; with no lock in force the payment is unlocked, and
// nothing is sent. One row per (system, payment_id): a record repeating
// it, also at the same time, sends nothing again.
func (s *Service) RecordPayment(ctx context.Context, systemID string, p PaymentRecord, actor string) (cp ContractPayment, created bool, err error) {
	digest := p.digest()
	err = postgres.Transact(postgres.WithClock(ctx, s.now), s.db, func(tx *postgres.Tx) error {
		created = false
		var prior paymentRow
		err := tx.GetContext(ctx, &prior, `SELECT `+paymentColumns+` FROM contract_payments WHERE system_id = $1 AND payment_id = $2`, systemID, p.PaymentID)
		switch {
		case err == nil:
			cp, err = repeated(prior, digest)
			return err
		case !errors.Is(err, sql.ErrNoRows):
			return postgres.Translate(err)
		}

		row := paymentRow{SystemID: systemID, PaymentID: p.PaymentID, ContractNo: p.ContractNo, IssuerID: p.IssuerID,
			PurchaserID: p.PurchaserID, Amount: p.Amount, PaidOn: p.PaidOn, PayeeAccount: accountJSON{&p.PayeeAccount},
			Status: PaymentUnmatched, Digest: digest}
		var told []lockedApplication
		c, err := s.contracts.ContractByNumber(ctx, tx, p.IssuerID, p.ContractNo)
		switch {
		case errs.Is(err, errs.NotFound):
			row.Detail = fmt.Sprintf("no contract %q of issuer %q", p.ContractNo, p.IssuerID)
		case err != nil:
			return err
		case c.PurchaserID != p.PurchaserID:
			row.Detail = fmt.Sprintf("contract %q of issuer %q is purchaser %q's, not %q", p.ContractNo, p.IssuerID, c.PurchaserID, p.PurchaserID)
		default:
			row.ContractID = &c.ID
			row.Status, told, err = s.matchPayment(ctx, tx, c.ID, p.PayeeAccount)
			if err != nil {
				return err
			}
			if row.Status == PaymentMisdirected {
				first := told[0]
				row.ExpectedAccount = accountJSON{&Account{BankName: first.BankName, AccountNo: first.AccountNo, AccountName: first.AccountName}}
			}
			row.ApplicationIDs = make(pq.StringArray, len(told))
			for i, a := range told {
				row.ApplicationIDs[i] = a.ID
			}
			if len(told) > 0 {
				row.BankID = &told[0].BankID
			}
		}
		if row.ApplicationIDs == nil {
			row.ApplicationIDs = pq.StringArray{}
		}
		var stored paymentRow
		err = tx.GetContext(ctx, &stored, `
			INSERT INTO contract_payments (system_id, payment_id, contract_id, contract_no, issuer_id, purchaser_id, amount,
				paid_on, payee_account, status, expected_account, bank_id, application_ids, digest, detail, received_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::uuid[], $14, $15, $16)
			ON CONFLICT (system_id, payment_id) DO NOTHING
			RETURNING `+paymentColumns,
			row.SystemID, row.PaymentID, row.ContractID, row.ContractNo, row.IssuerID, row.PurchaserID, row.Amount,
			row.PaidOn, row.PayeeAccount, row.Status, row.ExpectedAccount, row.BankID, row.ApplicationIDs, row.Digest,
			row.Detail, tx.Now())
		if errors.Is(err, sql.ErrNoRows) { // recorded at the same time by another request
			if err := tx.GetContext(ctx, &prior, `SELECT `+paymentColumns+` FROM contract_payments WHERE system_id = $1 AND payment_id = $2`, systemID, p.PaymentID); err != nil {
				return postgres.Translate(err)
			}
			cp, err = repeated(prior, digest)
			return err
		}
		if err != nil {
			return postgres.Translate(err)
		}
		cp, created = stored.payment(), true
		if len(told) > 0 {
			typ := EventPaymentReceived
			data := PaymentData{PaymentID: p.PaymentID, Amount: p.Amount, PaidOn: p.PaidOn, PayeeAccount: p.PayeeAccount}
			if cp.Status == PaymentMisdirected {
				typ, data.ExpectedAccount = EventPaymentMisdirected, cp.ExpectedAccount
			}
			events := make([]ContractEvent, len(told))
			for i, a := range told {
				events[i] = ContractEvent{Type: typ, OccurredAt: tx.Now(), ContractID: c.ID, ContractNo: c.ContractNo,
					PurchaserID: c.PurchaserID, ApplicationID: a.ID, BankID: a.BankID, BankLoanID: a.BankLoanID, Data: data}
			}
			if err := s.outbox.ContractEvents(ctx, tx, events...); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "contract_payment." + cp.Status, EntityType: "contract_payment",
			EntityID: cp.ID, After: cp})
	})
	if err != nil {
		return ContractPayment{}, false, err
	}
	return cp, created, nil
}

// repeated answers a record whose payment_id is recorded: the recorded
// payment when the figures are the same, else conflict.
func repeated(prior paymentRow, digest string) (ContractPayment, error) {
	if prior.Digest != digest {
		return ContractPayment{}, errs.E(errs.Conflict, "payment %q is recorded with other figures", prior.PaymentID)
	}
	return prior.payment(), nil
}

// matchPayment finds the contract's applications whose lock is in force
// (their rows held against a change of the lock until tx ends) and says
// where a payment into the account went: matched to those whose account
// it is, misdirected (all of them are told), or unlocked (none).
func (s *Service) matchPayment(ctx context.Context, tx *postgres.Tx, contractID string, payee Account) (string, []lockedApplication, error) {
	var live []lockedApplication
	err := tx.SelectContext(ctx, &live, `
		SELECT a.id, a.bank_id, r.bank_name, r.account_no, r.account_name,
			(SELECT l.bank_loan_id FROM loans l WHERE l.application_id = a.id ORDER BY l.created_at LIMIT 1) AS bank_loan_id
		FROM applications a JOIN repayment_accounts r ON r.application_id = a.id
		WHERE a.contract_id = $1 AND r.status IN ('confirmed', 'locked')
		ORDER BY a.seq
		FOR SHARE OF r`, contractID)
	if err != nil {
		return "", nil, postgres.Translate(err)
	}
	if len(live) == 0 {
		return PaymentUnlocked, nil, nil
	}
	var matched []lockedApplication
	for _, a := range live {
		if sameAccountNo(a.AccountNo, payee.AccountNo) {
			matched = append(matched, a)
		}
	}
	if len(matched) > 0 {
		return PaymentMatched, matched, nil
	}
	return PaymentMisdirected, live, nil
}

// ContractPayments lists the payments of the contract in scope, newest
// first, below the cursor seq (0: from the newest); not_found when the
// contract is not in scope.
func (s *Service) ContractPayments(ctx context.Context, sc Scope, contractID string, before int64, limit int) ([]ContractPayment, error) {
	canon, isID := ids.Canonical(contractID)
	if !isID {
		return nil, errs.E(errs.NotFound, "no contract %s", contractID)
	}
	if _, err := s.contracts.Contract(ctx, contracts.Scope{SupplierUSCC: sc.SupplierUSCC,
		PurchaserIssuerID: sc.PurchaserIssuerID, PurchaserID: sc.PurchaserID}, canon); err != nil {
		return nil, err
	}
	var rows []paymentRow
	err := s.db.SelectContext(ctx, &rows, `SELECT `+paymentColumns+` FROM contract_payments
		WHERE contract_id = $1 AND ($2 = 0 OR seq < $2) ORDER BY seq DESC LIMIT $3`, canon, before, limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	list := make([]ContractPayment, len(rows))
	for i, r := range rows {
		list[i] = r.payment()
	}
	return list, nil
}

// applicationPayments are the payments matched to the application, or
// misdirected while its lock held, newest first.
func (s *Service) applicationPayments(ctx context.Context, appID string) ([]ContractPayment, error) {
	var rows []paymentRow
	err := s.db.SelectContext(ctx, &rows, `SELECT `+paymentColumns+` FROM contract_payments
		WHERE contract_id = (SELECT contract_id FROM applications WHERE id = $1) AND $1 = ANY(application_ids)
		ORDER BY seq DESC`, appID)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	list := make([]ContractPayment, len(rows))
	for i, r := range rows {
		list[i] = r.payment()
	}
	return list, nil
}
