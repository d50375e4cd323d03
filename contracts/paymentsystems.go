package contracts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/postgres"
	"procfin/platform/signature"
	"procfin/platform/text"
)

// PaymentSystem is a treasury payment system (国库集中支付) whose signed
// payment records procfin takes (api.md 1.1, POST /v1/contract-payments).
type PaymentSystem struct {
	ID         string               `db:"id" json:"id"`
	Name       string               `db:"name" json:"name"`
	JWKS       signature.StoredJWKS `db:"jwks" json:"jwks,omitempty"`
	JWKSURL    *string              `db:"jwks_url" json:"jwks_url,omitempty"`
	Algorithms pq.StringArray       `db:"algorithms" json:"algorithms"`
	Version    string               `db:"version" json:"-"`
	CreatedAt  time.Time            `db:"created_at" json:"created_at"`
	UpdatedAt  time.Time            `db:"updated_at" json:"updated_at"`
}

// PaymentSystemRegistration is what an administrator registers: jwks or
// jwks_url, with the algorithms as issuers' and banks'.
type PaymentSystemRegistration struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	JWKS       json.RawMessage `json:"jwks"`
	JWKSURL    string          `json:"jwks_url"`
	Algorithms []string        `json:"algorithms"`
}

// RegisterPaymentSystem creates or updates (keys rotate this way) a
// payment system, as RegisterIssuer an issuer; created is false for an
// update or the same registration again (which changes nothing and is
// not audited). Returns invalid naming every bad field.
func (s *Service) RegisterPaymentSystem(ctx context.Context, r PaymentSystemRegistration, actor string) (PaymentSystem, bool, error) {
	r.Name = text.Clean(r.Name, maxIssuerNameBytes)
	var fe []errs.FieldError
	if !validID.MatchString(r.ID) {
		fe = append(fe, errs.FieldError{Field: "id", Code: "invalid_format", Message: "must be 2 to 64 lower-case letters, digits, '.', '_' or '-'"})
	}
	if strings.TrimSpace(r.Name) == "" {
		fe = append(fe, errs.FieldError{Field: "name", Code: "required", Message: "is required"})
	}
	keys := signature.Keys{JWKS: r.JWKS, JWKSURL: r.JWKSURL, Algorithms: r.Algorithms}
	fe = append(fe, keys.CheckWith(s.urls)...)
	if len(fe) > 0 {
		return PaymentSystem{}, false, errs.InvalidFields(fe...)
	}
	var jwks any
	var jwksURL *string
	if keys.JWKS != nil {
		jwks = string(keys.JWKS) // jsonb takes text, not binary (binary_parameters)
	} else {
		jwksURL = &keys.JWKSURL
	}
	version, _, err := digestOf([]any{r.Name, string(keys.JWKS), keys.JWKSURL, keys.Algorithms})
	if err != nil {
		return PaymentSystem{}, false, err
	}
	var out PaymentSystem
	var created bool
	err = postgres.Transact(postgres.WithClock(ctx, s.now), s.db, func(tx *postgres.Tx) error {
		created = false
		var before *PaymentSystem
		var old PaymentSystem
		err := tx.GetContext(ctx, &old, `SELECT * FROM payment_systems WHERE id = $1 FOR UPDATE`, r.ID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
		case err != nil:
			return postgres.Translate(err)
		default:
			before = &old
		}
		err = tx.GetContext(ctx, &out, `
			INSERT INTO payment_systems (id, name, jwks, jwks_url, algorithms, version)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO UPDATE SET name = $2, jwks = $3, jwks_url = $4, algorithms = $5,
				version = $6, updated_at = now()
			RETURNING *`, r.ID, r.Name, jwks, jwksURL, pq.StringArray(keys.Algorithms), version)
		if err != nil {
			return postgres.Translate(err)
		}
		if before != nil && before.Version == out.Version {
			return nil // the same registration again: nothing changed
		}
		action := "payment_system.updated"
		if created {
			action = "payment_system.registered"
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: action, EntityType: "payment_system", EntityID: out.ID, Before: before, After: out})
	})
	return out, created, err
}

// ContractRef is what a payment record's contract number finds: the
// contract's id, number, purchaser and supplier.
type ContractRef struct {
	ID           string `db:"id"`
	IssuerID     string `db:"issuer_id"`
	ContractNo   string `db:"contract_no"`
	PurchaserID  string `db:"purchaser_id"`
	SupplierUSCC string `db:"supplier_uscc"`
}

// ContractByNumber finds the contract the issuer published under the
// number, in q (a transaction or the pool): not_found when there is none.
func (s *Service) ContractByNumber(ctx context.Context, q sqlx.QueryerContext, issuerID, contractNo string) (ContractRef, error) {
	var c ContractRef
	err := sqlx.GetContext(ctx, q, &c, `
		SELECT id, issuer_id, contract_no, purchaser_id, supplier_uscc FROM contracts
		WHERE issuer_id = $1 AND contract_no = $2`, issuerID, contractNo)
	if errors.Is(err, sql.ErrNoRows) {
		return c, errs.E(errs.NotFound, "no contract %q of issuer %q", contractNo, issuerID)
	}
	return c, postgres.Translate(err)
}

// CheckAccount trims a bank account's fields and names each bad one under
// prefix, as a supplier's settlement account is checked: every field
// required, valid text within its bound, the number letters and digits.
func CheckAccount(prefix string, a *SettlementAccount) []errs.FieldError { return a.check(prefix) }
