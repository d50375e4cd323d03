package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"procfin/banking"
	"procfin/banking/sandbox"
	"procfin/contracts"
	"procfin/platform/auth"
	"procfin/platform/money"
	"procfin/platform/postgres/pgtest"
	"procfin/platform/safehttp"
	"procfin/platform/waitfor"
)

// TestDrillKillDuringBurst: procfin is killed (SIGKILL) in the middle of a
// burst of applications and started again. Every application it
// committed reaches the sandbox bank exactly once (the bank deduplicates
// retries by Idempotency-Key), every one it acknowledged was committed,
// and nothing it did not commit is sent.
func TestDrillKillDuringBurst(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("drill")
	}
	bin := buildProcfin(t)
	dbURL := pgtest.URL(t)
	db := openDB(t, dbURL)
	masterKey := newMasterKey(t)
	procfinAddr := freeAddr(t)
	procfinURL := "http://" + procfinAddr

	// The bank, outside procfin, so it outlives the kill.
	bankLn := listenLoopback(t)
	_, bankKey, _ := ed25519.GenerateKey(rand.Reader)
	bank, err := sandbox.New(sandbox.Config{BankID: "drill-bank", ProcfinURL: procfinURL, PublicURL: "http://" + bankLn.Addr().String(),
		Key: bankKey, KeyID: "drill-k1", DecisionDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	bankSrv := &http.Server{Handler: bank.Handler()}
	go bankSrv.Serve(bankLn)
	defer bankSrv.Close()

	contractID := seedProgramme(t, db, masterKey, bank, "http://"+bankLn.Addr().String())

	env := append(os.Environ(), "DATABASE_URL="+dbURL, "PROCFIN_ADDR="+procfinAddr, "PROCFIN_METRICS_ADDR=127.0.0.1:0", "PROCFIN_DATA_DIR="+t.TempDir(),
		"PROCFIN_MASTER_KEY="+base64.StdEncoding.EncodeToString(masterKey), "PROCFIN_LOG_LEVEL=error", "PROCFIN_ALLOW_PRIVATE_URLS=1")
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve")
		cmd.Env = env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitfor.True(t, 20*time.Second, "procfin to be ready", func() bool { return ready(procfinURL) })
		return cmd
	}
	proc := start()
	defer func() { proc.Process.Kill(); proc.Wait() }()
	token := login(t, procfinURL, "driller", "a long enough password")

	// The burst: 8 clients apply until the connection dies.
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				req, _ := http.NewRequest("POST", procfinURL+"/v1/credit-applications", strings.NewReader(
					`{"contract_id": "`+contractID+`", "bank_id": "drill-bank", "amount": "100.00", "term_days": 30, "purpose": "drill"}`))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", fmt.Sprintf("drill-%d-%d", w, i))
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					return // procfin is gone
				}
				var app struct{ ID string }
				json.NewDecoder(res.Body).Decode(&app)
				res.Body.Close()
				if res.StatusCode == 201 {
					mu.Lock()
					acked[app.ID] = true
					mu.Unlock()
				}
			}
		}(w)
	}
	// Killed in the middle of the burst: once it has acknowledged some.
	waitfor.True(t, 30*time.Second, "the burst to be under way", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 40
	})
	proc.Process.Kill() // kill -9
	proc.Wait()
	wg.Wait()

	proc = start()
	var committed []string
	db.Select(&committed, `SELECT id FROM applications`)
	if len(committed) == 0 || len(acked) == 0 {
		t.Fatalf("the burst made %d applications (%d acknowledged): nothing to check", len(committed), len(acked))
	}
	waitfor.True(t, 60*time.Second, "no delivery pending after the restart", func() bool {
		var pending int
		db.Get(&pending, `SELECT count(*) FROM deliveries WHERE status = 'pending'`)
		return pending == 0
	})
	inDB := map[string]bool{}
	for _, id := range committed {
		inDB[id] = true
	}
	for id := range acked {
		if !inDB[id] {
			t.Errorf("application %s was acknowledged but is not in the database", id)
		}
	}
	seen := map[string]int{}
	for _, r := range bank.Received() {
		seen[r.ApplicationID]++
		if !inDB[r.ApplicationID] {
			t.Errorf("the bank received %s, which procfin never committed", r.ApplicationID)
		}
	}
	for _, id := range committed {
		if seen[id] != 1 {
			t.Errorf("application %s reached the bank %d times, want exactly once", id, seen[id])
		}
	}
	t.Logf("%d applications committed (%d acknowledged before the kill), all delivered once", len(committed), len(acked))
}

