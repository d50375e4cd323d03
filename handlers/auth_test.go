package handlers

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestTokenAndMe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, _ := e.user("alice", "supplier", "91350100M000100Y43")

	r := e.do("POST", "/v1/auth/token", "", map[string]string{"username": "alice", "password": "correct horse battery"})
	if r.status != 200 {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("token answer is cacheable")
	}
	tok := r.json(t)
	if tok["token_type"] != "Bearer" || tok["expires_in"].(float64) != 900 {
		t.Fatalf("token answer %v", tok)
	}
	me := e.do("GET", "/v1/me", tok["access_token"].(string), nil)
	m := me.json(t)
	if me.status != 200 || m["id"] != u.ID || m["role"] != "supplier" || m["supplier_uscc"] != "91350100M000100Y43" {
		t.Fatalf("me: %d %v", me.status, m)
	}
	if strings.Contains(string(me.body), "argon2") || strings.Contains(string(me.body), "password") {
		t.Fatalf("me leaks the password hash: %s", me.body)
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.user("alice", "officer", "")
	wrong := wantProblem(t, e.do("POST", "/v1/auth/token", "", map[string]string{"username": "alice", "password": "wrong password!"}), 401, "unauthorized")
	unknown := wantProblem(t, e.do("POST", "/v1/auth/token", "", map[string]string{"username": "mallory", "password": "wrong password!"}), 401, "unauthorized")
	if wrong["detail"] != unknown["detail"] || wrong["title"] != unknown["title"] {
		t.Fatalf("answers differ: %v vs %v", wrong, unknown)
	}
}

func TestLoginRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // 5 attempts per minute per user
	e.user("alice", "officer", "")
	for i := 0; i < 5; i++ {
		e.do("POST", "/v1/auth/token", "", map[string]string{"username": "alice", "password": "wrong password!"})
	}
	r := e.do("POST", "/v1/auth/token", "", map[string]string{"username": "alice", "password": "correct horse battery"})
	wantProblem(t, r, http.StatusTooManyRequests, "rate_limited")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
}

func TestTokenBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		name, body, typ string
		status          int
	}{
		{"Malformed", `{"username":`, "malformed_request", 400},
		{"NotJSON", `username=alice`, "malformed_request", 400},
		{"WrongType", `{"username": 42, "password": "x"}`, "invalid", 422},
		{"UnknownField", `{"username": "a", "password": "b", "admin": true}`, "invalid", 422},
		{"MissingField", `{"username": "alice"}`, "invalid", 422},
		{"Empty", ``, "malformed_request", 400},
		{"Array", `[1,2]`, "malformed_request", 400},
		{"Trailing", `{"username":"a","password":"b"} {}`, "malformed_request", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, e.do("POST", "/v1/auth/token", "", tc.body), tc.status, tc.typ)
		})
	}
	t.Run("WrongContentType", func(t *testing.T) {
		wantProblem(t, e.do("POST", "/v1/auth/token", "", `{}`, "Content-Type", "text/plain"), 415, "unsupported_media_type")
	})
}

func TestBadTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, good := e.user("alice", "officer", "")
	ctx := context.Background()
	parts := strings.Split(good, ".")
	kid := func() string {
		tok, _, _ := jwt.NewParser().ParseUnverified(good, jwt.MapClaims{})
		return tok.Header["kid"].(string)
	}()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		now := time.Now()
		c := jwt.MapClaims{"iss": "procfin", "aud": "procfin-api", "sub": u.ID, "role": "officer", "username": "alice",
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": "x"}
		if mod != nil {
			mod(c)
		}
		return c
	}
	signed := func(c jwt.MapClaims) string {
		s, err := e.auth.Sign(ctx, c, "at+jwt") // everything right but what the case changes
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	forged := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims(nil))
	forged.Header["kid"] = kid
	forged.Header["typ"] = "at+jwt"
	forgedTok, _ := forged.SignedString(otherKey)
	none := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil))
	none.Header["kid"] = kid
	none.Header["typ"] = "at+jwt"
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)

	cases := map[string]string{
		"WrongType":      func() string { s, _ := e.auth.Sign(ctx, claims(nil), "pfin+jwt"); return s }(),
		"Expired":        signed(claims(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-2 * time.Minute).Unix() })),
		"WrongAudience":  signed(claims(func(c jwt.MapClaims) { c["aud"] = "some-bank" })),
		"WrongIssuer":    signed(claims(func(c jwt.MapClaims) { c["iss"] = "evil" })),
		"WrongSignature": forgedTok,
		"AlgNone":        noneTok,
		"Tampered":       parts[0] + "." + strings.TrimRight(parts[1], "A") + "B." + parts[2],
		"Garbage":        "not.a.token",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			wantProblem(t, e.do("GET", "/v1/me", tok, nil), 401, "token_invalid")
		})
	}
	t.Run("Control", func(t *testing.T) { // the forging helper makes tokens that do pass
		if r := e.do("GET", "/v1/me", signed(claims(nil)), nil); r.status != 200 {
			t.Fatalf("a correctly made token was refused: %d %s", r.status, r.body)
		}
	})
	t.Run("NoToken", func(t *testing.T) {
		r := e.do("GET", "/v1/me", "", nil)
		wantProblem(t, r, 401, "unauthorized")
		if r.header.Get("WWW-Authenticate") == "" {
			t.Fatal("no WWW-Authenticate challenge")
		}
	})
	t.Run("NotBearer", func(t *testing.T) {
		wantProblem(t, e.do("GET", "/v1/me", "", nil, "Authorization", "Basic YWxpY2U6cHc="), 401, "token_invalid")
	})
	t.Run("ExpiredByClock", func(t *testing.T) {
		e.advance(16 * time.Minute)
		defer e.advance(-16 * time.Minute)
		wantProblem(t, e.do("GET", "/v1/me", good, nil), 401, "token_invalid")
	})
	if r := e.do("GET", "/v1/me", good, nil); r.status != 200 {
		t.Fatalf("the good token stopped working: %d %s", r.status, r.body)
	}
}

func TestJWKSPublishesSigningKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tok := e.user("alice", "officer", "")
	parsed, _, _ := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	r := e.do("GET", "/.well-known/jwks.json", "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), parsed.Header["kid"].(string)) || strings.Contains(string(r.body), `"d"`) {
		t.Fatalf("jwks %d %s", r.status, r.body)
	}
}
