package signature_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"procfin/platform/errs"
	"procfin/platform/postgres/pgtest"
	"procfin/platform/signature"
)

// senders registers the test senders and returns their signers:
//
//	bank-a: all four algorithms; k1 (Ed25519), a-ec (P-256), a-rsa (RSA)
//	bank-b: EdDSA only; k1 (its own Ed25519 key, same kid as bank-a's), b-2
//	edonly: EdDSA only; e-ed (Ed25519) and e-rsa (an RSA key it may not use)
type signers struct {
	aEd, aEC, aPS, aRS signature.Signer
	bEd, b2            signature.Signer
	eEd, eRS           signature.Signer
}

func setupSenders(tb testing.TB, f *fixture) signers {
	tb.Helper()
	k := keys(tb)
	s := signers{
		aEd: signature.Signer{ID: "bank-a", KeyID: "k1", Key: k.edA, Algorithm: signature.AlgEdDSA},
		aEC: signature.Signer{ID: "bank-a", KeyID: "a-ec", Key: k.ecA, Algorithm: signature.AlgES256},
		aPS: signature.Signer{ID: "bank-a", KeyID: "a-rsa", Key: k.rsaA, Algorithm: signature.AlgPS256},
		aRS: signature.Signer{ID: "bank-a", KeyID: "a-rsa", Key: k.rsaA, Algorithm: signature.AlgRS256},
		bEd: signature.Signer{ID: "bank-b", KeyID: "k1", Key: k.edB, Algorithm: signature.AlgEdDSA},
		b2:  signature.Signer{ID: "bank-b", KeyID: "b-2", Key: k.edB2, Algorithm: signature.AlgEdDSA},
		eEd: signature.Signer{ID: "edonly", KeyID: "e-ed", Key: k.edA2, Algorithm: signature.AlgEdDSA},
		eRS: signature.Signer{ID: "edonly", KeyID: "e-rsa", Key: k.rsaA, Algorithm: signature.AlgRS256},
	}
	aRSA := s.aPS
	aRSA.Algorithm = "" // the RSA key serves both RS256 and PS256
	f.register(signature.Sender{ID: "bank-a", Algorithms: signature.Algorithms, JWKS: jwksOf(tb, s.aEd, s.aEC, aRSA)})
	f.register(signature.Sender{ID: "bank-b", Algorithms: []string{"EdDSA"}, JWKS: jwksOf(tb, s.bEd, s.b2)})
	f.register(signature.Sender{ID: "edonly", Algorithms: []string{"EdDSA"}, JWKS: jwksOf(tb, s.eEd, s.eRS)})
	return s
}

