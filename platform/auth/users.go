package auth

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/lib/pq"

	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/platform/postgres"
)

// Role is what a user may do.
type Role string

// The roles.
const (
	RoleSupplier Role = "supplier" // a supplier's staff: applies for financing for that supplier
	RoleOfficer  Role = "officer"  // a government officer: reviews and approves
	RoleAdmin    Role = "admin"    // a platform administrator
	// RolePurchaser is a purchaser's (采购人) staff: confirms its
	// contracts' receivables and sees their payments.
	RolePurchaser Role = "purchaser"
)

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	switch r {
	case RoleSupplier, RoleOfficer, RoleAdmin, RolePurchaser:
		return true
	}
	return false
}

// User is an account, without its password hash.
type User struct {
	ID           string     `json:"id" db:"id"`
	Username     string     `json:"username" db:"username"`
	Role         Role       `json:"role" db:"role"`
	SupplierUSCC string     `json:"supplier_uscc,omitempty" db:"supplier_uscc"` // set exactly when Role is RoleSupplier
	CreatedAt    time.Time  `json:"created_at" db:"created_at"`
	DisabledAt   *time.Time `json:"disabled_at,omitempty" db:"disabled_at"` // set once the user is disabled (DisableUser)
	// TokenGeneration is carried by the user's access tokens and web
	// sessions; revoking them adds one (revoke.go).
	TokenGeneration int64 `json:"-" db:"token_generation"`

	// PurchaserIssuerID and PurchaserID name the purchaser (under its
	// issuer) a purchaser user acts for; set exactly when Role is
	// RolePurchaser.
	PurchaserIssuerID string `json:"purchaser_issuer_id,omitempty" db:"purchaser_issuer_id"`
	PurchaserID       string `json:"purchaser_id,omitempty" db:"purchaser_id"`
}

// userColumns are the columns of a User.
const userColumns = `id, username, role, COALESCE(supplier_uscc, '') AS supplier_uscc,
	COALESCE(purchaser_issuer_id, '') AS purchaser_issuer_id, COALESCE(purchaser_id, '') AS purchaser_id,
	created_at, disabled_at, token_generation`

// NewUser is the input to CreateUser.
type NewUser struct {
	Username     string `json:"username"`
	Password     string `json:"password"`
	Role         string `json:"role"`
	SupplierUSCC string `json:"supplier_uscc"`

	// PurchaserID names the purchaser of a purchaser user; its issuer
	// (PurchaserIssuerID) is needed only when purchasers of several
	// issuers have that id.
	PurchaserID       string `json:"purchaser_id"`
	PurchaserIssuerID string `json:"purchaser_issuer_id"`
}

