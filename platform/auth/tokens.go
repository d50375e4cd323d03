package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"procfin/platform/errs"
)

// accessTokenType is the JOSE "typ" of access tokens (RFC 9068), so a
// message the platform signs for a bank (typ pfin+jwt) is never taken for
// one.
const accessTokenType = "at+jwt"

// verifyLeeway is the clock skew allowed when checking exp, nbf and iat.
const verifyLeeway = 60 * time.Second

// maxTokenLen bounds the tokens VerifyToken parses.
const maxTokenLen = 8 << 10

// Principal is who a verified access token speaks for.
type Principal struct {
	UserID       string `json:"user_id"`
	Username     string `json:"username"`
	Role         Role   `json:"role"`
	SupplierUSCC string `json:"supplier_uscc,omitempty"`
	// PurchaserIssuerID and PurchaserID name the purchaser a purchaser
	// user acts for.
	PurchaserIssuerID string `json:"purchaser_issuer_id,omitempty"`
	PurchaserID       string `json:"purchaser_id,omitempty"`
}

// accessClaims are the claims of an access token.
type accessClaims struct {
	jwt.RegisteredClaims
	Role         Role   `json:"role"`
	Username     string `json:"username"`
	SupplierUSCC string `json:"supplier_uscc,omitempty"`
	// Gen is the user's token generation at issue; a token whose
	// generation is not the user's current one is revoked.
	Gen int64 `json:"gen,omitempty"`

	// PurchaserIssuerID and PurchaserID: purchaser users only.
	PurchaserIssuerID string `json:"purchaser_issuer_id,omitempty"`
	PurchaserID       string `json:"purchaser_id,omitempty"`
}

// IssueToken returns a signed access token for u and how long it is valid:
// an EdDSA JWT (typ at+jwt) with iss, aud, sub (the user id), iat, nbf, exp
// (now + TokenTTL), a random jti, and the claims role, username,
// supplier_uscc (suppliers only), purchaser_issuer_id and purchaser_id
// (purchasers only) and gen (the user's token generation). Returns internal (no signing key, a user
// without id or role) or unavailable.
func (s *Service) IssueToken(ctx context.Context, u User) (string, time.Duration, error) {
	if u.ID == "" || !u.Role.Valid() {
		return "", 0, errs.Wrap(errs.Internal, errors.New("IssueToken: user without id or valid role"), "internal")
	}
	now := s.now()
	iat := now.Truncate(time.Second) // JWT times are whole seconds
	exp := iat.Add(s.cfg.TokenTTL)
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", 0, errs.Wrap(errs.Internal, err, "internal")
	}
	claims := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.cfg.Issuer,
			Subject:   u.ID,
			Audience:  jwt.ClaimStrings{s.cfg.Audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(iat),
			IssuedAt:  jwt.NewNumericDate(iat),
			ID:        base64.RawURLEncoding.EncodeToString(jti[:]),
		},
		Role:         u.Role,
		Username:     u.Username,
		SupplierUSCC: u.SupplierUSCC,
		Gen:          u.TokenGeneration,

		PurchaserIssuerID: u.PurchaserIssuerID,
		PurchaserID:       u.PurchaserID,
	}
	token, err := s.Sign(ctx, claims, accessTokenType)
	if err != nil {
		return "", 0, err
	}
	return token, exp.Sub(now), nil
}

// Reasons a key cannot be found for a token.
var (
	errWrongType  = errors.New("not an access token")
	errMissingKid = errors.New("no kid")
	errUnknownKid = errors.New("unknown kid")
	errKeyAlg     = errors.New("algorithm does not match the key")
)

