package signature

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jmoiron/sqlx"

	"procfin/platform/errs"
)

// HeaderName is the HTTP header that carries a signed message's JWT.
const HeaderName = "Procfin-Signature"

// TokenType is the JOSE "typ" of a signed message, so that no other JWT
// (an access token, say) is ever taken for one.
const TokenType = "pfin+jwt"

// The protocol's limits.
const (
	maxHeaderLen = 8 << 10
	maxLifetime  = 300 * time.Second // exp - iat
	clockSkew    = 60 * time.Second
	maxJTILen    = 256
)

// Reasons a message is rejected: stable codes for metrics and logs (see
// Verifier.OnReject and RejectReason). The client sees only the error's
// message.
const (
	ReasonMissing       = "missing"        // no Procfin-Signature header
	ReasonMalformed     = "malformed"      // not a compact JWS, too large, no kid, bad JSON
	ReasonUnknownSender = "unknown_sender" // iss is not a registered sender (shown as "unknown key id")
	ReasonUnknownKid    = "unknown_kid"    // the sender has no key by that kid
	ReasonAlg           = "alg"            // alg not allowed (none, HMAC, not the sender's, not the key's)
	ReasonTyp           = "typ"            // typ is not pfin+jwt
	ReasonClaims        = "claims"         // a required claim is missing or wrong (aud, iss, jti)
	ReasonExpired       = "expired"        // past exp, or iat in the future (beyond 60 s skew)
	ReasonLifetime      = "lifetime"       // exp - iat over 300 s, or not positive
	ReasonHTM           = "htm"            // htm is not the request's method
	ReasonHTU           = "htu"            // htu is not the request's URL
	ReasonBSH           = "bsh"            // bsh is not the body's hash
	ReasonReplay        = "replay"         // (iss, jti) accepted before
	ReasonBadSignature  = "bad_signature"  // the signature does not verify
	ReasonKeysExpired   = "keys_expired"   // the keys read from the sender's JWKS URL are past their hard expiry
)

// RejectError is the (never shown) cause of a signature_invalid error: the
// stable reason code.
type RejectError struct{ Reason string }

func (e *RejectError) Error() string { return "signature rejected: " + e.Reason }

