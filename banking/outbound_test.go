package banking_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"procfin/banking"
	"procfin/platform/auth"
	"procfin/platform/signature"
)

// TestRelaySignsWithThePlatformsKey: the relay signs each message with the
// platform's current key (platform/auth's, asked at each attempt), and the
// bank verifies it with signature.Verifier against the platform's
// published JWK Set, at the credit application's path: after a rotation,
// with the new key.
func TestRelaySignsWithThePlatformsKey(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		verified []signature.Claims
		refused  []error
		platform *auth.Service
	)
	lookup := func(ctx context.Context, id string) (signature.Sender, error) {
		set, err := platform.JWKS(ctx)
		if err != nil {
			return signature.Sender{}, err
		}
		b, _ := json.Marshal(set)
		jwks, err := signature.ParseJWKS(b)
		return signature.Sender{ID: id, JWKS: jwks, Version: string(b)}, err
	}
	verifier := signature.NewVerifier(nil, "qilu-bank", lookup, signature.WithReplayStore(signature.NewMemoryReplayStore()))
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c, err := verifier.Verify(r.Context(), signature.Request{Header: r.Header.Get(signature.HeaderName),
			Method: r.Method, URL: srv.URL + "/v1/credit-applications", Body: body})
		mu.Lock()
		defer mu.Unlock()
		if err != nil || r.URL.Path != "/v1/credit-applications" {
			refused = append(refused, err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		verified = append(verified, c)
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"bank_reference":"R"}`)
	}))
	t.Cleanup(srv.Close)
	w := newWorld(t, srv.URL)

	master := make([]byte, 32)
	rand.Read(master)
	var clockMu sync.Mutex
	ahead := time.Duration(0)
	now := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return time.Now().Add(ahead) }
	var err error
	if platform, err = auth.NewService(w.db, auth.Config{MasterKey: master, RotationLead: time.Minute}, now); err != nil {
		t.Fatal(err)
	}
	if err := platform.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	r := banking.NewRelay(w.db, w.banks, w.lending, platform, nil, nil, banking.RelayConfig{})
	deliver := func() signature.Claims {
		t.Helper()
		id := w.apply(t)
		if _, err := r.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if d, _ := w.state(t, id); d != "delivered" || len(refused) > 0 {
			t.Fatalf("delivery %s; the bank refused %v", d, refused)
		}
		return verified[len(verified)-1]
	}

	first := deliver()
	if first.Issuer != banking.PlatformID || first.Algorithm != signature.AlgEdDSA || first.Method != http.MethodPost ||
		first.URL != srv.URL+"/v1/credit-applications" || first.ExpiresAt.Sub(first.IssuedAt) != signature.MessageLifetime {
		t.Fatalf("claims %+v", first)
	}
	kid, err := platform.RotateSigningKey(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if again := deliver(); again.KeyID != first.KeyID {
		t.Fatalf("signed with %s before the new key's lead ended, want %s", again.KeyID, first.KeyID)
	}
	clockMu.Lock()
	ahead = 2 * time.Minute
	clockMu.Unlock()
	if rotated := deliver(); rotated.KeyID != kid || kid == first.KeyID {
		t.Fatalf("signed with %s after the rotation to %s", rotated.KeyID, kid)
	}
}

// TestRelayLeavesAnUnknownKind: a delivery of a kind this procfin does not
// know (queued by a newer one) is not sent anywhere, and waits.
func TestRelayLeavesAnUnknownKind(t *testing.T) {
	t.Parallel()
	bank := newFakeBank(t, 202)
	w := newWorld(t, bank.srv.URL)
	id := w.apply(t)
	w.db.MustExec(`UPDATE deliveries SET kind = 'loan-offer' WHERE application_id = $1`, id)
	w.relay(banking.RelayConfig{}).RunOnce(ctx)
	var lastErr string
	w.db.Get(&lastErr, `SELECT last_error FROM deliveries WHERE application_id = $1`, id)
	if d, _ := w.state(t, id); d != "pending" || bank.count() != 0 || !strings.Contains(lastErr, `"loan-offer"`) {
		t.Fatalf("delivery %s, bank called %d times, last error %q", d, bank.count(), lastErr)
	}
}
