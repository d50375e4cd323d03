package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"procfin/platform/postgres"
	"procfin/platform/postgres/pgtest"
	"procfin/platform/signature"
	"procfin/platform/waitfor"
)

// syncBuffer is an io.Writer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEnv is a getenv for run: a database, a data dir, a random port, and
// the banks and JWKS servers of the tests on 127.0.0.1 allowed.
func testEnv(t *testing.T, dbURL string) func(string) string {
	dir := t.TempDir()
	vars := map[string]string{
		"DATABASE_URL": dbURL, "PROCFIN_DATA_DIR": dir, "PROCFIN_ADDR": "127.0.0.1:0", "PROCFIN_METRICS_ADDR": "127.0.0.1:0",
		"PROCFIN_MASTER_KEY":         "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"PROCFIN_ALLOW_PRIVATE_URLS": "1",
	}
	return func(k string) string { return vars[k] }
}

func runCmd(t *testing.T, getenv func(string) string, input string, args ...string) (string, error) {
	t.Helper()
	stdin = strings.NewReader(input)
	var out syncBuffer
	err := run(context.Background(), append([]string{"procfin"}, args...), getenv, &out)
	return out.String(), err
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"serve", "--nope"}, {"users"}, {"users", "add", "--role", "admin"},
		{"users", "disable"}, {"users", "disable", "a", "b"}, {"users", "password"},
		{"audit"}, {"audit", "check"}, {"keys", "rotate", "now"}, {"migrate", "extra"}, {"sandbox-bank", "--life", "forever"},
		{"sandbox-bank", "--offer-max-share", "1.5"}, {"sandbox-bank", "--offer-rate", "3.2%"}, {"sandbox-bank", "--offer-valid-for", "0s"}} {
		_, err := runCmd(t, func(string) string { return "" }, "", args...)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("procfin %v: err %v, want a usage error", args, err)
		}
	}
	if _, err := runCmd(t, func(string) string { return "" }, "", "keys", "spin"); err == nil ||
		!strings.HasPrefix(err.Error(), "keys: the subcommand is rotate") {
		t.Errorf("procfin keys spin: %v, want it to name the subcommand", err)
	}
	if out, err := runCmd(t, func(string) string { return "" }, "", "help"); err != nil || !strings.Contains(out, "serve") {
		t.Fatalf("help: %v %q", err, out)
	}
}

func TestBadConfigurationIsReported(t *testing.T) {
	getenv := func(k string) string {
		return map[string]string{"PROCFIN_ADDR": "nowhere", "DATABASE_URL": "postgres://u:hunter2@h/db", "PROCFIN_LOG_LEVEL": "loud"}[k]
	}
	_, err := runCmd(t, getenv, "", "serve")
	if err == nil || !strings.Contains(err.Error(), "addr") || !strings.Contains(err.Error(), "log.level") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v", err)
	}
}

