package contracts

import (
	"context"
	"database/sql"
	"errors"

	"procfin/platform/errs"
	"procfin/platform/postgres"
)

// SigningPurchaser returns the issuer of the purchaser whose signing
// system signs as id (its iss, unique among purchasers with keys):
// not_found when no purchaser with that id has keys.
func (s *Service) SigningPurchaser(ctx context.Context, id string) (issuerID string, err error) {
	err = s.db.GetContext(ctx, &issuerID, `SELECT issuer_id FROM purchasers WHERE id = $1 AND version IS NOT NULL`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errs.E(errs.NotFound, "no purchaser %q with keys", id)
	}
	return issuerID, postgres.Translate(err)
}
