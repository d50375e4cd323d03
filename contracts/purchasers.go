package contracts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/lib/pq"

	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/postgres"
	"procfin/platform/signature"
	"procfin/platform/text"
)

// Purchaser is a purchaser (采购人), the budget unit that signs contracts
// and pays them through the treasury, under the issuer that publishes its
// contracts. Its id is the issuer's, as documents name it; (issuer, id) is
// the key. A purchaser with keys has its own signing system, which signs
// with iss = the purchaser's id.
type Purchaser struct {
	IssuerID   string               `db:"issuer_id" json:"issuer_id"`
	ID         string               `db:"id" json:"id"`
	Name       string               `db:"name" json:"name"`
	JWKS       signature.StoredJWKS `db:"jwks" json:"jwks,omitempty"`
	JWKSURL    *string              `db:"jwks_url" json:"jwks_url,omitempty"`
	Algorithms pq.StringArray       `db:"algorithms" json:"algorithms,omitempty"`
	Version    *string              `db:"version" json:"-"`
	CreatedAt  time.Time            `db:"created_at" json:"created_at"`
	UpdatedAt  time.Time            `db:"updated_at" json:"updated_at"`
}

// HasKeys reports whether the purchaser has its own signing system.
func (p Purchaser) HasKeys() bool { return p.Version != nil }

// PurchaserRegistration is what an administrator registers. The keys
// (jwks or jwks_url, with algorithms) are optional; without them the keys
// registered before stay.
type PurchaserRegistration struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	IssuerID   string          `json:"issuer_id"`
	JWKS       json.RawMessage `json:"jwks"`
	JWKSURL    string          `json:"jwks_url"`
	Algorithms []string        `json:"algorithms"`
}

// maxPurchaserIDBytes is the bound documents put on a purchaser's id.
const maxPurchaserIDBytes = 200

