package signature

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"procfin/platform/errs"
	"procfin/platform/safehttp"
)

// Keys is how a sender registers its public keys: an inline JWK Set or the
// URL where it publishes one, and the algorithms it may sign with.
type Keys struct {
	JWKS       json.RawMessage `json:"jwks,omitempty"`
	JWKSURL    string          `json:"jwks_url,omitempty"`
	Algorithms []string        `json:"algorithms"`
}

// Check is CheckWith the strict URL policy (https to public hosts only).
func (k *Keys) Check() []errs.FieldError { return k.CheckWith(safehttp.Policy{}) }

// CheckWith validates a registration and fills in the algorithms when none
// are given: what the inline keys can do, or all four for a URL, which the
// policy must accept. The inline set is kept as parsed (its public keys,
// without members procfin does not read), so that what is stored is what
// is used. It returns the problems as field errors (jwks, jwks_url,
// algorithms).
func (k *Keys) CheckWith(p safehttp.Policy) []errs.FieldError {
	var fe []errs.FieldError
	hasJWKS := len(k.JWKS) > 0 && string(k.JWKS) != "null"
	var inferred []string
	switch {
	case hasJWKS == (k.JWKSURL != ""):
		return append(fe, errs.Field("jwks", errs.FieldRequired))
	case hasJWKS:
		set, err := ParseJWKS(k.JWKS)
		if err != nil {
			return append(fe, errs.FieldError{Field: "jwks", Code: "invalid", Message: errs.MessageOf(err)})
		}
		inferred = set.Algorithms()
		b, err := json.Marshal(set)
		if err != nil {
			return append(fe, errs.Field("jwks", errs.FieldInvalid))
		}
		k.JWKS = b
	default:
		if err := CheckJWKSURLWith(k.JWKSURL, p); err != nil {
			return append(fe, errs.FieldError{Field: "jwks_url", Code: "invalid", Message: errs.MessageOf(err)})
		}
		inferred = Algorithms
	}
	if len(k.Algorithms) == 0 {
		k.Algorithms = inferred
	}
	for _, a := range k.Algorithms {
		if !slices.Contains(Algorithms, a) {
			fe = append(fe, errs.FieldError{Field: "algorithms", Code: "unsupported", Message: fmt.Sprintf("%q is not one of EdDSA, ES256, PS256, RS256", a)})
		}
	}
	if !hasJWKS {
		k.JWKS = nil
	}
	return fe
}

// StoredJWKS is a registration's inline key set as its jsonb column holds
// it: NULL, for a sender registered by URL, is empty (nil), and an empty one
// is left out of JSON with omitempty.
type StoredJWKS []byte

// Scan reads the column: NULL or JSON text.
func (s *StoredJWKS) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s = nil
	case []byte:
		*s = bytes.Clone(v)
	case string:
		*s = []byte(v)
	default:
		return fmt.Errorf("StoredJWKS: cannot scan %T", src)
	}
	return nil
}

// MarshalJSON writes the key set as it is (null when empty).
func (s StoredJWKS) MarshalJSON() ([]byte, error) {
	if len(s) == 0 {
		return []byte("null"), nil
	}
	return s, nil
}

// UnmarshalJSON keeps a copy of the JSON value.
func (s *StoredJWKS) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = nil
		return nil
	}
	*s = bytes.Clone(b)
	return nil
}

// StoredSender rebuilds a Sender from a registration kept in the database
// (jwks may be empty when jwksURL is set). Returns internal when the stored
// key set no longer parses.
func StoredSender(id string, jwks []byte, jwksURL *string, algorithms []string, version string) (Sender, error) {
	s := Sender{ID: id, Algorithms: algorithms, Version: version}
	if jwksURL != nil {
		s.JWKSURL = *jwksURL
		return s, nil
	}
	set, err := ParseJWKS(jwks)
	if err != nil {
		return s, errs.Wrap(errs.Internal, err, "the stored key set of %s is unreadable", id)
	}
	s.JWKS = set
	return s, nil
}
