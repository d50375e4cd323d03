package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strings"

	"procfin/platform/errs"
	"procfin/platform/safehttp"
	"procfin/platform/text"
)

// The JOSE algorithms of the protocol; nothing else is ever accepted.
const (
	AlgEdDSA = "EdDSA"
	AlgES256 = "ES256"
	AlgPS256 = "PS256"
	AlgRS256 = "RS256"
)

// Algorithms lists the protocol's algorithms.
var Algorithms = []string{AlgEdDSA, AlgES256, AlgPS256, AlgRS256}

// Limits on a JWK Set, so that a sender cannot make procfin parse (or
// verify with) something huge.
const (
	maxJWKSBytes = 1 << 20
	maxJWKSKeys  = 64
	maxKidLen    = 200
	minRSABits   = 2048
	maxRSABits   = 8192
)

// privateMembers are the JWK members that carry private or secret key
// material (RFC 7518 §6.2.2, §6.3.2, §6.4.1). A JWK Set holding one is
// refused outright: someone is about to leak a key.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// JWK is one public key in RFC 7517 form: an Ed25519 OKP key (RFC 8037), a
// P-256 EC key or an RSA key of at least 2048 bits.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`

	pub crypto.PublicKey // set by ParseJWKS
}

// PublicKey returns the parsed key (ed25519.PublicKey, *ecdsa.PublicKey or
// *rsa.PublicKey), or nil for a JWK that did not come from ParseJWKS.
func (k JWK) PublicKey() crypto.PublicKey { return k.pub }

// allows reports whether the key may verify alg: the key type must match
// (an RSA key never verifies EdDSA, and so on) and so must the key's own
// alg member when it has one.
func (k JWK) allows(alg string) bool {
	if k.Alg != "" && k.Alg != alg {
		return false
	}
	switch pub := k.pub.(type) {
	case ed25519.PublicKey:
		return alg == AlgEdDSA && len(pub) == ed25519.PublicKeySize
	case *ecdsa.PublicKey:
		return alg == AlgES256 && pub.Curve == elliptic.P256()
	case *rsa.PublicKey:
		return (alg == AlgRS256 || alg == AlgPS256) && pub.N.BitLen() >= minRSABits
	}
	return false
}

// algorithms returns the protocol algorithms the key may verify.
func (k JWK) algorithms() []string {
	var out []string
	for _, a := range Algorithms {
		if k.allows(a) {
			out = append(out, a)
		}
	}
	return out
}

// JWKS is an RFC 7517 JWK Set of public signing keys. Made by ParseJWKS
// (or by json.Unmarshal, which calls it), its keys are validated.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// MarshalJSON writes the set, with "keys": [] when it is empty.
func (s JWKS) MarshalJSON() ([]byte, error) {
	keys := s.Keys
	if keys == nil {
		keys = []JWK{}
	}
	return json.Marshal(struct {
		Keys []JWK `json:"keys"`
	}{keys})
}

// UnmarshalJSON parses and validates the set as ParseJWKS does.
func (s *JWKS) UnmarshalJSON(b []byte) error {
	set, err := ParseJWKS(b)
	if err != nil {
		return err
	}
	*s = set
	return nil
}

