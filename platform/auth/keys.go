package auth

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jmoiron/sqlx"

	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/postgres"
)

// algEdDSA is the JOSE name of the one signing algorithm the platform uses.
const algEdDSA = "EdDSA"

// How stale the in-memory key set may get, and how often an unknown kid may
// force a reload (so a flood of forged kids cannot hammer the database).
const (
	keyRefreshEvery     = 30 * time.Second
	keyMissRefreshEvery = 5 * time.Second
)

// signingKeysLock serializes key creation and rotation across replicas
// (a transaction-level advisory lock).
const signingKeysLock = 727275

// signingKey is a row of signing_keys.
type signingKey struct {
	Kid           string     `db:"kid"`
	Alg           string     `db:"alg"`
	PublicKey     []byte     `db:"public_key"`
	PrivateKeyEnc []byte     `db:"private_key_enc"`
	NotBefore     time.Time  `db:"not_before"`
	RetireAfter   *time.Time `db:"retire_after"`
}

// published reports whether the key is in the JWK Set at now.
func (k *signingKey) published(now time.Time) bool {
	return k.RetireAfter == nil || k.RetireAfter.After(now)
}

// mature reports whether the key may sign at now.
func (k *signingKey) mature(now time.Time) bool {
	return !k.NotBefore.After(now) && k.published(now)
}

// keyInfo describes a key in audit entries.
type keyInfo struct {
	Kid         string     `json:"kid" db:"kid"`
	Alg         string     `json:"alg" db:"alg"`
	NotBefore   time.Time  `json:"not_before" db:"not_before"`
	RetireAfter *time.Time `json:"retire_after" db:"retire_after"`
}

// keyCache is the in-memory copy of the published signing keys.
type keyCache struct {
	db *sqlx.DB

	mu       sync.Mutex
	keys     []signingKey // published when loaded, newest not_before first
	loaded   bool
	loadedAt time.Time
	missAt   time.Time // last reload forced by an unknown kid
}

const loadKeysSQL = `
SELECT kid, alg, public_key, private_key_enc, not_before, retire_after
FROM signing_keys
WHERE retire_after IS NULL OR retire_after > $1
ORDER BY not_before DESC, kid`

// loadLocked reloads the keys. If that fails and an older copy exists, the
// older copy stays in use (a database blip does not stop verification) and
// the next reload waits keyRefreshEvery.
func (c *keyCache) loadLocked(ctx context.Context, now time.Time) error {
	var keys []signingKey
	if err := c.db.SelectContext(ctx, &keys, loadKeysSQL, now); err != nil {
		if c.loaded {
			c.loadedAt = now
			return nil
		}
		return postgres.Translate(err)
	}
	c.keys, c.loaded, c.loadedAt = keys, true, now
	return nil
}

// all returns the cached keys, reloading them when stale.
func (c *keyCache) all(ctx context.Context, now time.Time) ([]signingKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded || now.Sub(c.loadedAt) >= keyRefreshEvery || now.Before(c.loadedAt) {
		if err := c.loadLocked(ctx, now); err != nil {
			return nil, err
		}
	}
	return c.keys, nil
}

// lookup returns the published key kid. An unknown kid reloads the keys, at
// most once per keyMissRefreshEvery.
func (c *keyCache) lookup(ctx context.Context, kid string, now time.Time) (signingKey, bool, error) {
	keys, err := c.all(ctx, now)
	if err != nil {
		return signingKey{}, false, err
	}
	if k, ok := findKey(keys, kid, now); ok {
		return k, true, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.missAt.IsZero() && now.Sub(c.missAt) < keyMissRefreshEvery && !now.Before(c.missAt) {
		return signingKey{}, false, nil
	}
	c.missAt = now
	if err := c.loadLocked(ctx, now); err != nil {
		return signingKey{}, false, err
	}
	k, ok := findKey(c.keys, kid, now)
	return k, ok, nil
}

func findKey(keys []signingKey, kid string, now time.Time) (signingKey, bool) {
	for _, k := range keys {
		if k.Kid == kid && k.published(now) {
			return k, true
		}
	}
	return signingKey{}, false
}

// signer returns the newest key that may sign at now. When the cache has
// none, it reloads once (another replica may have just created one).
func (c *keyCache) signer(ctx context.Context, now time.Time) (signingKey, error) {
	for attempt := 0; attempt < 2; attempt++ {
		if attempt == 1 {
			c.invalidate()
		}
		keys, err := c.all(ctx, now)
		if err != nil {
			return signingKey{}, err
		}
		for _, k := range keys {
			if k.mature(now) {
				return k, nil
			}
		}
	}
	return signingKey{}, errs.Wrap(errs.Internal, fmt.Errorf("no signing key; EnsureSigningKey was not run"), "internal")
}

// invalidate makes the next use reload the keys.
func (c *keyCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loaded = false
}

// newSigningKey makes an Ed25519 key with kid = the first 16 characters of
// base64url(SHA-256(public key)), its private seed sealed under masterKey.
func newSigningKey(masterKey []byte, notBefore time.Time) (signingKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return signingKey{}, err
	}
	sum := sha256.Sum256(pub)
	kid := base64.RawURLEncoding.EncodeToString(sum[:])[:16]
	enc, err := sealPrivateKey(masterKey, priv.Seed(), kid)
	if err != nil {
		return signingKey{}, err
	}
	return signingKey{Kid: kid, Alg: algEdDSA, PublicKey: pub, PrivateKeyEnc: enc, NotBefore: notBefore}, nil
}