func TestMigrateThenServeThenShutdown(t *testing.T) {
	getenv := testEnv(t, pgtest.EmptyURL(t))

	// serve refuses a schema behind the code.
	_, err := runCmd(t, getenv, "", "serve")
	if err == nil || !strings.Contains(err.Error(), "procfin migrate") {
		t.Fatalf("serve on an empty database: %v, want a refusal naming procfin migrate", err)
	}
	out, err := runCmd(t, getenv, "", "migrate")
	if err != nil || !strings.Contains(out, "applied") {
		t.Fatalf("migrate: %v %q", err, out)
	}
	if out, err := runCmd(t, getenv, "", "migrate"); err != nil || !strings.Contains(out, "applied 0") {
		t.Fatalf("second migrate: %v %q", err, out)
	}
	if out, err := runCmd(t, getenv, "a long enough password\n", "users", "add", "--username", "root", "--role", "admin"); err != nil || !strings.Contains(out, "created user root") {
		t.Fatalf("users add: %v %q", err, out)
	}
	if _, err := runCmd(t, getenv, "a long enough password\n", "users", "add", "--username", "root", "--role", "admin"); err == nil || !strings.Contains(err.Error(), "taken") {
		t.Fatalf("users add again: %v", err)
	}
	if _, err := runCmd(t, getenv, "", "users", "add", "--username", "x1y2z3", "--role", "admin"); err == nil {
		t.Fatal("users add with no password on stdin succeeded")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"procfin", "serve"}, getenv, &logs) }()
	base := waitListening(t, &logs, done)

	res, err := http.Post(base+"/v1/auth/token", "application/json", strings.NewReader(`{"username":"root","password":"a long enough password"}`))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("token over the network: %v %v", err, res)
	}
	res.Body.Close()
	// /metrics: on the operators' address for anyone, on the main address
	// for administrators only.
	metricsBase := logAddr(t, &logs, "metrics listening")
	res, err = http.Get(metricsBase + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scraped, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(scraped), `procfin_http_requests_total{method="POST",route="/v1/auth/token",status="200"} 1`) {
		t.Fatalf("metrics address: %d %s", res.StatusCode, scraped)
	}
	if res, err = http.Get(base + "/metrics"); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/metrics on the main address without a token: %v %v", err, res)
	}
	res.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after shutdown", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Fatalf("no graceful stop in logs:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "a long enough password") || strings.Contains(logs.String(), "AAECAwQF") {
		t.Fatal("a secret reached the logs")
	}

	rows := func() int {
		t.Helper()
		out, err := runCmd(t, getenv, "", "audit", "verify")
		var n int
		if err != nil || !strings.Contains(out, "audit trail intact") {
			t.Fatalf("audit verify: %v %q", err, out)
		}
		fmt.Sscanf(out[strings.Index(out, "intact: ")+len("intact: "):], "%d", &n)
		return n
	}
	before := rows()
	if before < 2 { // at least the first signing key and the user root
		t.Fatalf("audit trail has %d rows", before)
	}
	if out, err := runCmd(t, getenv, "", "keys", "rotate"); err != nil || !strings.Contains(out, "new signing key") {
		t.Fatalf("keys rotate: %v %q", err, out)
	}
	if after := rows(); after != before+1 {
		t.Fatalf("audit rows %d after rotation, want %d", after, before+1)
	}
}

// waitListening waits for the "listening" log line and returns the base URL.
// logAddr is the addr of the first log line with the message msg.
func logAddr(t *testing.T, logs *syncBuffer, msg string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == msg {
			return line.Addr
		}
	}
	t.Fatalf("no %q in the logs:\n%s", msg, logs.String())
	return ""
}

func waitListening(t *testing.T, logs *syncBuffer, done chan error) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				return line.Addr
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v\n%s", err, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start:\n%s", logs.String())
	return ""
}