// RejectReason returns the reason code of an error Verify returned, or ""
// when err is not a rejection.
func RejectReason(err error) string {
	var r *RejectError
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

// Sender is a registered sender of signed messages (an issuer system or a
// partner bank) as the caller's registry knows it.
type Sender struct {
	ID string
	// Algorithms are those the sender may use; only the protocol's four
	// count. Empty means all four (each key still verifies only the
	// algorithms of its type and its own alg member).
	Algorithms []string
	// JWKS holds the inline keys (may be empty).
	JWKS JWKS
	// JWKSURL is where the sender publishes its keys (may be empty).
	JWKSURL string
	// Version identifies the registration (a hash of it, say). The Verifier
	// re-reads a sender's keys when Version or the registration changes.
	Version string
}

// SenderLookup returns the registered sender with the id, or an error with
// code not_found when there is none (any other error is passed on).
type SenderLookup func(ctx context.Context, senderID string) (Sender, error)

// Request is what Verify needs of a received HTTP request.
type Request struct {
	Header string // the Procfin-Signature header's value
	Method string
	// URL is the receiver's public URL of the route, scheme://host/path, as
	// the sender addressed it (the caller computes it; any query or
	// fragment is ignored).
	URL  string
	Body []byte // the exact body bytes received
}

// Claims are a verified message's claims.
type Claims struct {
	Issuer    string // the sender id
	KeyID     string
	Algorithm string
	JTI       string
	IssuedAt  time.Time
	ExpiresAt time.Time
	Method    string // htm
	URL       string // htu
	BodyHash  string // bsh
}

// messageClaims are the claims of a signed message as JSON.
type messageClaims struct {
	jwt.RegisteredClaims
	HTM string `json:"htm"`
	HTU string `json:"htu"`
	BSH string `json:"bsh"`
}

// Verifier checks signed messages. It caches each sender's keys and notices
// a changed registration. It is safe for concurrent use.
type Verifier struct {
	// OnReject, when set (before first use), is called with the reason code
	// of each rejected message, for metrics.
	OnReject func(reason string)

	audience string
	lookup   SenderLookup
	cfg      config
	replay   ReplayStore

	mu      sync.Mutex
	senders map[string]*senderKeys
}

// senderKeys is the cached key set of one sender registration.
type senderKeys struct {
	fingerprint string
	keys        *KeySet
}

// NewVerifier returns a verifier of messages addressed to audience (for
// procfin: "procfin"), finding senders with lookup and remembering seen
// messages in db's seen_messages table (or in the WithReplayStore store, in
// which case db may be nil). It panics on a missing audience, lookup or
// store: a programming error.
func NewVerifier(db *sqlx.DB, audience string, lookup SenderLookup, opts ...Option) *Verifier {
	cfg := newConfig(opts)
	if cfg.replay == nil && db != nil {
		cfg.replay = NewDBReplayStore(db)
	}
	if audience == "" || lookup == nil || cfg.replay == nil {
		panic("signature.NewVerifier: audience, lookup and a db or replay store are required")
	}
	return &Verifier{audience: audience, lookup: lookup, cfg: cfg, replay: cfg.replay, senders: map[string]*senderKeys{}}
}

// reject returns the signature_invalid error for reason, with a message
// safe to show to the client.
func (v *Verifier) reject(reason, format string, args ...any) error {
	if v.OnReject != nil {
		v.OnReject(reason)
	}
	return errs.Wrap(errs.SignatureInvalid, &RejectError{Reason: reason}, format, args...)
}

// Verify checks a signed message and returns its claims. The checks run
// cheapest first: the header's size and shape, alg, typ and kid, every
// required claim, the lifetime and time window, aud, htm, htu and bsh;
// then the sender (iss), its algorithm allow-list, the key by kid (a
// JWKS URL may be re-read) and the signature; last, the replay check, which
// consumes the jti for good, whatever the caller then does with the
// message.
//
// Returns signature_invalid, with a short reason safe to show, for any
// message it rejects (an unknown sender looks like an unknown key id);
// unavailable (or internal) when a sender's keys, the registry or the
// database cannot be reached.
func (v *Verifier) Verify(ctx context.Context, r Request) (Claims, error) {
	claims, seen, err := v.VerifyDeferred(ctx, r)
	if err != nil {
		return Claims{}, err
	}
	if err := v.Consume(ctx, nil, seen); err != nil {
		return Claims{}, err
	}
	return claims, nil
}

// Seen is a verified message not yet consumed: its sender and jti, and how
// long to remember them.
type Seen struct {
	sender, jti string
	keep, now   time.Time
}

// Consume remembers a verified message, with q (the caller's transaction)
// when the store can (TxReplayStore) and q is not nil, else on its own. A
// message seen before is signature_invalid (reason replay).
func (v *Verifier) Consume(ctx context.Context, q sqlx.QueryerContext, s Seen) error {
	var fresh bool
	var err error
	if txs, ok := v.replay.(TxReplayStore); ok && q != nil {
		fresh, err = txs.RememberIn(ctx, q, s.sender, s.jti, s.keep, s.now)
	} else {
		fresh, err = v.replay.Remember(ctx, s.sender, s.jti, s.keep, s.now)
	}
	if err != nil {
		return err
	}
	if !fresh {
		return v.reject(ReasonReplay, "message replayed")
	}
	return nil
}

// ConsumeMany is Consume for several messages with q, in one statement
// when the store can (TxReplayStore): refused[i] is nil when ss[i] was
// fresh and is now consumed, and its signature_invalid (reason replay)
// when it was seen before, or earlier in ss. err is a failure of the
// store: with a TxReplayStore nothing was consumed, else those before the
// failure were.
func (v *Verifier) ConsumeMany(ctx context.Context, q sqlx.QueryerContext, ss []Seen) (refused []error, err error) {
	refused = make([]error, len(ss))
	txs, ok := v.replay.(TxReplayStore)
	if !ok || q == nil {
		for i, s := range ss {
			if err := v.Consume(ctx, q, s); err != nil {
				if RejectReason(err) == "" {
					return nil, err
				}
				refused[i] = err
			}
		}
		return refused, nil
	}
	fresh, err := txs.RememberManyIn(ctx, q, ss)
	if err != nil {
		return nil, err
	}
	for i, ok := range fresh {
		if !ok {
			refused[i] = v.reject(ReasonReplay, "message replayed")
		}
	}
	return refused, nil
}

// VerifyDeferred is Verify but for the replay check, which the caller runs
// with Consume in the transaction that acts on the message, so that the
// message is consumed if and only if that commits, in the same commit; and,
// if that transaction fails, with Consume on its own (q nil), so that the
// message is consumed whatever became of it. Until consumed, the message
// is not yet known to be fresh: act on it only in that transaction.
func (v *Verifier) VerifyDeferred(ctx context.Context, r Request) (Claims, Seen, error) {
	now := v.cfg.now()
	if r.Header == "" {
		return Claims{}, Seen{}, v.reject(ReasonMissing, "signature header missing")
	}
	if len(r.Header) > maxHeaderLen {
		return Claims{}, Seen{}, v.reject(ReasonMalformed, "signature header too large")
	}
	hdr, mc, err := peek(r.Header)
	if err != nil {
		return Claims{}, Seen{}, v.reject(ReasonMalformed, "signature header malformed")
	}
	alg, _ := hdr["alg"].(string)
	if !slices.Contains(Algorithms, alg) {
		return Claims{}, Seen{}, v.reject(ReasonAlg, "algorithm not allowed")
	}
	if typ, _ := hdr["typ"].(string); typ != TokenType {
		return Claims{}, Seen{}, v.reject(ReasonTyp, "typ must be %s", TokenType)
	}
	kid, _ := hdr["kid"].(string)
	if kid == "" {
		return Claims{}, Seen{}, v.reject(ReasonMalformed, "key id (kid) missing")
	}
	if _, ok := hdr["crit"]; ok {
		return Claims{}, Seen{}, v.reject(ReasonMalformed, "critical header parameters are not supported")
	}
	if reason, msg := v.checkClaims(mc, r, now); reason != "" {
		return Claims{}, Seen{}, v.reject(reason, "%s", msg)
	}

	sender, err := v.lookup(ctx, mc.Issuer)
	if errs.Is(err, errs.NotFound) || err == nil && sender.ID != mc.Issuer {
		return Claims{}, Seen{}, v.reject(ReasonUnknownSender, "unknown key id")
	}
	if err != nil {
		return Claims{}, Seen{}, err
	}
	allowed := Algorithms
	if len(sender.Algorithms) > 0 {
		allowed = intersect(Algorithms, sender.Algorithms)
	}
	if !slices.Contains(allowed, alg) {
		return Claims{}, Seen{}, v.reject(ReasonAlg, "algorithm not allowed for this sender")
	}
	keys, err := v.keysOf(sender)
	if err != nil {
		return Claims{}, Seen{}, err
	}
	key, ok, err := keys.Key(ctx, kid)
	if errors.Is(err, errKeysExpired) {
		return Claims{}, Seen{}, v.reject(ReasonKeysExpired, "the sender's keys have expired and cannot be read now")
	}
	if err != nil {
		return Claims{}, Seen{}, err
	}
	if !ok {
		return Claims{}, Seen{}, v.reject(ReasonUnknownKid, "unknown key id")
	}
	if !key.allows(alg) {
		return Claims{}, Seen{}, v.reject(ReasonAlg, "algorithm does not match the key")
	}

	parser := jwt.NewParser(
		jwt.WithValidMethods(allowed),
		jwt.WithAudience(v.audience),
		jwt.WithIssuer(sender.ID),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(clockSkew),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithStrictDecoding(),
	)
	var verified messageClaims
	_, err = parser.ParseWithClaims(r.Header, &verified, func(t *jwt.Token) (any, error) {
		if t.Method.Alg() != alg {
			return nil, errors.New("alg changed between parses")
		}
		return key.PublicKey(), nil
	})
	if err != nil {
		// The cheap checks above already passed on the same bytes, so this
		// is, in practice, the signature.
		switch {
		case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenNotValidYet):
			return Claims{}, Seen{}, v.reject(ReasonExpired, "message expired or not yet valid")
		case errors.Is(err, jwt.ErrTokenInvalidClaims):
			return Claims{}, Seen{}, v.reject(ReasonClaims, "claims invalid")
		case errors.Is(err, jwt.ErrTokenMalformed):
			return Claims{}, Seen{}, v.reject(ReasonMalformed, "signature header malformed")
		}
		return Claims{}, Seen{}, v.reject(ReasonBadSignature, "signature does not verify")
	}
	if verified.ID != mc.ID || verified.Issuer != mc.Issuer {
		return Claims{}, Seen{}, v.reject(ReasonMalformed, "signature header malformed")
	}

	exp := mc.ExpiresAt.Time
	keep := now.Add(replayWindow)
	if e := exp.Add(clockSkew); e.After(keep) {
		keep = e
	}
	return Claims{
		Issuer:    mc.Issuer,
		KeyID:     kid,
		Algorithm: alg,
		JTI:       mc.ID,
		IssuedAt:  mc.IssuedAt.Time,
		ExpiresAt: exp,
		Method:    mc.HTM,
		URL:       mc.HTU,
		BodyHash:  mc.BSH,
	}, Seen{sender: mc.Issuer, jti: mc.ID, keep: keep, now: now}, nil
}

