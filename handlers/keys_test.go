package handlers

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"procfin/platform/signature"
)

// jwksHost is a sender's server publishing its JWK Set, which the test
// changes, counting the times procfin reads it.
type jwksHost struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	set  signature.JWKS
}

func newJWKSHost(t *testing.T, signers ...signature.Signer) *jwksHost {
	t.Helper()
	h := &jwksHost{}
	h.publish(signers...)
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		h.mu.Lock()
		b, _ := json.Marshal(h.set)
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(b)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *jwksHost) publish(signers ...signature.Signer) {
	set := signature.JWKS{Keys: []signature.JWK{}}
	for _, s := range signers {
		set.Keys = append(set.Keys, s.PublicJWKS().Keys...)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.set = set
}

func newSigner(id, kid string) signature.Signer {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	return signature.Signer{ID: id, KeyID: kid, Key: priv, Algorithm: "EdDSA"}
}

// TestBankRegisteredWithJWKSURL: a bank registered through the API with a
// jwks_url (201, the URL stored, no inline keys) has its events verified
// with the keys read from there; a new kid is read once, and a second
// unknown kid within the minute is refused without reading again.
func TestBankRegisteredWithJWKSURL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k1, k2, k3 := newSigner("qilu-bank", "q1"), newSigner("qilu-bank", "q2"), newSigner("qilu-bank", "q3")
	host := newJWKSHost(t, k1)
	_, admin := e.user("admin", "admin", "")
	r := e.do("POST", "/v1/admin/banks", admin, fmt.Sprintf(`{"id": "qilu-bank", "name": "Qilu Bank", "base_url": "http://127.0.0.1:9", "jwks_url": %q}`, host.URL+"/jwks.json"))
	if r.status != 201 {
		t.Fatalf("register with jwks_url: %d %s", r.status, r.body)
	}
	if b := r.json(t); b["jwks_url"] != host.URL+"/jwks.json" || b["jwks"] != nil {
		t.Fatalf("registered bank: %v", b)
	}
	if host.hits.Load() != 0 {
		t.Fatal("the URL was read at registration")
	}
	qilu := &bankSystem{e: e, id: "qilu-bank", signer: k1}
	appID, _ := e.applied(qilu)
	if r := qilu.send("e1", "application.received", appID, `{}`); r.status != 200 {
		t.Fatalf("event signed with the key at the URL: %d %s", r.status, r.body)
	}
	if n := host.hits.Load(); n != 1 {
		t.Fatalf("JWKS URL read %d times, want 1", n)
	}

	// Rotation: the bank publishes q2 and signs with it.
	host.publish(k1, k2)
	qilu.signer = k2
	if r := qilu.send("e2", "application.approved", appID, approvedData); r.status != 200 {
		t.Fatalf("event signed with the new key: %d %s", r.status, r.body)
	}
	if n := host.hits.Load(); n != 2 {
		t.Fatalf("JWKS URL read %d times after a new kid, want 2", n)
	}
	// Another new kid within the minute is not read for: refused.
	host.publish(k1, k2, k3)
	qilu.signer = k3
	wantProblem(t, qilu.send("e3", "loan.disbursed", appID, disbursed("D1", "1.00")), 401, "signature_invalid")
	if n := host.hits.Load(); n != 2 {
		t.Fatalf("JWKS URL read %d times for a second new kid within the minute, want 2", n)
	}
}

// TestIssuerRegisteredWithJWKSURL: an issuer registered with a jwks_url has
// its submissions verified with the keys read from there.
func TestIssuerRegisteredWithJWKSURL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k1 := newSigner("jinan-pprc", "j1")
	host := newJWKSHost(t, k1)
	_, admin := e.user("admin", "admin", "")
	r := e.do("POST", "/v1/admin/issuers", admin, fmt.Sprintf(`{"id": "jinan-pprc", "name": "Jinan Public Procurement Centre", "jwks_url": %q}`, host.URL))
	if r.status != 201 {
		t.Fatalf("register with jwks_url: %d %s", r.status, r.body)
	}
	is := &issuerSystem{e: e, signer: k1}
	if r := is.post("/v1/award-notices", noticeBody); r.status != 201 {
		t.Fatalf("notice signed with the key at the URL: %d %s", r.status, r.body)
	}
	if n := host.hits.Load(); n != 1 {
		t.Fatalf("JWKS URL read %d times, want 1", n)
	}
	// The same registration again changes nothing: 200.
	if r := e.do("POST", "/v1/admin/issuers", admin, fmt.Sprintf(`{"id": "jinan-pprc", "name": "Jinan Public Procurement Centre", "jwks_url": %q}`, host.URL)); r.status != 200 {
		t.Fatalf("register again: %d %s", r.status, r.body)
	}
}