const (
	lockSigningKeysSQL = `SELECT pg_advisory_xact_lock($1)`
	usableKeyExistsSQL = `
SELECT EXISTS (
    SELECT 1 FROM signing_keys
    WHERE not_before <= $1 AND (retire_after IS NULL OR retire_after > $1))`
	insertKeySQL = `
INSERT INTO signing_keys (kid, alg, public_key, private_key_enc, not_before)
VALUES (:kid, :alg, :public_key, :private_key_enc, :not_before)`
	retireKeysSQL = `
UPDATE signing_keys SET retire_after = $1
WHERE retire_after IS NULL
RETURNING kid, alg, not_before`
)

func insertKey(ctx context.Context, tx *postgres.Tx, k signingKey) error {
	_, err := tx.NamedExecContext(ctx, insertKeySQL, k)
	return postgres.Translate(err)
}

// EnsureSigningKey creates a signing key, signing from now on, when no key
// may sign now (recorded in the audit log as "signing_key.created" by
// "system"); at startup it makes the service able to issue tokens. It also
// checks that the master key decrypts the current key. Returns internal (a
// wrong master key included) or unavailable.
func (s *Service) EnsureSigningKey(ctx context.Context) error {
	now := s.now().UTC().Truncate(time.Microsecond)
	err := postgres.Transact(ctx, s.db, func(tx *postgres.Tx) error {
		if _, err := tx.ExecContext(ctx, lockSigningKeysSQL, signingKeysLock); err != nil {
			return postgres.Translate(err)
		}
		var exists bool
		if err := tx.GetContext(ctx, &exists, usableKeyExistsSQL, now); err != nil {
			return postgres.Translate(err)
		}
		if exists {
			return nil
		}
		k, err := newSigningKey(s.cfg.MasterKey, now)
		if err != nil {
			return errs.Wrap(errs.Internal, err, "internal")
		}
		if err := insertKey(ctx, tx, k); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{
			Actor:      "system",
			Action:     "signing_key.created",
			EntityType: "signing_key",
			EntityID:   k.Kid,
			After:      keyInfo{Kid: k.Kid, Alg: k.Alg, NotBefore: k.NotBefore},
		})
	})
	if err != nil {
		return err
	}
	s.keys.invalidate()
	k, err := s.keys.signer(ctx, now)
	if err != nil {
		return err
	}
	if _, err := openPrivateKey(s.cfg.MasterKey, k.PrivateKeyEnc, k.Kid); err != nil {
		return errs.Wrap(errs.Internal, err, "internal")
	}
	return nil
}

