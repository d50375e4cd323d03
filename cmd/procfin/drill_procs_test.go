package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"procfin/banking/sandbox"
	"procfin/platform/postgres/pgtest"
	"procfin/platform/waitfor"
)

// TestDrillThreeProcesses: three procfin processes serve and relay from
// one database. Every application is delivered, and no message is ever
// being delivered twice at the same time.
func TestDrillThreeProcesses(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("drill")
	}
	bin := buildProcfin(t)
	dbURL := pgtest.URL(t)
	db := openDB(t, dbURL)
	masterKey := newMasterKey(t)

	// A bank that is slow to answer and notices overlapping deliveries.
	var mu sync.Mutex
	inFlight, delivered := map[string]bool{}, map[string]int{}
	var overlap atomic.Bool
	bankSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		if inFlight[key] {
			overlap.Store(true)
		}
		inFlight[key] = true
		mu.Unlock()
		time.Sleep(30 * time.Millisecond) // the bank is slow to answer
		mu.Lock()
		delete(inFlight, key)
		delivered[key]++
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"bank_reference": "R-%s"}`, key[:8])
	}))
	defer bankSrv.Close()
	_, bankKey, _ := ed25519.GenerateKey(rand.Reader)
	stub, err := sandbox.New(sandbox.Config{BankID: "drill-bank", ProcfinURL: "http://127.0.0.1:1", Key: bankKey, KeyID: "k"})
	if err != nil {
		t.Fatal(err)
	}
	contractID := seedProgramme(t, db, masterKey, stub, bankSrv.URL)

	var urls []string
	for i := 0; i < 3; i++ {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "serve")
		cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "PROCFIN_ADDR="+addr, "PROCFIN_METRICS_ADDR=127.0.0.1:0", "PROCFIN_DATA_DIR="+t.TempDir(),
			"PROCFIN_MASTER_KEY="+base64.StdEncoding.EncodeToString(masterKey), "PROCFIN_LOG_LEVEL=error", "PROCFIN_ALLOW_PRIVATE_URLS=1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		urls = append(urls, "http://"+addr)
	}
	for _, u := range urls {
		waitfor.True(t, 20*time.Second, u+" to be ready", func() bool { return ready(u) })
	}
	// Applications arrive through all three processes.
	const n = 45
	tokens := map[string]string{}
	for _, u := range urls { // one login per process: logins are rate-limited
		tokens[u] = login(t, u, "driller", "a long enough password")
	}
	for i := 0; i < n; i++ {
		u := urls[i%3]
		token := tokens[u]
		apply(t, u, token, drillApplication(contractID, "100.00", 30, "drill"), fmt.Sprint("three-", i))
	}
	waitfor.True(t, 60*time.Second, "every delivery to be delivered", func() bool { return undelivered(db) == 0 })
	var workers []string
	db.Select(&workers, `SELECT DISTINCT locked_by FROM deliveries`)
	mu.Lock()
	defer mu.Unlock()
	for key, times := range delivered {
		if times != 1 {
			t.Errorf("application %s delivered %d times", key, times)
		}
	}
	if len(delivered) != n || overlap.Load() {
		t.Fatalf("%d of %d delivered; overlapping deliveries: %v", len(delivered), n, overlap.Load())
	}
	t.Logf("%d applications delivered once each by %d relays (%v)", n, len(workers), workers)
}

// TestDrillBankDownForAMinute: a bank is down for a minute. Its circuit
// breaker opens, so procfin does not hammer it; every application waiting
// for it is delivered once it is back.
func TestDrillBankDownForAMinute(t *testing.T) {
	t.Parallel() // the one parallel test that serves procfin in this process: see serveInProcess
	if testing.Short() {
		t.Skip("drill")
	}
	dbURL := pgtest.URL(t)
	db := openDB(t, dbURL)
	masterKey := newMasterKey(t)
	addr := freeAddr(t)
	procfinURL := "http://" + addr

	bankLn := listenLoopback(t)
	_, bankKey, _ := ed25519.GenerateKey(rand.Reader)
	bank, err := sandbox.New(sandbox.Config{BankID: "drill-bank", ProcfinURL: procfinURL, PublicURL: "http://" + bankLn.Addr().String(),
		Key: bankKey, KeyID: "k", DecisionDelay: time.Hour, Faults: sandbox.Faults{Down: true}})
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	bankSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/credit-applications" {
			hits.Add(1)
		}
		bank.Handler().ServeHTTP(w, r)
	})}
	go bankSrv.Serve(bankLn)
	defer bankSrv.Close()
	contractID := seedProgramme(t, db, masterKey, bank, "http://"+bankLn.Addr().String())

	logs, stop := serveInProcess(t, map[string]string{"DATABASE_URL": dbURL, "PROCFIN_ADDR": addr, "PROCFIN_DATA_DIR": t.TempDir(),
		"PROCFIN_MASTER_KEY": base64.StdEncoding.EncodeToString(masterKey)})
	defer stop()
	token := login(t, procfinURL, "driller", "a long enough password")
	const n = 6
	for i := 0; i < n; i++ {
		apply(t, procfinURL, token, drillApplication(contractID, "100.00", 30, "drill"), fmt.Sprint("down-", i))
	}
	time.Sleep(60 * time.Second) // the minute the bank is down is what the drill is about
	down := hits.Load()
	var breaker string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "bank circuit breaker") && strings.Contains(line, `"to":"open"`) {
			breaker = "opened"
		}
	}
	f := bank.Faults()
	f.Down = false
	bank.SetFaults(f)
	waitfor.True(t, 90*time.Second, "every delivery to be delivered after the bank came back", func() bool { return undelivered(db) == 0 })
	// Five failures open the breaker; then one probe per 30 s: a handful
	// of calls in a minute, not a hot loop.
	if breaker != "opened" || down > 12 {
		t.Fatalf("while the bank was down for a minute: breaker %q, %d calls", breaker, down)
	}
	received := map[string]bool{}
	for _, r := range bank.Received() {
		received[r.ApplicationID] = true
	}
	if len(received) != n {
		t.Fatalf("the bank received %d of %d applications", len(received), n)
	}
	var out []byte
	out, _ = json.Marshal(map[string]any{"calls_while_down": down})
	t.Logf("bank down a minute: %s, breaker opened, all %d delivered after", out, n)
}
