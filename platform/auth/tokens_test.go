package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"procfin/platform/errs"
)

// currentKey returns the service's signing key with its private half.
func currentKey(t *testing.T, s *Service) (string, ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	k, err := s.keys.signer(context.Background(), s.now())
	if err != nil {
		t.Fatal(err)
	}
	seed, err := openPrivateKey(s.cfg.MasterKey, k.PrivateKeyEnc, k.Kid)
	if err != nil {
		t.Fatal(err)
	}
	return k.Kid, ed25519.NewKeyFromSeed(seed), ed25519.PublicKey(k.PublicKey)
}

// decodeSegment decodes a JWT segment into v.
func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestIssueToken(t *testing.T) {
	t.Parallel()
	s, _, clock := MustReadyService(t, testConfig())
	ctx := context.Background()
	officer := MustCreateUser(t, s, NewUser{Username: "officer.li", Password: goodPassword, Role: "officer"})
	supplier := MustCreateUser(t, s, NewUser{Username: "acme", Password: goodPassword, Role: "supplier", SupplierUSCC: goodUSCC})
	kid, _, _ := currentKey(t, s)

	cases := []struct {
		name string
		u    User
		want map[string]any // claims besides iat, nbf, exp, jti
	}{
		{"Officer", officer, map[string]any{
			"iss": "procfin", "aud": []any{"procfin-api"}, "sub": officer.ID,
			"role": "officer", "username": "officer.li"}},
		{"Supplier", supplier, map[string]any{
			"iss": "procfin", "aud": []any{"procfin-api"}, "sub": supplier.ID,
			"role": "supplier", "username": "acme", "supplier_uscc": goodUSCC}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			token, expiresIn, err := s.IssueToken(ctx, tc.u)
			if err != nil {
				t.Fatalf("IssueToken: %v", err)
			}
			if expiresIn != DefaultTokenTTL {
				t.Fatalf("expiresIn = %v, want %v", expiresIn, DefaultTokenTTL)
			}
			parts := strings.Split(token, ".")
			if len(parts) != 3 {
				t.Fatalf("token %q is not a compact JWS", token)
			}
			var header map[string]any
			decodeSegment(t, parts[0], &header)
			wantHeader := map[string]any{"alg": "EdDSA", "kid": kid, "typ": "at+jwt"}
			if !mapsEqual(header, wantHeader) {
				t.Fatalf("header %v, want %v", header, wantHeader)
			}
			var claims map[string]any
			decodeSegment(t, parts[1], &claims)
			now := float64(clock.Now().Unix())
			if claims["iat"] != now || claims["nbf"] != now || claims["exp"] != now+DefaultTokenTTL.Seconds() {
				t.Fatalf("iat/nbf/exp = %v/%v/%v, want %v/%v/%v", claims["iat"], claims["nbf"], claims["exp"],
					now, now, now+DefaultTokenTTL.Seconds())
			}
			if jti, _ := claims["jti"].(string); len(jti) < 16 {
				t.Fatalf("jti %q too short", claims["jti"])
			}
			for _, k := range []string{"iat", "nbf", "exp", "jti"} {
				delete(claims, k)
			}
			if !mapsEqual(claims, tc.want) {
				t.Fatalf("claims %v, want %v", claims, tc.want)
			}

			p, err := s.VerifyToken(ctx, token)
			if err != nil {
				t.Fatalf("VerifyToken: %v", err)
			}
			want := Principal{UserID: tc.u.ID, Username: tc.u.Username, Role: tc.u.Role, SupplierUSCC: tc.u.SupplierUSCC}
			if p != want {
				t.Fatalf("principal %+v, want %+v", p, want)
			}
		})
	}

	t.Run("UniqueJTI", func(t *testing.T) {
		a, _, _ := s.IssueToken(ctx, officer)
		b, _, _ := s.IssueToken(ctx, officer)
		var ca, cb map[string]any
		decodeSegment(t, strings.Split(a, ".")[1], &ca)
		decodeSegment(t, strings.Split(b, ".")[1], &cb)
		if ca["jti"] == cb["jti"] {
			t.Fatalf("two tokens share jti %v", ca["jti"])
		}
	})

	t.Run("ErrUserWithoutID", func(t *testing.T) {
		_, _, err := s.IssueToken(ctx, User{Username: "x", Role: RoleAdmin})
		wantErr(t, err, errs.Internal, "")
	})
}