// Algorithms returns the protocol algorithms the set's keys can verify, in
// the order of the package's Algorithms.
func (s JWKS) Algorithms() []string {
	var out []string
	for _, a := range Algorithms {
		for _, k := range s.Keys {
			if k.allows(a) {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// Key returns the key named kid.
func (s JWKS) Key(kid string) (JWK, bool) {
	for _, k := range s.Keys {
		if k.Kid == kid {
			return k, true
		}
	}
	return JWK{}, false
}

func jwksError(code, format string, args ...any) error {
	return errs.InvalidFields(errs.FieldError{Field: "jwks", Code: code, Message: fmt.Sprintf(format, args...)})
}

// ParseJWKS parses and validates a JWK Set of public signing keys. Keys whose
// "use" is not "sig", or whose "key_ops" lack "verify", are left out. Every
// other key needs a unique kid and must be an Ed25519 OKP key, a P-256 EC
// key or an RSA key of 2048 to 8192 bits, with an "alg", if any, that suits
// its type.
//
// Returns invalid, with field "jwks", for anything else, and in particular
// for a set holding private key material ("d", "p", ..., or a symmetric
// "k"): only public keys may be registered.
func ParseJWKS(b []byte) (JWKS, error) {
	if len(b) > maxJWKSBytes {
		return JWKS{}, jwksError("too_large", "a JWK Set may not exceed 1 MiB")
	}
	var top struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &top); err != nil || top.Keys == nil {
		return JWKS{}, jwksError("malformed", `must be a JWK Set: {"keys": [...]}`)
	}
	if len(*top.Keys) > maxJWKSKeys {
		return JWKS{}, jwksError("too_many_keys", "a JWK Set may hold at most %d keys", maxJWKSKeys)
	}
	set := JWKS{Keys: []JWK{}}
	for i, raw := range *top.Keys {
		k, use, err := parseJWK(raw)
		if err != nil {
			return JWKS{}, jwksError(err.code, "key %d: %s", i, err.msg)
		}
		if !use {
			continue
		}
		if _, dup := set.Key(k.Kid); dup {
			return JWKS{}, jwksError("duplicate_kid", "key %d: kid %s is used twice", i, quoteKid(k.Kid))
		}
		set.Keys = append(set.Keys, k)
	}
	return set, nil
}

type jwkError struct{ code, msg string }

func jwkErr(code, format string, args ...any) *jwkError {
	return &jwkError{code, fmt.Sprintf(format, args...)}
}

// parseJWK parses one key. use is false for a key that is not for
// verifying signatures.
func parseJWK(raw json.RawMessage) (k JWK, use bool, _ *jwkError) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return JWK{}, false, jwkErr("malformed", "not a JSON object")
	}
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			return JWK{}, false, jwkErr("private_key", "holds private key material (member %q); register only public keys", m)
		}
	}
	var f struct {
		JWK
		KeyOps *[]string `json:"key_ops"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return JWK{}, false, jwkErr("malformed", "members have the wrong types")
	}
	k = f.JWK
	if k.Use != "" && k.Use != "sig" {
		return JWK{}, false, nil
	}
	if f.KeyOps != nil && !slices.Contains(*f.KeyOps, "verify") {
		return JWK{}, false, nil
	}
	if k.Kid == "" {
		return JWK{}, false, jwkErr("missing_kid", "kid is required")
	}
	if len(k.Kid) > maxKidLen {
		return JWK{}, false, jwkErr("malformed", "kid is longer than %d characters", maxKidLen)
	}
	if !text.Valid(k.Kid) || strings.ContainsAny(k.Kid, "\t\n\r") {
		// It is logged and stored: no control characters, valid UTF-8.
		return JWK{}, false, jwkErr("malformed", "kid must be printable text")
	}
	switch k.Kty {
	case "OKP":
		if k.Crv != "Ed25519" {
			return JWK{}, false, jwkErr("unsupported_key", "OKP keys must be Ed25519")
		}
		x, err := b64(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return JWK{}, false, jwkErr("malformed", "x must be a 32-byte Ed25519 public key, base64url")
		}
		k.pub = ed25519.PublicKey(x)
	case "EC":
		if k.Crv != "P-256" {
			return JWK{}, false, jwkErr("unsupported_key", "EC keys must be on curve P-256")
		}
		x, errX := b64(k.X)
		y, errY := b64(k.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return JWK{}, false, jwkErr("malformed", "x and y must be 32-byte coordinates, base64url")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return JWK{}, false, jwkErr("malformed", "the point is not on curve P-256")
		}
		k.pub = pub
	case "RSA":
		n, errN := b64(k.N)
		e, errE := b64(k.E)
		if errN != nil || errE != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return JWK{}, false, jwkErr("malformed", "n and e must be base64url big-endian integers")
		}
		nn := new(big.Int).SetBytes(n)
		ee := new(big.Int).SetBytes(e).Int64()
		if bits := nn.BitLen(); bits < minRSABits || bits > maxRSABits {
			return JWK{}, false, jwkErr("weak_key", "RSA keys must have %d to %d bits, not %d", minRSABits, maxRSABits, bits)
		}
		if ee < 3 || ee%2 == 0 || ee > 1<<31-1 || nn.Bit(0) == 0 {
			return JWK{}, false, jwkErr("malformed", "not a valid RSA public key")
		}
		k.pub = &rsa.PublicKey{N: nn, E: int(ee)}
	case "":
		return JWK{}, false, jwkErr("malformed", "kty is required")
	default:
		return JWK{}, false, jwkErr("unsupported_key", "key type %q is not supported (use OKP Ed25519, EC P-256 or RSA)", truncate(k.Kty, 16))
	}
	if k.Alg != "" && !slices.Contains(k.algorithms(), k.Alg) {
		return JWK{}, false, jwkErr("unsupported_alg", "alg %q does not suit a %s key (allowed: EdDSA for OKP, ES256 for EC, RS256 or PS256 for RSA)", truncate(k.Alg, 16), k.Kty)
	}
	return k, true, nil
}

// b64 decodes unpadded base64url, refusing non-canonical encodings.
func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// truncate makes a sender's text fit for a message: cleaned
// (platform/text) and cut to about n bytes.
func truncate(s string, n int) string { return text.Clean(s, n+len("…")) }

func quoteKid(kid string) string { return fmt.Sprintf("%q", truncate(kid, 64)) }

// CheckJWKSURL is CheckJWKSURLWith the strict policy: https to a public
// host only.
func CheckJWKSURL(s string) error { return CheckJWKSURLWith(s, safehttp.Policy{}) }

// CheckJWKSURLWith checks a sender's JWKS URL: an absolute URL without user
// info or fragment that the policy accepts (safehttp.Policy.CheckURL: https
// to a public host, unless private URLs are allowed). Returns invalid with
// field "jwks_url".
func CheckJWKSURLWith(s string, p safehttp.Policy) error {
	bad := func(msg string) error {
		return errs.InvalidFields(errs.FieldError{Field: "jwks_url", Code: "invalid_url", Message: msg})
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" {
		return bad("must be an absolute https URL")
	}
	if u.User != nil || u.Fragment != "" {
		return bad("must not carry user info or a fragment")
	}
	if err := p.CheckURL(s); err != nil {
		return bad(err.Error())
	}
	return nil
}
