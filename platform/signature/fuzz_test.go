package signature_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"procfin/platform/errs"
	"procfin/platform/signature"
)

func FuzzParseJWKS(f *testing.F) {
	ed, ec, rs := publicJWKs(f)
	f.Add(setJSON(f, ed, ec, rs))
	f.Add(setJSON(f, with(ed, "d", "AAAA")))
	f.Add(setJSON(f, with(ec, "use", "enc")))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AAAA","kid":"x"}]}`))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		set, err := signature.ParseJWKS(in)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("error %v is not invalid", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, k := range set.Keys {
			if k.Kid == "" || seen[k.Kid] || k.PublicKey() == nil {
				t.Fatalf("bad key accepted: %+v", k)
			}
			seen[k.Kid] = true
		}
		// What was accepted re-encodes to a set that parses the same.
		b, err := json.Marshal(set)
		if err != nil {
			t.Fatal(err)
		}
		again, err := signature.ParseJWKS(b)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		b2, _ := json.Marshal(again)
		if !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed the set:\n%s\n%s", b, b2)
		}
	})
}

func FuzzVerify(f *testing.F) {
	now := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	s := signature.Signer{ID: "fuzz-bank", KeyID: "k1", Key: key, Algorithm: signature.AlgEdDSA}
	sender := signature.Sender{ID: s.ID, Algorithms: []string{"EdDSA"}, JWKS: s.PublicJWKS()}
	lookup := func(_ context.Context, id string) (signature.Sender, error) {
		if id != sender.ID {
			return signature.Sender{}, errs.E(errs.NotFound, "no sender")
		}
		return sender, nil
	}
	// Deterministic (fixed jti, Ed25519), so that every fuzz worker process
	// builds the same valid message as the one in the seed corpus.
	valid := craft(f, now, jwt.SigningMethodEdDSA, key, nil, map[string]any{"iss": s.ID, "jti": "fuzz-jti"})
	newVerifier := func() *signature.Verifier {
		return signature.NewVerifier(nil, audience, lookup,
			signature.WithClock(func() time.Time { return now }),
			signature.WithReplayStore(signature.NewMemoryReplayStore()))
	}
	if _, err := newVerifier().Verify(context.Background(), request(valid)); err != nil {
		f.Fatalf("seed does not verify: %v", err)
	}
	f.Add(valid, body)
	f.Add(valid, []byte{})
	f.Add("", body)
	f.Add("a.b.c", body)
	f.Fuzz(func(t *testing.T, header string, b []byte) {
		_, err := newVerifier().Verify(context.Background(), signature.Request{Header: header, Method: "POST", URL: eventsURL, Body: b})
		genuine := header == valid && bytes.Equal(b, body)
		if err == nil {
			if !genuine {
				t.Fatalf("accepted a message that was not signed:\nheader %q\nbody %q", header, b)
			}
			return
		}
		if genuine {
			t.Fatalf("the genuine message was rejected: %v", err)
		}
		if !errs.Is(err, errs.SignatureInvalid) || signature.RejectReason(err) == "" {
			t.Fatalf("error %v is not a signature_invalid rejection", err)
		}
	})
}
