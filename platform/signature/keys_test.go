package signature_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"procfin/platform/errs"
	"procfin/platform/postgres/pgtest"
	"procfin/platform/signature"
)

// jwksServer serves a JWK Set the test changes, and counts its hits.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int64

	mu   sync.Mutex
	body []byte
}

func newJWKSServer(tb testing.TB) *jwksServer {
	tb.Helper()
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		b := s.body
		s.mu.Unlock()
		if b == nil {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(b)
	}))
	tb.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(tb testing.TB, set any) {
	tb.Helper()
	b, err := json.Marshal(set)
	if err != nil {
		tb.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = b
}

func (s *jwksServer) down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = nil
}

func TestVerifyJWKSURL(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.NewDB(t))
	srv := newJWKSServer(t)
	k := keys(t)
	k1 := signature.Signer{ID: "urlbank", KeyID: "k1", Key: k.edA, Algorithm: signature.AlgEdDSA}
	k2 := signature.Signer{ID: "urlbank", KeyID: "k2", Key: k.ecA, Algorithm: signature.AlgES256}
	k3 := signature.Signer{ID: "urlbank", KeyID: "k3", Key: k.edA2, Algorithm: signature.AlgEdDSA}
	forged := signature.Signer{ID: "urlbank", KeyID: "forged", Key: k.edRogue, Algorithm: signature.AlgEdDSA}
	f.register(signature.Sender{ID: "urlbank", JWKSURL: srv.URL + "/jwks.json", Version: "v1"})
	wantHits := func(t *testing.T, want int64) {
		t.Helper()
		if got := srv.hits.Load(); got != want {
			t.Fatalf("JWKS URL hits = %d, want %d", got, want)
		}
	}

	srv.serve(t, jwksOf(t, k1))
	t.Run("FirstUseFetches", func(t *testing.T) {
		f.mustVerify(t, request(f.mustSign(t, k1)))
		f.mustVerify(t, request(f.mustSign(t, k1)))
		wantHits(t, 1)
	})
	t.Run("UnknownKidRefetchesOnce", func(t *testing.T) {
		srv.serve(t, jwksOf(t, k1, k2))
		f.mustVerify(t, request(f.mustSign(t, k2)))
		wantHits(t, 2)
	})
	t.Run("SecondUnknownKidWithinAMinuteDoesNotRefetch", func(t *testing.T) {
		srv.serve(t, jwksOf(t, k1, k2, k3))
		f.clock.Advance(59 * time.Second)
		f.mustReject(t, request(f.mustSign(t, k3)), signature.ReasonUnknownKid)
		f.mustReject(t, request(f.mustSign(t, forged)), signature.ReasonUnknownKid)
		wantHits(t, 2)
	})
	t.Run("RefetchesAfterAMinute", func(t *testing.T) {
		f.clock.Advance(2 * time.Second)
		f.mustVerify(t, request(f.mustSign(t, k3)))
		wantHits(t, 3)
		f.mustReject(t, request(f.mustSign(t, forged)), signature.ReasonUnknownKid)
		wantHits(t, 3)
	})
	t.Run("WithdrawnKeyStopsAfterMaxAge", func(t *testing.T) {
		srv.serve(t, jwksOf(t, k2, k3))
		f.mustVerify(t, request(f.mustSign(t, k1))) // still cached
		f.clock.Advance(signature.DefaultJWKSMaxAge)
		f.mustReject(t, request(f.mustSign(t, k1)), signature.ReasonUnknownKid)
		f.mustVerify(t, request(f.mustSign(t, k3)))
	})
	t.Run("SenderDownKeepsCachedKeys", func(t *testing.T) {
		srv.down()
		f.clock.Advance(signature.DefaultJWKSMaxAge)
		f.mustVerify(t, request(f.mustSign(t, k3)))
	})
	t.Run("CachedKeysPastHardExpiryRefused", func(t *testing.T) {
		// Last read at the start of WithdrawnKeyStopsAfterMaxAge, one max
		// age (1 h) ago: 23 h more is the 24 h hard expiry.
		f.clock.Advance(signature.DefaultJWKSHardExpiry - signature.DefaultJWKSMaxAge - time.Second)
		f.mustVerify(t, request(f.mustSign(t, k3)))
		f.clock.Advance(time.Second)
		f.mustReject(t, request(f.mustSign(t, k3)), signature.ReasonKeysExpired)
		f.clock.Advance(time.Hour)
		f.mustReject(t, request(f.mustSign(t, k3)), signature.ReasonKeysExpired)
	})
	t.Run("BackOnceReadAgain", func(t *testing.T) {
		srv.serve(t, jwksOf(t, k3))
		f.clock.Advance(time.Minute)
		f.mustVerify(t, request(f.mustSign(t, k3)))
	})
}