func TestVerifyGoodMessages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.NewDB(t))
	s := setupSenders(t, f)
	for _, tc := range []struct {
		name   string
		signer signature.Signer
	}{
		{"EdDSA", s.aEd}, {"ES256", s.aEC}, {"PS256", s.aPS}, {"RS256", s.aRS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := f.mustSign(t, tc.signer)
			c := f.mustVerify(t, request(h))
			now := f.clock.Now()
			if c.Issuer != "bank-a" || c.KeyID != tc.signer.KeyID || c.Algorithm != tc.name ||
				c.JTI == "" || c.Method != "POST" || c.URL != eventsURL || c.BodyHash != signature.BodyHash(body) ||
				!c.IssuedAt.Equal(now) || !c.ExpiresAt.Equal(now.Add(5*time.Minute)) {
				t.Errorf("claims = %+v", c)
			}
		})
	}
	t.Run("QueryIgnored", func(t *testing.T) {
		h, err := s.aEd.Sign("POST", eventsURL+"?page=2#frag", audience, body, f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		req := request(h)
		req.URL = eventsURL + "?other=1"
		if c := f.mustVerify(t, req); c.URL != eventsURL {
			t.Errorf("htu = %q, want %q (no query)", c.URL, eventsURL)
		}
	})
	t.Run("SchemeHostCaseAndDefaultPort", func(t *testing.T) {
		h := craft(t, f.clock.Now(), jwt.SigningMethodEdDSA, keys(t).edA, nil,
			map[string]any{"htu": "HTTPS://Procfin.EXAMPLE:443/v1/bank-events"})
		f.mustVerify(t, request(h))
	})
	t.Run("WithinClockSkew", func(t *testing.T) {
		now := f.clock.Now()
		h := craft(t, now, jwt.SigningMethodEdDSA, keys(t).edA, nil,
			map[string]any{"iat": now.Add(-5*time.Minute - 30*time.Second).Unix(), "exp": now.Add(-30 * time.Second).Unix()})
		f.mustVerify(t, request(h))
		h = craft(t, now, jwt.SigningMethodEdDSA, keys(t).edA, nil,
			map[string]any{"iat": now.Add(50 * time.Second).Unix(), "exp": now.Add(50*time.Second + 5*time.Minute).Unix()})
		f.mustVerify(t, request(h))
	})
	t.Run("EmptyBody", func(t *testing.T) {
		h, err := s.aEd.Sign("GET", eventsURL, audience, nil, f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		f.mustVerify(t, signature.Request{Header: h, Method: "GET", URL: eventsURL})
	})
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.NewDB(t))
	s := setupSenders(t, f)
	k := keys(t)
	now := f.clock.Now()
	edA := func(hdr, claims map[string]any) string {
		return craft(t, now, jwt.SigningMethodEdDSA, k.edA, hdr, claims)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(k.edA.Public())
	if err != nil {
		t.Fatal(err)
	}
	jwkJSON, _ := json.Marshal(jwksOf(t, s.aEd).Keys[0])

	tests := []struct {
		name   string
		header string
		req    func(r *signature.Request)
		reason string
	}{
		{name: "ErrMissingHeader", header: "", reason: signature.ReasonMissing},
		{name: "ErrGarbage", header: "garbage", reason: signature.ReasonMalformed},
		{name: "ErrGarbageThreeParts", header: "a.b.c", reason: signature.ReasonMalformed},
		{name: "ErrTooLarge", header: strings.Repeat("a", 8<<10+1), reason: signature.ReasonMalformed},
		{name: "ErrAlgNone", header: craft(t, now, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, nil), reason: signature.ReasonAlg},
		{name: "ErrAlgNoneWithSignature", header: func() string {
			h := craft(t, now, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, nil)
			return h + "c2ln"
		}(), reason: signature.ReasonAlg},
		{name: "ErrHS256WithRawPublicKey", header: craft(t, now, jwt.SigningMethodHS256, []byte(k.edA.Public().(ed25519.PublicKey)), nil, nil), reason: signature.ReasonAlg},
		{name: "ErrHS256WithDERPublicKey", header: craft(t, now, jwt.SigningMethodHS256, pubDER, nil, nil), reason: signature.ReasonAlg},
		{name: "ErrHS256WithPublicJWK", header: craft(t, now, jwt.SigningMethodHS256, jwkJSON, nil, nil), reason: signature.ReasonAlg},
		{name: "ErrAlgES384", header: craft(t, now, jwt.SigningMethodES256, k.ecA, map[string]any{"alg": "ES384", "kid": "a-ec"}, nil), reason: signature.ReasonAlg},
		{name: "ErrAlgNotAllowedForSender", header: craft(t, now, jwt.SigningMethodRS256, k.rsaA,
			map[string]any{"kid": "e-rsa"}, map[string]any{"iss": "edonly"}), reason: signature.ReasonAlg},
		{name: "ErrAlgDoesNotMatchKey", header: craft(t, now, jwt.SigningMethodES256, k.ecA,
			map[string]any{"kid": "a-rsa"}, nil), reason: signature.ReasonAlg},
		{name: "ErrKidMissing", header: edA(map[string]any{"kid": nil}, nil), reason: signature.ReasonMalformed},
		{name: "ErrKidNotString", header: edA(map[string]any{"kid": 7}, nil), reason: signature.ReasonMalformed},
		{name: "ErrKidUnknown", header: edA(map[string]any{"kid": "nope"}, nil), reason: signature.ReasonUnknownKid},
		{name: "ErrOtherSendersKeySameKid", header: craft(t, now, jwt.SigningMethodEdDSA, k.edB, nil, nil), reason: signature.ReasonBadSignature},
		{name: "ErrOtherSendersKid", header: craft(t, now, jwt.SigningMethodEdDSA, k.edB2, map[string]any{"kid": "b-2"}, nil), reason: signature.ReasonUnknownKid},
		{name: "ErrRightKidOtherPrivateKey", header: craft(t, now, jwt.SigningMethodEdDSA, k.edRogue, nil, nil), reason: signature.ReasonBadSignature},
		{name: "ErrTamperedClaims", header: func() string {
			good := strings.Split(edA(nil, nil), ".")
			other := strings.Split(edA(nil, map[string]any{"jti": "other"}), ".")
			return good[0] + "." + other[1] + "." + good[2]
		}(), reason: signature.ReasonBadSignature},
		{name: "ErrTypMissing", header: edA(map[string]any{"typ": nil}, nil), reason: signature.ReasonTyp},
		{name: "ErrTypJWT", header: edA(map[string]any{"typ": "JWT"}, nil), reason: signature.ReasonTyp},
		{name: "ErrTypAccessToken", header: edA(map[string]any{"typ": "at+jwt"}, nil), reason: signature.ReasonTyp},
		{name: "ErrCritHeader", header: edA(map[string]any{"crit": []string{"exp"}}, nil), reason: signature.ReasonMalformed},
		{name: "ErrUnknownSender", header: edA(nil, map[string]any{"iss": "nobody"}), reason: signature.ReasonUnknownSender},
		{name: "ErrAudWrong", header: edA(nil, map[string]any{"aud": "qilu-bank"}), reason: signature.ReasonClaims},
		{name: "ErrAudListWithoutUs", header: edA(nil, map[string]any{"aud": []string{"x", "y"}}), reason: signature.ReasonClaims},
		{name: "ErrExpired", header: edA(nil, map[string]any{"iat": now.Add(-6 * time.Minute).Unix(), "exp": now.Add(-61 * time.Second).Unix()}), reason: signature.ReasonExpired},
		{name: "ErrIssuedInFuture", header: edA(nil, map[string]any{"iat": now.Add(61 * time.Second).Unix(), "exp": now.Add(61*time.Second + 5*time.Minute).Unix()}), reason: signature.ReasonExpired},
		{name: "ErrLifetime301", header: edA(nil, map[string]any{"exp": now.Add(301 * time.Second).Unix()}), reason: signature.ReasonLifetime},
		{name: "ErrLifetimeNegative", header: edA(nil, map[string]any{"exp": now.Add(-time.Second).Unix()}), reason: signature.ReasonLifetime},
		{name: "ErrHTM", header: edA(nil, map[string]any{"htm": "PUT"}), reason: signature.ReasonHTM},
		{name: "ErrHTMCase", header: edA(nil, map[string]any{"htm": "post"}), reason: signature.ReasonHTM},
		{name: "ErrHTUOtherPath", header: edA(nil, map[string]any{"htu": "https://procfin.example/v1/award-notices"}), reason: signature.ReasonHTU},
		{name: "ErrHTUPathCase", header: edA(nil, map[string]any{"htu": "https://procfin.example/v1/Bank-Events"}), reason: signature.ReasonHTU},
		{name: "ErrHTUOtherHost", header: edA(nil, map[string]any{"htu": "https://evil.example/v1/bank-events"}), reason: signature.ReasonHTU},
		{name: "ErrHTUOtherScheme", header: edA(nil, map[string]any{"htu": "http://procfin.example/v1/bank-events"}), reason: signature.ReasonHTU},
		{name: "ErrHTUOtherPort", header: edA(nil, map[string]any{"htu": "https://procfin.example:8443/v1/bank-events"}), reason: signature.ReasonHTU},
		{name: "ErrHTURelative", header: edA(nil, map[string]any{"htu": "/v1/bank-events"}), reason: signature.ReasonHTU},
		{name: "ErrBSHBodyChanged", header: edA(nil, nil), req: func(r *signature.Request) {
			b := bytes.Clone(body)
			b[len(b)-2] ^= 1
			r.Body = b
		}, reason: signature.ReasonBSH},
		{name: "ErrBSHPadded", header: edA(nil, map[string]any{"bsh": signature.BodyHash(body) + "="}), reason: signature.ReasonBSH},
		{name: "ErrBSHMissing", header: edA(nil, map[string]any{"bsh": nil}), reason: signature.ReasonClaims},
		{name: "ErrJTITooLong", header: edA(nil, map[string]any{"jti": strings.Repeat("j", 257)}), reason: signature.ReasonClaims},
		{name: "ErrClaimWrongType", header: edA(nil, map[string]any{"exp": "tomorrow"}), reason: signature.ReasonMalformed},
	}
	for _, claim := range []string{"iss", "aud", "iat", "exp", "jti", "htm", "htu", "bsh"} {
		tests = append(tests, struct {
			name   string
			header string
			req    func(r *signature.Request)
			reason string
		}{name: "ErrMissingClaim_" + claim, header: edA(nil, map[string]any{claim: nil}), reason: signature.ReasonClaims})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := request(tc.header)
			if tc.req != nil {
				tc.req(&req)
			}
			err := f.mustReject(t, req, tc.reason)
			if msg := errs.MessageOf(err); msg == "" || strings.Contains(msg, "BEGIN") || len(msg) > 80 {
				t.Errorf("message %q is not a short safe reason", msg)
			}
		})
	}
	t.Run("UnknownSenderLooksLikeUnknownKid", func(t *testing.T) {
		e1 := f.mustReject(t, request(edA(nil, map[string]any{"iss": "nobody"})), signature.ReasonUnknownSender)
		e2 := f.mustReject(t, request(edA(map[string]any{"kid": "nope"}, nil)), signature.ReasonUnknownKid)
		if errs.MessageOf(e1) != errs.MessageOf(e2) {
			t.Errorf("messages differ: %q vs %q", errs.MessageOf(e1), errs.MessageOf(e2))
		}
	})
	t.Run("SignerOfAnotherSenderRejected", func(t *testing.T) {
		// bank-b signs honestly, but claims to be bank-a.
		h := craft(t, now, jwt.SigningMethodEdDSA, k.edB, nil, map[string]any{"iss": "bank-a"})
		f.mustReject(t, request(h), signature.ReasonBadSignature)
	})
	t.Run("GoodMessageStillVerifies", func(t *testing.T) {
		// The fixture itself is sound: the unmodified message passes.
		f.mustVerify(t, request(edA(nil, nil)))
	})
}