// seedProgramme puts a supplier user "driller" (of a small supplier), an
// issuer, a contract of 900,000,000.00 and the sandbox bank "drill-bank"
// straight into the database; it returns the contract id.
func seedProgramme(t *testing.T, db *sqlx.DB, masterKey []byte, bank *sandbox.Bank, bankURL string) string {
	t.Helper()
	ctx := context.Background()
	a, err := auth.NewService(db, auth.Config{MasterKey: masterKey, Password: auth.PasswordParams{Memory: 1024, Time: 1, Threads: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const uscc = "91350100M000100Y43"
	if _, err := a.CreateUser(ctx, auth.NewUser{Username: "driller", Password: "a long enough password", Role: "supplier", SupplierUSCC: uscc}, "test"); err != nil {
		t.Fatal(err)
	}
	cs := contracts.NewService(db, contracts.Policy{FinancingRatio: decimal.RequireFromString("0.85"), Currency: "CNY",
		EligibleClasses: []contracts.SizeClass{contracts.SizeSmall}}, nil)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	jwks := json.RawMessage(fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":%q,"kid":"k"}]}`, base64.RawURLEncoding.EncodeToString(pub)))
	if _, _, err := cs.RegisterIssuer(ctx, contracts.IssuerRegistration{ID: "jinan-pprc", Name: "J", JWKS: jwks}, "t"); err != nil {
		t.Fatal(err)
	}
	emp := 42
	rev, assets := money.MustAmount("8000000.00"), money.MustAmount("5000000.00")
	if _, _, err := cs.RegisterSupplier(ctx, contracts.SupplierRegistration{USCC: uscc, Name: "Q", Industry: "software_it", Employees: &emp, AnnualRevenue: &rev, TotalAssets: &assets}, "t"); err != nil {
		t.Fatal(err)
	}
	src := contracts.Source{Kind: "signed", Actor: "issuer:jinan-pprc"}
	cs.SubmitAwardNotice(ctx, "jinan-pprc", contracts.AwardNoticeDoc{NoticeNo: "N", ProjectNo: "P", ProjectName: "P", Purchaser: contracts.Party{ID: "sdu"},
		Supplier: contracts.SupplierRef{USCC: uscc}, Amount: money.MustAmount("900000000.00"), Currency: "CNY", AwardedOn: money.MustDate("2026-10-01"),
		ProcurementMethod: "open", Status: "active"}, src)
	c, _, err := cs.SubmitContract(ctx, "jinan-pprc", contracts.ContractDoc{ContractNo: "C", NoticeNo: "N", Purchaser: contracts.Party{ID: "sdu"},
		Supplier: contracts.SupplierRef{USCC: uscc}, Amount: money.MustAmount("900000000.00"), SignedOn: money.MustDate("2026-10-02"),
		Period: contracts.Period{Start: money.MustDate("2026-10-02"), End: money.MustDate("2099-10-02")}, Status: "active"}, src)
	if err != nil {
		t.Fatal(err)
	}
	bankJWKS, _ := json.Marshal(bank.JWKS())
	banks := banking.NewRegistry(db)
	banks.SetURLPolicy(safehttp.Policy{AllowPrivate: true}) // the drill's bank listens on 127.0.0.1
	if _, _, err := banks.Register(ctx, banking.BankRegistration{ID: "drill-bank", Name: "Drill", BaseURL: bankURL, JWKS: bankJWKS}, "t"); err != nil {
		t.Fatal(err)
	}

	return c.ID
}
