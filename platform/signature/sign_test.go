package signature_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"procfin/platform/signature"
)

// opaqueSigner hides the concrete key type, as an HSM or KMS signer does.
type opaqueSigner struct{ s crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.s.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.s.Sign(r, d, opts)
}

func TestSignerAnyCryptoSigner(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, signature.WithReplayStore(signature.NewMemoryReplayStore()))
	k := keys(t)
	for _, tc := range []struct {
		alg string
		key crypto.Signer
	}{
		{"EdDSA", k.edA}, {"ES256", k.ecA}, {"PS256", k.rsaA}, {"RS256", k.rsaA},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			s := signature.Signer{ID: "hsm-" + tc.alg, KeyID: "k", Key: opaqueSigner{tc.key}, Algorithm: tc.alg}
			f.register(signature.Sender{ID: s.ID, Algorithms: []string{tc.alg}, JWKS: s.PublicJWKS()})
			for range 3 { // ECDSA: r and s of varying length
				c := f.mustVerify(t, request(f.mustSign(t, s)))
				if c.Algorithm != tc.alg {
					t.Fatalf("alg = %s", c.Algorithm)
				}
			}
		})
	}
}

func TestSignerDefaultsAndErrors(t *testing.T) {
	t.Parallel()
	k := keys(t)
	f := newFixture(t, nil, signature.WithReplayStore(signature.NewMemoryReplayStore()))
	t.Run("DefaultAlgorithm", func(t *testing.T) {
		for want, key := range map[string]crypto.Signer{"EdDSA": k.edA, "ES256": k.ecA, "PS256": k.rsaA} {
			s := signature.Signer{ID: "dflt-" + want, KeyID: "k", Key: key}
			f.register(signature.Sender{ID: s.ID, JWKS: s.PublicJWKS()})
			if c := f.mustVerify(t, request(f.mustSign(t, s))); c.Algorithm != want {
				t.Errorf("default alg = %s, want %s", c.Algorithm, want)
			}
		}
	})
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		s      signature.Signer
		url    string
		method string
	}{
		{"ErrNoKey", signature.Signer{ID: "a", KeyID: "k"}, eventsURL, "POST"},
		{"ErrNoID", signature.Signer{KeyID: "k", Key: k.edA}, eventsURL, "POST"},
		{"ErrNoKid", signature.Signer{ID: "a", Key: k.edA}, eventsURL, "POST"},
		{"ErrAlgKeyMismatch", signature.Signer{ID: "a", KeyID: "k", Key: k.edA, Algorithm: "RS256"}, eventsURL, "POST"},
		{"ErrHS256", signature.Signer{ID: "a", KeyID: "k", Key: k.edA, Algorithm: "HS256"}, eventsURL, "POST"},
		{"ErrP384", signature.Signer{ID: "a", KeyID: "k", Key: p384}, eventsURL, "POST"},
		{"ErrRelativeURL", signature.Signer{ID: "a", KeyID: "k", Key: k.edA}, "/v1/x", "POST"},
		{"ErrNoMethod", signature.Signer{ID: "a", KeyID: "k", Key: k.edA}, eventsURL, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if h, err := tc.s.Sign(tc.method, tc.url, audience, body, start); err == nil {
				t.Fatalf("Sign = %q, want an error", h)
			}
		})
	}
	if set := (signature.Signer{ID: "a", KeyID: "k", Key: p384}).PublicJWKS(); len(set.Keys) != 0 {
		t.Errorf("PublicJWKS of a P-384 key = %+v, want empty", set)
	}
}

// rotating is a sender's key source whose key changes: it gives the key
// set last, or its error.
type rotating struct {
	kid string
	key crypto.Signer
	err error
}

func (r *rotating) SigningKey(context.Context) (string, crypto.Signer, error) {
	return r.kid, r.key, r.err
}

// TestSignerWithSigningKeys: a Signer with Keys asks them for the key at
// each signing and signs with the one they give, under its kid; their
// error is Sign's.
func TestSignerWithSigningKeys(t *testing.T) {
	t.Parallel()
	k := keys(t)
	f := newFixture(t, nil, signature.WithReplayStore(signature.NewMemoryReplayStore()))
	a := signature.Signer{ID: "rot", KeyID: "a", Key: k.edA}
	b := signature.Signer{ID: "rot", KeyID: "b", Key: k.edA2}
	f.register(signature.Sender{ID: "rot", JWKS: jwksOf(t, a, b)})
	src := &rotating{kid: "a", key: k.edA}
	s := signature.Signer{ID: "rot", Keys: src}
	if c := f.mustVerify(t, request(f.mustSign(t, s))); c.KeyID != "a" {
		t.Fatalf("kid %s, want a", c.KeyID)
	}
	src.kid, src.key = "b", k.edA2
	if c := f.mustVerify(t, request(f.mustSign(t, s))); c.KeyID != "b" {
		t.Fatalf("kid %s after the rotation, want b", c.KeyID)
	}
	src.err = errors.New("no key")
	if h, err := s.SignContext(context.Background(), "POST", eventsURL, audience, body, start); err != src.err {
		t.Fatalf("Sign = %q, %v; want the source's error", h, err)
	}
}
