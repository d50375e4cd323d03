package signature_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jmoiron/sqlx"

	"procfin/platform/errs"
	"procfin/platform/safehttp"
	"procfin/platform/signature"
)

const (
	audience  = "procfin"
	eventsURL = "https://procfin.example/v1/bank-events"
)

var (
	body  = []byte(`{"event_id":"e-1","type":"application.received"}`)
	start = time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
)

// testKeys are generated once per test binary (RSA is slow).
type testKeys struct {
	edA, edA2, edB, edB2, edRogue ed25519.PrivateKey
	ecA                           *ecdsa.PrivateKey
	rsaA                          *rsa.PrivateKey
}

var (
	keysOnce sync.Once
	theKeys  testKeys
)

func keys(tb testing.TB) testKeys {
	tb.Helper()
	keysOnce.Do(func() {
		ed := func() ed25519.PrivateKey {
			_, k, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				panic(err)
			}
			return k
		}
		theKeys.edA, theKeys.edA2, theKeys.edB, theKeys.edB2, theKeys.edRogue = ed(), ed(), ed(), ed(), ed()
		var err error
		if theKeys.ecA, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if theKeys.rsaA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return theKeys
}

// jwksOf returns the public JWK Set of the signers.
func jwksOf(tb testing.TB, signers ...signature.Signer) signature.JWKS {
	tb.Helper()
	set := signature.JWKS{Keys: []signature.JWK{}}
	for _, s := range signers {
		k, err := s.PublicJWK()
		if err != nil {
			tb.Fatalf("PublicJWK: %v", err)
		}
		set.Keys = append(set.Keys, k)
	}
	return set
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// allowPrivate lets the tests' httptest servers on 127.0.0.1 be called.
var allowPrivate = safehttp.Policy{AllowPrivate: true}

// fixture is a Verifier over a registry the test edits.
type fixture struct {
	v     *signature.Verifier
	clock *clock

	mu      sync.Mutex
	senders map[string]signature.Sender
	rejects []string
	lookups int
}

func newFixture(tb testing.TB, db *sqlx.DB, opts ...signature.Option) *fixture {
	tb.Helper()
	f := &fixture{clock: &clock{t: start}, senders: map[string]signature.Sender{}}
	lookup := func(_ context.Context, id string) (signature.Sender, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.lookups++
		s, ok := f.senders[id]
		if !ok {
			return signature.Sender{}, errs.E(errs.NotFound, "no sender %q", id)
		}
		return s, nil
	}
	// The JWKS servers of the tests are on 127.0.0.1.
	opts = append([]signature.Option{signature.WithClock(f.clock.Now), signature.WithURLPolicy(allowPrivate)}, opts...)
	f.v = signature.NewVerifier(db, audience, lookup, opts...)
	f.v.OnReject = func(reason string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.rejects = append(f.rejects, reason)
	}
	return f
}

func (f *fixture) register(s signature.Sender) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.senders[s.ID] = s
}

func (f *fixture) lastReject() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.rejects) == 0 {
		return ""
	}
	return f.rejects[len(f.rejects)-1]
}

// request is a POST of body to eventsURL carrying header.
func request(header string) signature.Request {
	return signature.Request{Header: header, Method: "POST", URL: eventsURL, Body: body}
}

// mustSign signs a request of body to eventsURL at the fixture's time.
func (f *fixture) mustSign(tb testing.TB, s signature.Signer) string {
	tb.Helper()
	h, err := s.Sign("POST", eventsURL, audience, body, f.clock.Now())
	if err != nil {
		tb.Fatalf("Sign: %v", err)
	}
	return h
}

// mustVerify verifies req and fails the test on an error.
func (f *fixture) mustVerify(tb testing.TB, req signature.Request) signature.Claims {
	tb.Helper()
	c, err := f.v.Verify(context.Background(), req)
	if err != nil {
		tb.Fatalf("Verify: %v (reason %q)", err, signature.RejectReason(err))
	}
	return c
}

// mustReject verifies req and fails the test unless it is rejected as
// signature_invalid for reason, reported to OnReject too.
func (f *fixture) mustReject(tb testing.TB, req signature.Request, reason string) error {
	tb.Helper()
	c, err := f.v.Verify(context.Background(), req)
	if err == nil {
		tb.Fatalf("Verify accepted the message (claims %+v); want rejection %q", c, reason)
	}
	if !errs.Is(err, errs.SignatureInvalid) {
		tb.Fatalf("Verify error code = %s (%v), want %s", errs.CodeOf(err), err, errs.SignatureInvalid)
	}
	if got := signature.RejectReason(err); got != reason {
		tb.Fatalf("reason = %q (%v), want %q", got, err, reason)
	}
	if got := f.lastReject(); got != reason {
		tb.Fatalf("OnReject got %q, want %q", got, reason)
	}
	if c != (signature.Claims{}) {
		tb.Fatalf("claims on failure: %+v", c)
	}
	return err
}

// craft builds a message by hand: the standard claims of a message from
// iss bank-a to procfin at now, with the overrides applied (a nil value
// deletes the member), in header and claims alike.
func craft(tb testing.TB, now time.Time, method jwt.SigningMethod, key any, hdr, claims map[string]any) string {
	tb.Helper()
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	c := jwt.MapClaims{
		"iss": "bank-a",
		"aud": audience,
		"iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti[:]),
		"htm": "POST",
		"htu": eventsURL,
		"bsh": signature.BodyHash(body),
	}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	t := jwt.NewWithClaims(method, c)
	t.Header["typ"] = signature.TokenType
	t.Header["kid"] = "k1"
	for k, v := range hdr {
		if v == nil {
			delete(t.Header, k)
		} else {
			t.Header[k] = v
		}
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatalf("craft: %v", err)
	}
	return s
}