// TestDemoOnPrivateCluster runs the README's first command as a new user
// would: no DATABASE_URL, so procfin initialises, starts and stops its own
// PostgreSQL under the data directory.
func TestDemoOnPrivateCluster(t *testing.T) {
	if _, err := postgres.FindBinDir(); err != nil {
		t.Skip(err) // .ci/run installs PostgreSQL, so CI never skips
	}
	dir := t.TempDir()
	// The postgres user (when we are root) must be able to reach the directory.
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	getenv := func(k string) string {
		return map[string]string{"PROCFIN_DATA_DIR": dir, "PROCFIN_ADDR": "127.0.0.1:0", "PROCFIN_METRICS_ADDR": "127.0.0.1:0"}[k]
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"procfin", "demo"}, getenv, &logs) }()
	base := waitListening(t, &logs, done)
	if !waitfor.Within(30*time.Second, func() bool { return strings.Contains(logs.String(), "procfin-demo-admin") }) {
		t.Fatalf("demo did not print its log-ins:\n%s", logs.String())
	}
	// The story: a supplier applies; the sandbox bank receives the signed
	// application, approves and disburses through signed events.
	tok := login(t, base, "quancheng", "procfin-demo-supplier")
	var contracts struct {
		Items []struct {
			ID         string
			ContractNo string `json:"contract_no"`
		}
	}
	getJSON(t, base+"/v1/contracts", tok, &contracts)
	contractID := ""
	for _, c := range contracts.Items {
		if c.ContractNo == "HT-JNCG-2026-0815" { // the one the demo leaves to the walk-through
			contractID = c.ID
		}
	}
	if len(contracts.Items) != 5 || contractID == "" {
		t.Fatalf("quancheng sees %+v, want its 5 contracts, HT-JNCG-2026-0815 among them", contracts.Items)
	}
	req, _ := http.NewRequest("POST", base+"/v1/credit-applications", strings.NewReader(
		`{"contract_id": "`+contractID+`", "bank_id": "qilu-sandbox", "amount": "500000.00", "term_days": 180, "purpose": "materials"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Idempotency-Key", "demo-test-1")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("apply: %v %s", err, b)
	}
	var app struct{ ID, Status string }
	json.NewDecoder(res.Body).Decode(&app)
	res.Body.Close()
	if !waitfor.Within(40*time.Second, func() bool {
		getJSON(t, base+"/v1/credit-applications/"+app.ID, tok, &app)
		return app.Status == "disbursed" || app.Status == "repaid" || app.Status == "closed"
	}) {
		t.Fatalf("the application stayed %s: it did not travel to the sandbox bank and back", app.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("demo returned %v", err)
	}
	// The private cluster was stopped with the demo.
	if _, err := os.Stat(filepath.Join(dir, "pg", "data", "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("private PostgreSQL still running after the demo stopped (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "master.key")); err != nil {
		t.Fatalf("no master key kept in the data dir: %v", err)
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func openDB(t *testing.T, url string) *sqlx.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), url, postgres.PoolConfig{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// buildProcfin builds this command into a temporary directory, for the
// drills that run procfin as a process of its own.
func buildProcfin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "procfin")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// listenLoopback listens on a free loopback port.
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// freeAddr is a loopback address free a moment ago, for a server started
// next.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln := listenLoopback(t)
	defer ln.Close()
	return ln.Addr().String()
}

// ready reports whether the procfin at base answers /readyz with 200.
func ready(base string) bool {
	res, err := http.Get(base + "/readyz")
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// undelivered counts the deliveries in db not delivered yet.
func undelivered(db *sqlx.DB) int {
	var n int
	db.Get(&n, `SELECT count(*) FROM deliveries WHERE status <> 'delivered'`)
	return n
}

// serveInProcess runs `procfin serve` in this process, with vars (and
// PROCFIN_ALLOW_PRIVATE_URLS=1: the drills' banks listen on 127.0.0.1) as
// its whole environment, and returns once it listens: its log, and stop,
// which ends it and waits for it.
//
// run sets slog's default logger and reads stdin (a package variable), so
// of the tests that run procfin in this process only one may run in
// parallel (TestDrillBankDownForAMinute); the other parallel tests run it
// in processes of their own.
func serveInProcess(t *testing.T, vars map[string]string) (*syncBuffer, func()) {
	t.Helper()
	if _, ok := vars["PROCFIN_ALLOW_PRIVATE_URLS"]; !ok {
		vars["PROCFIN_ALLOW_PRIVATE_URLS"] = "1"
	}
	if _, ok := vars["PROCFIN_METRICS_ADDR"]; !ok { // not the default port: tests run side by side
		vars["PROCFIN_METRICS_ADDR"] = "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"procfin", "serve"}, func(k string) string { return vars[k] }, logs)
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	waitListening(t, logs, done)
	return logs, stop
}

// drillApplication is an application's JSON for the drills.
func drillApplication(contractID, amount string, termDays int, purpose string) string {
	return fmt.Sprintf(`{"contract_id": %q, "bank_id": "drill-bank", "amount": %q, "term_days": %d, "purpose": %q}`,
		contractID, amount, termDays, purpose)
}

// apply submits body through base under the Idempotency-Key key, fails the
// test unless it is created, and returns the application's id.
func apply(t *testing.T, base, token, body, key string) string {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/v1/credit-applications", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("apply through %s: %v", base, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var app struct{ ID string }
	if res.StatusCode != http.StatusCreated || json.Unmarshal(b, &app) != nil || app.ID == "" {
		t.Fatalf("apply through %s: %d %s", base, res.StatusCode, b)
	}
	return app.ID
}

// newMasterKey is a fresh master key (PROCFIN_MASTER_KEY's 32 bytes).
func newMasterKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// TestBanksFromConfiguration: a fixed deployment lists its banks in the
// configuration file; serve registers them at start.
func TestBanksFromConfiguration(t *testing.T) {
	url := pgtest.URL(t)
	getenv := testEnv(t, url)
	file := filepath.Join(t.TempDir(), "procfin.yaml")
	os.WriteFile(file, []byte(`banks:
  - id: qilu-bank
    name: Qilu Bank
    base_url: https://bank.example/procfin
    jwks: '{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"q1"}]}'
`), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"procfin", "--config", file, "serve"}, getenv, &logs) }()
	waitListening(t, &logs, done)
	var algs string
	openDB(t, url).Get(&algs, `SELECT array_to_string(algorithms, ',') FROM banks WHERE id = 'qilu-bank'`)
	if algs != "EdDSA" {
		t.Fatalf("bank from configuration: algorithms %q, want EdDSA", algs)
	}
	cancel()
	<-done

	os.WriteFile(file, []byte("banks:\n  - id: x\n    base_url: https://b.example\n"), 0o644)
	if _, err := runCmd(t, getenv, "", "--config", file, "serve"); err == nil || !strings.Contains(err.Error(), "banks[0]") {
		t.Fatalf("a bank without keys: %v", err)
	}
}

func login(t *testing.T, base, user, password string) string {
	t.Helper()
	res, err := http.Post(base+"/v1/auth/token", "application/json", strings.NewReader(`{"username":"`+user+`","password":"`+password+`"}`))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("login %s: %v %v", user, err, res)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	return tok.AccessToken
}

func getJSON(t *testing.T, url, token string, dst any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET %s: %v %v", url, err, res)
	}
	defer res.Body.Close()
	json.NewDecoder(res.Body).Decode(dst)
}

func TestTuneGC(t *testing.T) {
	prevPercent := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(prevPercent); debug.SetMemoryLimit(prevLimit) })

	tuneGC(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("GC percent %d, want %d", got, gcPercent)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != memoryLimit {
		t.Errorf("memory limit %d, want %d", got, memoryLimit)
	}

	// Set in the environment: the runtime read them; tuneGC leaves them.
	tuneGC(func(k string) string { return map[string]string{"GOGC": "50", "GOMEMLIMIT": "1GiB"}[k] })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent %d after GOGC was set, want it left at 100", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("memory limit %d after GOMEMLIMIT was set, want it left", got)
	}
}

// TestBankFromConfigurationWithJWKSURL: a bank listed in the configuration
// with a jwks_url starts up (it once stopped start-up: the NULL jwks could
// not be read back), and its signed events verify with the keys read from
// there. Without PROCFIN_ALLOW_PRIVATE_URLS, the same URL on 127.0.0.1
// stops start-up, naming the field.
func TestBankFromConfigurationWithJWKSURL(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	signer := signature.Signer{ID: "qilu-bank", KeyID: "q1", Key: key, Algorithm: signature.AlgEdDSA}
	var hits atomic.Int64
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		json.NewEncoder(w).Encode(signer.PublicJWKS())
	}))
	defer jwks.Close()
	url := pgtest.URL(t)
	getenv := testEnv(t, url)
	file := filepath.Join(t.TempDir(), "procfin.yaml")
	os.WriteFile(file, []byte(`banks:
  - id: qilu-bank
    name: Qilu Bank
    base_url: https://bank.example/procfin
    jwks_url: `+jwks.URL+`/jwks.json
`), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"procfin", "--config", file, "serve"}, getenv, &logs) }()
	base := waitListening(t, &logs, done)
	var stored string
	openDB(t, url).Get(&stored, `SELECT jwks_url FROM banks WHERE id = 'qilu-bank' AND jwks IS NULL`)
	if stored != jwks.URL+"/jwks.json" {
		t.Fatalf("bank from configuration: jwks_url %q", stored)
	}
	body := []byte(`{"event_id": "e1", "type": "application.received", "occurred_at": "2026-11-21T02:00:00Z", "application_id": "00000000-0000-4000-8000-000000000001", "bank_reference": "R", "data": {}}`)
	h, err := signer.Sign("POST", base+"/v1/bank-events", "procfin", body, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", base+"/v1/bank-events", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(signature.HeaderName, h)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	// Verified, then refused for what it says: no such application.
	if res.StatusCode != http.StatusNotFound || hits.Load() != 1 {
		t.Fatalf("signed event: %d %s, JWKS read %d times; want 404 after one read", res.StatusCode, b, hits.Load())
	}
	cancel()
	<-done

	strict := func(k string) string {
		if k == "PROCFIN_ALLOW_PRIVATE_URLS" {
			return ""
		}
		return getenv(k)
	}
	if _, err := runCmd(t, strict, "", "--config", file, "serve"); err == nil || !strings.Contains(err.Error(), "jwks_url") {
		t.Fatalf("a JWKS URL on 127.0.0.1 without PROCFIN_ALLOW_PRIVATE_URLS: %v", err)
	}
}
