package signature

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"procfin/platform/errs"
	"procfin/platform/safehttp"
)

// How a JWKS URL is read and cached.
const (
	// jwksFetchTimeout bounds one fetch of a sender's JWKS URL.
	jwksFetchTimeout = 5 * time.Second
	// jwksMissRefreshEvery: an unknown kid re-reads the URL at most this
	// often per sender, so a flood of forged kids cannot hammer the sender.
	jwksMissRefreshEvery = time.Minute
	// jwksRetryEvery: after a failed fetch, the next attempt waits this long.
	jwksRetryEvery = time.Minute
	// DefaultJWKSMaxAge is how long keys read from a URL are used before
	// they are read again, so that a key the sender withdrew stops
	// verifying.
	DefaultJWKSMaxAge = time.Hour
	// DefaultJWKSHardExpiry is how long keys read from a URL may still be
	// used, since they were last read, while the URL cannot be read: after
	// it, the sender's messages are refused (reason keys_expired) until
	// its keys can be read again.
	DefaultJWKSHardExpiry = 24 * time.Hour
)

// errKeysExpired is the cause of the error of a KeySet whose keys, read
// from a URL, are past their hard expiry and cannot be read again.
var errKeysExpired = errors.New("the keys read from the sender's JWKS URL expired and cannot be read again")

// KeySource finds a sender's public keys.
type KeySource interface {
	// Key returns the key named kid, with ok false when the sender has no
	// such key (after whatever refresh the source allows itself). An error
	// means the keys could not be obtained at all: unavailable.
	Key(ctx context.Context, kid string) (k JWK, ok bool, err error)
}

// Option configures a Verifier or a KeySet.
type Option func(*config)

type config struct {
	now        func() time.Time
	client     *http.Client
	maxAge     time.Duration
	hardExpiry time.Duration
	urls       safehttp.Policy
	replay     ReplayStore
}

func newConfig(opts []Option) config {
	c := config{now: time.Now, maxAge: DefaultJWKSMaxAge, hardExpiry: DefaultJWKSHardExpiry}
	for _, o := range opts {
		o(&c)
	}
	if c.client == nil {
		c.client = c.urls.Client(jwksFetchTimeout)
	}
	return c
}

// WithClock sets the clock (for tests).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithHTTPClient sets the client that fetches JWKS URLs (default: the URL
// policy's client, safehttp.Policy.Client, with a 5 s time-out: it
// connects only to the addresses the policy allows). Redirects are
// followed only to URLs the policy accepts, never from https to http;
// the addresses dialled are the given client's business.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.client = hc } }

// WithURLPolicy sets which JWKS URLs may be registered and read (default:
// the strict safehttp.Policy, https to public addresses only).
func WithURLPolicy(p safehttp.Policy) Option { return func(c *config) { c.urls = p } }

// WithJWKSMaxAge sets how long keys read from a JWKS URL are trusted before
// they are read again (default DefaultJWKSMaxAge).
func WithJWKSMaxAge(d time.Duration) Option { return func(c *config) { c.maxAge = d } }

// WithJWKSHardExpiry sets how long after they were last read keys from a
// JWKS URL that cannot be read again are still used (default
// DefaultJWKSHardExpiry); 0 or less keeps the default.
func WithJWKSHardExpiry(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.hardExpiry = d
		}
	}
}

// WithReplayStore makes a Verifier remember seen messages in store instead
// of the database's seen_messages table (the fuzz tests use
// NewMemoryReplayStore).
func WithReplayStore(store ReplayStore) Option { return func(c *config) { c.replay = store } }

// KeySet is the key cache of one sender: its inline keys and, when it
// registered a JWKS URL, the keys read from there. The URL is read on first
// use, again when the copy is older than the max age, and again when a
// message names a kid it does not know, at most once a minute. When the
// URL cannot be read, the copy is used until its hard expiry, and then
// not at all. A KeySet is safe for concurrent use.
type KeySet struct {
	inline JWKS
	url    string
	cfg    config

	mu        sync.Mutex
	remote    JWKS
	loaded    bool
	loadedAt  time.Time // last successful fetch
	attemptAt time.Time // last fetch attempt
	missAt    time.Time // last fetch caused by an unknown kid
}

var _ KeySource = (*KeySet)(nil)

