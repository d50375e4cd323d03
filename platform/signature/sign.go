package signature

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MessageLifetime is exp - iat of the messages a Signer makes.
const MessageLifetime = 5 * time.Minute

// Signer makes every signed message: procfin's to banks (the relay's, with
// the platform's rotating key), the sandbox bank's and test issuers' to
// procfin (with a key of their own).
type Signer struct {
	ID    string // iss: the sender id
	KeyID string // kid: the key's id in the sender's JWK Set
	// Key is an Ed25519, P-256 ECDSA or RSA (≥ 2048 bits) private key, or
	// any crypto.Signer for one (an HSM, a KMS).
	Key crypto.Signer
	// Keys, when set, gives the key and its kid at each signing, in place
	// of KeyID and Key: a sender whose keys rotate (procfin's own, held by
	// platform/auth).
	Keys SigningKeys
	// Algorithm is EdDSA, ES256, PS256 or RS256; empty picks EdDSA, ES256
	// or PS256 by the key's type.
	Algorithm string
}

// SigningKeys gives the key a sender signs with now, and its kid in the
// sender's published JWK Set.
type SigningKeys interface {
	SigningKey(ctx context.Context) (kid string, key crypto.Signer, err error)
}

// StaticKey is a key that does not rotate, as SigningKeys.
type StaticKey struct {
	KeyID string
	Key   crypto.Signer
}

func (k StaticKey) SigningKey(context.Context) (string, crypto.Signer, error) {
	return k.KeyID, k.Key, nil
}

// algorithm returns the algorithm to sign with key, checked against it.
func (s Signer) algorithm(key crypto.Signer) (string, error) {
	if key == nil {
		return "", errors.New("signature: Signer has no key")
	}
	k := JWK{pub: key.Public()}
	alg := s.Algorithm
	if alg == "" {
		algs := k.algorithms()
		if len(algs) == 0 {
			return "", errors.New("signature: unsupported key type")
		}
		alg = algs[0] // PS256 before RS256 for RSA keys
	}
	if !k.allows(alg) {
		return "", fmt.Errorf("signature: algorithm %q does not suit the key", alg)
	}
	return alg, nil
}

// Sign returns the Procfin-Signature header value for a request: a JWT with
// header alg, kid and typ pfin+jwt, and the claims iss, aud (audience), iat
// (now, whole seconds), exp (iat + 5 minutes), jti (128 random bits,
// base64url), htm (method), htu (url without query or fragment) and bsh
// (BodyHash of body). It fails only on a misconfigured Signer or a bad url.
func (s Signer) Sign(method, rawURL, audience string, body []byte, now time.Time) (string, error) {
	return s.SignContext(context.Background(), method, rawURL, audience, body, now)
}

// SignContext is Sign, asking the Signer's Keys, if set, under ctx for the
// key to sign with: it fails too when they do, with their error.
func (s Signer) SignContext(ctx context.Context, method, rawURL, audience string, body []byte, now time.Time) (string, error) {
	keys := s.Keys
	if keys == nil {
		keys = StaticKey{KeyID: s.KeyID, Key: s.Key}
	}
	kid, key, err := keys.SigningKey(ctx)
	if err != nil {
		return "", err
	}
	if s.ID == "" || kid == "" || audience == "" || method == "" {
		return "", errors.New("signature: Sign needs a sender id, key id, audience and method")
	}
	alg, err := s.algorithm(key)
	if err != nil {
		return "", err
	}
	htu, err := stripQuery(rawURL)
	if err != nil {
		return "", err
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("signature: %w", err)
	}
	iat := now.Truncate(time.Second)
	claims := jwt.MapClaims{
		"iss": s.ID,
		"aud": audience,
		"iat": iat.Unix(),
		"exp": iat.Add(MessageLifetime).Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti[:]),
		"htm": method,
		"htu": htu,
		"bsh": BodyHash(body),
	}
	t := jwt.NewWithClaims(signerMethod{alg: alg}, claims)
	t.Header["kid"] = kid
	t.Header["typ"] = TokenType
	signed, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("signature: sign: %w", err)
	}
	return signed, nil
}