// TestVerifyJWKSHardExpiryConfigurable: WithJWKSHardExpiry shortens it.
func TestVerifyJWKSHardExpiryConfigurable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.NewDB(t), signature.WithJWKSHardExpiry(2*time.Hour))
	srv := newJWKSServer(t)
	k1 := signature.Signer{ID: "urlbank", KeyID: "k1", Key: keys(t).edA, Algorithm: signature.AlgEdDSA}
	f.register(signature.Sender{ID: "urlbank", JWKSURL: srv.URL + "/jwks.json"})
	srv.serve(t, jwksOf(t, k1))
	f.mustVerify(t, request(f.mustSign(t, k1)))
	srv.down()
	f.clock.Advance(2*time.Hour - time.Second)
	f.mustVerify(t, request(f.mustSign(t, k1)))
	f.clock.Advance(time.Second)
	f.mustReject(t, request(f.mustSign(t, k1)), signature.ReasonKeysExpired)
}

// redirectingJWKS is a TLS server at https://example.com (as the test's
// client dials it) that redirects /jwks.json to the URL to, and the
// client: it reaches example.com at that server and trusts its
// certificate; any other address it dials as it is.
func redirectingJWKS(t *testing.T, to string) (url string, hc *http.Client) {
	t.Helper()
	srv := httptest.NewTLSServer(http.RedirectHandler(to, http.StatusFound))
	t.Cleanup(srv.Close)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == "example.com:443" {
			addr = srv.Listener.Addr().String()
		}
		return d.DialContext(ctx, network, addr)
	}
	return "https://example.com/jwks.json", &http.Client{Transport: tr}
}