// NewKeySet returns the key cache of a sender with the inline keys (may be
// empty) and the JWKS URL (may be empty). Only WithClock, WithHTTPClient,
// WithURLPolicy, WithJWKSMaxAge and WithJWKSHardExpiry matter here.
// Returns invalid for a bad URL (CheckJWKSURLWith the policy) or inline set
// (ParseJWKS).
func NewKeySet(inline JWKS, jwksURL string, opts ...Option) (*KeySet, error) {
	cfg := newConfig(opts)
	if jwksURL != "" {
		if err := CheckJWKSURLWith(jwksURL, cfg.urls); err != nil {
			return nil, err
		}
	}
	// Re-validate: the set may not have come from ParseJWKS.
	b, err := inline.MarshalJSON()
	if err != nil {
		return nil, jwksError("malformed", "cannot be encoded")
	}
	set, err := ParseJWKS(b)
	if err != nil {
		return nil, err
	}
	cfg.client = withSafeRedirects(cfg.client, cfg.urls)
	return &KeySet{inline: set, url: jwksURL, cfg: cfg}, nil
}

// Key returns the key named kid: an inline key, else one read from the
// sender's JWKS URL. Returns unavailable when the URL has never been read
// successfully and cannot be read now, or when the keys read from it are
// past their hard expiry and it cannot be read again (the Verifier refuses
// the message then, reason keys_expired).
func (s *KeySet) Key(ctx context.Context, kid string) (JWK, bool, error) {
	if k, ok := s.inline.Key(kid); ok {
		return k, true, nil
	}
	if s.url == "" {
		return JWK{}, false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.now()
	fetched := false
	if !s.loaded || now.Sub(s.loadedAt) >= min(s.cfg.maxAge, s.cfg.hardExpiry) || now.Before(s.loadedAt) {
		if s.attemptAt.IsZero() || now.Sub(s.attemptAt) >= jwksRetryEvery || now.Before(s.attemptAt) {
			err := s.fetchLocked(ctx, now)
			if err != nil && !s.loaded {
				return JWK{}, false, err
			}
			fetched = err == nil
		} else if !s.loaded {
			return JWK{}, false, errs.E(errs.Unavailable, "the sender's keys cannot be read now; retry later")
		}
	}
	if !fetched && !now.Before(s.loadedAt.Add(s.cfg.hardExpiry)) {
		return JWK{}, false, errs.Wrap(errs.Unavailable, errKeysExpired, "the sender's keys expired and cannot be read now; retry later")
	}
	if k, ok := s.remote.Key(kid); ok {
		return k, true, nil
	}
	if fetched || !s.missAt.IsZero() && now.Sub(s.missAt) < jwksMissRefreshEvery && !now.Before(s.missAt) {
		// Just read, or read for an unknown kid less than a minute ago.
		return JWK{}, false, nil
	}
	s.missAt = now
	if err := s.fetchLocked(ctx, now); err != nil {
		return JWK{}, false, nil // the stale copy stays; the kid is unknown
	}
	k, ok := s.remote.Key(kid)
	return k, ok, nil
}

// fetchLocked reads the JWKS URL. On failure the previous copy, if any,
// stays in use.
func (s *KeySet) fetchLocked(ctx context.Context, now time.Time) error {
	s.attemptAt = now
	set, err := fetchJWKS(ctx, s.cfg.client, s.url)
	if err != nil {
		return errs.Wrap(errs.Unavailable, err, "the sender's keys cannot be read now; retry later")
	}
	s.remote, s.loaded, s.loadedAt = set, true, now
	return nil
}

func fetchJWKS(ctx context.Context, hc *http.Client, u string) (JWKS, error) {
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return JWKS{}, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return JWKS{}, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return JWKS{}, fmt.Errorf("fetch JWKS: status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return JWKS{}, fmt.Errorf("fetch JWKS: %w", err)
	}
	if len(b) > maxJWKSBytes {
		return JWKS{}, errors.New("fetch JWKS: body over 1 MiB")
	}
	set, err := ParseJWKS(b)
	if err != nil {
		return JWKS{}, fmt.Errorf("fetch JWKS: %w", err)
	}
	return set, nil
}

// withSafeRedirects returns a copy of hc that follows at most 3 redirects,
// each to a URL the policy accepts, never from https to plain http.
func withSafeRedirects(hc *http.Client, p safehttp.Policy) *http.Client {
	c := *hc
	if c.Timeout == 0 || c.Timeout > jwksFetchTimeout {
		c.Timeout = jwksFetchTimeout
	}
	c.CheckRedirect = p.CheckRedirect
	return &c
}
