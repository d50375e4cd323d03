package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/shopspring/decimal"

	"procfin/banking"
	"procfin/configs"
	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/auth"
	"procfin/platform/money"
	"procfin/platform/postgres/pgtest"
	"procfin/platform/safehttp"
	"procfin/platform/signature"
	"procfin/subsidies"
)

// env is one test's whole service: a fresh database, the real router.
type env struct {
	t         *testing.T
	db        *sqlx.DB
	auth      *auth.Service
	contracts *contracts.Service
	lending   *lending.Service
	subsidies *subsidies.Service
	h         http.Handler
	now       time.Time
	lendingAt time.Time // lending's clock when set (repaidOn), else the real time
	mu        sync.Mutex
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvFrom(t, testEnv)
}

// newEnvFrom is newEnv with the configuration's environment read through
// getenv.
func newEnvFrom(t *testing.T, getenv func(string) string) *env {
	t.Helper()
	cfg, err := configs.Load("", getenv)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: pgtest.NewDB(t), now: time.Now()}
	key := bytes.Repeat([]byte{7}, 32)
	e.auth, err = auth.NewService(e.db, auth.Config{
		Issuer: cfg.Auth.Issuer, Audience: cfg.Auth.Audience, TokenTTL: cfg.Auth.TokenTTL, MasterKey: key,
		Password:       auth.PasswordParams{Memory: 1024, Time: 1, Threads: 1},
		LoginPerMinute: 5, LoginPerMinutePerAddr: 100,
	}, e.clock)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.auth.EnsureSigningKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	ratio, _ := decimal.NewFromString(cfg.Financing.Ratio)
	e.contracts = contracts.NewService(e.db, contracts.Policy{FinancingRatio: ratio, Currency: "CNY",
		EligibleClasses: []contracts.SizeClass{contracts.SizeMicro, contracts.SizeSmall, contracts.SizeMedium}}, nil)
	e.lending = lending.NewService(e.db, e.contracts, banking.Outbox{}, lending.Limits{
		MaxAmount: money.MustAmount(cfg.Financing.MaxApplicationAmount), MaxTermDays: cfg.Financing.MaxTermDays}, e.lendingClock)
	// A long TTL: every read of an application through the API comes from
	// the cache once read, so a change that fails to drop it shows up as a
	// stale answer in these tests.
	e.lending.UseReadCache(time.Hour)
	urls := safehttp.Policy{AllowPrivate: cfg.Outbound.AllowPrivateURLs}
	e.contracts.SetURLPolicy(urls)
	banks := banking.NewRegistry(e.db)
	banks.SetURLPolicy(urls)
	// The tests' figures are at one rate cap, 3.10 %, for every day.
	e.subsidies = subsidies.NewService(e.db, subsidies.PolicyInput{EffectiveFrom: cfg.Subsidy.EffectiveFrom,
		SubsidyRatio: cfg.Subsidy.Ratio, RateCap: "0.0310", SupplierYearlyCap: cfg.Subsidy.SupplierYearlyCap,
		ProgrammeBudget: cfg.Subsidy.ProgrammeBudget, EligibleSizeClasses: cfg.Subsidy.EligibleSizeClasses,
		FourEyesThreshold: cfg.Subsidy.FourEyesThreshold})
	if err := e.subsidies.EnsurePolicy(context.Background()); err != nil {
		t.Fatal(err)
	}
	events := banking.NewEvents(e.db, e.lending)
	events.OnRepaid = e.subsidies.OnRepaid
	events.OnOverdue = e.subsidies.OnOverdue
	e.lending.OnConfirmed(e.subsidies.ReleaseHeld)
	e.lending.UseSubsidyRates(e.subsidies)
	e.h, err = New(Deps{Config: cfg, DB: e.db, Auth: e.auth, Contracts: e.contracts, Banks: banks, Lending: e.lending,
		Subsidies: e.subsidies, Events: events, BankMessages: signature.NewVerifier(e.db, "procfin", banks.Sender, signature.WithURLPolicy(urls)),
		Deliveries:        banking.NewDeliveries(e.db, e.lending),
		IssuerMessages:    signature.NewVerifier(e.db, "procfin", e.contracts.Sender, signature.WithURLPolicy(urls)),
		PurchaserMessages: signature.NewVerifier(e.db, "procfin", e.contracts.PurchaserSender, signature.WithURLPolicy(urls)),
		PaymentMessages:   signature.NewVerifier(e.db, "procfin", e.contracts.PaymentSystemSender, signature.WithURLPolicy(urls)), Logger: slog.Default()})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// testEnv is the environment of the tests' configuration: the banks' and
// JWKS servers of the tests listen on 127.0.0.1.
func testEnv(name string) string {
	if name == "PROCFIN_ALLOW_PRIVATE_URLS" {
		return "1"
	}
	return ""
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// lendingClock is lending's clock: the real time, or noon in Shanghai on
// the day repaidOn set.
func (e *env) lendingClock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.lendingAt.IsZero() {
		return time.Now()
	}
	return e.lendingAt
}

// repaidOn sets lending's today to day (YYYY-MM-DD): a bank reports a
// repayment at the latest the day after it is paid (bank-protocol.md 1.1),
// so a test with payments to come moves to their day first.
func (e *env) repaidOn(day string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lendingAt = money.MustDate(day).Time().Add(4 * time.Hour) // 12:00 in Shanghai
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

// user creates a user and returns it with a fresh access token.
func (e *env) user(name, role, uscc string) (auth.User, string) {
	e.t.Helper()
	u, err := e.auth.CreateUser(context.Background(), auth.NewUser{Username: name, Password: "correct horse battery", Role: role, SupplierUSCC: uscc}, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.auth.IssueToken(context.Background(), u)
	if err != nil {
		e.t.Fatal(err)
	}
	return u, tok
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.body, err)
	}
	return m
}

// do sends a request through the real router. headers alternate name, value.
func (e *env) do(method, path, token string, body any, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// wantProblem checks an RFC 9457 answer with the status and type.
func wantProblem(t *testing.T, r resp, status int, typ string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	p := r.json(t)
	if p["type"] != typ || int(p["status"].(float64)) != status || p["title"] == "" {
		t.Fatalf("problem %v, want type %q status %d", p, typ, status)
	}
	return p
}

func (e *env) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM `+table); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// recorder is a minimal http.ResponseWriter for middleware tests.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(s int) { r.status = s }

func TestMain(m *testing.M) {
	// Tests check answers, not logs: keep the output readable.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}