// TestVerifyChecksBeforeLookup: a message failing a cheap check never
// reaches the registry.
func TestVerifyChecksBeforeLookup(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.NewDB(t))
	setupSenders(t, f)
	now := f.clock.Now()
	for _, h := range []string{
		"garbage",
		craft(t, now, jwt.SigningMethodEdDSA, keys(t).edA, nil, map[string]any{"htu": "https://x.example/"}),
		craft(t, now, jwt.SigningMethodEdDSA, keys(t).edA, nil, map[string]any{"exp": now.Add(time.Hour).Unix()}),
		craft(t, now, jwt.SigningMethodHS256, []byte("secret"), nil, nil),
	} {
		if _, err := f.v.Verify(context.Background(), request(h)); err == nil {
			t.Fatal("accepted")
		}
	}
	if f.lookups != 0 {
		t.Errorf("lookups = %d, want 0", f.lookups)
	}
}

func TestVerifyReplay(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	f := newFixture(t, db)
	s := setupSenders(t, f)
	now := f.clock.Now()

	t.Run("ErrReplay", func(t *testing.T) {
		h := f.mustSign(t, s.aEd)
		f.mustVerify(t, request(h))
		f.mustReject(t, request(h), signature.ReasonReplay)
	})
	t.Run("SameJTIOtherSender", func(t *testing.T) {
		ha := craft(t, now, jwt.SigningMethodEdDSA, keys(t).edA, nil, map[string]any{"jti": "shared-jti"})
		hb := craft(t, now, jwt.SigningMethodEdDSA, keys(t).edB, nil, map[string]any{"iss": "bank-b", "jti": "shared-jti"})
		f.mustVerify(t, request(ha))
		f.mustVerify(t, request(hb))
		f.mustReject(t, request(hb), signature.ReasonReplay)
	})
	t.Run("FailedCheckDoesNotConsumeJTI", func(t *testing.T) {
		h := f.mustSign(t, s.aEd)
		req := request(h)
		req.Body = []byte("{}")
		f.mustReject(t, req, signature.ReasonBSH)
		f.mustVerify(t, request(h))
	})
	t.Run("ConcurrentReplaysOneWins", func(t *testing.T) {
		h := f.mustSign(t, s.aEd)
		const n = 8
		var wg sync.WaitGroup
		results := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i] = f.v.Verify(context.Background(), request(h))
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range results {
			switch {
			case err == nil:
				ok++
			case signature.RejectReason(err) != signature.ReasonReplay:
				t.Errorf("unexpected error %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent verifications succeeded, want 1", ok, n)
		}
	})
	t.Run("ConsumeMany", func(t *testing.T) {
		deferred := func(h string) signature.Seen {
			t.Helper()
			_, seen, err := f.v.VerifyDeferred(context.Background(), request(h))
			if err != nil {
				t.Fatal(err)
			}
			return seen
		}
		old, fresh, twice := f.mustSign(t, s.aEd), f.mustSign(t, s.aEd), f.mustSign(t, s.aEd)
		f.mustVerify(t, request(old))
		ss := []signature.Seen{deferred(old), deferred(fresh), deferred(twice), deferred(twice)}
		tx, err := db.Beginx()
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		refused, err := f.v.ConsumeMany(context.Background(), tx, ss)
		if err != nil {
			t.Fatal(err)
		}
		var reasons []string
		for _, err := range refused {
			reasons = append(reasons, signature.RejectReason(err))
		}
		if strings.Join(reasons, ",") != "replay,,,replay" {
			t.Fatalf("refusals %q, want the one seen before and the second of the pair given twice", reasons)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		f.mustReject(t, request(fresh), signature.ReasonReplay)
		f.mustReject(t, request(twice), signature.ReasonReplay)
		// Store-level: a pair whose row expired is taken over; one still live is not.
		store := signature.NewDBReplayStore(db)
		if _, err := db.Exec(`INSERT INTO seen_messages (sender, jti, expires_at) VALUES ('bank-a', 'gone', now() - interval '1 hour'), ('bank-a', 'live', now() + interval '1 hour')`); err != nil {
			t.Fatal(err)
		}
		got, err := store.RememberManyIn(context.Background(), db, []signature.Seen{
			signature.NewSeen("bank-a", "gone", time.Now().Add(time.Hour), time.Now()),
			signature.NewSeen("bank-a", "live", time.Now().Add(time.Hour), time.Now()),
		})
		if err != nil || fmt.Sprint(got) != "[true false]" {
			t.Fatalf("RememberManyIn = %v, %v; want [true false]", got, err)
		}
		if _, err := db.Exec(`DELETE FROM seen_messages WHERE jti IN ('gone', 'live')`); err != nil { // on the real clock, not the test's
			t.Fatal(err)
		}
	})
	t.Run("PurgeSeen", func(t *testing.T) {
		var before int
		if err := db.Get(&before, `SELECT count(*) FROM seen_messages`); err != nil {
			t.Fatal(err)
		}
		if before == 0 {
			t.Fatal("no seen messages recorded")
		}
		n, err := f.v.PurgeSeen(context.Background())
		if err != nil || n != 0 {
			t.Fatalf("PurgeSeen now = %d, %v; want 0 (nothing expired 10 minutes ago)", n, err)
		}
		f.clock.Advance(21 * time.Minute)
		n, err = f.v.PurgeSeen(context.Background())
		if err != nil || n != int64(before) {
			t.Fatalf("PurgeSeen later = %d, %v; want %d", n, err, before)
		}
		var after int
		if err := db.Get(&after, `SELECT count(*) FROM seen_messages`); err != nil || after != 0 {
			t.Fatalf("rows after purge = %d, %v", after, err)
		}
	})
}

func TestVerifyKeyRotation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.NewDB(t))
	k := keys(t)
	oldKey := signature.Signer{ID: "rot", KeyID: "2026-10", Key: k.edA, Algorithm: signature.AlgEdDSA}
	newKey := signature.Signer{ID: "rot", KeyID: "2026-11", Key: k.edA2, Algorithm: signature.AlgEdDSA}

	f.register(signature.Sender{ID: "rot", JWKS: jwksOf(t, oldKey), Version: "v1"})
	f.mustVerify(t, request(f.mustSign(t, oldKey)))
	f.mustReject(t, request(f.mustSign(t, newKey)), signature.ReasonUnknownKid)

	t.Run("BothPublished", func(t *testing.T) {
		f.register(signature.Sender{ID: "rot", JWKS: jwksOf(t, oldKey, newKey), Version: "v2"})
		f.mustVerify(t, request(f.mustSign(t, oldKey)))
		f.mustVerify(t, request(f.mustSign(t, newKey)))
	})
	t.Run("OldWithdrawn", func(t *testing.T) {
		f.register(signature.Sender{ID: "rot", JWKS: jwksOf(t, newKey), Version: "v3"})
		f.mustReject(t, request(f.mustSign(t, oldKey)), signature.ReasonUnknownKid)
		f.mustVerify(t, request(f.mustSign(t, newKey)))
	})
	t.Run("ChangeNoticedWithoutVersion", func(t *testing.T) {
		f.register(signature.Sender{ID: "rot", JWKS: jwksOf(t, oldKey), Version: "v3"})
		f.mustVerify(t, request(f.mustSign(t, oldKey)))
		f.mustReject(t, request(f.mustSign(t, newKey)), signature.ReasonUnknownKid)
	})
	t.Run("AlgorithmsNarrowed", func(t *testing.T) {
		f.register(signature.Sender{ID: "rot", Algorithms: []string{"ES256"}, JWKS: jwksOf(t, oldKey), Version: "v4"})
		f.mustReject(t, request(f.mustSign(t, oldKey)), signature.ReasonAlg)
	})
}