// TestJWKSRedirects: a JWKS URL's redirect to plain http is refused, and one
// to a loopback address unless private URLs are allowed.
func TestJWKSRedirects(t *testing.T) {
	t.Parallel()
	k1 := signature.Signer{ID: "redir", KeyID: "k1", Key: keys(t).edA, Algorithm: signature.AlgEdDSA}
	plain := newJWKSServer(t)
	plain.serve(t, jwksOf(t, k1))
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := json.Marshal(jwksOf(t, k1))
		_, _ = w.Write(b)
	}))
	t.Cleanup(secure.Close)
	key := func(t *testing.T, u string, opts ...signature.Option) error {
		t.Helper()
		ks, err := signature.NewKeySet(signature.JWKS{}, u, opts...)
		if err != nil {
			t.Fatalf("NewKeySet(%s): %v", u, err)
		}
		_, found, err := ks.Key(context.Background(), "k1")
		if err == nil && !found {
			t.Fatalf("no error and no key")
		}
		return err
	}
	t.Run("ErrHTTPSToHTTP", func(t *testing.T) {
		u, hc := redirectingJWKS(t, plain.URL+"/jwks.json")
		// Refused even where private URLs are allowed.
		if err := key(t, u, signature.WithHTTPClient(hc), signature.WithURLPolicy(allowPrivate)); !errs.Is(err, errs.Unavailable) {
			t.Fatalf("err = %v, want unavailable", err)
		}
		if plain.hits.Load() != 0 {
			t.Fatalf("the plain http URL was read")
		}
	})
	t.Run("ErrToLoopback", func(t *testing.T) {
		u, hc := redirectingJWKS(t, secure.URL+"/jwks.json")
		if err := key(t, u, signature.WithHTTPClient(hc)); !errs.Is(err, errs.Unavailable) {
			t.Fatalf("err = %v, want unavailable", err)
		}
	})
	t.Run("ToLoopbackAllowed", func(t *testing.T) {
		u, hc := redirectingJWKS(t, secure.URL+"/jwks.json")
		if err := key(t, u, signature.WithHTTPClient(hc), signature.WithURLPolicy(allowPrivate)); err != nil {
			t.Fatalf("err = %v, want the key", err)
		}
	})
	t.Run("ErrDirectLoopback", func(t *testing.T) {
		for _, u := range []string{plain.URL + "/jwks.json", secure.URL + "/jwks.json"} {
			if _, err := signature.NewKeySet(signature.JWKS{}, u); !errs.Is(err, errs.Invalid) {
				t.Errorf("NewKeySet(%s) err = %v, want invalid", u, err)
			}
		}
	})
	t.Run("DirectLoopbackAllowed", func(t *testing.T) {
		if err := key(t, plain.URL+"/jwks.json", signature.WithURLPolicy(allowPrivate)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestVerifyJWKSURLUnavailable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.NewDB(t))
	srv := newJWKSServer(t)
	s := signature.Signer{ID: "downbank", KeyID: "k1", Key: keys(t).edA, Algorithm: signature.AlgEdDSA}
	f.register(signature.Sender{ID: "downbank", JWKSURL: srv.URL + "/jwks.json"})

	_, err := f.v.Verify(context.Background(), request(f.mustSign(t, s)))
	if !errs.Is(err, errs.Unavailable) {
		t.Fatalf("err = %v, want unavailable", err)
	}
	t.Run("NoRetryWithinAMinute", func(t *testing.T) {
		srv.serve(t, jwksOf(t, s))
		_, err := f.v.Verify(context.Background(), request(f.mustSign(t, s)))
		if !errs.Is(err, errs.Unavailable) || srv.hits.Load() != 1 {
			t.Fatalf("err = %v, hits = %d; want unavailable without a fetch", err, srv.hits.Load())
		}
	})
	t.Run("RetryAfterAMinute", func(t *testing.T) {
		f.clock.Advance(time.Minute)
		f.mustVerify(t, request(f.mustSign(t, s)))
	})
	t.Run("PrivateKeyAtURLRefused", func(t *testing.T) {
		srv2 := newJWKSServer(t)
		srv2.serve(t, map[string]any{"keys": []map[string]any{{
			"kty": "OKP", "crv": "Ed25519", "kid": "k1",
			"x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
			"d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
		}}})
		f.register(signature.Sender{ID: "leaky", JWKSURL: srv2.URL})
		s := signature.Signer{ID: "leaky", KeyID: "k1", Key: keys(t).edA, Algorithm: signature.AlgEdDSA}
		_, err := f.v.Verify(context.Background(), request(f.mustSign(t, s)))
		if !errs.Is(err, errs.Unavailable) {
			t.Fatalf("err = %v, want unavailable", err)
		}
	})
}

func TestKeySetBodyLimit(t *testing.T) {
	t.Parallel()
	big := make([]byte, 1<<20+10)
	for i := range big {
		big[i] = ' '
	}
	copy(big, `{"keys":[]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			_, _ = w.Write(big)
			return
		}
		_, _ = w.Write(big[:1<<20]) // exactly 1 MiB: allowed
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name    string
		path    string
		wantErr bool
	}{{"OneMiB", "/ok", false}, {"ErrOverOneMiB", "/big", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := signature.NewKeySet(signature.JWKS{}, srv.URL+tc.path, signature.WithURLPolicy(allowPrivate))
			if err != nil {
				t.Fatal(err)
			}
			_, found, err := ks.Key(context.Background(), "k")
			if found || (err != nil) != tc.wantErr || err != nil && !errs.Is(err, errs.Unavailable) {
				t.Fatalf("Key: found %v, err %v; want error %v", found, err, tc.wantErr)
			}
		})
	}
}

func TestNewKeySetRefusesBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://example.com/jwks.json", "ftp://x/y", "jwks.json"} {
		if _, err := signature.NewKeySet(signature.JWKS{}, u); !errs.Is(err, errs.Invalid) {
			t.Errorf("NewKeySet(%q) err = %v, want invalid", u, err)
		}
	}
}