// TestRegistrationRefusesPrivateURLs: where private URLs are not allowed
// (the default), a bank's base_url or a sender's jwks_url that is not https
// or names a private address is refused with 422 naming the field, and
// nothing is stored.
func TestRegistrationRefusesPrivateURLs(t *testing.T) {
	t.Parallel()
	e := newEnvFrom(t, func(string) string { return "" })
	_, admin := e.user("admin", "admin", "")
	jwks, _ := json.Marshal(newSigner("b", "k").PublicJWKS())
	for _, tc := range []struct {
		name, path, body, field string
	}{
		{"BankPlainHTTP", "/v1/admin/banks", `{"id": "b1", "name": "B", "base_url": "http://bank.example/procfin", "jwks": ` + string(jwks) + `}`, "base_url"},
		{"BankLoopback", "/v1/admin/banks", `{"id": "b1", "name": "B", "base_url": "https://127.0.0.1:8443", "jwks": ` + string(jwks) + `}`, "base_url"},
		{"BankPrivate", "/v1/admin/banks", `{"id": "b1", "name": "B", "base_url": "https://10.0.0.7/", "jwks": ` + string(jwks) + `}`, "base_url"},
		{"BankMetadata", "/v1/admin/banks", `{"id": "b1", "name": "B", "base_url": "https://[::ffff:169.254.169.254]/", "jwks": ` + string(jwks) + `}`, "base_url"},
		{"BankJWKSLocalhost", "/v1/admin/banks", `{"id": "b1", "name": "B", "base_url": "https://bank.example", "jwks_url": "https://localhost/jwks.json"}`, "jwks_url"},
		{"BankJWKSPlainHTTP", "/v1/admin/banks", `{"id": "b1", "name": "B", "base_url": "https://bank.example", "jwks_url": "http://bank.example/jwks.json"}`, "jwks_url"},
		{"IssuerJWKSLoopback", "/v1/admin/issuers", `{"id": "i1", "name": "I", "jwks_url": "http://127.0.0.1:8081/jwks.json"}`, "jwks_url"},
		{"IssuerJWKSCGNAT", "/v1/admin/issuers", `{"id": "i1", "name": "I", "jwks_url": "https://100.64.0.1/jwks.json"}`, "jwks_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := wantProblem(t, e.do("POST", tc.path, admin, tc.body), 422, "invalid")
			fields := p["errors"].([]any)
			if len(fields) != 1 || fields[0].(map[string]any)["field"] != tc.field {
				t.Fatalf("errors %v, want one on %s", fields, tc.field)
			}
		})
	}
	if n := e.count("banks") + e.count("issuers"); n != 0 {
		t.Fatalf("%d registrations stored", n)
	}
	// https to a public name is accepted.
	if r := e.do("POST", "/v1/admin/banks", admin, `{"id": "b1", "name": "B", "base_url": "https://bank.example/procfin", "jwks_url": "https://bank.example/jwks.json"}`); r.status != 201 {
		t.Fatalf("https bank: %d %s", r.status, r.body)
	}
}

// TestRegistrationCleansNames: a name with control characters (NUL is
// refused with the body) is stored cleaned (platform/text.Clean).
func TestRegistrationCleansNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, admin := e.user("admin", "admin", "")
	jwks, _ := json.Marshal(newSigner("b", "k").PublicJWKS())
	r := e.do("POST", "/v1/admin/banks", admin, `{"id": "b1", "name": "Qilu\u0085 Bank\u001b[31m", "base_url": "https://bank.example", "jwks": `+string(jwks)+`}`)
	if r.status != 201 || r.json(t)["name"] != "Qilu Bank[31m" {
		t.Fatalf("bank: %d %s", r.status, r.body)
	}
	r = e.do("POST", "/v1/admin/issuers", admin, `{"id": "i1", "name": "Jinan\u007f PPRC\u0007", "jwks": `+string(jwks)+`}`)
	if r.status != 201 || r.json(t)["name"] != "Jinan PPRC" {
		t.Fatalf("issuer: %d %s", r.status, r.body)
	}
}
