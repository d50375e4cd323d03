package signature_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"procfin/platform/errs"
	"procfin/platform/signature"
)

// publicJWKs returns the test keys as JWK JSON objects: ed, ec, rsa.
func publicJWKs(tb testing.TB) (ed, ec, rs map[string]any) {
	tb.Helper()
	k := keys(tb)
	set := jwksOf(tb,
		signature.Signer{KeyID: "ed", Key: k.edA},
		signature.Signer{KeyID: "ec", Key: k.ecA},
		signature.Signer{KeyID: "rsa", Key: k.rsaA})
	b, _ := json.Marshal(set)
	var raw struct{ Keys []map[string]any }
	if err := json.Unmarshal(b, &raw); err != nil {
		tb.Fatal(err)
	}
	return raw.Keys[0], raw.Keys[1], raw.Keys[2]
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func setJSON(tb testing.TB, keys ...map[string]any) []byte {
	tb.Helper()
	if keys == nil {
		keys = []map[string]any{}
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestParseJWKS(t *testing.T) {
	t.Parallel()
	ed, ec, rs := publicJWKs(t)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("OK", func(t *testing.T) {
		set, err := signature.ParseJWKS(setJSON(t, ed, ec, rs))
		if err != nil {
			t.Fatal(err)
		}
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.Kid)
			if k.PublicKey() == nil {
				t.Errorf("key %s not parsed", k.Kid)
			}
		}
		if !slices.Equal(kids, []string{"ed", "ec", "rsa"}) {
			t.Errorf("kids = %v", kids)
		}
		if got := set.Algorithms(); !slices.Equal(got, signature.Algorithms) {
			t.Errorf("Algorithms() = %v", got)
		}
		b, _ := json.Marshal(set)
		again, err := signature.ParseJWKS(b)
		if err != nil || len(again.Keys) != 3 {
			t.Fatalf("round trip: %v, %d keys", err, len(again.Keys))
		}
	})
	t.Run("Empty", func(t *testing.T) {
		set, err := signature.ParseJWKS([]byte(`{"keys":[]}`))
		if err != nil || len(set.Keys) != 0 {
			t.Fatalf("%v, %v", set, err)
		}
		if b, _ := json.Marshal(set); string(b) != `{"keys":[]}` {
			t.Errorf("marshal = %s", b)
		}
	})
	t.Run("NonSigningKeysIgnored", func(t *testing.T) {
		set, err := signature.ParseJWKS(setJSON(t, ed,
			with(ec, "use", "enc", "kid", "enc-key"),
			with(rs, "key_ops", []string{"encrypt"}, "kid", "ops-key")))
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Keys) != 1 || set.Keys[0].Kid != "ed" {
			t.Errorf("keys = %+v, want only ed", set.Keys)
		}
	})
	t.Run("AlgMemberMatchingKey", func(t *testing.T) {
		set, err := signature.ParseJWKS(setJSON(t, with(rs, "alg", "RS256")))
		if err != nil {
			t.Fatal(err)
		}
		if got := set.Algorithms(); !slices.Equal(got, []string{"RS256"}) {
			t.Errorf("Algorithms() = %v, want [RS256]", got)
		}
	})

	for _, tc := range []struct {
		name string
		in   []byte
		code string
	}{
		{"ErrPrivateOKP", setJSON(t, with(ed, "d", "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")), "private_key"},
		{"ErrPrivateEC", setJSON(t, with(ec, "d", "AAAA")), "private_key"},
		{"ErrPrivateRSA", setJSON(t, with(rs, "p", "AAAA", "q", "AAAA")), "private_key"},
		{"ErrPrivateEvenIfEnc", setJSON(t, with(ec, "use", "enc", "d", "AAAA")), "private_key"},
		{"ErrSymmetric", setJSON(t, map[string]any{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}), "private_key"},
		{"ErrWeakRSA", setJSON(t, with(rs, "n", b64(weak.N.Bytes()))), "weak_key"},
		{"ErrP384", setJSON(t, with(ec, "crv", "P-384")), "unsupported_key"},
		{"ErrPointNotOnCurve", setJSON(t, with(ec, "y", b64(make([]byte, 32)))), "malformed"},
		{"ErrShortEd25519", setJSON(t, with(ed, "x", "AAAA")), "malformed"},
		{"ErrX25519", setJSON(t, with(ed, "crv", "X25519")), "unsupported_key"},
		{"ErrUnknownKty", setJSON(t, with(ed, "kty", "AKP")), "unsupported_key"},
		{"ErrNoKty", setJSON(t, with(ed, "kty", nil)), "malformed"},
		{"ErrMissingKid", setJSON(t, with(ed, "kid", nil)), "missing_kid"},
		{"ErrDuplicateKid", setJSON(t, ed, with(ec, "kid", "ed")), "duplicate_kid"},
		{"ErrAlgMismatch", setJSON(t, with(rs, "alg", "ES256")), "unsupported_alg"},
		{"ErrAlgHS256", setJSON(t, with(ed, "alg", "HS256")), "unsupported_alg"},
		{"ErrEvenExponent", setJSON(t, with(rs, "e", "Ag")), "malformed"},
		{"ErrPaddedBase64", setJSON(t, with(ed, "x", ed["x"].(string)+"=")), "malformed"},
		{"ErrPaddingBitX", setJSON(t, with(ed, "x", flipPaddingBit(ed["x"].(string)))), "malformed"},
		{"ErrPaddingBitY", setJSON(t, with(ec, "y", flipPaddingBit(ec["y"].(string)))), "malformed"},
		{"ErrPaddingBitN", setJSON(t, with(rs, "n", flipPaddingBit(rs["n"].(string)))), "malformed"},
		{"ErrKidNUL", setJSON(t, with(ed, "kid", "k\u0000")), "malformed"},
		{"ErrKidNewline", setJSON(t, with(ed, "kid", "k\nlog-line")), "malformed"},
		{"ErrWrongTypes", setJSON(t, with(ed, "kid", 7)), "malformed"},
		{"ErrNotJSON", []byte(`{"keys":`), "malformed"},
		{"ErrNoKeysMember", []byte(`{}`), "malformed"},
		{"ErrKeysNull", []byte(`{"keys":null}`), "malformed"},
		{"ErrKeyNotObject", []byte(`{"keys":[1]}`), "malformed"},
		{"ErrArray", []byte(`[]`), "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := signature.ParseJWKS(tc.in)
			var e *errs.Error
			if !errors.As(err, &e) || e.Code != errs.Invalid {
				t.Fatalf("err = %v, want invalid", err)
			}
			if len(e.Fields) != 1 || e.Fields[0].Field != "jwks" || e.Fields[0].Code != tc.code {
				t.Fatalf("fields = %+v, want field jwks code %s", e.Fields, tc.code)
			}
		})
	}

	t.Run("ErrPrivateViaUnmarshal", func(t *testing.T) {
		var reg struct {
			JWKS signature.JWKS `json:"jwks"`
		}
		in := `{"jwks":` + string(setJSON(t, with(ed, "d", "AAAA"))) + `}`
		if err := json.Unmarshal([]byte(in), &reg); !errs.Is(err, errs.Invalid) {
			t.Fatalf("err = %v, want invalid", err)
		}
	})
	t.Run("ErrTooManyKeys", func(t *testing.T) {
		var many []map[string]any
		for i := range 65 {
			many = append(many, with(ed, "kid", string(rune('a'+i%26))+string(rune('a'+i/26))))
		}
		if _, err := signature.ParseJWKS(setJSON(t, many...)); !errs.Is(err, errs.Invalid) {
			t.Fatalf("err = %v, want invalid", err)
		}
	})
}

func TestCheckJWKSURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url          string
		strict, open bool // accepted by the strict policy, with private URLs allowed
	}{
		{"https://bank.example/.well-known/jwks.json", true, true},
		{"HTTPS://bank.example/jwks", true, true},
		{"http://127.0.0.1:8081/jwks.json", false, true},
		{"http://localhost:8081/jwks.json", false, true},
		{"http://[::1]:8081/jwks.json", false, true},
		{"https://127.0.0.1/jwks.json", false, true},
		{"https://10.1.2.3/jwks.json", false, true},
		{"https://[::ffff:192.168.0.1]/jwks.json", false, true},
		{"https://localhost/jwks.json", false, true},
		{"http://bank.example/jwks.json", false, true},
		{"https://user:pw@bank.example/jwks.json", false, false},
		{"https://bank.example/jwks.json#x", false, false},
		{"ftp://bank.example/jwks.json", false, false},
		{"/jwks.json", false, false},
		{"https:///jwks.json", false, false},
		{"", false, false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			for _, p := range []struct {
				name string
				err  error
				want bool
			}{
				{"strict", signature.CheckJWKSURL(tc.url), tc.strict},
				{"AllowPrivate", signature.CheckJWKSURLWith(tc.url, allowPrivate), tc.open},
			} {
				if (p.err == nil) != p.want {
					t.Errorf("%s: err = %v, want ok %v", p.name, p.err, p.want)
				}
				if p.err != nil && !errs.Is(p.err, errs.Invalid) {
					t.Errorf("%s: err = %v, want invalid", p.name, p.err)
				}
			}
		})
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
