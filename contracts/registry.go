package contracts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/lib/pq"

	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
	"procfin/platform/safehttp"
	"procfin/platform/signature"
	"procfin/platform/text"
)

// Signer is a registered sender of signed messages with a name and keys:
// a procurement centre (issuer) or a treasury payment system, each in a
// table of this shape (issuers, payment_systems).
type Signer struct {
	ID         string               `db:"id" json:"id"`
	Name       string               `db:"name" json:"name"`
	JWKS       signature.StoredJWKS `db:"jwks" json:"jwks,omitempty"`
	JWKSURL    *string              `db:"jwks_url" json:"jwks_url,omitempty"`
	Algorithms pq.StringArray       `db:"algorithms" json:"algorithms"`
	Version    string               `db:"version" json:"-"`
	CreatedAt  time.Time            `db:"created_at" json:"created_at"`
	UpdatedAt  time.Time            `db:"updated_at" json:"updated_at"`
}

// Issuer is a procurement centre (政府采购中心) whose signed records procfin
// trusts.
type Issuer = Signer

// IssuerRegistration is what an administrator registers of an issuer.
type IssuerRegistration = SignerRegistration

// SignerRegistration is what an administrator registers of a signer: jwks
// or jwks_url, with the algorithms it signs with.
type SignerRegistration struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	JWKS       json.RawMessage `json:"jwks"`
	JWKSURL    string          `json:"jwks_url"`
	Algorithms []string        `json:"algorithms"`
}

// maxIssuerNameBytes bounds an issuer's name; a longer one is cut.
const maxIssuerNameBytes = 500

var validID = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,63}$`)

// SetURLPolicy sets, before first use, which JWKS URLs issuers may register:
// by default, https to public addresses only.
func (s *Service) SetURLPolicy(p safehttp.Policy) { s.urls = p }

// RegisterIssuer creates or updates (keys rotate this way) an issuer.
// Returns invalid for a bad id, name, key set, JWKS URL (not https, or a
// private address, unless the URL policy allows it) or algorithm.
func (s *Service) RegisterIssuer(ctx context.Context, r IssuerRegistration, actor string) (Issuer, bool, error) {
	return s.registerSigner(ctx, "issuers", "issuer", r, actor)
}

// Check names what is wrong with a signer's id and name (its keys are
// checked on registration, under the service's URL policy).
func (r SignerRegistration) Check() []errs.FieldError {
	return CheckIDName(r.ID, validID, r.Name, maxIssuerNameBytes)
}

// CheckIDName names what is wrong with a registration's id (valid: its
// pattern) and name (blank once cleaned to at most maxName bytes): the
// checks of every registration of a party (issuer, payment system, bank).
func CheckIDName(id string, valid *regexp.Regexp, name string, maxName int) []errs.FieldError {
	var fe []errs.FieldError
	if !valid.MatchString(id) {
		fe = append(fe, errs.Field("id", errs.FieldInvalidFormat))
	}
	if strings.TrimSpace(text.Clean(name, maxName)) == "" {
		fe = append(fe, errs.Field("name", errs.FieldRequired))
	}
	return fe
}

// registerSigner creates or updates a signer in its table (issuers or
// payment_systems; entity names it in the audit trail); created is false
// for an update or the same registration again (which changes nothing and
// is not audited). Returns invalid naming every bad field.
func (s *Service) registerSigner(ctx context.Context, table, entity string, r SignerRegistration, actor string) (Signer, bool, error) {
	r.Name = text.Clean(r.Name, maxIssuerNameBytes) // shown and logged: no controls
	fe := r.Check()
	keys := signature.Keys{JWKS: r.JWKS, JWKSURL: r.JWKSURL, Algorithms: r.Algorithms}
	fe = append(fe, keys.CheckWith(s.urls)...)
	if len(fe) > 0 {
		return Signer{}, false, errs.InvalidFields(fe...)
	}
	var jwks any
	var jwksURL *string
	if keys.JWKS != nil {
		jwks = string(keys.JWKS) // jsonb takes text, not binary (binary_parameters)
	} else {
		jwksURL = &keys.JWKSURL
	}
	algs := keys.Algorithms
	version, _, err := digestOf([]any{r.Name, string(keys.JWKS), keys.JWKSURL, algs})
	if err != nil {
		return Signer{}, false, err
	}
	var out Signer
	var created bool
	err = postgres.Transact(postgres.WithClock(ctx, s.now), s.db, func(tx *postgres.Tx) error {
		created = false
		var before *Signer
		var old Signer
		err := tx.GetContext(ctx, &old, `SELECT * FROM `+table+` WHERE id = $1 FOR UPDATE`, r.ID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
		case err != nil:
			return postgres.Translate(err)
		default:
			before = &old
		}
		err = tx.GetContext(ctx, &out, `
			INSERT INTO `+table+` (id, name, jwks, jwks_url, algorithms, version)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO UPDATE SET name = $2, jwks = $3, jwks_url = $4, algorithms = $5,
				version = $6, updated_at = now()
			RETURNING *`, r.ID, r.Name, jwks, jwksURL, pq.StringArray(algs), version)
		if err != nil {
			return postgres.Translate(err)
		}
		if before != nil && before.Version == out.Version {
			return nil // the same registration again: nothing changed
		}
		action := entity + ".updated"
		if created {
			action = entity + ".registered"
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: action, EntityType: entity, EntityID: out.ID, Before: before, After: out})
	})
	return out, created, err
}

// Issuer returns the issuer with the id, or not_found.
func (s *Service) Issuer(ctx context.Context, id string) (Issuer, error) {
	var is Issuer
	err := s.db.GetContext(ctx, &is, `SELECT * FROM issuers WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return is, errs.E(errs.NotFound, "no issuer %q", id)
	}
	return is, postgres.Translate(err)
}