func TestVerifyBadRegistrationIsInternal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.NewDB(t))
	s := signature.Signer{ID: "bad", KeyID: "k", Key: keys(t).edA, Algorithm: signature.AlgEdDSA}
	f.register(signature.Sender{ID: "bad", JWKSURL: "ftp://example.com/jwks.json"})
	_, err := f.v.Verify(context.Background(), request(f.mustSign(t, s)))
	if !errs.Is(err, errs.Internal) {
		t.Fatalf("err = %v, want internal", err)
	}
}

// TestVerifyHTUEncoding: the path is compared exactly, escapes included.
func TestVerifyHTUEncoding(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.NewDB(t))
	setupSenders(t, f)
	now := f.clock.Now()
	h := craft(t, now, jwt.SigningMethodEdDSA, keys(t).edA, nil, map[string]any{"htu": "https://procfin.example/v1/a%2Fb"})
	req := request(h)
	req.URL = "https://procfin.example/v1/a/b"
	f.mustReject(t, req, signature.ReasonHTU)
	req.URL = "https://procfin.example/v1/a%2Fb?x"
	f.mustVerify(t, req)
}

// TestSignedMessageShape: Sign makes exactly the protocol's JWT.
func TestSignedMessageShape(t *testing.T) {
	t.Parallel()
	s := signature.Signer{ID: "procfin", KeyID: "kid-1", Key: keys(t).edA, Algorithm: signature.AlgEdDSA}
	now := start.Add(1500 * time.Millisecond)
	h, err := s.Sign("POST", "https://bank.example/v1/credit-applications?x=1", "qilu-bank", body, now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(h, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", h)
	}
	var hdr, claims map[string]any
	for i, dst := range []*map[string]any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.Strict().DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	wantHdr := map[string]any{"alg": "EdDSA", "kid": "kid-1", "typ": "pfin+jwt"}
	if !mapsEqual(hdr, wantHdr) {
		t.Errorf("header = %v, want %v", hdr, wantHdr)
	}
	iat := float64(start.Add(time.Second).Unix())
	jti, _ := claims["jti"].(string)
	if b, err := base64.RawURLEncoding.Strict().DecodeString(jti); err != nil || len(b) != 16 {
		t.Errorf("jti %q is not 128 random bits, base64url", jti)
	}
	delete(claims, "jti")
	wantClaims := map[string]any{
		"iss": "procfin", "aud": "qilu-bank", "iat": iat, "exp": iat + 300,
		"htm": "POST", "htu": "https://bank.example/v1/credit-applications", "bsh": signature.BodyHash(body),
	}
	if !mapsEqual(claims, wantClaims) {
		t.Errorf("claims = %v, want %v", claims, wantClaims)
	}
	h2, _ := s.Sign("POST", "https://bank.example/v1/credit-applications", "qilu-bank", body, now)
	if h2 == h {
		t.Error("two messages are identical: jti not random")
	}
}

func mapsEqual(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// flipPaddingBit changes the last character of s to the one whose 6 bits
// differ in the lowest: for an encoding whose last character carries
// padding bits (an Ed25519 signature: 64 bytes, 86 characters, the last
// with 2 bits of data and 4 of padding), the bytes decoded leniently are
// the same, the text is not.
func flipPaddingBit(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i^1])
}

// TestVerifyStrictBase64: a message whose signature's last character has
// another padding bit is another message, and refused.
func TestVerifyStrictBase64(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.NewDB(t))
	s := setupSenders(t, f)
	h := f.mustSign(t, s.aEd)
	tampered := flipPaddingBit(h)
	sig := tampered[strings.LastIndexByte(tampered, '.')+1:]
	if b, err := base64.RawURLEncoding.DecodeString(sig); err != nil || len(b) != ed25519.SignatureSize {
		t.Fatalf("the tampered signature does not decode leniently (%v): the test proves nothing", err)
	}
	f.mustReject(t, request(tampered), signature.ReasonMalformed)
	f.mustVerify(t, request(h))
}
