package main

import (
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"procfin/platform/postgres/pgtest"
)

// TestUsersAddPurchaser: users add names a purchaser by id, and by its
// issuer when purchasers of several issuers have that id.
func TestUsersAddPurchaser(t *testing.T) {
	url := pgtest.URL(t)
	db := sqlx.MustConnect("postgres", url)
	defer db.Close()
	db.MustExec(`INSERT INTO issuers (id, name, jwks_url, algorithms, version) VALUES
		('jinan-pprc', 'Jinan', 'https://example.com/jwks', '{EdDSA}', 'v'), ('qingdao-pprc', 'Qingdao', 'https://example.com/jwks', '{EdDSA}', 'v')`)
	db.MustExec(`INSERT INTO purchasers (issuer_id, id, name) VALUES ('jinan-pprc', 'sdu', 'SDU'), ('qingdao-pprc', 'sdu', 'SDU Qingdao'), ('jinan-pprc', 'jnu', 'JNU')`)
	getenv := testEnv(t, url)
	const pw = "a long enough password\n"

	if _, err := runCmd(t, getenv, pw, "users", "add", "--username", "clerk1", "--role", "purchaser", "--purchaser", "nobody"); err == nil || !strings.Contains(err.Error(), "purchaser_id") {
		t.Fatalf("unknown purchaser: %v", err)
	}
	if _, err := runCmd(t, getenv, pw, "users", "add", "--username", "clerk1", "--role", "purchaser", "--purchaser", "sdu"); err == nil || !strings.Contains(err.Error(), "purchaser_issuer_id") {
		t.Fatalf("ambiguous purchaser: %v", err)
	}
	if out, err := runCmd(t, getenv, pw, "users", "add", "--username", "clerk1", "--role", "purchaser", "--purchaser", "sdu", "--purchaser-issuer", "qingdao-pprc"); err != nil || !strings.Contains(out, "created user clerk1 (purchaser)") {
		t.Fatalf("purchaser user: %v %q", err, out)
	}
	if out, err := runCmd(t, getenv, pw, "users", "add", "--username", "clerk2", "--role", "purchaser", "--purchaser", "jnu"); err != nil || !strings.Contains(out, "created user clerk2") {
		t.Fatalf("purchaser user by id alone: %v %q", err, out)
	}
	var got []string
	if err := db.Select(&got, `SELECT username || ':' || purchaser_issuer_id || '/' || purchaser_id FROM users ORDER BY username`); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "clerk1:qingdao-pprc/sdu clerk2:jinan-pprc/jnu" {
		t.Fatalf("users %v", got)
	}
}