// PurgeSeen forgets the seen messages that expired more than 10 minutes ago
// and returns how many. Run it now and then. Returns unavailable or
// internal on a database failure.
func (v *Verifier) PurgeSeen(ctx context.Context) (int64, error) {
	return v.replay.Purge(ctx, v.cfg.now().Add(-replayWindow))
}

// checkClaims runs the checks that need neither the sender nor the key. It
// returns a reason code and a message, or "" when all pass.
func (v *Verifier) checkClaims(mc messageClaims, r Request, now time.Time) (reason, msg string) {
	for _, c := range []struct {
		name    string
		missing bool
	}{
		{"iss", mc.Issuer == ""},
		{"aud", len(mc.Audience) == 0},
		{"iat", mc.IssuedAt == nil},
		{"exp", mc.ExpiresAt == nil},
		{"jti", mc.ID == ""},
		{"htm", mc.HTM == ""},
		{"htu", mc.HTU == ""},
		{"bsh", mc.BSH == ""},
	} {
		if c.missing {
			return ReasonClaims, "claim " + c.name + " missing"
		}
	}
	if len(mc.ID) > maxJTILen {
		return ReasonClaims, "jti too long"
	}
	iat, exp := mc.IssuedAt.Time, mc.ExpiresAt.Time
	if life := exp.Sub(iat); life <= 0 || life > maxLifetime {
		return ReasonLifetime, "exp - iat must be more than 0 and at most 300 s"
	}
	if !now.Before(exp.Add(clockSkew)) {
		return ReasonExpired, "message expired"
	}
	if now.Before(iat.Add(-clockSkew)) {
		return ReasonExpired, "message issued in the future"
	}
	if !slices.Contains(mc.Audience, v.audience) {
		return ReasonClaims, "audience does not match"
	}
	if mc.HTM != r.Method {
		return ReasonHTM, "htm does not match the request method"
	}
	want, ok1 := normalizeURL(r.URL)
	got, ok2 := normalizeURL(mc.HTU)
	if !ok1 || !ok2 || want != got {
		return ReasonHTU, "htu does not match the request URL"
	}
	if subtle.ConstantTimeCompare([]byte(mc.BSH), []byte(BodyHash(r.Body))) != 1 {
		return ReasonBSH, "body hash mismatch"
	}
	return "", ""
}