var (
	usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{2,63}$`)
	// The USCC (统一社会信用代码) alphabet: digits and capitals without I, O,
	// S, V, Z. The checksum is checked by package contracts.
	usccPattern = regexp.MustCompile(`^[0-9A-HJ-NPQRTUWXY]{18}$`)
)

// normalizeUsername lower-cases a username: usernames are case-insensitive.
func normalizeUsername(username string) string { return strings.ToLower(username) }

// validate normalizes n and returns its field problems.
func (n *NewUser) validate() []errs.FieldError {
	var fields []errs.FieldError
	n.Username = normalizeUsername(n.Username)
	switch {
	case n.Username == "":
		fields = append(fields, errs.Field("username", errs.FieldRequired))
	case !usernamePattern.MatchString(n.Username):
		fields = append(fields, errs.Field("username", errs.FieldInvalidFormat))
	}
	if fe := checkPasswordLength(n.Password); fe != nil {
		fields = append(fields, *fe)
	}
	n.SupplierUSCC = strings.ToUpper(n.SupplierUSCC)
	role := Role(n.Role)
	switch {
	case n.Role == "":
		fields = append(fields, errs.Field("role", errs.FieldRequired))
	case !role.Valid():
		fields = append(fields, errs.FieldError{Field: "role", Code: "unknown_role",
			Message: "must be one of supplier, officer, admin, purchaser"})
	case role == RoleSupplier && n.SupplierUSCC == "":
		fields = append(fields, errs.Field("supplier_uscc", errs.FieldRequired))
	case role == RoleSupplier && !usccPattern.MatchString(n.SupplierUSCC):
		fields = append(fields, errs.Field("supplier_uscc", errs.FieldInvalidFormat))
	case role != RoleSupplier && n.SupplierUSCC != "":
		fields = append(fields, errs.Field("supplier_uscc", errs.FieldNotAllowed))
	}
	switch {
	case role == RolePurchaser && strings.TrimSpace(n.PurchaserID) == "":
		fields = append(fields, errs.Field("purchaser_id", errs.FieldRequired))
	case role != RolePurchaser && n.PurchaserID != "":
		fields = append(fields, errs.Field("purchaser_id", errs.FieldNotAllowed))
	}
	if role != RolePurchaser && n.PurchaserIssuerID != "" {
		fields = append(fields, errs.Field("purchaser_issuer_id", errs.FieldNotAllowed))
	}
	return fields
}

// purchaserOf finds the issuer of the purchaser a new purchaser user names
// (n.PurchaserID, and n.PurchaserIssuerID when given) and sets it, or
// returns the field's problem: no such purchaser, or an id that purchasers
// of several issuers have (purchaser_issuer_id then names which). The
// purchasers table is package contracts'; users refer to its rows.
func (s *Service) purchaserOf(ctx context.Context, n *NewUser) (*errs.FieldError, error) {
	var issuers []string
	err := s.db.SelectContext(ctx, &issuers, `
		SELECT issuer_id FROM purchasers WHERE id = $1 AND ($2 = '' OR issuer_id = $2) ORDER BY issuer_id LIMIT 10`,
		n.PurchaserID, n.PurchaserIssuerID)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	switch {
	case len(issuers) == 0 && n.PurchaserIssuerID != "":
		return &errs.FieldError{Field: "purchaser_id", Code: "unknown_purchaser",
			Message: "no purchaser has this id under issuer " + n.PurchaserIssuerID}, nil
	case len(issuers) == 0:
		return &errs.FieldError{Field: "purchaser_id", Code: "unknown_purchaser", Message: "no purchaser has this id"}, nil
	case len(issuers) > 1:
		return &errs.FieldError{Field: "purchaser_issuer_id", Code: "required",
			Message: "purchasers of several issuers have this id (" + strings.Join(issuers, ", ") + "): name the issuer"}, nil
	}
	n.PurchaserIssuerID = issuers[0]
	return nil, nil
}

const insertUserSQL = `
INSERT INTO users (username, password_hash, role, supplier_uscc, created_at, purchaser_issuer_id, purchaser_id)
VALUES ($1, $2, $3, NULLIF($4, ''), $5, NULLIF($6, ''), NULLIF($7, ''))
RETURNING ` + userColumns

// CreateUser creates a user and records it in the audit log, in one
// transaction; actor is who creates it. The username is stored lower-cased.
// A purchaser user names its purchaser by id, and by its issuer too when
// purchasers of several issuers have that id.
// Returns invalid with field errors (username, password, role,
// supplier_uscc, purchaser_id, purchaser_issuer_id), every one at once,
// for unacceptable input, conflict "username already taken".
func (s *Service) CreateUser(ctx context.Context, n NewUser, actor string) (User, error) {
	fields := n.validate()
	if Role(n.Role) == RolePurchaser && strings.TrimSpace(n.PurchaserID) != "" {
		fe, err := s.purchaserOf(ctx, &n)
		if err != nil {
			return User{}, err
		}
		if fe != nil {
			fields = append(fields, *fe)
		}
	}
	if len(fields) > 0 {
		return User{}, errs.InvalidFields(fields...)
	}
	hash, err := hashPassword(n.Password, s.cfg.Password)
	if err != nil {
		return User{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var u User
	err = postgres.Transact(ctx, s.db, func(tx *postgres.Tx) error {
		if err := tx.GetContext(ctx, &u, insertUserSQL, n.Username, hash, n.Role, n.SupplierUSCC, now, n.PurchaserIssuerID, n.PurchaserID); err != nil {
			var pqErr *pq.Error
			if errors.As(err, &pqErr) && pqErr.Code == "23505" && pqErr.Constraint == "users_username_key" {
				return errs.Wrap(errs.Conflict, err, "username already taken")
			}
			return postgres.Translate(err)
		}
		return audit.Record(ctx, tx, audit.Entry{
			Actor:      actor,
			Action:     "user.created",
			EntityType: "user",
			EntityID:   u.ID,
			Before:     nil,
			After:      u,
		})
	})
	if err != nil {
		return User{}, postgres.Translate(err)
	}
	return u, nil
}

const getUserSQL = `SELECT ` + userColumns + ` FROM users WHERE id = $1`

// GetUser returns the user with the id, disabled or not. Returns not_found
// if there is none (or id is not a UUID).
func (s *Service) GetUser(ctx context.Context, id string) (User, error) {
	uid, ok := ids.Parse(id)
	if !ok {
		return User{}, errs.E(errs.NotFound, "user not found")
	}
	var u User
	if err := s.db.GetContext(ctx, &u, getUserSQL, uid.String()); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return User{}, errs.E(errs.NotFound, "user not found")
		}
		return User{}, postgres.Translate(err)
	}
	return u, nil
}

// Users lists every user, oldest first, disabled or not, for the
// administrators' page (at most limit). Returns internal on database
// failure.
func (s *Service) Users(ctx context.Context, limit int) ([]User, error) {
	users := []User{}
	err := s.db.SelectContext(ctx, &users, `
		SELECT `+userColumns+`
		FROM users ORDER BY created_at, username LIMIT $1`, limit)
	return users, postgres.Translate(err)
}

const loginUserSQL = `SELECT ` + userColumns + `, password_hash FROM users WHERE username = $1`

type loginRow struct {
	User
	PasswordHash string `db:"password_hash"`
}

// errBadLogin is the one answer to every failed login, so a caller cannot
// tell an unknown user from a wrong password or a disabled account.
func errBadLogin() error {
	return errs.E(errs.Unauthorized, "invalid username or password")
}

// Authenticate checks a username and password and returns the user. The
// username is case-insensitive. remoteAddr is the client's address. The
// API's token route and the web log-in both come here, so they share one
// throttle.
//
// Returns rate_limited (Extra["retry_after"] in seconds), checked before
// any password work, when the address made too many attempts in the last
// minute, or when this username failed too often from this address and
// must wait for its back-off: a hammering address slows only itself, and
// the right password from another address still works. Returns
// unauthorized "invalid username or password" for an unknown user, a wrong
// password or a disabled user alike (an unknown user still costs one
// password hash, so timing does not tell them apart).
func (s *Service) Authenticate(ctx context.Context, username, password, remoteAddr string) (User, error) {
	username = normalizeUsername(username)
	now := s.now()
	if ok, retry := s.addrLimits.allow(remoteAddr, now); !ok {
		return User{}, rateLimited(retry)
	}
	key := backoffKey(username, remoteAddr)
	if ok, retry := s.userLimits.attempt(key, now); !ok {
		return User{}, rateLimited(retry)
	}
	if len(password) > MaxPasswordLen || len(username) > 64 {
		// No stored hash or username can match; refuse without hashing
		// huge input.
		return User{}, errBadLogin()
	}
	var row loginRow
	err := s.db.GetContext(ctx, &row, loginUserSQL, username)
	if errors.Is(err, sql.ErrNoRows) {
		_, _ = VerifyPassword(password, s.dummy())
		return User{}, errBadLogin()
	}
	if err != nil {
		return User{}, postgres.Translate(err)
	}
	ok, err := VerifyPassword(password, row.PasswordHash)
	if err != nil {
		return User{}, err
	}
	if !ok || row.DisabledAt != nil {
		return User{}, errBadLogin()
	}
	s.userLimits.succeeded(key)
	return row.User, nil
}

// dummy returns a hash with the configured cost, to verify against when the
// user does not exist.
func (s *Service) dummy() string {
	s.dummyOnce.Do(func() {
		h, err := hashPassword("procfin-dummy-password", s.cfg.Password)
		if err != nil {
			panic("auth: dummy hash: " + err.Error()) // parameters were validated in NewService
		}
		s.dummyHash = h
	})
	return s.dummyHash
}
