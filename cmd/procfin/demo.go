package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jmoiron/sqlx"

	"procfin/banking"
	"procfin/banking/sandbox"
	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/auth"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/signature"
)

// services are what the demo seeds through.
type services struct {
	db        *sqlx.DB
	auth      *auth.Service
	contracts *contracts.Service
	banks     *banking.Registry
	lending   *lending.Service
}

// demoUsers are the demo's log-ins. Their passwords are public: the demo
// runs on its own private database and listens on loopback by default.
var demoUsers = []auth.NewUser{
	{Username: "admin", Password: "procfin-demo-admin", Role: "admin"},
	{Username: "officer", Password: "procfin-demo-officer", Role: "officer"},
	{Username: "quancheng", Password: "procfin-demo-supplier", Role: "supplier", SupplierUSCC: "91350100M000100Y43"},
	{Username: "lixia", Password: "procfin-demo-supplier", Role: "supplier", SupplierUSCC: "91110000600037341L"},
}

// demoSuppliers are firms of different sizes (software, retail, construction).
var demoSuppliers = []struct {
	USCC, Name, Industry string
	Employees            int
	Revenue, Assets      string
}{
	{"91350100M000100Y43", "泉城软件有限公司 Quancheng Software", "software_it", 42, "8000000.00", "5000000.00"},      // small
	{"91110000600037341L", "历下商贸有限公司 Lixia Trading", "retail", 6, "900000.00", "300000.00"},                   // micro
	{"91110108MA01K3P20A", "齐鲁建设工程有限公司 Qilu Construction", "construction", 260, "90000000.00", "70000000.00"}, // medium
}

// demoSettlementAccounts are where the demo suppliers' subsidies are paid;
// Lixia has none yet, so its claims show as 待补充结算账户 in the payment
// files.
var demoSettlementAccounts = map[string]*contracts.SettlementAccount{
	"91350100M000100Y43": {BankName: "齐鲁银行济南高新支行 Qilu Bank Jinan Hi-tech Sub-branch", AccountNo: "6222 0216 0100 4312", AccountName: "泉城软件有限公司"},
	"91110108MA01K3P20A": {BankName: "中国建设银行济南分行 CCB Jinan Branch", AccountNo: "3705 0161 6108 0000 2468", AccountName: "齐鲁建设工程有限公司"},
}

// demo seeds a believable programme: a procurement centre with signed
// awards and contracts, three sandbox banks (run in this process, two of
// them with credit lines, each offering on financing needs by its own
// rule), suppliers of different sizes, an officer and an administrator.
type demo struct {
	issuer    signature.Signer
	purchaser *sandbox.Purchaser // the purchaser's signing system (demo_purchaser.go)
	treasury  *sandbox.Treasury
	lending   *lending.Service
	banks     []*sandbox.Bank
	servers   []*http.Server
	runCtx    context.Context // until the demo stops
	cancel    context.CancelFunc
	logger    *slog.Logger
}

