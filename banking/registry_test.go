package banking_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"testing"

	"procfin/banking"
	"procfin/platform/postgres/pgtest"
	"procfin/platform/safehttp"
	"procfin/platform/signature"
)

// TestSenderKeptUntilChanged: the verifier's view of a bank is read once
// and kept; a change registered through this process is seen at once, one
// made elsewhere (here: in SQL) only after senderTTL.
func TestSenderKeptUntilChanged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	banks := banking.NewRegistry(db)
	banks.SetURLPolicy(safehttp.Policy{AllowPrivate: true})
	register := func(name string) {
		t.Helper()
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		jwks, _ := json.Marshal(signature.Signer{ID: "qilu-bank", KeyID: name, Key: priv, Algorithm: "EdDSA"}.PublicJWKS())
		if _, _, err := banks.Register(ctx, banking.BankRegistration{ID: "qilu-bank", Name: name, BaseURL: "http://127.0.0.1:9",
			JWKS: jwks}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	version := func() string {
		t.Helper()
		s, err := banks.Sender(ctx, "qilu-bank")
		if err != nil {
			t.Fatal(err)
		}
		return s.Version
	}
	register("first")
	first := version()
	if _, err := db.Exec(`UPDATE banks SET version = 'changed elsewhere' WHERE id = 'qilu-bank'`); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != first {
		t.Fatalf("version %q straight after a change elsewhere; want the kept %q", v, first)
	}
	register("second")
	if v := version(); v == first || v == "changed elsewhere" {
		t.Fatalf("version %q after a registration here; want the new one", v)
	}
	if _, err := banks.Sender(ctx, "no-such-bank"); err == nil {
		t.Fatal("an unknown bank is a sender")
	}
}
