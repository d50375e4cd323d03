package web

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"procfin/banking"
	"procfin/configs"
	"procfin/contracts"
	"procfin/handlers"
	"procfin/lending"
	"procfin/platform/auth"
	"procfin/platform/money"
	"procfin/platform/postgres/pgtest"
	"procfin/platform/safehttp"
	"procfin/platform/signature"
	"procfin/subsidies"
)

// env is one test's whole service: a fresh database, the API router with
// the web interface mounted, as cmd/procfin builds it.
type env struct {
	t         *testing.T
	db        *sqlx.DB
	auth      *auth.Service
	contracts *contracts.Service
	lending   *lending.Service
	subsidies *subsidies.Service
	banks     *banking.Registry
	events    *banking.Events
	metrics   *banking.Metrics
	h         http.Handler
	srv       *httptest.Server
	logs      *syncBuffer       // the JSON access log
	contract  map[string]string // supplier USCC → its contract's id
}

const (
	quancheng = "91350100M000100Y43"
	lixia     = "91110000600037341L"
	password  = "correct horse battery"
)

func newEnv(t *testing.T) *env {
	t.Helper()
	// The sandbox bank and procfin listen on 127.0.0.1.
	cfg, err := configs.Load("", func(name string) string {
		if name == "PROCFIN_ALLOW_PRIVATE_URLS" {
			return "1"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: pgtest.NewDB(t), contract: map[string]string{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.PublicURL = "http://" + ln.Addr().String() // signed messages name it (htu)
	e.auth, err = auth.NewService(e.db, auth.Config{
		Issuer: cfg.Auth.Issuer, Audience: cfg.Auth.Audience, TokenTTL: cfg.Auth.TokenTTL, MasterKey: bytes.Repeat([]byte{7}, 32),
		Password:       auth.PasswordParams{Memory: 1024, Time: 1, Threads: 1},
		LoginPerMinute: 1000, LoginPerMinutePerAddr: 1000,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.auth.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	ratio, _ := decimal.NewFromString(cfg.Financing.Ratio)
	e.contracts = contracts.NewService(e.db, contracts.Policy{FinancingRatio: ratio, Currency: "CNY",
		EligibleClasses: []contracts.SizeClass{contracts.SizeMicro, contracts.SizeSmall, contracts.SizeMedium}}, nil)
	e.lending = lending.NewService(e.db, e.contracts, banking.Outbox{}, lending.Limits{
		MaxAmount: money.MustAmount(cfg.Financing.MaxApplicationAmount), MaxTermDays: cfg.Financing.MaxTermDays}, nil)
	urls := safehttp.Policy{AllowPrivate: cfg.Outbound.AllowPrivateURLs}
	e.contracts.SetURLPolicy(urls)
	e.banks = banking.NewRegistry(e.db)
	e.banks.SetURLPolicy(urls)
	// The tests' figures are at one rate cap, 3.10 %, for every day.
	e.subsidies = subsidies.NewService(e.db, subsidies.PolicyInput{EffectiveFrom: cfg.Subsidy.EffectiveFrom,
		SubsidyRatio: cfg.Subsidy.Ratio, RateCap: "0.0310", SupplierYearlyCap: cfg.Subsidy.SupplierYearlyCap,
		ProgrammeBudget: cfg.Subsidy.ProgrammeBudget, EligibleSizeClasses: cfg.Subsidy.EligibleSizeClasses,
		FourEyesThreshold: cfg.Subsidy.FourEyesThreshold})
	if err := e.subsidies.EnsurePolicy(ctx); err != nil {
		t.Fatal(err)
	}
	e.events = banking.NewEvents(e.db, e.lending)
	e.events.OnRepaid = e.subsidies.OnRepaid
	e.lending.OnConfirmed(e.subsidies.ReleaseHeld)
	e.lending.UseSubsidyRates(e.subsidies)
	deliveries := banking.NewDeliveries(e.db, e.lending)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.logs = &syncBuffer{}
	w, err := New(Deps{DB: e.db, Auth: e.auth, Contracts: e.contracts, Lending: e.lending, Banks: e.banks,
		Deliveries: deliveries, Subsidies: e.subsidies, PublicURL: cfg.PublicURL, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	e.h, err = handlers.New(handlers.Deps{Config: cfg, DB: e.db, Auth: e.auth, Contracts: e.contracts, Banks: e.banks,
		Lending: e.lending, Subsidies: e.subsidies, Events: e.events, Deliveries: deliveries,
		BankMessages:      signature.NewVerifier(e.db, "procfin", e.banks.Sender, signature.WithURLPolicy(urls)),
		IssuerMessages:    signature.NewVerifier(e.db, "procfin", e.contracts.Sender, signature.WithURLPolicy(urls)),
		PurchaserMessages: signature.NewVerifier(e.db, "procfin", e.contracts.PurchaserSender, signature.WithURLPolicy(urls)),
		PaymentMessages:   signature.NewVerifier(e.db, "procfin", e.contracts.PaymentSystemSender, signature.WithURLPolicy(urls)),
		Logger:            slog.New(slog.NewJSONHandler(e.logs, nil)), Metrics: &e.metrics, Web: w})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewUnstartedServer(e.h)
	e.srv.Listener.Close()
	e.srv.Listener = ln
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	e.seed()
	return e
}

// seed registers a procurement centre, two suppliers with an award and a
// contract each, and the users: quancheng and lixia (suppliers), officer,
// officer2 and admin, all with the same password.
func (e *env) seed() {
	e.t.Helper()
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	jwks, _ := json.Marshal(signature.Signer{ID: "jinan-pprc", KeyID: "k1", Key: key, Algorithm: "EdDSA"}.PublicJWKS())
	if _, _, err := e.contracts.RegisterIssuer(ctx, contracts.IssuerRegistration{ID: "jinan-pprc", Name: "济南市公共资源交易中心", JWKS: jwks}, "test"); err != nil {
		e.t.Fatal(err)
	}
	for i, sp := range []struct{ uscc, name, industry, amount string }{
		{quancheng, "泉城软件有限公司", "software_it", "1200000.00"},
		{lixia, "历下商贸有限公司", "retail", "360000.00"},
	} {
		emp, rev, assets := 40, money.MustAmount("8000000.00"), money.MustAmount("5000000.00")
		if _, _, err := e.contracts.RegisterSupplier(ctx, contracts.SupplierRegistration{USCC: sp.uscc, Name: sp.name,
			Industry: sp.industry, Employees: &emp, AnnualRevenue: &rev, TotalAssets: &assets}, "test"); err != nil {
			e.t.Fatal(err)
		}
		src := contracts.Source{Kind: "signed", KeyID: "k1", MessageID: uuid.NewString(), Actor: "issuer:jinan-pprc"}
		no := fmt.Sprintf("JNCG-2026-%04d", 815+i)
		amount := money.MustAmount(sp.amount)
		if _, _, err := e.contracts.SubmitAwardNotice(ctx, "jinan-pprc", contracts.AwardNoticeDoc{NoticeNo: no, ProjectNo: "JN-P-88",
			ProjectName: "校园网络升级", Purchaser: contracts.Party{ID: "jn-edu", Name: "济南市教育局"},
			Supplier: contracts.SupplierRef{USCC: sp.uscc, Name: sp.name}, Amount: amount, Currency: "CNY",
			AwardedOn: money.MustDate("2026-01-08"), ProcurementMethod: "open_tender", Status: "active"}, src); err != nil {
			e.t.Fatal(err)
		}
		src.MessageID = uuid.NewString()
		c, _, err := e.contracts.SubmitContract(ctx, "jinan-pprc", contracts.ContractDoc{ContractNo: "HT-" + no, NoticeNo: no,
			Purchaser: contracts.Party{ID: "jn-edu"}, Supplier: contracts.SupplierRef{USCC: sp.uscc}, Amount: amount,
			SignedOn: money.MustDate("2026-01-20"), Period: contracts.Period{Start: money.MustDate("2026-01-01"), End: money.MustDate("2099-12-31")},
			PaymentTerms: []contracts.PaymentTerm{{DueOn: money.MustDate("2099-12-31"), Amount: amount}}, Status: "active"}, src)
		if err != nil {
			e.t.Fatal(err)
		}
		e.contract[sp.uscc] = c.ID
	}
	for _, u := range []auth.NewUser{
		{Username: "quancheng", Role: "supplier", SupplierUSCC: quancheng},
		{Username: "lixia", Role: "supplier", SupplierUSCC: lixia},
		{Username: "officer", Role: "officer"},
		{Username: "officer2", Role: "officer"},
		{Username: "admin", Role: "admin"},
	} {
		u.Password = password
		if _, err := e.auth.CreateUser(ctx, u, "test"); err != nil {
			e.t.Fatal(err)
		}
	}
}

// client is a browser without JavaScript: cookies, no automatic redirects.
type client struct {
	e   *env
	c   *http.Client
	jar *cookiejar.Jar
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, jar: jar, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(req *http.Request) page {
	c.e.t.Helper()
	res, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(b)}
}

func (c *client) get(path string) page {
	c.e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.e.srv.URL+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values) page {
	c.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the page's forms.
func (c *client) csrf(p page) string {
	c.e.t.Helper()
	m := csrfInput.FindStringSubmatch(p.body)
	if m == nil {
		c.e.t.Fatalf("no CSRF token in page:\n%s", p.body)
	}
	return m[1]
}

// login logs in through the form and checks where it lands.
func (c *client) login(username string) page {
	c.e.t.Helper()
	p := c.get("/login")
	res := c.post("/login", url.Values{"csrf": {c.csrf(p)}, "username": {username}, "password": {password}})
	if res.status != http.StatusSeeOther {
		c.e.t.Fatalf("login %s: status %d\n%s", username, res.status, res.body)
	}
	return res
}

func wantStatus(t *testing.T, p page, status int) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d\n%s", p.status, status, p.body)
	}
}

func wantContains(t *testing.T, p page, parts ...string) {
	t.Helper()
	for _, s := range parts {
		if !strings.Contains(p.body, s) {
			t.Fatalf("page does not contain %q:\n%s", s, p.body)
		}
	}
}

func mustAmount(s string) money.Amount { return money.MustAmount(s) }

// bankRegistration is a bank with a throw-away key.
func bankRegistration(id, baseURL string) banking.BankRegistration {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	jwks, _ := json.Marshal(signature.Signer{ID: id, KeyID: id + "-k", Key: key, Algorithm: "EdDSA"}.PublicJWKS())
	return banking.BankRegistration{ID: id, Name: id, BaseURL: baseURL, JWKS: jwks, Algorithms: []string{"EdDSA"}}
}