// prepare runs before procfin listens: users, the issuer, suppliers and
// the sandbox banks (started, and registered as partner banks).
func (d *demo) prepare(ctx context.Context, s services, procfinURL string, logger *slog.Logger) error {
	d.logger, d.lending = logger, s.lending
	for _, u := range demoUsers {
		if _, err := s.auth.CreateUser(ctx, u, "demo"); err != nil && !errs.Is(err, errs.Conflict) {
			return fmt.Errorf("demo user %s: %s", u.Username, describe(err))
		}
	}
	for _, sp := range demoSuppliers {
		emp := sp.Employees
		rev, assets := money.MustAmount(sp.Revenue), money.MustAmount(sp.Assets)
		if _, _, err := s.contracts.RegisterSupplier(ctx, contracts.SupplierRegistration{USCC: sp.USCC, Name: sp.Name,
			Industry: sp.Industry, Employees: &emp, AnnualRevenue: &rev, TotalAssets: &assets,
			SettlementAccount: demoSettlementAccounts[sp.USCC]}, "demo"); err != nil {
			return fmt.Errorf("demo supplier %s: %s", sp.USCC, describe(err))
		}
	}
	d.issuer = signature.Signer{ID: "jinan-pprc", KeyID: "jinan-pprc-demo", Key: demoKey("jinan-pprc"), Algorithm: "EdDSA"}
	jwks, _ := json.Marshal(d.issuer.PublicJWKS())
	if _, _, err := s.contracts.RegisterIssuer(ctx, contracts.IssuerRegistration{ID: "jinan-pprc",
		Name: "济南市公共资源交易中心 Jinan Public Resources Trading Centre", JWKS: jwks}, "demo"); err != nil {
		return fmt.Errorf("demo issuer: %s", describe(err))
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.runCtx, d.cancel = runCtx, cancel
	for _, b := range demoBanks {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		bank, err := sandbox.New(sandbox.Config{BankID: b.id, BankName: b.name, ProcfinURL: procfinURL,
			PublicURL: "http://" + ln.Addr().String(), Key: demoKey(b.id), KeyID: b.id + "-demo",
			DecisionDelay: b.delay, ApproveUpTo: money.MustAmount("5000000.00"), Rate: money.MustRate("0.0345"),
			Tranches: 2, RepayAfter: demoStep, LoanDays: 90, Life: demoLife, AwaitConfirmation: true, Offers: b.offers,
			Logger: logger, DB: s.db})
		if err != nil {
			ln.Close()
			return err
		}
		srv := &http.Server{Handler: bank.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		d.banks, d.servers = append(d.banks, bank), append(d.servers, srv)
		bankJWKS, _ := json.Marshal(bank.JWKS())
		if _, _, err := s.banks.Register(ctx, banking.BankRegistration{ID: b.id, Name: b.name,
			BaseURL: "http://" + ln.Addr().String(), JWKS: bankJWKS, Algorithms: []string{"EdDSA"}}, "demo"); err != nil {
			return fmt.Errorf("demo bank %s: %s", b.id, describe(err))
		}
		// Registered at its address of this run, the bank carries on the
		// lives of a demo run before on this database.
		go bank.Run(runCtx)
	}
	return nil
}

// demoKey is the demo's signing key of a sandbox system (the procurement
// centre, a bank, the purchaser's system, the treasury), the same in every
// run, so that a demo run again on its database is still the one its
// registrations name. Like the demo's passwords, it is public.
func demoKey(id string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("procfin demo key: " + id))
	return ed25519.NewKeyFromSeed(seed[:])
}

// populate runs once procfin listens: the procurement centre posts its
// signed award notices and contracts, the sandbox banks grant credit
// lines, change one and revoke another, the suppliers make the demo's
// own applications (demo_life.go) and publish its financing need
// (demo_offers.go), all through procfin's real API.
func (d *demo) populate(ctx context.Context, procfinURL string, stdout io.Writer) error {
	if err := d.purchaserSide(ctx, procfinURL); err != nil {
		return err
	}
	go d.confirmReceivables(d.runCtx, d.lending, d.logger)
	for i, sp := range demoSuppliers {
		no := fmt.Sprintf("JNCG-2026-%04d", 815+i)
		amount := []string{"1200000.00", "360000.00", "8800000.00"}[i]
		notice := fmt.Sprintf(`{"notice_no": %q, "project_no": "JN-P-%d", "project_name": %q,
			"purchaser": {"id": "jn-edu-bureau", "name": "济南市教育局 Jinan Education Bureau"},
			"supplier": {"uscc": %q, "name": %q}, "amount": %q, "currency": "CNY", "awarded_on": "2026-10-08",
			"procurement_method": "open_tender", "status": "active"}`,
			no, 88+i, []string{"校园网络升级 Campus network upgrade", "办公用品采购 Office supplies", "教学楼改造 School building renovation"}[i],
			sp.USCC, sp.Name, amount)
		if err := d.post(ctx, procfinURL, "/v1/award-notices", notice); err != nil {
			return err
		}
		contract := fmt.Sprintf(`{"contract_no": "HT-%s", "notice_no": %q, "purchaser": {"id": "jn-edu-bureau"},
			"supplier": {"uscc": %q}, "amount": %q, "signed_on": "2026-10-20",
			"period": {"start": "2026-11-01", "end": "2027-10-31"},
			"payment_terms": [{"due_on": "2027-11-30", "amount": %q, "condition": "acceptance"}], "status": "active"}`,
			no, no, sp.USCC, amount, amount)
		if err := d.post(ctx, procfinURL, "/v1/contracts", contract); err != nil {
			return err
		}
	}
	var lines []string // jinan-rural-sandbox's, by supplier
	for i, bank := range d.banks[:2] {
		lines = nil
		for _, sp := range demoSuppliers[:2] {
			limit := []string{"800000.00", "500000.00"}[i]
			id, err := bank.GrantLine(ctx, sp.USCC, limit, true)
			if err != nil {
				return fmt.Errorf("demo credit line: %w", err)
			}
			lines = append(lines, id)
		}
	}
	if err := d.changeLines(ctx, d.banks[1], lines[1], lines[0]); err != nil {
		d.logger.Warn("demo: change and revoke credit lines", "error", err)
	}
	d.stories(ctx, procfinURL, d.logger)
	d.publishNeed(ctx, procfinURL, d.logger)
	fmt.Fprintf(stdout, `
procfin demo is running at %s (Ctrl-C stops it)

Open it in a browser (中文, with an English switch), or use the API
(POST %s/v1/auth/token). Log in as:
  supplier  quancheng / procfin-demo-supplier   (泉城软件, small)
  supplier  lixia     / procfin-demo-supplier   (历下商贸, micro)
  purchaser %s     / %s  (济南市教育局, 采购人 the purchaser)
  officer   officer   / procfin-demo-officer
  admin     admin     / procfin-demo-admin

The sandbox banks qilu-sandbox, jinan-rural-sandbox and laishang-sandbox
approve applications up to 5,000,000.00 within seconds, disburse in two
tranches valued 90 days back once the purchaser confirmed the receivable,
and repay them %s later, today, with 90 days of interest.

%s
%s
%s
Try, as quancheng:
  TOKEN=$(curl -s %s/v1/auth/token -H 'Content-Type: application/json' \
    -d '{"username":"quancheng","password":"procfin-demo-supplier"}' | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  curl -s %s/v1/contracts -H "Authorization: Bearer $TOKEN"
  curl -s %s/v1/credit-applications -H "Authorization: Bearer $TOKEN" -H 'Idempotency-Key: demo-1' \
    -H 'Content-Type: application/json' \
    -d '{"contract_id":"<id from the list>","bank_id":"qilu-sandbox","amount":"500000.00","term_days":180,"purpose":"materials"}'
`, procfinURL, procfinURL, demoPurchaserUser.Username, demoPurchaserUser.Password, demoStep, demoStoriesText(), demoPurchaserText(),
		demoNeedText(procfinURL), procfinURL, procfinURL, procfinURL)
	return nil
}

// post sends a document signed by the demo's procurement centre.
func (d *demo) post(ctx context.Context, base, path, body string) error {
	compact := new(bytes.Buffer)
	if err := json.Compact(compact, []byte(body)); err != nil {
		return err
	}
	sig, err := d.issuer.Sign(http.MethodPost, base+path, "procfin", compact.Bytes(), time.Now())
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(compact.Bytes()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(signature.HeaderName, sig)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		b, _ := io.ReadAll(res.Body)
		return errors.New("demo: " + path + ": " + string(b))
	}
	return nil
}

// close stops the sandbox banks.
func (d *demo) close() {
	if d.cancel != nil {
		d.cancel()
	}
	for _, s := range d.servers {
		s.Close()
	}
	for _, b := range d.banks {
		b.Close()
	}
}