// RegisterPurchaser creates, completes (a purchaser known only from a
// document) or updates a purchaser; created is true when no row existed.
// Returns invalid naming every bad field (id, name, issuer_id: unknown
// issuer, jwks, jwks_url, algorithms); conflict when it gives keys to an
// id that another issuer's purchaser already signs with.
func (s *Service) RegisterPurchaser(ctx context.Context, r PurchaserRegistration, actor string) (Purchaser, bool, error) {
	r.Name = text.Clean(r.Name, maxIssuerNameBytes)
	var fe []errs.FieldError
	fe = requireText(fe, "id", r.ID, maxPurchaserIDBytes)
	if strings.TrimSpace(r.Name) == "" {
		fe = append(fe, errs.Field("name", errs.FieldRequired))
	}
	if r.IssuerID == "" {
		fe = append(fe, errs.Field("issuer_id", errs.FieldRequired))
	}
	hasKeys := (len(r.JWKS) > 0 && string(r.JWKS) != "null") || r.JWKSURL != "" || len(r.Algorithms) > 0
	keys := signature.Keys{JWKS: r.JWKS, JWKSURL: r.JWKSURL, Algorithms: r.Algorithms}
	if hasKeys {
		fe = append(fe, keys.CheckWith(s.urls)...)
	}
	if r.IssuerID != "" {
		var known bool
		if err := s.db.GetContext(ctx, &known, `SELECT EXISTS (SELECT 1 FROM issuers WHERE id = $1)`, r.IssuerID); err != nil {
			return Purchaser{}, false, postgres.Translate(err)
		}
		if !known {
			fe = append(fe, errs.Field("issuer_id", errs.FieldNotFound))
		}
	}
	if len(fe) > 0 {
		return Purchaser{}, false, errs.InvalidFields(fe...)
	}
	var jwks any
	var jwksURL, version *string
	if hasKeys {
		if keys.JWKS != nil {
			jwks = string(keys.JWKS) // jsonb takes text, not binary (binary_parameters)
		} else {
			jwksURL = &keys.JWKSURL
		}
		v, _, err := digestOf([]any{string(keys.JWKS), keys.JWKSURL, keys.Algorithms})
		if err != nil {
			return Purchaser{}, false, err
		}
		version = &v
	}
	var out Purchaser
	var created bool
	err := postgres.Transact(postgres.WithClock(ctx, s.now), s.db, func(tx *postgres.Tx) error {
		created = false
		var before *Purchaser
		var old Purchaser
		err := tx.GetContext(ctx, &old, `SELECT * FROM purchasers WHERE issuer_id = $1 AND id = $2 FOR UPDATE`, r.IssuerID, r.ID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
		case err != nil:
			return postgres.Translate(err)
		default:
			before = &old
		}
		if hasKeys {
			var other string
			err := tx.GetContext(ctx, &other, `SELECT issuer_id FROM purchasers WHERE id = $1 AND issuer_id <> $2 AND version IS NOT NULL`, r.ID, r.IssuerID)
			if err == nil {
				return keyedConflict(r.ID, other)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return postgres.Translate(err)
			}
		}
		err = tx.GetContext(ctx, &out, `
			INSERT INTO purchasers (issuer_id, id, name, jwks, jwks_url, algorithms, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (issuer_id, id) DO UPDATE SET name = $3,
				jwks = CASE WHEN $7::text IS NULL THEN purchasers.jwks ELSE $4 END,
				jwks_url = CASE WHEN $7::text IS NULL THEN purchasers.jwks_url ELSE $5 END,
				algorithms = CASE WHEN $7::text IS NULL THEN purchasers.algorithms ELSE $6 END,
				version = coalesce($7, purchasers.version), updated_at = now()
			RETURNING *`, r.IssuerID, r.ID, r.Name, jwks, jwksURL, algorithmsOrNil(hasKeys, keys.Algorithms), version)
		var pqErr *pq.Error
		if errors.As(err, &pqErr) && pqErr.Code == "23505" && pqErr.Constraint == "purchasers_signing_id" {
			return keyedConflict(r.ID, "another issuer")
		}
		if err != nil {
			return postgres.Translate(err)
		}
		if before != nil && purchaserUnchanged(*before, out) {
			return nil // the same registration again: nothing changed
		}
		action := "purchaser.updated"
		if created {
			action = "purchaser.registered"
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: action, EntityType: "purchaser",
			EntityID: out.IssuerID + "/" + out.ID, Before: before, After: out})
	})
	return out, created, err
}

func keyedConflict(id, issuer string) error {
	return errs.E(errs.Conflict, "purchaser id %q already has a signing system under %s: a purchaser's system signs with iss = its id, so no two purchasers with keys may share one", id, issuer)
}

func algorithmsOrNil(hasKeys bool, algs []string) any {
	if !hasKeys {
		return nil
	}
	return pq.StringArray(algs)
}

func purchaserUnchanged(a, b Purchaser) bool {
	a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y) && (a.Version == nil) == (b.Version == nil) && (a.Version == nil || *a.Version == *b.Version)
}

// Purchaser returns the purchaser with the id under the issuer, or
// not_found.
func (s *Service) Purchaser(ctx context.Context, issuerID, id string) (Purchaser, error) {
	var p Purchaser
	err := s.db.GetContext(ctx, &p, `SELECT * FROM purchasers WHERE issuer_id = $1 AND id = $2`, issuerID, id)
	if errors.Is(err, sql.ErrNoRows) {
		return p, errs.E(errs.NotFound, "no purchaser %q under issuer %q", id, issuerID)
	}
	return p, postgres.Translate(err)
}

// Purchasers lists the purchasers, of one issuer when issuerID is not
// empty, by issuer and id: those registered and those known only from
// documents. Returns internal on database failure.
func (s *Service) Purchasers(ctx context.Context, issuerID string) ([]Purchaser, error) {
	list := []Purchaser{}
	err := s.db.SelectContext(ctx, &list, `SELECT * FROM purchasers WHERE ($1 = '' OR issuer_id = $1) ORDER BY issuer_id, id`, issuerID)
	return list, postgres.Translate(err)
}
