package banking

import (
	"context"

	"procfin/platform/postgres"
)

// List returns every partner bank, by id, without key sets: the banks a
// supplier may choose from and an administrator sees.
func (g *Registry) List(ctx context.Context) ([]Bank, error) {
	var list []Bank
	err := g.db.SelectContext(ctx, &list, `
		SELECT id, name, base_url, jwks_url, algorithms, version, created_at, updated_at
		FROM banks ORDER BY id`)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	return list, nil
}
