package signature_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"

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
	valid, err := s.Sign("POST", eventsURL, audience, body, now)
	if err != nil {
		f.Fatal(err)
	}
	v := signature.NewVerifier(nil, audience, lookup,
		signature.WithClock(func() time.Time { return now }),
		signature.WithReplayStore(forgetful{}))
	if _, err := v.Verify(context.Background(), request(valid)); err != nil {
		f.Fatalf("seed does not verify: %v", err)
	}
	f.Add(valid, body)
	f.Add(valid, []byte{})
	f.Add("", body)
	f.Add("a.b.c", body)
	f.Fuzz(func(t *testing.T, header string, b []byte) {
		_, err := v.Verify(context.Background(), signature.Request{Header: header, Method: "POST", URL: eventsURL, Body: b})
		if err == nil {
			if header != valid || !bytes.Equal(b, body) {
				t.Fatalf("accepted a message that was not signed:\nheader %q\nbody %q", header, b)
			}
			return
		}
		if !errs.Is(err, errs.SignatureInvalid) || signature.RejectReason(err) == "" {
			t.Fatalf("error %v is not a signature_invalid rejection", err)
		}
	})
}

// forgetful is a replay store that never remembers, so the fuzzer can
// present the one valid message again and again.
type forgetful struct{}

func (forgetful) Remember(context.Context, string, string, time.Time, time.Time) (bool, error) {
	return true, nil
}
func (forgetful) Purge(context.Context, time.Time) (int64, error) { return 0, nil }
