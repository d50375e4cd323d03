package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"procfin/platform/postgres/pgtest"
)

// A small OCDS release package of a Jinan tender: one award to a supplier
// with a USCC, one contract, and one award whose supplier has none.
const jinanOCDS = `{"uri": "https://example.org/jinan", "publishedDate": "2026-10-21T00:00:00Z", "releases": [{
  "ocid": "ocds-jn0001-2026-0815", "id": "r1", "date": "2026-10-20T09:00:00+08:00", "tag": ["award", "contract"],
  "initiationType": "tender",
  "parties": [
    {"id": "sdu", "name": "Shandong University", "roles": ["buyer"]},
    {"id": "qc", "name": "Quancheng Software", "roles": ["supplier"], "identifier": {"scheme": "CN-USCC", "id": "91350100M000100Y43"}},
    {"id": "xx", "name": "Nameless Trading", "roles": ["supplier"], "identifier": {"scheme": "XX-ID", "id": "12345"}}
  ],
  "buyer": {"id": "sdu", "name": "Shandong University"},
  "tender": {"id": "t1", "title": "Campus network upgrade", "procurementMethod": "open"},
  "awards": [
    {"id": "a1", "status": "active", "date": "2026-10-08T10:00:00+08:00", "value": {"amount": 1200000.00, "currency": "CNY"}, "suppliers": [{"id": "qc", "name": "Quancheng Software"}]},
    {"id": "a2", "status": "active", "date": "2026-10-08T10:00:00+08:00", "value": {"amount": 5000, "currency": "CNY"}, "suppliers": [{"id": "xx", "name": "Nameless Trading"}]}
  ],
  "contracts": [
    {"id": "c1", "awardID": "a1", "status": "active", "dateSigned": "2026-10-20T09:00:00+08:00", "value": {"amount": 1180000, "currency": "CNY"},
     "period": {"startDate": "2026-11-01T00:00:00+08:00", "endDate": "2027-04-30T00:00:00+08:00"}}
  ]}]}`

func TestImportOCDS(t *testing.T) {
	getenv := testEnv(t, pgtest.URL(t))
	file := filepath.Join(t.TempDir(), "jinan.json")
	if err := os.WriteFile(file, []byte(jinanOCDS), 0o644); err != nil {
		t.Fatal(err)
	}

	_, err := runCmd(t, getenv, "", "import", "ocds")
	var u usageError
	if !errorsAs(err, &u) {
		t.Fatalf("no file: %v, want a usage error", err)
	}
	out, err := runCmd(t, getenv, "", "import", "ocds", file)
	if err != nil || !strings.Contains(out, "issuer_not_registered") || !strings.Contains(out, "imported: 0 award notices") {
		t.Fatalf("unregistered issuer: %v\n%s", err, out)
	}

	// Register the publisher as an issuer, as an administrator would.
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	jwks := fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":%q,"kid":"k1","alg":"EdDSA","use":"sig"}]}`, base64.RawURLEncoding.EncodeToString(pub))
	db := openDB(t, getenv("DATABASE_URL"))
	db.MustExec(`INSERT INTO issuers (id, name, jwks, algorithms, version) VALUES ('ocds-jn0001', 'Jinan PPRC', $1, '{EdDSA}', 'v1')`, jwks)

	out, err = runCmd(t, getenv, "", "import", "ocds", file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"imported: 1 award notices, 1 contracts", "supplier_without_uscc", "refused: 1"} {
		if !strings.Contains(out, want) {
			t.Fatalf("summary lacks %q:\n%s", want, out)
		}
	}
	var amount, contractAmount string
	db.Get(&amount, `SELECT amount::text FROM award_notices WHERE notice_no = 'ocds-jn0001-2026-0815/a1'`)
	db.Get(&contractAmount, `SELECT amount::text FROM contracts`)
	if amount != "1200000.00" || contractAmount != "1180000.00" {
		t.Fatalf("stored amounts %q %q", amount, contractAmount)
	}
	// Importing the same file again changes nothing.
	out, err = runCmd(t, getenv, "", "import", "ocds", file)
	if err != nil || !strings.Contains(out, "imported: 0 award notices, 0 contracts") || !strings.Contains(out, "unchanged: 2") {
		t.Fatalf("second import: %v\n%s", err, out)
	}
	// Not OCDS at all: one clear line, nothing stored.
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"hello": "world"}`), 0o644)
	if _, err := runCmd(t, getenv, "", "import", "ocds", bad); err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("not a package: %v", err)
	}
}