// keysOf returns the cached key set of the sender's current registration.
func (v *Verifier) keysOf(s Sender) (*KeySet, error) {
	fp, err := fingerprint(s)
	if err != nil {
		return nil, errs.Wrap(errs.Internal, err, "internal")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.senders[s.ID]; ok && e.fingerprint == fp {
		return e.keys, nil
	}
	ks, err := NewKeySet(s.JWKS, s.JWKSURL, WithClock(v.cfg.now), WithHTTPClient(v.cfg.client), WithURLPolicy(v.cfg.urls),
		WithJWKSMaxAge(v.cfg.maxAge), WithJWKSHardExpiry(v.cfg.hardExpiry))
	if err != nil {
		return nil, errs.Wrap(errs.Internal, fmt.Errorf("sender %s: bad registration: %w", s.ID, err), "internal")
	}
	v.senders[s.ID] = &senderKeys{fingerprint: fp, keys: ks}
	return ks, nil
}

// fingerprint identifies a registration: its Version and its content, so a
// caller that forgets to change Version still gets its new keys used.
func fingerprint(s Sender) (string, error) {
	b, err := json.Marshal(struct {
		Version string
		JWKS    JWKS
		URL     string
	}{s.Version, s.JWKS, s.JWKSURL})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return string(sum[:]), nil
}

// BodyHash returns the protocol's bsh of body: base64url, unpadded, of its
// SHA-256.
func BodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// peek decodes the JOSE header and claims without verifying anything.
func peek(token string) (map[string]any, messageClaims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, messageClaims{}, errors.New("not a compact JWS")
	}
	var hdr map[string]any
	b, err := b64(parts[0])
	if err != nil {
		return nil, messageClaims{}, err
	}
	if err := json.Unmarshal(b, &hdr); err != nil || hdr == nil {
		return nil, messageClaims{}, errors.New("bad header")
	}
	var mc messageClaims
	if b, err = b64(parts[1]); err != nil {
		return nil, messageClaims{}, err
	}
	if err := json.Unmarshal(b, &mc); err != nil {
		return nil, messageClaims{}, err
	}
	if _, err := b64(parts[2]); err != nil {
		return nil, messageClaims{}, err
	}
	return hdr, mc, nil
}

// normalizeURL reduces an http(s) URL to scheme://host[:port]/path as RFC
// 9449 compares htu: scheme and host lower-case, default port dropped, an
// empty path taken as "/", query and fragment ignored, the path compared
// exactly.
func normalizeURL(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		port = ""
	}
	if port != "" || strings.Contains(host, ":") {
		host = net.JoinHostPort(host, port)
		if port == "" {
			host = strings.TrimSuffix(host, ":")
		}
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, true
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