// RotateSigningKey creates a new signing key and returns its kid. The new
// key is published at once but signs only from now + RotationLead, so
// verifiers learn it first; every older key still published gets
// retire_after = that instant + TokenTTL + 5 minutes, when everything it
// signed has expired. The rotation is recorded in the audit log as done by
// actor. Returns internal or unavailable.
func (s *Service) RotateSigningKey(ctx context.Context, actor string) (string, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	k, err := newSigningKey(s.cfg.MasterKey, now.Add(s.cfg.RotationLead))
	if err != nil {
		return "", errs.Wrap(errs.Internal, err, "internal")
	}
	retireAt := k.NotBefore.Add(s.cfg.TokenTTL + retireMargin)
	err = postgres.Transact(ctx, s.db, func(tx *postgres.Tx) error {
		if _, err := tx.ExecContext(ctx, lockSigningKeysSQL, signingKeysLock); err != nil {
			return postgres.Translate(err)
		}
		var before []keyInfo
		if err := tx.SelectContext(ctx, &before, retireKeysSQL, retireAt); err != nil {
			return postgres.Translate(err)
		}
		if err := insertKey(ctx, tx, k); err != nil {
			return err
		}
		after := struct {
			New      keyInfo   `json:"new"`
			Retiring []keyInfo `json:"retiring"`
		}{New: keyInfo{Kid: k.Kid, Alg: k.Alg, NotBefore: k.NotBefore}}
		for _, b := range before {
			b.RetireAfter = &retireAt
			after.Retiring = append(after.Retiring, b)
		}
		var auditBefore any
		if len(before) > 0 {
			auditBefore = before
		}
		return audit.Record(ctx, tx, audit.Entry{
			Actor:      actor,
			Action:     "signing_key.rotated",
			EntityType: "signing_key",
			EntityID:   k.Kid,
			Before:     auditBefore,
			After:      after,
		})
	})
	if err != nil {
		return "", postgres.Translate(err)
	}
	s.keys.invalidate()
	return k.Kid, nil
}

// JWK is a public key in RFC 7517 form (here always an Ed25519 OKP key,
// RFC 8037).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKSet is an RFC 7517 JWK Set, served at /.well-known/jwks.json.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns the platform's published public keys, newest first: every key
// not yet past its retire_after, including one that does not sign yet.
// Returns internal or unavailable.
func (s *Service) JWKS(ctx context.Context) (JWKSet, error) {
	now := s.now()
	keys, err := s.keys.all(ctx, now)
	if err != nil {
		return JWKSet{}, err
	}
	set := JWKSet{Keys: []JWK{}}
	for _, k := range keys {
		if !k.published(now) {
			continue
		}
		set.Keys = append(set.Keys, JWK{
			Kty: "OKP",
			Crv: "Ed25519",
			X:   base64.RawURLEncoding.EncodeToString(k.PublicKey),
			Kid: k.Kid,
			Alg: k.Alg,
			Use: "sig",
		})
	}
	return set, nil
}

// Sign signs claims as a compact JWS with the newest key that may sign now
// (alg EdDSA, header kid set, header typ set to typ when typ is not empty,
// else "JWT"): the access tokens. Returns internal (no signing key, see
// EnsureSigningKey) or unavailable.
func (s *Service) Sign(ctx context.Context, claims jwt.Claims, typ string) (string, error) {
	kid, priv, err := s.signingKey(ctx)
	if err != nil {
		return "", err
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = kid
	if typ != "" {
		t.Header["typ"] = typ
	}
	signed, err := t.SignedString(priv)
	if err != nil {
		return "", errs.Wrap(errs.Internal, err, "internal")
	}
	return signed, nil
}

// SigningKey returns the newest key that may sign now and its kid in the
// published JWK Set: procfin's messages to banks are signed with it
// (signature.Signer's Keys). Returns internal (no signing key, see
// EnsureSigningKey) or unavailable.
func (s *Service) SigningKey(ctx context.Context) (string, crypto.Signer, error) {
	kid, priv, err := s.signingKey(ctx)
	if err != nil {
		return "", nil, err
	}
	return kid, priv, nil
}

func (s *Service) signingKey(ctx context.Context) (string, ed25519.PrivateKey, error) {
	k, err := s.keys.signer(ctx, s.now())
	if err != nil {
		return "", nil, err
	}
	priv, err := s.private(k)
	if err != nil {
		return "", nil, err
	}
	return k.Kid, priv, nil
}

// private returns k's private key, opened with the master key the first
// time and kept (in memory only) from then on. A kid names one key for
// good, so its sealed bytes are part of the name kept under.
func (s *Service) private(k signingKey) (ed25519.PrivateKey, error) {
	name := k.Kid + "\x00" + string(k.PrivateKeyEnc)
	if priv, ok := s.privates.Load(name); ok {
		return priv.(ed25519.PrivateKey), nil
	}
	seed, err := openPrivateKey(s.cfg.MasterKey, k.PrivateKeyEnc, k.Kid)
	if err != nil {
		return nil, errs.Wrap(errs.Internal, err, "internal")
	}
	if len(seed) != ed25519.SeedSize {
		return nil, errs.Wrap(errs.Internal, fmt.Errorf("signing key %s: bad seed length %d", k.Kid, len(seed)), "internal")
	}
	priv := ed25519.NewKeyFromSeed(seed)
	s.privates.Store(name, priv)
	return priv, nil
}