// Issuers lists the registered issuers by id. Returns internal on database
// failure.
func (s *Service) Issuers(ctx context.Context) ([]Issuer, error) {
	list := []Issuer{}
	err := s.db.SelectContext(ctx, &list, `SELECT * FROM issuers ORDER BY id`)
	return list, postgres.Translate(err)
}

// Sender returns the issuer as a signed-message sender, for the verifier.
func (s *Service) Sender(ctx context.Context, id string) (signature.Sender, error) {
	is, err := s.Issuer(ctx, id)
	if err != nil {
		return signature.Sender{}, err
	}
	return signature.StoredSender(is.ID, []byte(is.JWKS), is.JWKSURL, is.Algorithms, is.Version)
}

// Supplier is a supplier (供应商) with its size class. Registered is false
// for a supplier known only from a document: it cannot borrow until an
// administrator completes its registration.
type Supplier struct {
	USCC               string        `db:"uscc" json:"uscc"`
	Name               string        `db:"name" json:"name"`
	Industry           *string       `db:"industry" json:"industry"`
	Employees          *int          `db:"employees" json:"employees"`
	AnnualRevenue      *money.Amount `db:"annual_revenue" json:"annual_revenue"`
	TotalAssets        *money.Amount `db:"total_assets" json:"total_assets"`
	SizeClass          SizeClass     `db:"size_class" json:"size_class"`
	SizeAssessedOn     *money.Date   `db:"size_assessed_on" json:"size_assessed_on"`
	USCCOverrideReason string        `db:"uscc_override_reason" json:"uscc_override_reason,omitempty"`
	Registered         bool          `db:"registered" json:"registered"`
	CreatedAt          time.Time     `db:"created_at" json:"created_at"`
	UpdatedAt          time.Time     `db:"updated_at" json:"updated_at"`

	// SettlementAccount is where the supplier's subsidies are paid (nil:
	// none registered yet).
	SettlementAccount *SettlementAccount `db:"settlement_account" json:"settlement_account"`
}

// SupplierRegistration is what an administrator registers.
type SupplierRegistration struct {
	USCC          string        `json:"uscc"`
	Name          string        `json:"name"`
	Industry      string        `json:"industry"`
	Employees     *int          `json:"employees"`
	AnnualRevenue *money.Amount `json:"annual_revenue"`
	TotalAssets   *money.Amount `json:"total_assets"`
	// USCCOverrideReason accepts a code that fails its checksum (it
	// happens to real firms); it is kept and audited.
	USCCOverrideReason string `json:"uscc_override_reason"`
	// SettlementAccount, when given, registers or changes where the
	// supplier's subsidies are paid; without it the one registered stays.
	SettlementAccount *SettlementAccount `json:"settlement_account"`
}

// checkedSupplier is a supplier's registration as read: its problems, or
// its code, override reason, firm and trimmed settlement account.
type checkedSupplier struct {
	fe       []errs.FieldError
	uscc     USCC
	override string
	firm     Firm
	account  *SettlementAccount
}

// Check names every bad field of a registration, as RegisterSupplier.
func (r SupplierRegistration) Check() []errs.FieldError {
	c, _ := r.check()
	return c.fe
}

