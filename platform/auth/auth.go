// Package auth owns who may use procfin and how they prove it: user accounts
// (the users table) with argon2id password hashes, login with back-off per
// username and address and a rate limit per address, the platform's own Ed25519 signing keys (the
// signing_keys table, private keys encrypted under the master key) with
// their rotation and public JWK Set, and the short-lived EdDSA access tokens
// issued at login and verified on every request.
//
// Access tokens can be revoked: each carries its user's token generation,
// which disabling the user or changing their password raises, and
// VerifyToken compares it with the user's on every request through a
// per-process cache kept current by PostgreSQL notifications (revoke.go),
// so a revocation takes effect at once in every process.
//
// Errors are *errs.Error values; each function's doc comment lists the codes
// it returns. Unexpected failures are errs.Internal (or errs.Unavailable when
// the database cannot be reached).
package auth

import (
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// Config configures a Service. Zero fields take the defaults below.
type Config struct {
	Issuer       string        // "iss" of issued tokens; default "procfin"
	Audience     string        // "aud" of issued tokens; default "procfin-api"
	TokenTTL     time.Duration // access token lifetime; default 15m
	RotationLead time.Duration // a new key is published this long before it signs; default 10m

	// MasterKey encrypts the signing keys' private halves: exactly 32 bytes
	// (see LoadOrCreateMasterKey). Required.
	MasterKey []byte

	Password PasswordParams // argon2id cost of new hashes; default DefaultPasswordParams

	// LoginPerMinute is how many failed logins of one username from one
	// address pass before back-off (1 s, doubling to 15 min, until a
	// success); default 10. Other addresses are not slowed, so nobody can
	// lock a user out.
	LoginPerMinute        int
	LoginPerMinutePerAddr int // login attempts per remote address per minute (and burst); default 30
}

// Defaults for Config.
const (
	DefaultIssuer                = "procfin"
	DefaultAudience              = "procfin-api"
	DefaultTokenTTL              = 15 * time.Minute
	DefaultRotationLead          = 10 * time.Minute
	DefaultLoginPerMinute        = 10
	DefaultLoginPerMinutePerAddr = 30
)

// retireMargin is how long a replaced key stays published after the last
// token it may have signed expires: it covers clock skew and verification
// leeway.
const retireMargin = 5 * time.Minute

// Service is the auth service. It is safe for concurrent use.
type Service struct {
	db  *sqlx.DB
	cfg Config
	now func() time.Time

	keys     *keyCache
	verified verifiedTokens
	states   userStates // users' token generations, for revocation (revoke.go)
	// privates holds each signing key opened (kid → ed25519.PrivateKey),
	// so that Sign decrypts and expands a key once, not per signature.
	privates sync.Map

	userLimits *backoffSet // per (username, address)
	addrLimits *limiterSet // per address

	dummyOnce sync.Once
	dummyHash string
}

// NewService returns a Service using db. A nil now means time.Now. It
// returns an error when the configuration is unusable (a master key that is
// not 32 bytes, negative durations or limits, bad password parameters).
func NewService(db *sqlx.DB, cfg Config, now func() time.Time) (*Service, error) {
	if db == nil {
		return nil, fmt.Errorf("auth: nil database")
	}
	if now == nil {
		now = time.Now
	}
	if len(cfg.MasterKey) != masterKeySize {
		return nil, fmt.Errorf("auth: master key must be %d bytes, got %d", masterKeySize, len(cfg.MasterKey))
	}
	cfg.MasterKey = append([]byte(nil), cfg.MasterKey...)
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.TokenTTL < 0 || cfg.RotationLead < 0 {
		return nil, fmt.Errorf("auth: token TTL and rotation lead must not be negative")
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.RotationLead == 0 {
		cfg.RotationLead = DefaultRotationLead
	}
	if cfg.LoginPerMinute < 0 || cfg.LoginPerMinutePerAddr < 0 {
		return nil, fmt.Errorf("auth: login rate limits must not be negative")
	}
	if cfg.LoginPerMinute == 0 {
		cfg.LoginPerMinute = DefaultLoginPerMinute
	}
	if cfg.LoginPerMinutePerAddr == 0 {
		cfg.LoginPerMinutePerAddr = DefaultLoginPerMinutePerAddr
	}
	cfg.Password = cfg.Password.withDefaults()
	if err := cfg.Password.validate(); err != nil {
		return nil, fmt.Errorf("auth: password parameters: %w", err)
	}
	s := &Service{
		db:         db,
		cfg:        cfg,
		now:        now,
		userLimits: newBackoffSet(cfg.LoginPerMinute, maxLimiterEntries),
		addrLimits: newLimiterSet(cfg.LoginPerMinutePerAddr, maxLimiterEntries),
	}
	s.keys = &keyCache{db: db}
	return s, nil
}