func mapsEqual(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestVerifyToken(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	s, db, clock := MustReadyService(t, cfg)
	ctx := context.Background()
	user := MustCreateUser(t, s, NewUser{Username: "officer.li", Password: goodPassword, Role: "officer"})
	kid, priv, pub := currentKey(t, s)
	_, otherPrivKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	// claims returns valid access-token claims at the clock's now.
	claims := func() accessClaims {
		now := clock.Now()
		return accessClaims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer: "procfin", Subject: user.ID, Audience: jwt.ClaimStrings{"procfin-api"},
				IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
				ExpiresAt: jwt.NewNumericDate(now.Add(15 * time.Minute)), ID: "jti-1",
			},
			Role: RoleOfficer, Username: "officer.li",
		}
	}
	// sign signs c with key under a header with the given fields (a nil
	// value leaves the field out).
	sign := func(method jwt.SigningMethod, c jwt.Claims, header map[string]any, key any) string {
		t.Helper()
		tok := jwt.NewWithClaims(method, c)
		for k, v := range header {
			if v == nil {
				delete(tok.Header, k)
			} else {
				tok.Header[k] = v
			}
		}
		str, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return str
	}
	good := map[string]any{"kid": kid, "typ": "at+jwt"}
	issue := func() string {
		tok, _, err := s.IssueToken(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// Services that share the keys but name another issuer or audience.
	otherAud := MustService(t, db, Config{Audience: "bank-api"}, clock)
	otherIss := MustService(t, db, Config{Issuer: "someone-else"}, clock)

	cases := []struct {
		name    string
		token   func() string
		advance time.Duration // clock moved after making the token, before verifying
		reason  string        // "" = valid
	}{
		{name: "OK", token: issue},
		{name: "OKHandMade", token: func() string { return sign(jwt.SigningMethodEdDSA, claims(), good, priv) }},
		{name: "OKExpiredWithinLeeway", token: issue, advance: 15*time.Minute + 59*time.Second},
		{name: "ErrExpired", token: issue, advance: 15*time.Minute + 61*time.Second, reason: "token expired"},
		{name: "ErrNotYetValidClockBehind", advance: -2 * time.Minute, token: issue, reason: "token not valid yet"},
		{name: "OKClockSkewWithinLeeway", advance: -59 * time.Second, token: issue},
		{name: "ErrIssuedInFuture", reason: "token issued in the future", token: func() string {
			c := claims()
			c.IssuedAt = jwt.NewNumericDate(clock.Now().Add(5 * time.Minute))
			c.NotBefore = nil
			return sign(jwt.SigningMethodEdDSA, c, good, priv)
		}},
		{name: "ErrNotYetValid", reason: "token not valid yet", token: func() string {
			c := claims()
			c.NotBefore = jwt.NewNumericDate(clock.Now().Add(5 * time.Minute))
			return sign(jwt.SigningMethodEdDSA, c, good, priv)
		}},
		{name: "ErrNoExpiry", reason: "token lacks a required claim", token: func() string {
			c := claims()
			c.ExpiresAt = nil
			return sign(jwt.SigningMethodEdDSA, c, good, priv)
		}},
		{name: "ErrWrongAudience", reason: "token not meant for this service", token: func() string {
			tok, _, err := otherAud.IssueToken(ctx, user)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{name: "ErrNoAudience", reason: "token lacks a required claim", token: func() string {
			c := claims()
			c.Audience = nil
			return sign(jwt.SigningMethodEdDSA, c, good, priv)
		}},
		{name: "ErrWrongIssuer", reason: "token from an unknown issuer", token: func() string {
			tok, _, err := otherIss.IssueToken(ctx, user)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{name: "ErrAlgNone", reason: "invalid token signature", token: func() string {
			return sign(jwt.SigningMethodNone, claims(), good, jwt.UnsafeAllowNoneSignatureType)
		}},
		{name: "ErrAlgNoneWithSignature", reason: "invalid token signature", token: func() string {
			tok := issue()
			parts := strings.Split(tok, ".")
			h, _ := json.Marshal(map[string]any{"alg": "none", "kid": kid, "typ": "at+jwt"})
			return base64.RawURLEncoding.EncodeToString(h) + "." + parts[1] + "." + parts[2]
		}},
		{name: "ErrHS256WithPublicKey", reason: "invalid token signature", token: func() string {
			return sign(jwt.SigningMethodHS256, claims(), good, []byte(pub))
		}},
		{name: "ErrHS256WithPublicJWK", reason: "invalid token signature", token: func() string {
			return sign(jwt.SigningMethodHS256, claims(), good, []byte(base64.RawURLEncoding.EncodeToString(pub)))
		}},
		{name: "ErrOtherKeySameKid", reason: "invalid token signature", token: func() string {
			return sign(jwt.SigningMethodEdDSA, claims(), good, otherPrivKey)
		}},
		{name: "ErrUnknownKid", reason: "unknown signing key", token: func() string {
			return sign(jwt.SigningMethodEdDSA, claims(), map[string]any{"kid": "no-such-key", "typ": "at+jwt"}, otherPrivKey)
		}},
		{name: "ErrMissingKid", reason: "token has no key id", token: func() string {
			return sign(jwt.SigningMethodEdDSA, claims(), map[string]any{"kid": nil, "typ": "at+jwt"}, priv)
		}},
		{name: "ErrKidNotString", reason: "token has no key id", token: func() string {
			return sign(jwt.SigningMethodEdDSA, claims(), map[string]any{"kid": 7, "typ": "at+jwt"}, priv)
		}},
		{name: "ErrTamperedPayload", reason: "invalid token signature", token: func() string {
			tok := issue()
			parts := strings.Split(tok, ".")
			var c map[string]any
			decodeSegment(t, parts[1], &c)
			c["role"] = "admin"
			b, _ := json.Marshal(c)
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
		}},
		{name: "ErrTamperedSignature", reason: "invalid token signature", token: func() string {
			tok := issue()
			parts := strings.Split(tok, ".")
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			sig[0] ^= 1
			return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
		}},
		{name: "ErrBankMessageType", reason: "not an access token", token: func() string {
			tok, err := s.Sign(ctx, claims(), "pfin+jwt")
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{name: "ErrNoType", reason: "not an access token", token: func() string {
			return sign(jwt.SigningMethodEdDSA, claims(), map[string]any{"kid": kid, "typ": nil}, priv)
		}},
		{name: "ErrUnknownRole", reason: "token claims are incomplete", token: func() string {
			c := claims()
			c.Role = "root"
			return sign(jwt.SigningMethodEdDSA, c, good, priv)
		}},
		{name: "ErrSupplierWithoutUSCC", reason: "token claims are incomplete", token: func() string {
			c := claims()
			c.Role = RoleSupplier
			return sign(jwt.SigningMethodEdDSA, c, good, priv)
		}},
		{name: "ErrNoSubject", reason: "token claims are incomplete", token: func() string {
			c := claims()
			c.Subject = ""
			return sign(jwt.SigningMethodEdDSA, c, good, priv)
		}},
		{name: "ErrGarbage", reason: "malformed token", token: func() string { return "not.a.token" }},
		{name: "ErrEmpty", reason: "malformed token", token: func() string { return "" }},
		{name: "ErrTooLong", reason: "malformed token", token: func() string { return strings.Repeat("a", 9000) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := clock.Now()
			defer clock.Set(start)
			tok := tc.token()
			clock.Advance(tc.advance)
			p, err := s.VerifyToken(ctx, tok)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("VerifyToken: %v", err)
				}
				if p.UserID != user.ID || p.Role != RoleOfficer || p.Username != "officer.li" {
					t.Fatalf("principal %+v", p)
				}
				return
			}
			wantErr(t, err, errs.InvalidToken, tc.reason)
		})
	}
}

func TestPrincipalJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Principal{UserID: "u1", Username: "acme", Role: RoleSupplier, SupplierUSCC: goodUSCC})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"user_id":"u1","username":"acme","role":"supplier","supplier_uscc":"91350100M000100Y43"}`
	if string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
}

func TestVerifyTokenRemembered(t *testing.T) {
	t.Parallel()
	s, _, clock := MustReadyService(t, testConfig())
	ctx := context.Background()
	user := MustCreateUser(t, s, NewUser{Username: "officer.li", Password: goodPassword, Role: "officer"})
	tok, _, err := s.IssueToken(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.VerifyToken(ctx, tok); err != nil || p.UserID != user.ID {
		t.Fatalf("VerifyToken = %+v, %v", p, err)
	}
	if _, ok := s.verified.get(tok, clock.Now()); !ok {
		t.Fatal("a verified token is not remembered")
	}
	// Another signature on the same header and claims is verified afresh.
	i := len(tok) - 10
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	if _, err := s.VerifyToken(ctx, tok[:i]+string(c)+tok[i+1:]); !errs.Is(err, errs.InvalidToken) {
		t.Fatalf("forged signature: err = %v, want invalid_token", err)
	}
	// Remembered for verifiedTTL at most; then verified again.
	clock.Advance(verifiedTTL)
	if _, ok := s.verified.get(tok, clock.Now()); ok {
		t.Fatal("remembered past verifiedTTL")
	}
	if _, err := s.VerifyToken(ctx, tok); err != nil {
		t.Fatalf("re-verify: %v", err)
	}
	// Never past expiry (15 minutes, plus the leeway).
	clock.Advance(15*time.Minute + verifyLeeway - verifiedTTL)
	if _, err := s.VerifyToken(ctx, tok); !errs.Is(err, errs.InvalidToken) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: err = %v, want token expired", err)
	}
}

func TestVerifiedTokensBounded(t *testing.T) {
	t.Parallel()
	var v verifiedTokens
	now := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	// Half the entries have expired when the cache fills: they go, the rest stay.
	for i := 0; i < maxVerified; i++ {
		until := now.Add(verifiedTTL)
		if i%2 == 0 {
			until = now.Add(-time.Second)
		}
		v.put(fmt.Sprint("token-", i), verifiedToken{until: until}, now)
	}
	v.put("token-new", verifiedToken{until: now.Add(verifiedTTL)}, now)
	if n := len(v.entries); n != maxVerified/2+1 {
		t.Fatalf("%d entries kept, want the %d unexpired and the new one", n, maxVerified/2)
	}
	if _, ok := v.get("token-1", now); !ok {
		t.Fatal("an unexpired entry was dropped")
	}
	// None expired: the cache starts over rather than grow.
	for i := 0; i < maxVerified+10; i++ {
		v.put(fmt.Sprint("fresh-", i), verifiedToken{until: now.Add(verifiedTTL)}, now)
	}
	if n := len(v.entries); n > maxVerified {
		t.Fatalf("%d entries kept, want at most %d", n, maxVerified)
	}
	if _, ok := v.get(fmt.Sprint("fresh-", maxVerified+9), now); !ok {
		t.Fatal("the newest entry was dropped")
	}
}

// TestVerifyTokenStrictBase64: a token whose signature's last character
// has another padding bit (an Ed25519 signature is 86 characters, the last
// carrying 4 bits of padding) decodes, leniently, to the same signature;
// it is another token all the same, and refused.
func TestVerifyTokenStrictBase64(t *testing.T) {
	t.Parallel()
	s, _, _ := MustReadyService(t, testConfig())
	ctx := context.Background()
	user := MustCreateUser(t, s, NewUser{Username: "officer.wu", Password: goodPassword, Role: "officer"})
	tok, _, err := s.IssueToken(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	tampered := tok[:len(tok)-1] + string(alphabet[last^1])
	sig := tampered[strings.LastIndexByte(tampered, '.')+1:]
	if b, err := base64.RawURLEncoding.DecodeString(sig); err != nil || len(b) != ed25519.SignatureSize {
		t.Fatalf("the tampered signature does not decode leniently (%v): the test proves nothing", err)
	}
	if p, err := s.VerifyToken(ctx, tampered); !errs.Is(err, errs.InvalidToken) {
		t.Fatalf("tampered token: %+v, %v; want invalid_token", p, err)
	}
	if _, err := s.VerifyToken(ctx, tok); err != nil {
		t.Fatalf("the token itself: %v", err)
	}
}