func (r SupplierRegistration) check() (checkedSupplier, error) {
	var c checkedSupplier
	var ie *errs.Error
	c.override = strings.TrimSpace(r.USCCOverrideReason)
	uscc, err := ParseUSCC(r.USCC)
	if err != nil && c.override != "" && USCCChecksumOnly(err) {
		uscc, err = ParseUSCCAllowChecksum(r.USCC)
	} else if err == nil {
		c.override = "" // a valid code needs no override
	}
	if err != nil {
		if !errors.As(err, &ie) || len(ie.Fields) == 0 {
			return c, err
		}
		c.fe = append(c.fe, ie.Fields...)
	}
	c.uscc = uscc
	if r.SettlementAccount != nil {
		acct := *r.SettlementAccount // checked and trimmed: the caller's stays as given
		c.fe = append(c.fe, acct.check("settlement_account")...)
		c.account = &acct
	}
	if strings.TrimSpace(r.Name) == "" {
		c.fe = append(c.fe, errs.Field("name", errs.FieldRequired))
	}
	industry, err := ParseIndustry(r.Industry)
	if errors.As(err, &ie) {
		c.fe = append(c.fe, ie.Fields...)
	}
	for _, m := range []struct {
		field string
		set   bool
	}{{"employees", r.Employees != nil}, {"annual_revenue", r.AnnualRevenue != nil}, {"total_assets", r.TotalAssets != nil}} {
		if !m.set {
			c.fe = append(c.fe, errs.Field(m.field, errs.FieldRequired))
		}
	}
	if r.Employees != nil && r.AnnualRevenue != nil && r.TotalAssets != nil {
		c.firm = Firm{Industry: industry, Employees: *r.Employees, Revenue: *r.AnnualRevenue, Assets: *r.TotalAssets}
		c.fe = append(c.fe, c.firm.Validate()...)
	}
	return c, nil
}

// RegisterSupplier creates, completes or updates a supplier and computes
// its size class. Returns invalid for bad fields (a USCC failing its
// checksum without an override reason: code uscc_checksum), every bad
// field named in one error.
func (s *Service) RegisterSupplier(ctx context.Context, r SupplierRegistration, actor string) (Supplier, bool, error) {
	c, err := r.check()
	if err != nil {
		return Supplier{}, false, err
	}
	if len(c.fe) > 0 {
		return Supplier{}, false, errs.InvalidFields(c.fe...)
	}
	uscc, override, firm := c.uscc, c.override, c.firm
	r.SettlementAccount = c.account
	class := Classify(firm)
	var out Supplier
	var created bool
	err = postgres.Transact(postgres.WithClock(ctx, s.now), s.db, func(tx *postgres.Tx) error {
		var before *Supplier
		var old Supplier
		err := tx.GetContext(ctx, &old, `SELECT * FROM suppliers WHERE uscc = $1 FOR UPDATE`, string(uscc))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
		case err != nil:
			return postgres.Translate(err)
		default:
			before = &old
		}
		err = tx.GetContext(ctx, &out, `
			INSERT INTO suppliers (uscc, name, industry, employees, annual_revenue, total_assets,
				size_class, size_assessed_on, uscc_override_reason, registered, settlement_account)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, true, $10)
			ON CONFLICT (uscc) DO UPDATE SET name = $2, industry = $3, employees = $4,
				annual_revenue = $5, total_assets = $6, size_class = $7,
				size_assessed_on = CASE WHEN suppliers.size_class = $7 AND suppliers.industry = $3
					AND suppliers.employees = $4 AND suppliers.annual_revenue = $5
					AND suppliers.total_assets = $6 THEN suppliers.size_assessed_on ELSE $8 END,
				uscc_override_reason = CASE WHEN $9 = '' THEN suppliers.uscc_override_reason ELSE $9 END,
				registered = true, settlement_account = coalesce($10, suppliers.settlement_account), updated_at = now()
			RETURNING *`,
			string(uscc), strings.TrimSpace(r.Name), string(firm.Industry), *r.Employees, *r.AnnualRevenue,
			*r.TotalAssets, string(class), today(tx.Now()), override, r.SettlementAccount)
		if err != nil {
			return postgres.Translate(err)
		}
		if before != nil && supplierUnchanged(*before, out) {
			return nil
		}
		action := "supplier.updated"
		switch {
		case created:
			action = "supplier.registered"
		case !before.Registered:
			action = "supplier.completed"
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: action, EntityType: "supplier",
			EntityID: out.USCC, Before: before, After: out, Reason: override})
	})
	return out, created, err
}

func supplierUnchanged(a, b Supplier) bool {
	a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// GetSupplier returns the supplier, or not_found (also outside scope).
func (s *Service) GetSupplier(ctx context.Context, scope Scope, uscc string) (Supplier, error) {
	var sp Supplier
	if !scope.allows(uscc) {
		return sp, errs.E(errs.NotFound, "no supplier %s", uscc)
	}
	err := s.db.GetContext(ctx, &sp, `SELECT * FROM suppliers WHERE uscc = $1`, uscc)
	if errors.Is(err, sql.ErrNoRows) {
		return sp, errs.E(errs.NotFound, "no supplier %s", uscc)
	}
	return sp, postgres.Translate(err)
}
