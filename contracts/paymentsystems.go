package contracts

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"

	"procfin/platform/errs"
	"procfin/platform/postgres"
)

// PaymentSystem is a treasury payment system (国库集中支付) whose signed
// payment records procfin takes (api.md 1.1, POST /v1/contract-payments).
type PaymentSystem = Signer

// PaymentSystemRegistration is what an administrator registers of a
// payment system, as of an issuer.
type PaymentSystemRegistration = SignerRegistration

// RegisterPaymentSystem creates or updates (keys rotate this way) a
// payment system, as RegisterIssuer an issuer.
func (s *Service) RegisterPaymentSystem(ctx context.Context, r PaymentSystemRegistration, actor string) (PaymentSystem, bool, error) {
	return s.registerSigner(ctx, "payment_systems", "payment_system", r, actor)
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