// VerifyToken checks an access token made by IssueToken and returns whom it
// speaks for. Only EdDSA is accepted; the key is the published platform key
// named by the header's kid; iss, aud, exp (required), nbf and iat are
// checked with 60 s of leeway; every part must be canonical base64url. A
// token verified once is remembered (verifiedTokens) for at most a minute
// and never past its expiry, and then needs only its key to be still
// published. Every time, remembered or not, the token's generation must be
// its user's current one and the user must not be disabled (revoke.go): a
// revoked token is refused at once.
//
// Returns token_invalid with a short reason safe to show ("token expired",
// "unknown signing key", "token revoked", ...) for any token it rejects;
// unavailable when the keys or the user's state cannot be loaded.
func (s *Service) VerifyToken(ctx context.Context, token string) (Principal, error) {
	if token == "" || len(token) > maxTokenLen {
		return Principal{}, errs.E(errs.InvalidToken, "malformed token")
	}
	now := s.now()
	if e, ok := s.verified.get(token, now); ok {
		if _, found, err := s.keys.lookup(ctx, e.kid, now); err != nil {
			return Principal{}, err
		} else if found {
			// No user changed since this token's user was checked (and
			// the process listened all along): nothing to look up.
			if s.states.unchangedSince(e.epoch) && now.Before(e.checkedUntil) {
				return e.p, nil
			}
			epoch := s.states.epoch.Load()
			if err := s.checkRevoked(ctx, e.p.UserID, e.gen); err != nil {
				return Principal{}, err
			}
			e.epoch, e.checkedUntil = epoch, now.Add(userStateTTL)
			s.verified.put(token, e, now)
			return e.p, nil
		}
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{algEdDSA}),
		jwt.WithAudience(s.cfg.Audience),
		jwt.WithIssuer(s.cfg.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(verifyLeeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
		// One token, one text: base64url whose unused bits are not zero
		// (another last character, the same bytes) is refused.
		jwt.WithStrictDecoding(),
	)
	var keyErr error // a failure to load the keys, not the token's fault
	var claims accessClaims
	var kid string
	_, err := parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != accessTokenType {
			return nil, errWrongType
		}
		kid, _ = t.Header["kid"].(string)
		if kid == "" {
			return nil, errMissingKid
		}
		k, found, err := s.keys.lookup(ctx, kid, now)
		if err != nil {
			keyErr = err
			return nil, err
		}
		if !found {
			return nil, errUnknownKid
		}
		if k.Alg != t.Method.Alg() || len(k.PublicKey) != ed25519.PublicKeySize {
			return nil, errKeyAlg
		}
		return ed25519.PublicKey(k.PublicKey), nil
	})
	if keyErr != nil {
		return Principal{}, keyErr
	}
	if err != nil {
		return Principal{}, errs.Wrap(errs.InvalidToken, err, "%s", tokenErrorReason(err))
	}
	p := Principal{
		UserID:       claims.Subject,
		Username:     claims.Username,
		Role:         claims.Role,
		SupplierUSCC: claims.SupplierUSCC,

		PurchaserIssuerID: claims.PurchaserIssuerID,
		PurchaserID:       claims.PurchaserID,
	}
	if p.UserID == "" || p.Username == "" || !p.Role.Valid() || (p.Role == RoleSupplier) != (p.SupplierUSCC != "") ||
		(p.Role == RolePurchaser) != (p.PurchaserID != "") || (p.PurchaserID != "") != (p.PurchaserIssuerID != "") {
		return Principal{}, errs.E(errs.InvalidToken, "token claims are incomplete")
	}
	epoch := s.states.epoch.Load()
	if err := s.checkRevoked(ctx, p.UserID, claims.Gen); err != nil {
		return Principal{}, err
	}
	until := now.Add(verifiedTTL)
	if exp := claims.ExpiresAt.Time.Add(verifyLeeway); exp.Before(until) {
		until = exp
	}
	s.verified.put(token, verifiedToken{p: p, kid: kid, gen: claims.Gen, until: until,
		epoch: epoch, checkedUntil: now.Add(userStateTTL)}, now)
	return p, nil
}

// checkRevoked refuses a token of generation gen that no longer speaks for
// its user.
func (s *Service) checkRevoked(ctx context.Context, userID string, gen int64) error {
	st, err := s.userState(ctx, userID)
	if err != nil {
		return err
	}
	if !st.active(gen) {
		return errs.E(errs.InvalidToken, "token revoked")
	}
	return nil
}

// tokenErrorReason turns a parse failure into a reason safe to show.
func tokenErrorReason(err error) string {
	switch {
	case errors.Is(err, errWrongType):
		return "not an access token"
	case errors.Is(err, errMissingKid):
		return "token has no key id"
	case errors.Is(err, errUnknownKid):
		return "unknown signing key"
	case errors.Is(err, errKeyAlg):
		return "token algorithm does not match its key"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "invalid token signature"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "token cannot be verified"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token issued in the future"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "token not meant for this service"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "token from an unknown issuer"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token lacks a required claim"
	}
	return "invalid token"
}
