package sandbox

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"procfin/platform/signature"
)

// ClientConfig configures a sandbox signing system that posts to procfin:
// the sandbox purchaser system (Purchaser) and the sandbox treasury
// (Treasury).
type ClientConfig struct {
	// ID is the system's id at procfin, the iss of its messages: the
	// purchaser's id, or the payment system's. Required.
	ID string
	// ProcfinURL is procfin's public base URL (as configured in
	// procfin's http.public_url): the htu of its messages. Required.
	ProcfinURL string
	// Key signs its messages; nil generates a fresh key.
	Key ed25519.PrivateKey
	// KeyID is the key's kid (default: derived from the public key).
	KeyID string
	// HTTPClient posts (default: a client with a 10 s time-out).
	HTTPClient *http.Client
	// Now is the clock of signatures (default time.Now).
	Now func() time.Time
	// Tries is how often a message is sent at most, on a connection
	// error, time-out, 408, 429 or 5xx (default 5); each try is signed
	// anew (a new jti): procfin takes a signed message again by its
	// content.
	Tries int
	// RetryBackoff is the first pause between tries, doubling (default
	// DefaultRetryBackoff).
	RetryBackoff time.Duration
}

// signedClient signs and posts JSON to procfin as a registered sender.
type signedClient struct {
	cfg    ClientConfig
	signer signature.Signer
}

func newSignedClient(what string, cfg ClientConfig) (*signedClient, error) {
	if cfg.ID == "" {
		return nil, fmt.Errorf("sandbox %s: ID is required", what)
	}
	if cfg.ID == PlatformID {
		return nil, fmt.Errorf("sandbox %s: ID may not be %q", what, PlatformID)
	}
	base, err := baseURL("ProcfinURL", cfg.ProcfinURL)
	if err != nil {
		return nil, err
	}
	cfg.ProcfinURL = base
	if cfg.Key == nil {
		if _, cfg.Key, err = ed25519.GenerateKey(nil); err != nil { // nil: crypto/rand
			return nil, fmt.Errorf("sandbox %s: generate key: %w", what, err)
		}
	}
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("sandbox %s: Key is not an Ed25519 private key", what)
	}
	if cfg.KeyID == "" {
		cfg.KeyID = KeyIDOf(cfg.Key)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: sendTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tries <= 0 {
		cfg.Tries = 5
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = DefaultRetryBackoff
	}
	c := &signedClient{cfg: cfg, signer: signature.Signer{ID: cfg.ID, KeyID: cfg.KeyID, Key: cfg.Key, Algorithm: signature.AlgEdDSA}}
	if _, err := c.signer.PublicJWK(); err != nil {
		return nil, fmt.Errorf("sandbox %s: %w", what, err)
	}
	return c, nil
}

// Answer is procfin's answer to a message: its status and body (at most
// 1 MiB).
type Answer struct {
	Status int
	Body   []byte
}

// Problem is the problem type of a refusal ("" when the body has none).
func (a Answer) Problem() string { return problemType(a.Body) }

// post marshals v and posts it, signed, to procfin's path, with retries
// on a connection error, time-out, 408, 429 and 5xx, each try signed anew.
// It returns procfin's last answer; err only when none came.
func (c *signedClient) post(ctx context.Context, path string, v any) (Answer, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return Answer{}, err
	}
	u := c.cfg.ProcfinURL + (&url.URL{Path: path}).EscapedPath()
	backoff := c.cfg.RetryBackoff
	for try := 1; ; try++ {
		a, err := c.postOnce(ctx, u, body)
		retry := err != nil || a.Status == http.StatusRequestTimeout || a.Status == http.StatusTooManyRequests || a.Status >= 500
		if !retry || try >= c.cfg.Tries || ctx.Err() != nil {
			return a, err
		}
		if !sleep(ctx, backoff/2+rand.N(backoff/2+1)) {
			return a, errors.Join(err, ctx.Err())
		}
		backoff = min(2*backoff, maxRetryBackoff)
	}
}

func (c *signedClient) postOnce(ctx context.Context, u string, body []byte) (Answer, error) {
	sig, err := c.signer.Sign(http.MethodPost, u, PlatformID, body, c.cfg.Now())
	if err != nil {
		return Answer{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return Answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set(signature.HeaderName, sig)
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	return Answer{Status: resp.StatusCode, Body: rb}, err
}

// JWKS returns the system's public key, as procfin registers it.
func (c *signedClient) JWKS() signature.JWKS { return c.signer.PublicJWKS() }

// ID returns the system's id, the iss of its messages.
func (c *signedClient) ID() string { return c.cfg.ID }
