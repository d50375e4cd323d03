package lending

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/platform/money"
	"procfin/platform/postgres"
	"procfin/platform/text"
)

// The purchaser's confirmation of the receivable (确权) and the repayment
// lock (domain.md 1.1, "The purchaser (采购人) and the repayment lock
// (回款控制)"; table receivables, one per financed contract, and the lock
// of each application's repayment account, repayment_accounts).

// Receivable statuses.
const (
	ReceivablePending   = "pending"
	ReceivableConfirmed = "confirmed"
	ReceivableRefused   = "refused"
)

// Receivable is what a purchaser is asked to confirm, and what it said.
type Receivable struct {
	ContractID     string       `json:"contract_id"`
	ContractNo     string       `json:"contract_no"`
	IssuerID       string       `json:"issuer_id"`
	PurchaserID    string       `json:"purchaser_id"`
	PurchaserName  string       `json:"purchaser_name"`
	SupplierUSCC   string       `json:"supplier_uscc"`
	SupplierName   string       `json:"supplier_name"`
	BankID         string       `json:"bank_id"`
	BankName       string       `json:"bank_name"`
	ContractAmount money.Amount `json:"contract_amount"`
	// Approved is the sum approved by the bank over the applications the
	// confirmation covers; the purchaser confirms at least that.
	Approved money.Amount `json:"approved_amount"`
	// PaymentTerms are the contract's, as its issuer signed them.
	PaymentTerms json.RawMessage `json:"payment_terms"`
	// RepaymentAccount is the account the bank approved (the one to
	// confirm); NewAccount the one the bank consented to change to, which
	// waits for the purchaser's confirmation.
	RepaymentAccount Account  `json:"repayment_account"`
	NewAccount       *Account `json:"new_account,omitempty"`
	// LockStatus is the lock of the contract's live applications:
	// proposed, confirmed, locked, released or refused.
	LockStatus string `json:"lock_status"`
	// DisbursedBeforeConfirmation: the bank disbursed before the purchaser
	// confirmed (the alert disbursed_before_confirmation).
	DisbursedBeforeConfirmation bool `json:"disbursed_before_confirmation"`

	Status          string          `json:"status"` // pending, confirmed, refused
	ConfirmedAmount *money.Amount   `json:"confirmed_amount,omitempty"`
	ConfirmedTerms  json.RawMessage `json:"confirmed_payment_terms,omitempty"`
	ConfirmedBy     string          `json:"confirmed_by,omitempty"`
	ConfirmedAt     *time.Time      `json:"confirmed_at,omitempty"`
	RefusalReason   string          `json:"refusal_reason,omitempty"`
	RefusedBy       string          `json:"refused_by,omitempty"`
	RefusedAt       *time.Time      `json:"refused_at,omitempty"`
	// ApplicationIDs are the applications the receivable covers.
	ApplicationIDs []string  `json:"application_ids"`
	Seq            int64     `json:"-"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// Confirmation is a purchaser's confirmation (POST
// /v1/contracts/{id}/confirmation).
type Confirmation struct {
	ConfirmedAmount  money.Amount    `json:"confirmed_amount"`
	RepaymentAccount Account         `json:"repayment_account"`
	PaymentTerms     json.RawMessage `json:"payment_terms"`
}

// Refusal is a purchaser's refusal (POST /v1/contracts/{id}/refusal).
type Refusal struct {
	Reason string `json:"reason"`
}

// Receivables lists the receivables in scope (a purchaser's own), newest
// first, with the status if not "", below the cursor seq (0: from the
// newest).
func (s *Service) Receivables(ctx context.Context, sc Scope, status string, before int64, limit int) ([]Receivable, error) {
	var rows []receivableRow
	err := s.db.SelectContext(ctx, &rows, receivableSelect+`
		WHERE ($1 = '' OR r.status = $1) AND ($2 = 0 OR r.seq < $2) AND `+receivableScope+`
		ORDER BY r.seq DESC LIMIT $7`, status, before, sc.PurchaserIssuerID, sc.PurchaserID, sc.SupplierUSCC, sc.BankID, limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	list := make([]Receivable, 0, len(rows))
	for _, row := range rows {
		r, err := row.receivable()
		if err != nil {
			return nil, err
		}
		list = append(list, r)
	}
	return list, nil
}

// Receivable is the contract's receivable, in scope: not_found otherwise.
func (s *Service) Receivable(ctx context.Context, sc Scope, contractID string) (Receivable, error) {
	id, ok := ids.Canonical(contractID)
	if !ok {
		return Receivable{}, errs.E(errs.NotFound, "no receivable of contract %s", contractID)
	}
	var row receivableRow
	err := s.db.GetContext(ctx, &row, receivableSelect+`
		WHERE r.contract_id = $1 AND $2 = 0 AND `+receivableScope, id, 0, sc.PurchaserIssuerID, sc.PurchaserID, sc.SupplierUSCC, sc.BankID)
	if errors.Is(err, sql.ErrNoRows) {
		return Receivable{}, errs.E(errs.NotFound, "no receivable of contract %s", id)
	}
	if err != nil {
		return Receivable{}, postgres.Translate(err)
	}
	return row.receivable()
}

// coveredStatuses are the statuses of an application whose approval stands
// and whose loan is not closed: the applications a confirmation covers.
const coveredStatuses = `('approved', 'disbursed', 'repaid')`

// unconfirmedClosed is an application (a) closed with its lock (ra) never
// confirmed although disbursed before the confirmation: its subsidy
// claims are held until the purchaser confirms, so a confirmation covers
// it too.
const unconfirmedClosed = `(a.status = 'closed' AND ra.confirmed_at IS NULL AND ra.disbursed_unconfirmed_at IS NOT NULL)`

// receivableSelect reads receivables (r) with their contract, purchaser,
// supplier and bank, the approved sum and ids of the live applications at
// the receivable's bank, and the lock: the account and status of the
// contract's strongest lock at that bank (locked, confirmed, refused,
// proposed, released, a live application's first, then the newest), a new
// account the bank consented to, and whether any was disbursed before the
// purchaser confirmed. $3 to $6 are receivableScope's.
const receivableSelect = `
	SELECT r.contract_id, r.seq, r.bank_id, b.name AS bank_name, r.status, r.confirmed_amount,
		r.payment_terms AS confirmed_terms, r.repayment_account AS confirmed_account, r.confirmed_by, r.confirmed_at,
		r.refusal_reason, r.refused_by, r.refused_at, r.updated_at,
		c.contract_no, c.issuer_id, c.purchaser_id, p.name AS purchaser_name, c.supplier_uscc, s.name AS supplier_name,
		c.amount AS contract_amount, c.payment_terms,
		coalesce(cov.approved, 0) AS approved, coalesce(cov.ids, '{}') AS application_ids,
		lk.bank_name AS account_bank_name, lk.account_no, lk.account_name, lk.status AS lock_status,
		lk.new_account, coalesce(lk.disbursed_unconfirmed, false) AS disbursed_unconfirmed
	FROM receivables r
	JOIN contracts c ON c.id = r.contract_id
	JOIN purchasers p ON p.issuer_id = c.issuer_id AND p.id = c.purchaser_id
	JOIN suppliers s ON s.uscc = c.supplier_uscc
	JOIN banks b ON b.id = r.bank_id
	LEFT JOIN LATERAL (
		SELECT sum(a.approved_amount) AS approved, array_agg(a.id::text ORDER BY a.id) AS ids
		FROM applications a
		WHERE a.contract_id = r.contract_id AND a.bank_id = r.bank_id AND a.status IN ` + coveredStatuses + `
	) cov ON true
	LEFT JOIN LATERAL (
		SELECT ra.bank_name, ra.account_no, ra.account_name, ra.status,
			(SELECT n.new_account FROM applications na JOIN repayment_accounts n ON n.application_id = na.id
			 WHERE na.contract_id = r.contract_id AND na.bank_id = r.bank_id AND n.new_account IS NOT NULL
			 ORDER BY n.change_consented_at DESC LIMIT 1) AS new_account,
			EXISTS (SELECT FROM applications da JOIN repayment_accounts d ON d.application_id = da.id
			 WHERE da.contract_id = r.contract_id AND da.bank_id = r.bank_id AND d.disbursed_unconfirmed_at IS NOT NULL) AS disbursed_unconfirmed
		FROM applications a JOIN repayment_accounts ra ON ra.application_id = a.id
		WHERE a.contract_id = r.contract_id AND a.bank_id = r.bank_id
		ORDER BY array_position(ARRAY['locked', 'confirmed', 'refused', 'proposed', 'released'], ra.status),
			a.status IN ` + coveredStatuses + ` DESC, a.created_at DESC, a.id
		LIMIT 1
	) lk ON true`

// receivableScope limits receivableSelect to a scope: $3 and $4 the
// purchaser (issuer, id), $5 the supplier, $6 the bank; "" for any.
const receivableScope = `($4 = '' OR (c.issuer_id = $3 AND c.purchaser_id = $4))
	AND ($5 = '' OR c.supplier_uscc = $5) AND ($6 = '' OR r.bank_id = $6)`

// receivableRow is a row of receivableSelect.
type receivableRow struct {
	ContractID           string         `db:"contract_id"`
	Seq                  int64          `db:"seq"`
	BankID               string         `db:"bank_id"`
	BankName             string         `db:"bank_name"`
	Status               string         `db:"status"`
	ConfirmedAmount      *money.Amount  `db:"confirmed_amount"`
	ConfirmedTerms       []byte         `db:"confirmed_terms"`
	ConfirmedAccount     []byte         `db:"confirmed_account"`
	ConfirmedBy          string         `db:"confirmed_by"`
	ConfirmedAt          *time.Time     `db:"confirmed_at"`
	RefusalReason        string         `db:"refusal_reason"`
	RefusedBy            string         `db:"refused_by"`
	RefusedAt            *time.Time     `db:"refused_at"`
	UpdatedAt            time.Time      `db:"updated_at"`
	ContractNo           string         `db:"contract_no"`
	IssuerID             string         `db:"issuer_id"`
	PurchaserID          string         `db:"purchaser_id"`
	PurchaserName        string         `db:"purchaser_name"`
	SupplierUSCC         string         `db:"supplier_uscc"`
	SupplierName         string         `db:"supplier_name"`
	ContractAmount       money.Amount   `db:"contract_amount"`
	PaymentTerms         []byte         `db:"payment_terms"`
	Approved             money.Amount   `db:"approved"`
	ApplicationIDs       pq.StringArray `db:"application_ids"`
	AccountBankName      *string        `db:"account_bank_name"`
	AccountNo            *string        `db:"account_no"`
	AccountName          *string        `db:"account_name"`
	LockStatus           *string        `db:"lock_status"`
	NewAccount           []byte         `db:"new_account"`
	DisbursedUnconfirmed bool           `db:"disbursed_unconfirmed"`
}

func (row receivableRow) receivable() (Receivable, error) {
	r := Receivable{ContractID: row.ContractID, ContractNo: row.ContractNo, IssuerID: row.IssuerID, PurchaserID: row.PurchaserID,
		PurchaserName: row.PurchaserName, SupplierUSCC: row.SupplierUSCC, SupplierName: row.SupplierName, BankID: row.BankID,
		BankName: row.BankName, ContractAmount: row.ContractAmount, Approved: row.Approved, PaymentTerms: json.RawMessage(row.PaymentTerms),
		DisbursedBeforeConfirmation: row.DisbursedUnconfirmed, Status: row.Status, ConfirmedAmount: row.ConfirmedAmount,
		ConfirmedBy: row.ConfirmedBy, ConfirmedAt: row.ConfirmedAt, RefusalReason: row.RefusalReason, RefusedBy: row.RefusedBy,
		RefusedAt: row.RefusedAt, ApplicationIDs: []string(row.ApplicationIDs), Seq: row.Seq, UpdatedAt: row.UpdatedAt}
	if r.ApplicationIDs == nil {
		r.ApplicationIDs = []string{}
	}
	if len(row.ConfirmedTerms) > 0 {
		r.ConfirmedTerms = json.RawMessage(row.ConfirmedTerms)
	}
	if row.LockStatus != nil {
		r.LockStatus = *row.LockStatus
		r.RepaymentAccount = Account{BankName: *row.AccountBankName, AccountNo: *row.AccountNo, AccountName: *row.AccountName}
	}
	if len(row.NewAccount) > 0 {
		r.NewAccount = &Account{}
		if err := json.Unmarshal(row.NewAccount, r.NewAccount); err != nil {
			return Receivable{}, errs.Wrap(errs.Internal, err, "new repayment account")
		}
	}
	return r, nil
}

// Bounds of what a purchaser says.
const (
	maxAccountText  = 200      // bytes of each part of an account
	maxPaymentTerms = 16 << 10 // bytes of the payment terms' JSON
	maxRefusal      = 500      // characters of a refusal's reason
)

// accountNosMatch reports whether two account numbers are one, spaces
// removed (domain.md 1.1, "Confirmation body").
func accountNosMatch(a, b string) bool { return bareAccountNo(a) == bareAccountNo(b) }

func bareAccountNo(s string) string { return strings.ReplaceAll(s, " ", "") }

// checkAccount names each part of an account that is missing or is not
// bounded, valid text, under prefix.
func checkAccount(prefix string, a Account) []errs.FieldError {
	var fe []errs.FieldError
	for _, f := range []struct{ name, v string }{{"bank_name", a.BankName}, {"account_no", a.AccountNo}, {"account_name", a.AccountName}} {
		switch {
		case strings.TrimSpace(f.v) == "":
			fe = append(fe, errs.Field(prefix+f.name, errs.FieldRequired))
		case !text.Valid(f.v):
			fe = append(fe, errs.Field(prefix+f.name, errs.FieldInvalidText))
		case len(f.v) > maxAccountText:
			fe = append(fe, errs.Field(prefix+f.name, errs.FieldTooLong, maxAccountText))
		}
	}
	return fe
}

// CheckAccount refuses, naming each field under prefix (as "data."), an
// account a bank or purchaser gives that is missing a part or whose parts
// are not bounded, valid text.
func CheckAccount(prefix string, a Account) error {
	if fe := checkAccount(prefix, a); len(fe) > 0 {
		return errs.InvalidFields(fe...)
	}
	return nil
}

// validate names every malformed field of a confirmation.
func (c Confirmation) validate() []errs.FieldError {
	var fe []errs.FieldError
	if !c.ConfirmedAmount.IsPositive() {
		fe = append(fe, errs.Field("confirmed_amount", errs.FieldRequired))
	}
	fe = append(fe, checkAccount("repayment_account.", c.RepaymentAccount)...)
	terms := bytes.TrimSpace(c.PaymentTerms)
	switch {
	case len(terms) == 0 || string(terms) == "null":
		fe = append(fe, errs.Field("payment_terms", errs.FieldRequired))
	case terms[0] != '[' || !json.Valid(terms):
		fe = append(fe, errs.Field("payment_terms", errs.FieldInvalid))
	case len(terms) > maxPaymentTerms:
		fe = append(fe, errs.Field("payment_terms", errs.FieldTooLong, maxPaymentTerms))
	}
	return fe
}

// covered is an application a confirmation or refusal acts on, with its
// lock, read under its lock.
type covered struct {
	ID             string        `db:"id"`
	BankID         string        `db:"bank_id"`
	Status         Status        `db:"status"`
	ApprovedAmount *money.Amount `db:"approved_amount"`
	BankName       string        `db:"bank_name"`
	AccountNo      string        `db:"account_no"`
	AccountName    string        `db:"account_name"`
	LockStatus     string        `db:"lock_status"`
	ConfirmedAt    *time.Time    `db:"confirmed_at"`
	NewAccount     []byte        `db:"new_account"`
	WrittenOffOn   *money.Date   `db:"written_off_on"`
	BankLoanID     *string       `db:"bank_loan_id"`
	// UnconfirmedClosed: closed, disbursed before a confirmation that
	// never came (unconfirmedClosed).
	UnconfirmedClosed bool `db:"unconfirmed_closed"`

	newAccount *Account // NewAccount read
}

func (c covered) live() bool {
	return c.Status == Approved || c.Status == Disbursed || c.Status == Repaid
}

// receivableLock is a receivable locked for a confirmation or refusal,
// with its contract and the applications it acts on.
type receivableLock struct {
	ContractID       string        `db:"contract_id"`
	BankID           string        `db:"bank_id"`
	Status           string        `db:"status"`
	ConfirmedAmount  *money.Amount `db:"confirmed_amount"`
	ConfirmedTerms   []byte        `db:"payment_terms"`
	ConfirmedAccount []byte        `db:"repayment_account"`
	ConfirmedBy      string        `db:"confirmed_by"`
	ConfirmedAt      *time.Time    `db:"confirmed_at"`
	RefusalReason    string        `db:"refusal_reason"`
	ContractNo       string        `db:"contract_no"`
	IssuerID         string        `db:"issuer_id"`
	PurchaserID      string        `db:"purchaser_id"`
	SupplierUSCC     string        `db:"supplier_uscc"`
	ContractAmount   money.Amount  `db:"contract_amount"`

	apps []covered // in id order
}

// lockReceivable locks, in the global order (the applications in id
// order, then the receivable), the contract's receivable and the
// applications it acts on: the live ones at its bank, any whose lock
// has a new account waiting for the purchaser (a written-off loan's), and
// any closed whose subsidy claims wait for the confirmation
// (unconfirmedClosed).
// Returns not_found when there is none in scope.
func (s *Service) lockReceivable(ctx context.Context, tx *postgres.Tx, sc Scope, contractID string) (receivableLock, error) {
	var rl receivableLock
	id, ok := ids.Canonical(contractID)
	if !ok {
		return rl, errs.E(errs.NotFound, "no receivable of contract %s", contractID)
	}
	var appIDs pq.StringArray
	err := tx.GetContext(ctx, &appIDs, `
		SELECT coalesce(array_agg(a.id::text ORDER BY a.id), '{}')
		FROM receivables r
		JOIN contracts c ON c.id = r.contract_id
		JOIN applications a ON a.contract_id = r.contract_id AND a.bank_id = r.bank_id
		LEFT JOIN repayment_accounts ra ON ra.application_id = a.id
		WHERE r.contract_id = $1 AND $2 = 0 AND (a.status IN `+coveredStatuses+` OR ra.new_account IS NOT NULL
			OR `+unconfirmedClosed+`) AND `+receivableScope, id, 0, sc.PurchaserIssuerID, sc.PurchaserID, sc.SupplierUSCC, sc.BankID)
	if err != nil {
		return rl, postgres.Translate(err)
	}
	if _, err := s.lockApplications(ctx, tx, appIDs); err != nil {
		return rl, err
	}
	err = tx.GetContext(ctx, &rl, `
		SELECT r.contract_id, r.bank_id, r.status, r.confirmed_amount, r.payment_terms, r.repayment_account,
			r.confirmed_by, r.confirmed_at, r.refusal_reason,
			c.contract_no, c.issuer_id, c.purchaser_id, c.supplier_uscc, c.amount AS contract_amount
		FROM receivables r JOIN contracts c ON c.id = r.contract_id
		WHERE r.contract_id = $1 AND $2 = 0 AND `+receivableScope+`
		FOR UPDATE OF r`, id, 0, sc.PurchaserIssuerID, sc.PurchaserID, sc.SupplierUSCC, sc.BankID)
	if errors.Is(err, sql.ErrNoRows) {
		return rl, errs.E(errs.NotFound, "no receivable of contract %s", id)
	}
	if err != nil {
		return rl, postgres.Translate(err)
	}
	// Read again under the locks: what they cover now.
	err = tx.SelectContext(ctx, &rl.apps, `
		SELECT a.id, a.bank_id, a.status, a.approved_amount, ra.bank_name, ra.account_no, ra.account_name,
			ra.status AS lock_status, ra.confirmed_at, ra.new_account, a.written_off_on, l.bank_loan_id,
			`+unconfirmedClosed+` AS unconfirmed_closed
		FROM applications a
		JOIN repayment_accounts ra ON ra.application_id = a.id
		LEFT JOIN loans l ON l.application_id = a.id
		WHERE a.id = ANY($1::uuid[]) AND a.bank_id = $2 AND (a.status IN `+coveredStatuses+` OR ra.new_account IS NOT NULL
			OR `+unconfirmedClosed+`)
		ORDER BY a.id`, appIDs, rl.BankID)
	if err != nil {
		return rl, postgres.Translate(err)
	}
	for i := range rl.apps {
		if len(rl.apps[i].NewAccount) > 0 {
			rl.apps[i].newAccount = &Account{}
			if err := json.Unmarshal(rl.apps[i].NewAccount, rl.apps[i].newAccount); err != nil {
				return rl, errs.Wrap(errs.Internal, err, "new repayment account")
			}
		}
	}
	return rl, nil
}

// event is a contract event of the receivable for application a.
func (rl receivableLock) event(tx *postgres.Tx, a covered, typ string, data any) ContractEvent {
	return ContractEvent{EventID: uuid.NewString(), Type: typ, OccurredAt: tx.Now(), ContractID: rl.ContractID,
		ContractNo: rl.ContractNo, PurchaserID: rl.PurchaserID, ApplicationID: a.ID, BankID: a.BankID, BankLoanID: a.BankLoanID, Data: data}
}

// sameTerms reports whether two payment terms are the same JSON value.
func sameTerms(a, b []byte) bool {
	var x, y any
	for _, p := range []struct {
		b []byte
		v *any
	}{{a, &x}, {b, &y}} {
		d := json.NewDecoder(bytes.NewReader(p.b))
		d.UseNumber()
		if err := d.Decode(p.v); err != nil {
			return false
		}
	}
	return reflect.DeepEqual(x, y)
}

// Confirm records the purchaser's confirmation of the contract's
// receivable and tells the bank; changed is false when it repeats the
// recorded one.
//
// The confirmation (domain.md 1.1, "Confirmation body") confirms at least
// the approved sum of the live applications it covers and at most the
// contract's amount, and names the bank's repayment account (account_no
// compared with spaces removed); payment_terms are stored as given.
// It covers every live application of the contract at the receivable's
// bank: each lock proposed or refused becomes confirmed (a locked one
// stays locked), and each gets a receivable.confirmed contract event. The
// first confirmation of a lock sets off OnConfirmed's hook. It covers
// too a closed application at that bank disbursed before a confirmation
// that never came, so that its held subsidy claims are released; its
// bank, which finances the contract no more, is not told.
//
// Once confirmed, the account changes only to a new account the bank
// consented to (account.change_consented): a confirmation naming it
// replaces the account on those locks (a written-off loan's lock is then
// released: the bank let the purchaser pay elsewhere) and the bank is
// told again.
//
// Returns invalid (malformed fields, all named), not_found (no receivable
// in scope), confirmation_mismatch (the amount, or an account other than
// the approved or a consented one while not confirmed), or
// invalid_transition (nothing approved to confirm; a different
// confirmation while confirmed).
func (s *Service) Confirm(ctx context.Context, sc Scope, contractID string, c Confirmation, actor string) (r Receivable, changed bool, err error) {
	if fe := c.validate(); len(fe) > 0 {
		return Receivable{}, false, errs.InvalidFields(fe...)
	}
	c.PaymentTerms = json.RawMessage(bytes.TrimSpace(c.PaymentTerms))
	err = postgres.Transact(postgres.WithClock(ctx, s.now), s.db, func(tx *postgres.Tx) error {
		changed = false
		rl, err := s.lockReceivable(ctx, tx, sc, contractID)
		if err != nil {
			return err
		}
		changed, err = s.confirm(ctx, tx, rl, c, actor)
		return err
	})
	if err != nil {
		return Receivable{}, false, err
	}
	r, err = s.Receivable(ctx, sc, contractID)
	return r, changed, err
}

func (s *Service) confirm(ctx context.Context, tx *postgres.Tx, rl receivableLock, c Confirmation, actor string) (bool, error) {
	approved := money.Zero
	// A live lock not yet confirmed (a later approval at the bank) makes
	// the receivable's confirmation to give again, as while pending.
	unconfirmed := false
	for _, a := range rl.apps {
		if a.live() {
			if a.ApprovedAmount != nil {
				approved = approved.Add(*a.ApprovedAmount)
			}
			unconfirmed = unconfirmed || a.LockStatus == "proposed" || a.LockStatus == "refused"
		}
		unconfirmed = unconfirmed || a.UnconfirmedClosed
	}
	settled := rl.Status == ReceivableConfirmed && !unconfirmed
	if settled && rl.ConfirmedAmount != nil && rl.ConfirmedAmount.Equal(c.ConfirmedAmount) && sameTerms(rl.ConfirmedTerms, c.PaymentTerms) &&
		accountNosMatch(recordedAccountNo(rl), c.RepaymentAccount.AccountNo) {
		return false, nil // the recorded confirmation again: nothing changes
	}
	if len(rl.apps) == 0 {
		return false, errs.E(errs.InvalidTransition, "nothing to confirm: the contract has no approved financing at bank %s", rl.BankID)
	}
	// Which locks the named account is: their account (same), a new
	// account the bank consented to (change), or neither.
	var change []int
	neither := false
	for i, a := range rl.apps {
		switch {
		case a.newAccount != nil && accountNosMatch(c.RepaymentAccount.AccountNo, a.newAccount.AccountNo):
			change = append(change, i)
		case accountNosMatch(c.RepaymentAccount.AccountNo, a.AccountNo):
		default:
			neither = true
		}
	}
	switch {
	case settled && neither:
		return false, errs.E(errs.InvalidTransition,
			"the receivable is confirmed with account %s: another account is confirmed only after the bank consents to the change (account.change_consented)",
			recordedAccountNo(rl))
	case settled && len(change) == 0:
		return false, errs.E(errs.InvalidTransition, "the receivable was confirmed already, with other figures: a confirmation is not changed")
	}
	var fe []errs.FieldError
	if c.ConfirmedAmount.LessThan(approved) || c.ConfirmedAmount.GreaterThan(rl.ContractAmount) {
		fe = append(fe, errs.Field("confirmed_amount", errs.FieldOutOfRange, approved.String(), rl.ContractAmount.String()))
	}
	if neither {
		fe = append(fe, errs.FieldError{Field: "repayment_account.account_no", Code: "not_the_approved_account",
			Message: "must be the repayment account the bank approved"})
	}
	if len(fe) > 0 {
		msg := "the confirmation does not fit the financing"
		if len(fe) == 1 {
			msg = fe[0].Field + ": " + fe[0].Message
		}
		return false, &errs.Error{Code: errs.ConfirmationMismatch, Message: msg, Fields: fe}
	}
	now := tx.Now()
	account, err := json.Marshal(c.RepaymentAccount)
	if err != nil {
		return false, err
	}
	var before Receivable
	if err := s.receivableState(ctx, tx, rl.ContractID, &before); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `
		UPDATE receivables SET status = 'confirmed', confirmed_amount = $2, payment_terms = $3::jsonb, repayment_account = $4::jsonb,
			confirmed_by = $5, confirmed_at = $6, updated_at = now()
		WHERE contract_id = $1`, rl.ContractID, c.ConfirmedAmount, string(c.PaymentTerms), string(account), actor, now); err != nil {
		return false, postgres.Translate(err)
	}
	// Each lock: confirmed where proposed or refused; the new account
	// where the bank consented to it (a written-off loan's lock released);
	// confirmed_at set at the first confirmation.
	appIDs, changeIDs := make([]string, len(rl.apps)), make([]string, 0, len(change))
	for i, a := range rl.apps {
		appIDs[i] = a.ID
	}
	for _, i := range change {
		changeIDs = append(changeIDs, rl.apps[i].ID)
	}
	var first pq.StringArray
	err = tx.GetContext(ctx, &first, `
		WITH old AS (
			SELECT application_id, confirmed_at FROM repayment_accounts WHERE application_id = ANY($1::uuid[])
		), upd AS (
			UPDATE repayment_accounts ra SET
				status = CASE
					WHEN ra.application_id = ANY($2::uuid[]) AND a.written_off_on IS NOT NULL THEN 'released'
					WHEN ra.status IN ('proposed', 'refused') THEN 'confirmed'
					ELSE ra.status END,
				bank_name = CASE WHEN ra.application_id = ANY($2::uuid[]) THEN ra.new_account->>'bank_name' ELSE ra.bank_name END,
				account_no = CASE WHEN ra.application_id = ANY($2::uuid[]) THEN ra.new_account->>'account_no' ELSE ra.account_no END,
				account_name = CASE WHEN ra.application_id = ANY($2::uuid[]) THEN ra.new_account->>'account_name' ELSE ra.account_name END,
				new_account = CASE WHEN ra.application_id = ANY($2::uuid[]) THEN NULL ELSE ra.new_account END,
				change_consented_at = CASE WHEN ra.application_id = ANY($2::uuid[]) THEN NULL ELSE ra.change_consented_at END,
				confirmed_at = coalesce(ra.confirmed_at, $3),
				updated_at = now()
			FROM applications a
			WHERE a.id = ra.application_id AND ra.application_id = ANY($1::uuid[])
		)
		SELECT coalesce(array_agg(application_id::text ORDER BY application_id), '{}') FROM old WHERE confirmed_at IS NULL`,
		pq.Array(appIDs), pq.Array(changeIDs), now)
	if err != nil {
		return false, postgres.Translate(err)
	}
	if len(first) > 0 && s.onConfirmed != nil {
		if err := s.onConfirmed(ctx, tx, first); err != nil {
			return false, err
		}
	}
	data := ReceivableConfirmedData{ConfirmedAmount: c.ConfirmedAmount, PaymentTerms: c.PaymentTerms, RepaymentAccount: c.RepaymentAccount,
		ConfirmedBy: actor, ConfirmedAt: now}
	es := make([]ContractEvent, 0, len(rl.apps))
	for _, a := range rl.apps {
		if a.UnconfirmedClosed && a.newAccount == nil {
			continue // a closed loan's bank hears nothing more of the contract
		}
		es = append(es, rl.event(tx, a, EventReceivableConfirmed, data))
	}
	if err := s.outbox.ContractEvents(ctx, tx, es...); err != nil {
		return false, err
	}
	action, reason := "receivable.confirmed", Cause{Code: "receivable_confirmed",
		Args: CauseArgs{"amount": c.ConfirmedAmount.String(), "account": c.RepaymentAccount.AccountNo}}.String()
	if len(change) > 0 {
		action = "receivable.account_changed"
		reason = Cause{Code: "receivable_account_confirmed", Args: CauseArgs{"account": c.RepaymentAccount.AccountNo}}.String()
	}
	after := before
	after.Status, after.ConfirmedAmount, after.ConfirmedTerms, after.ConfirmedBy, after.ConfirmedAt =
		ReceivableConfirmed, &c.ConfirmedAmount, c.PaymentTerms, actor, &now
	after.RepaymentAccount, after.NewAccount, after.ApplicationIDs = c.RepaymentAccount, nil, appIDs
	return true, audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: action, EntityType: "contract", EntityID: rl.ContractID,
		Before: before, After: after, Reason: reason})
}

// recordedAccountNo is the account number of the recorded confirmation.
func recordedAccountNo(rl receivableLock) string {
	var a Account
	if len(rl.ConfirmedAccount) > 0 {
		_ = json.Unmarshal(rl.ConfirmedAccount, &a)
	}
	return a.AccountNo
}

// receivableState reads the receivable as it is in tx, for the audit.
func (s *Service) receivableState(ctx context.Context, tx *postgres.Tx, contractID string, r *Receivable) error {
	var row receivableRow
	if err := tx.GetContext(ctx, &row, receivableSelect+`
		WHERE r.contract_id = $1 AND $2 = 0 AND `+receivableScope, contractID, 0, "", "", "", ""); err != nil {
		return postgres.Translate(err)
	}
	var err error
	*r, err = row.receivable()
	return err
}

// Refuse records the purchaser's refusal and tells the bank; changed is
// false when it repeats the recorded one.
//
// The reason is required: text of at most 500 characters. Only a
// pending receivable is refused: each live application's lock proposed
// becomes refused (a locked one stays locked) and each gets a
// receivable.refused contract event; the bank then lets the approval
// lapse or waits for a later confirmation. Returns invalid (the reason),
// not_found (no receivable in scope) or invalid_transition (confirmed,
// refused with another reason, nothing approved).
func (s *Service) Refuse(ctx context.Context, sc Scope, contractID string, r Refusal, actor string) (rec Receivable, changed bool, err error) {
	if fe := r.validate(); len(fe) > 0 {
		return Receivable{}, false, errs.InvalidFields(fe...)
	}
	err = postgres.Transact(postgres.WithClock(ctx, s.now), s.db, func(tx *postgres.Tx) error {
		changed = false
		rl, err := s.lockReceivable(ctx, tx, sc, contractID)
		if err != nil {
			return err
		}
		changed, err = s.refuse(ctx, tx, rl, r.Reason, actor)
		return err
	})
	if err != nil {
		return Receivable{}, false, err
	}
	rec, err = s.Receivable(ctx, sc, contractID)
	return rec, changed, err
}

// validate names what is wrong with a refusal's reason.
func (r Refusal) validate() []errs.FieldError {
	switch {
	case strings.TrimSpace(r.Reason) == "":
		return []errs.FieldError{errs.Field("reason", errs.FieldRequired)}
	case !text.Valid(r.Reason):
		return []errs.FieldError{errs.Field("reason", errs.FieldInvalidText)}
	case utf8.RuneCountInString(r.Reason) > maxRefusal:
		return []errs.FieldError{errs.Field("reason", errs.FieldTooLongChars, maxRefusal)}
	}
	return nil
}

func (s *Service) refuse(ctx context.Context, tx *postgres.Tx, rl receivableLock, reason, actor string) (bool, error) {
	switch rl.Status {
	case ReceivableConfirmed:
		return false, errs.E(errs.InvalidTransition, "the receivable was confirmed: it cannot be refused")
	case ReceivableRefused:
		if rl.RefusalReason == reason {
			return false, nil // the recorded refusal again: nothing changes
		}
		return false, errs.E(errs.InvalidTransition, "the receivable was refused already, for another reason")
	}
	var live []covered
	for _, a := range rl.apps {
		if a.live() {
			live = append(live, a)
		}
	}
	if len(live) == 0 {
		return false, errs.E(errs.InvalidTransition, "nothing to refuse: the contract has no approved financing at bank %s", rl.BankID)
	}
	var before Receivable
	if err := s.receivableState(ctx, tx, rl.ContractID, &before); err != nil {
		return false, err
	}
	now := tx.Now()
	appIDs := make([]string, len(live))
	for i, a := range live {
		appIDs[i] = a.ID
	}
	if _, err := tx.ExecContext(ctx, `
		WITH rec AS (
			UPDATE receivables SET status = 'refused', refusal_reason = $2, refused_by = $3, refused_at = $4, updated_at = now()
			WHERE contract_id = $1
		)
		UPDATE repayment_accounts SET status = 'refused', updated_at = now()
		WHERE application_id = ANY($5::uuid[]) AND status = 'proposed'`,
		rl.ContractID, reason, actor, now, pq.Array(appIDs)); err != nil {
		return false, postgres.Translate(err)
	}
	es := make([]ContractEvent, len(live))
	for i, a := range live {
		es[i] = rl.event(tx, a, EventReceivableRefused, ReceivableRefusedData{Reason: reason})
	}
	if err := s.outbox.ContractEvents(ctx, tx, es...); err != nil {
		return false, err
	}
	after := before
	after.Status, after.RefusalReason, after.RefusedBy, after.RefusedAt = ReceivableRefused, reason, actor, &now
	return true, audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "receivable.refused", EntityType: "contract", EntityID: rl.ContractID,
		Before: before, After: after, Reason: reason})
}

// ConsentAccountChange records account.change_consented of the loan locked
// names: the bank consents to a new repayment account (补充协议), which
// waits on the application's lock (new_account) for the purchaser's
// confirmation while the old account stays in force. Allowed while the
// lock is confirmed or locked (a written-off loan's stays locked); the
// same new account again changes nothing. Returns not_found, invalid
// (the account) or invalid_transition (the lock is not in force, no such
// loan of the application).
func (s *Service) ConsentAccountChange(ctx context.Context, tx *postgres.Tx, locked *Locked, account Account, actor string) error {
	if err := CheckAccount("data.repayment_account.", account); err != nil {
		return err
	}
	a, l, err := s.openLoan(ctx, tx, locked)
	if err != nil {
		return err
	}
	var lock struct {
		Status     string `db:"status"`
		AccountNo  string `db:"account_no"`
		NewAccount []byte `db:"new_account"`
	}
	err = tx.GetContext(ctx, &lock, `SELECT status, account_no, new_account FROM repayment_accounts WHERE application_id = $1`, a.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return errs.E(errs.InvalidTransition, "the application has no repayment account to change")
	}
	if err != nil {
		return postgres.Translate(err)
	}
	if lock.Status != "confirmed" && lock.Status != "locked" {
		return errs.E(errs.InvalidTransition, "the repayment account is %s: a change is consented to only while the lock is in force (confirmed or locked)", lock.Status)
	}
	if len(lock.NewAccount) > 0 {
		var pending Account
		if err := json.Unmarshal(lock.NewAccount, &pending); err == nil && pending == account {
			return nil // consented before: nothing changes
		}
	}
	b, err := json.Marshal(account)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `
		UPDATE repayment_accounts SET new_account = $2::jsonb, change_consented_at = $3, updated_at = now() WHERE application_id = $1`,
		a.ID, string(b), tx.Now()); err != nil {
		return postgres.Translate(err)
	}
	return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "repayment_account.change_consented", EntityType: "application",
		EntityID: a.ID, Before: map[string]any{"account_no": lock.AccountNo, "status": lock.Status},
		After:  map[string]any{"account_no": lock.AccountNo, "status": lock.Status, "new_account": account},
		Reason: cause(CauseAccountChangeConsented, "account", account.AccountNo, "loan", l.BankLoanID).String()})
}
