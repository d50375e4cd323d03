package banking

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"procfin/contracts"
	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/postgres"
	"procfin/platform/safehttp"
	"procfin/platform/signature"
	"procfin/platform/text"
)

// Bank is a partner bank (合作银行): where procfin sends applications and
// whose signed events it accepts.
type Bank struct {
	ID         string               `db:"id" json:"id"`
	Name       string               `db:"name" json:"name"`
	BaseURL    string               `db:"base_url" json:"base_url"`
	JWKS       signature.StoredJWKS `db:"jwks" json:"jwks,omitempty"`
	JWKSURL    *string              `db:"jwks_url" json:"jwks_url,omitempty"`
	Algorithms pq.StringArray       `db:"algorithms" json:"algorithms"`
	Version    string               `db:"version" json:"-"`
	CreatedAt  time.Time            `db:"created_at" json:"created_at"`
	UpdatedAt  time.Time            `db:"updated_at" json:"updated_at"`
}

// BankRegistration is what an administrator (or the configuration file)
// registers.
type BankRegistration struct {
	ID         string          `json:"id" yaml:"id"`
	Name       string          `json:"name" yaml:"name"`
	BaseURL    string          `json:"base_url" yaml:"base_url"`
	JWKS       json.RawMessage `json:"jwks" yaml:"-"`
	JWKSURL    string          `json:"jwks_url" yaml:"jwks_url"`
	Algorithms []string        `json:"algorithms" yaml:"algorithms"`
}

// maxNameBytes bounds a bank's name; a longer one is cut.
const maxNameBytes = 500

var validID = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,63}$`)

// Registry keeps the partner banks.
type Registry struct {
	db *sqlx.DB
	// urls is which base and JWKS URLs may be registered, and which
	// addresses the relay may call (SetURLPolicy).
	urls safehttp.Policy
	// senders keeps each bank's registration as the verifier last read it
	// (id → sender), for senderTTL: every signed event needs it, and
	// registrations change seldom. A change through this process drops it
	// at once; one through another process is seen within senderTTL.
	senders sync.Map
}

// senderTTL is how long a bank's keys are used as read before they are read
// again: a key an administrator removes in another procfin process is
// refused here at most this long after.
const senderTTL = time.Second

type cachedSender struct {
	sender signature.Sender
	read   time.Time
}

// NewRegistry returns the bank registry over db, with the strict URL
// policy (SetURLPolicy).
func NewRegistry(db *sqlx.DB) *Registry { return &Registry{db: db} }

// SetURLPolicy sets, before first use, which base and JWKS URLs banks may
// register and which addresses the relay (built after) may call: by
// default, https to public addresses only.
func (g *Registry) SetURLPolicy(p safehttp.Policy) { g.urls = p }

// Check names what is wrong with a bank's id and name (its base URL and
// keys are checked on registration, under the registry's URL policy).
func (r BankRegistration) Check() []errs.FieldError {
	return contracts.CheckIDName(r.ID, validID, r.Name, maxNameBytes)
}

// Register creates or updates a bank (keys rotate this way). Returns
// invalid for a bad id, name, base URL (not https, or a private address,
// unless the URL policy allows it), key set or algorithm.
func (g *Registry) Register(ctx context.Context, r BankRegistration, actor string) (Bank, bool, error) {
	r.Name = text.Clean(r.Name, maxNameBytes) // shown and logged: no controls
	fe := r.Check()
	if err := g.urls.CheckURL(r.BaseURL); err != nil {
		fe = append(fe, errs.FieldError{Field: "base_url", Code: "invalid", Message: err.Error()})
	} else if u, _ := url.Parse(r.BaseURL); u.RawQuery != "" || u.Fragment != "" {
		fe = append(fe, errs.Field("base_url", errs.FieldInvalid))
	}
	keys := signature.Keys{JWKS: r.JWKS, JWKSURL: r.JWKSURL, Algorithms: r.Algorithms}
	fe = append(fe, keys.CheckWith(g.urls)...)
	if len(fe) > 0 {
		return Bank{}, false, errs.InvalidFields(fe...)
	}
	var jwks any
	var jwksURL *string
	if keys.JWKS != nil {
		jwks = string(keys.JWKS) // jsonb takes text, not binary (binary_parameters)
	} else {
		jwksURL = &keys.JWKSURL
	}
	base := strings.TrimRight(r.BaseURL, "/")
	version := digest(r.Name, base, string(keys.JWKS), keys.JWKSURL, strings.Join(keys.Algorithms, ","))
	var out Bank
	var created bool
	err := postgres.Transact(ctx, g.db, func(tx *postgres.Tx) error {
		var old Bank
		err := tx.GetContext(ctx, &old, `SELECT * FROM banks WHERE id = $1 FOR UPDATE`, r.ID)
		var before *Bank
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
		case err != nil:
			return postgres.Translate(err)
		default:
			before = &old
		}
		err = tx.GetContext(ctx, &out, `
			INSERT INTO banks (id, name, base_url, jwks, jwks_url, algorithms, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (id) DO UPDATE SET name = $2, base_url = $3, jwks = $4, jwks_url = $5,
				algorithms = $6, version = $7, updated_at = now()
			RETURNING *`, r.ID, r.Name, base, jwks, jwksURL, pq.StringArray(keys.Algorithms), version)
		if err != nil {
			return postgres.Translate(err)
		}
		if before != nil && before.Version == out.Version {
			return nil
		}
		tx.AfterCommit(func() { g.senders.Delete(out.ID) })
		action := "bank.updated"
		if created {
			action = "bank.registered"
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: action, EntityType: "bank", EntityID: out.ID, Before: before, After: out})
	})
	return out, created, err
}

// Bank returns the bank, or not_found.
func (g *Registry) Bank(ctx context.Context, id string) (Bank, error) {
	var b Bank
	err := g.db.GetContext(ctx, &b, `SELECT * FROM banks WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return b, errs.E(errs.NotFound, "no bank %q", id)
	}
	return b, postgres.Translate(err)
}

// Sender returns the bank as a signed-message sender, for the verifier:
// as read at most senderTTL ago.
func (g *Registry) Sender(ctx context.Context, id string) (signature.Sender, error) {
	if v, ok := g.senders.Load(id); ok && time.Since(v.(cachedSender).read) < senderTTL {
		return v.(cachedSender).sender, nil
	}
	read := time.Now()
	b, err := g.Bank(ctx, id)
	if err != nil {
		return signature.Sender{}, err
	}
	sender, err := signature.StoredSender(b.ID, []byte(b.JWKS), b.JWKSURL, b.Algorithms, b.Version)
	if err != nil {
		return signature.Sender{}, err
	}
	g.senders.Store(id, cachedSender{sender: sender, read: read})
	return sender, nil
}

func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
