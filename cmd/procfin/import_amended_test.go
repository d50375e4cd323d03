package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"procfin/platform/postgres/pgtest"
)

// TestImportedVersionToTheBank: a new version of a financed contract read
// from OCDS by `procfin import` is queued for the bank financing it as
// contract.amended, as one an issuer signs.
func TestImportedVersionToTheBank(t *testing.T) {
	getenv := testEnv(t, pgtest.URL(t))
	db := openDB(t, getenv("DATABASE_URL"))
	db.MustExec(`INSERT INTO issuers (id, name, jwks, algorithms, version)
		VALUES ('ocds-jn0001', 'Jinan PPRC', '{"keys":[]}', '{EdDSA}', 'v1')`)
	file := filepath.Join(t.TempDir(), "jinan.json")
	if err := os.WriteFile(file, []byte(jinanOCDS), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runCmd(t, getenv, "", "import", "ocds", file); err != nil || !strings.Contains(out, "1 contracts") {
		t.Fatalf("first import: %v\n%s", err, out)
	}
	// An application of qilu-bank holds 500000.00 of the contract.
	db.MustExec(`INSERT INTO banks (id, name, base_url, jwks, algorithms, version)
		VALUES ('qilu-bank', 'Qilu', 'https://bank.example', '{"keys":[]}', '{EdDSA}', 'v1')`)
	var app string
	if err := db.Get(&app, `
		WITH c AS (UPDATE contracts SET financed = 500000 RETURNING id, supplier_uscc)
		INSERT INTO applications (supplier_uscc, contract_id, bank_id, amount, term_days, purpose, status, financing_held, verification, submitted_by)
		SELECT supplier_uscc, id, 'qilu-bank', 500000, 180, 'p', 'delivered', 500000, '{}', 'u' FROM c RETURNING id`); err != nil {
		t.Fatal(err)
	}

	// Version 2 at 1100000.00: limit 0.85 × 1100000.00 = 935000.00, above
	// the 500000.00 financed: made current, exceeds_limit false.
	if err := os.WriteFile(file, []byte(strings.Replace(jinanOCDS, `"amount": 1180000`, `"amount": 1100000`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runCmd(t, getenv, "", "import", "ocds", file); err != nil || !strings.Contains(out, "0 award notices, 1 contracts") {
		t.Fatalf("second import: %v\n%s", err, out)
	}
	var sent []struct {
		ApplicationID string `db:"application_id"`
		Payload       []byte `db:"payload"`
	}
	if err := db.Select(&sent, `SELECT application_id, payload FROM deliveries WHERE kind = 'contract-event'`); err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 || sent[0].ApplicationID != app {
		t.Fatalf("contract events %+v, want one for %s", sent, app)
	}
	var env struct {
		Type string
		Data map[string]any
	}
	if err := json.Unmarshal(sent[0].Payload, &env); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"version": 2.0, "amount": "1100000.00", "status": "active", "financing_limit": "935000.00",
		"financed": "500000.00", "exceeds_limit": false}
	if env.Type != "contract.amended" || !reflect.DeepEqual(env.Data, want) {
		t.Fatalf("contract event %s", sent[0].Payload)
	}
}
