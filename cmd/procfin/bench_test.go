package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"procfin/bench"
	"procfin/platform/auth"
	"procfin/platform/postgres/pgtest"
)

// TestBenchBankScenarios: `procfin bench`'s events and roundtrip
// scenarios, which play the bank, send figures procfin takes: every event
// is processed (an interest period overlapping another, in the future or
// before the loan would be refused, and counted as an error), and every
// repayment with interest has its claim. Two clients' events cycle
// through more than their loans' 16 tranches, so they pay earlier days.
func TestBenchBankScenarios(t *testing.T) {
	dbURL := pgtest.URL(t)
	db := openDB(t, dbURL)
	masterKey := newMasterKey(t)
	a, err := auth.NewService(db, auth.Config{MasterKey: masterKey, Password: auth.PasswordParams{Memory: 1024, Time: 1, Threads: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const password = "a long enough password"
	if _, err := a.CreateUser(context.Background(), auth.NewUser{Username: "bench-admin", Password: password, Role: string(auth.RoleAdmin)}, "test"); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	logs, stop := serveInProcess(t, map[string]string{"DATABASE_URL": dbURL, "PROCFIN_ADDR": addr, "PROCFIN_DATA_DIR": t.TempDir(),
		"PROCFIN_MASTER_KEY": base64.StdEncoding.EncodeToString(masterKey)})
	defer stop()
	for _, tc := range []struct {
		scenario, count string
	}{{"events", "80"}, {"roundtrip", "4"}} {
		var out bytes.Buffer
		err := bench.Run(context.Background(), []string{"--target", "http://" + addr, "--scenario", tc.scenario, "--clients", "2",
			"--count", tc.count, "--duration", "5m", "--json", "--admin-user", "bench-admin", "--admin-password", password}, &out)
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.scenario, err, logs.String())
		}
		var rep bench.Report
		if err := json.Unmarshal(out.Bytes()[strings.IndexByte(out.String(), '{'):], &rep); err != nil {
			t.Fatalf("%s: the report %q: %v", tc.scenario, out.String(), err)
		}
		if rep.Errors != 0 || rep.Requests < 4 {
			t.Fatalf("%s: %d requests, %d errors: %+v", tc.scenario, rep.Requests, rep.Errors, rep.FirstErrors)
		}
	}
	var repayments, claims, tranches int
	db.Get(&repayments, `SELECT count(*) FROM repayments WHERE interest > 0`)
	db.Get(&claims, `SELECT count(*) FROM subsidy_claims`)
	db.Get(&tranches, `SELECT count(DISTINCT disbursement_id) FROM repayments`)
	// 80 events of 2 clients, 4 round trips (at least: a run may end with
	// a request or two beyond its count).
	if repayments < 84 || claims != repayments || tranches < 2*16+4 {
		t.Fatalf("%d repayments with interest, %d claims, %d tranches repaid", repayments, claims, tranches)
	}
}