// stripQuery returns an absolute http(s) URL without its query and
// fragment.
func stripQuery(raw string) (string, error) {
	if _, ok := normalizeURL(raw); !ok {
		return "", fmt.Errorf("signature: %q is not an absolute http(s) URL", raw)
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] == '?' || raw[i] == '#' {
			return raw[:i], nil
		}
	}
	return raw, nil
}

// PublicJWK returns the signer's public key as a JWK with its kid, alg (when
// the Signer names one) and use "sig". It fails for an unsupported key.
func (s Signer) PublicJWK() (JWK, error) {
	if s.Key == nil {
		return JWK{}, errors.New("signature: Signer has no key")
	}
	k := JWK{Kid: s.KeyID, Alg: s.Algorithm, Use: "sig"}
	switch pub := s.Key.Public().(type) {
	case ed25519.PublicKey:
		k.Kty, k.Crv, k.X = "OKP", "Ed25519", base64.RawURLEncoding.EncodeToString(pub)
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return JWK{}, errors.New("signature: EC keys must be on P-256")
		}
		b, err := pub.Bytes()
		if err != nil {
			return JWK{}, fmt.Errorf("signature: %w", err)
		}
		k.Kty, k.Crv = "EC", "P-256"
		k.X = base64.RawURLEncoding.EncodeToString(b[1:33])
		k.Y = base64.RawURLEncoding.EncodeToString(b[33:])
	case *rsa.PublicKey:
		k.Kty = "RSA"
		k.N = base64.RawURLEncoding.EncodeToString(pub.N.Bytes())
		k.E = base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
	default:
		return JWK{}, fmt.Errorf("signature: unsupported key type %T", pub)
	}
	k.pub = s.Key.Public()
	if k.Alg != "" && !k.allows(k.Alg) {
		return JWK{}, fmt.Errorf("signature: algorithm %q does not suit the key", k.Alg)
	}
	return k, nil
}

// PublicJWKS returns the signer's public key as a one-key JWK Set, to
// register the signer as a sender; empty when the key is unsupported.
// json.Marshal gives its RFC 7517 JSON.
func (s Signer) PublicJWKS() JWKS {
	k, err := s.PublicJWK()
	if err != nil {
		return JWKS{Keys: []JWK{}}
	}
	return JWKS{Keys: []JWK{k}}
}

// signerMethod is a jwt.SigningMethod that signs with any crypto.Signer
// (jwt's own methods need concrete private key types) and verifies with
// jwt's standard method of the same name.
type signerMethod struct{ alg string }

func (m signerMethod) Alg() string { return m.alg }

func (m signerMethod) Verify(signingString string, sig []byte, key any) error {
	return jwt.GetSigningMethod(m.alg).Verify(signingString, sig, key)
}

func (m signerMethod) Sign(signingString string, key any) ([]byte, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, jwt.ErrInvalidKeyType
	}
	msg := []byte(signingString)
	digest := sha256.Sum256(msg)
	switch m.alg {
	case AlgEdDSA:
		return signer.Sign(rand.Reader, msg, crypto.Hash(0))
	case AlgRS256:
		return signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	case AlgPS256:
		return signer.Sign(rand.Reader, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	case AlgES256:
		der, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			return nil, err
		}
		// crypto.Signer gives ASN.1 DER; JWS wants r || s, 32 bytes each.
		var rs struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) > 0 ||
			rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.BitLen() > 256 || rs.S.BitLen() > 256 {
			return nil, errors.New("ECDSA signer returned a malformed signature")
		}
		out := make([]byte, 64)
		rs.R.FillBytes(out[:32])
		rs.S.FillBytes(out[32:])
		return out, nil
	}
	return nil, fmt.Errorf("unsupported algorithm %q", m.alg)
}
