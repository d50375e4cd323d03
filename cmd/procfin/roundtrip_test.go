package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"procfin/banking/sandbox"
	"procfin/platform/postgres/pgtest"
	"procfin/platform/waitfor"
)

// TestSandboxRoundTrip: applications travel to a sandbox bank that sends
// every event twice and out of order; procfin applies each once, in an
// order that follows, and every loan ends closed with disbursed =
// approved = repaid, one subsidy claim per repayment with interest. It
// also logs the commit-to-bank latency (docs/performance-log.md, second
// round).
func TestSandboxRoundTrip(t *testing.T) {
	dbURL := pgtest.URL(t)
	db := openDB(t, dbURL)
	masterKey := newMasterKey(t)
	addr := freeAddr(t)
	procfinURL := "http://" + addr

	bankLn := listenLoopback(t)
	_, bankKey, _ := ed25519.GenerateKey(rand.Reader)
	bank, err := sandbox.New(sandbox.Config{BankID: "drill-bank", ProcfinURL: procfinURL, PublicURL: "http://" + bankLn.Addr().String(),
		Key: bankKey, KeyID: "drill-k1", DecisionDelay: 50 * time.Millisecond, RepayAfter: 200 * time.Millisecond, LoanDays: 90,
		RetryBackoff: 50 * time.Millisecond, Faults: sandbox.Faults{DuplicateEvents: true, ReorderEvents: true}})
	if err != nil {
		t.Fatal(err)
	}
	bankSrv := &http.Server{Handler: bank.Handler()}
	go bankSrv.Serve(bankLn)
	defer bankSrv.Close()
	contractID := seedProgramme(t, db, masterKey, bank, "http://"+bankLn.Addr().String())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go bank.Run(ctx)
	logs, stop := serveInProcess(t, map[string]string{"DATABASE_URL": dbURL, "PROCFIN_ADDR": addr, "PROCFIN_DATA_DIR": t.TempDir(),
		"PROCFIN_MASTER_KEY": base64.StdEncoding.EncodeToString(masterKey)})
	defer stop()
	token := login(t, procfinURL, "driller", "a long enough password")

	const n = 10
	ids := make([]string, n)
	for i := range ids {
		ids[i] = apply(t, procfinURL, token, drillApplication(contractID, "300000.01", 90, "round trip"), fmt.Sprint("rt-", i))
	}
	if !waitfor.Within(60*time.Second, func() bool {
		var closed int
		db.Get(&closed, `SELECT count(*) FROM applications WHERE status = 'closed'`)
		return closed == n
	}) {
		var states []string
		db.Select(&states, `SELECT status || ' d=' || disbursed || ' r=' || repaid_principal || ' ' || (SELECT string_agg(type, ',' ORDER BY received_at) FROM bank_events e WHERE e.application_id = a.id) FROM applications a`)
		t.Fatalf("after a minute the applications are %v, want all closed\n%s", strings.Join(states, "\n"), logs.String())
	}
	var wrong int
	db.Get(&wrong, `SELECT count(*) FROM applications WHERE NOT (disbursed = amount AND approved_amount = amount AND repaid_principal = amount)`)
	var disbursements, claims, duplicates int
	db.Get(&disbursements, `SELECT count(*) FROM disbursements`)
	db.Get(&claims, `SELECT count(*) FROM subsidy_claims`)
	db.Get(&duplicates, `SELECT count(*) FROM bank_events`)
	if wrong != 0 || disbursements != 2*n || claims != 2*n {
		t.Fatalf("%d applications with wrong totals, %d disbursements (want %d), %d subsidy claims (want %d)", wrong, disbursements, 2*n, claims, 2*n)
	}
	// Commit to bank: the application's commit to the bank's first receipt.
	created := map[string]time.Time{}
	rows, _ := db.Query(`SELECT id, created_at FROM applications`)
	for rows.Next() {
		var id string
		var at time.Time
		rows.Scan(&id, &at)
		created[id] = at
	}
	rows.Close()
	var lat []time.Duration
	for _, r := range bank.Received() {
		lat = append(lat, r.ReceivedAt.Sub(created[r.ApplicationID]))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == n {
		t.Logf("commit to bank over %d applications: p50 %v, max %v", n, lat[n/2], lat[n-1])
	}
}
