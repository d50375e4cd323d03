package contracts

import (
	"context"
	"database/sql"
	"errors"

	"github.com/lib/pq"

	"procfin/platform/errs"
	"procfin/platform/postgres"
	"procfin/platform/signature"
)

// signingSender is the row of a sender of signed messages.
type signingSender struct {
	ID         string               `db:"id"`
	JWKS       signature.StoredJWKS `db:"jwks"`
	JWKSURL    *string              `db:"jwks_url"`
	Algorithms pq.StringArray       `db:"algorithms"`
	Version    string               `db:"version"`
}

// PurchaserSender returns the purchaser's own signing system, whose iss is
// the purchaser's id, as a signed-message sender for the verifier:
// not_found when no purchaser with that id has keys.
func (s *Service) PurchaserSender(ctx context.Context, id string) (signature.Sender, error) {
	return s.sender(ctx, `SELECT id, jwks, jwks_url, algorithms, version FROM purchasers WHERE id = $1 AND version IS NOT NULL`, "purchaser", id)
}

// PaymentSystemSender returns the treasury payment system as a
// signed-message sender for the verifier: not_found when unknown.
func (s *Service) PaymentSystemSender(ctx context.Context, id string) (signature.Sender, error) {
	return s.sender(ctx, `SELECT id, jwks, jwks_url, algorithms, version FROM payment_systems WHERE id = $1`, "payment system", id)
}

func (s *Service) sender(ctx context.Context, query, what, id string) (signature.Sender, error) {
	var row signingSender
	err := s.db.GetContext(ctx, &row, query, id)
	if errors.Is(err, sql.ErrNoRows) {
		return signature.Sender{}, errs.E(errs.NotFound, "no %s %q with keys", what, id)
	}
	if err != nil {
		return signature.Sender{}, postgres.Translate(err)
	}
	return signature.StoredSender(row.ID, []byte(row.JWKS), row.JWKSURL, row.Algorithms, row.Version)
}
