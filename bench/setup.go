package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"procfin/platform/signature"
)

// ContractAmount is the amount of each contract the bench creates: at the
// financing ratio 0.85 it holds 850,000 applications of 1000.00.
const ContractAmount = "1000000000.00"

// setupParallel is how many tenants are prepared at once.
const setupParallel = 4

// maxLoginWait bounds how long setup waits out the login rate limit in all.
const maxLoginWait = 5 * time.Minute

// Env is what setup builds and scenarios share: the client, the target and
// the registered parties. Setup steps are methods; each scenario calls the
// ones it needs.
type Env struct {
	Config Config
	Target string // the base URL requests go to
	HTTP   *http.Client
	RunID  string // random, lower-case hex: names what this run creates
	Log    io.Writer

	AdminToken string
	Issuer     signature.Signer
	Bank       signature.Signer // its ID is the bank id
	Tenants    []*Tenant

	usccs    *usccGen
	bankSrv  *http.Server // the bench's stand-in bank, accepting every delivery
	loginMu  sync.Mutex
	loginDur time.Duration // waited for the rate limit so far
}

// Tenant is one supplier with its user, token, award notice and contract.
type Tenant struct {
	USCC       string
	Name       string
	Username   string
	Password   string
	Token      string
	ContractID string
}

func newEnv(cfg Config, log io.Writer) *Env {
	var b [4]byte
	rand.Read(b[:])
	return &Env{
		Config: cfg, Target: cfg.Target, HTTP: newHTTPClient(cfg.Clients), Log: log,
		RunID: hex.EncodeToString(b[:]), usccs: newUSCCGen(),
	}
}

func (e *Env) close() {
	e.HTTP.CloseIdleConnections()
	if e.bankSrv != nil {
		e.bankSrv.Close()
	}
}

func (e *Env) do(ctx context.Context, r request) error {
	_, _, err := do(ctx, e.HTTP, e.Target, r)
	return err
}

func (e *Env) post(ctx context.Context, path, token string, body any, out any, want ...int) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return e.do(ctx, request{method: "POST", path: path, token: token, body: b, out: out, want: want})
}

// routeExists reports whether the target has a route for method and path:
// an unauthenticated, empty request is refused (401, 422, …) by a route
// that exists, and answered 404 or 405 by one that does not.
func (e *Env) routeExists(ctx context.Context, method, path string) (bool, error) {
	status, _, err := do(ctx, e.HTTP, e.Target, request{method: method, path: path, body: []byte("{}"), want: []int{0}})
	if status == 0 {
		return false, fmt.Errorf("bench: cannot reach %s: %w", e.Target, err)
	}
	return status != http.StatusNotFound && status != http.StatusMethodNotAllowed, nil
}

// requireRoute fails with a clear message when the target lacks a route.
func (e *Env) requireRoute(ctx context.Context, scenario, method, path, what string) error {
	ok, err := e.routeExists(ctx, method, path)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("scenario %s needs the %s routes (%s %s)", scenario, what, method, path)
	}
	return nil
}

// login exchanges a password for a bearer token. The login rate limit (per
// user and per address) answers 429 with Retry-After; login waits that out,
// up to maxLoginWait over the whole setup.
func (e *Env) login(ctx context.Context, username, password string) (string, error) {
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	for {
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		status, retry, err := do(ctx, e.HTTP, e.Target, request{method: "POST", path: "/v1/auth/token", body: body, out: &tok, want: []int{200}})
		if err == nil {
			return tok.AccessToken, nil
		}
		if status != http.StatusTooManyRequests {
			return "", fmt.Errorf("log in as %s: %w", username, err)
		}
		retry = max(retry, time.Second)
		e.loginMu.Lock()
		e.loginDur += retry
		waited := e.loginDur
		e.loginMu.Unlock()
		if waited > maxLoginWait {
			return "", fmt.Errorf("log in as %s: still rate-limited after waiting %s: %w", username, maxLoginWait, err)
		}
		fmt.Fprintf(e.Log, "setup: login rate limit reached; waiting %s as Retry-After says\n", retry)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(retry):
		}
	}
}

// LoginAdmin logs the administrator in.
func (e *Env) LoginAdmin(ctx context.Context) error {
	tok, err := e.login(ctx, e.Config.AdminUser, e.Config.AdminPassword)
	if err != nil {
		return fmt.Errorf("setup: %w (give the administrator with --admin-user and --admin-password)", err)
	}
	e.AdminToken = tok
	return nil
}

func newSigner(id string) signature.Signer {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	return signature.Signer{ID: id, KeyID: id + "-k1", Key: priv, Algorithm: signature.AlgEdDSA}
}

// RegisterIssuer registers a procurement centre bench-<run> with a fresh
// Ed25519 key.
func (e *Env) RegisterIssuer(ctx context.Context) error {
	e.Issuer = newSigner("bench-" + e.RunID)
	err := e.post(ctx, "/v1/admin/issuers", e.AdminToken, map[string]any{
		"id": e.Issuer.ID, "name": "procfin bench procurement centre " + e.RunID, "jwks": e.Issuer.PublicJWKS(),
	}, nil, 200, 201)
	if err != nil {
		return fmt.Errorf("setup: register issuer: %w", err)
	}
	return nil
}

// RegisterBank registers a bank bench-bank-<run> with a fresh Ed25519 key,
// served by a stand-in in the bench process on loopback that accepts every
// delivery at once (202), as a healthy bank would: the relay delivers each
// application once, as in production, instead of retrying a dead bank.
func (e *Env) RegisterBank(ctx context.Context, scenario string) error {
	if err := e.requireRoute(ctx, scenario, "POST", "/v1/admin/banks", "banking"); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("setup: stand-in bank: %w", err)
	}
	e.bankSrv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"bank_reference": "BENCH"}`)
	})}
	go e.bankSrv.Serve(ln)
	e.Bank = newSigner("bench-bank-" + e.RunID)
	err = e.post(ctx, "/v1/admin/banks", e.AdminToken, map[string]any{
		"id": e.Bank.ID, "name": "procfin bench bank " + e.RunID, "base_url": "http://" + ln.Addr().String(),
		"jwks": e.Bank.PublicJWKS(), "algorithms": []string{signature.AlgEdDSA},
	}, nil, 200, 201)
	if err != nil {
		return fmt.Errorf("setup: register bank: %w", err)
	}
	return nil
}

// signedPost posts body as the issuer, signed for target+path.
func (e *Env) signedPost(ctx context.Context, path string, body any, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	sig, err := e.Issuer.Sign("POST", e.Target+path, "procfin", b, time.Now())
	if err != nil {
		return err
	}
	err = e.do(ctx, request{method: "POST", path: path, body: b, out: out, want: []int{200, 201},
		header: http.Header{"Procfin-Signature": {sig}}})
	var he *HTTPError
	if errors.As(err, &he) && he.Type == "signature_invalid" {
		return fmt.Errorf("%w (--target %s must be procfin's public URL, PROCFIN_PUBLIC_URL, by default http:// + PROCFIN_ADDR: signed messages name it)", err, e.Target)
	}
	return err
}

// NewTenant registers supplier number i (a fresh valid USCC, a small
// software firm) and a supplier user for it. It does not log in.
func (e *Env) NewTenant(ctx context.Context, i int) (*Tenant, error) {
	uscc, err := e.usccs.next()
	if err != nil {
		return nil, err
	}
	var pw [12]byte
	rand.Read(pw[:])
	t := &Tenant{
		USCC: uscc, Name: fmt.Sprintf("Bench Supplier %s-%d", e.RunID, i),
		Username: fmt.Sprintf("bench-%s-%d", e.RunID, i), Password: hex.EncodeToString(pw[:]),
	}
	err = e.post(ctx, "/v1/admin/suppliers", e.AdminToken, map[string]any{
		"uscc": t.USCC, "name": t.Name, "industry": "software_it", "employees": 42,
		"annual_revenue": "8000000.00", "total_assets": "5000000.00",
	}, nil, 200, 201)
	if err != nil {
		return nil, fmt.Errorf("setup: register supplier %s: %w", t.USCC, err)
	}
	err = e.post(ctx, "/v1/admin/users", e.AdminToken, map[string]any{
		"username": t.Username, "password": t.Password, "role": "supplier", "supplier_uscc": t.USCC,
	}, nil, 201)
	if err != nil {
		return nil, fmt.Errorf("setup: create user %s: %w", t.Username, err)
	}
	return t, nil
}

// AddContract has the issuer sign an award notice and a contract of
// ContractAmount for t, current today and for two years.
func (e *Env) AddContract(ctx context.Context, t *Tenant, i int) error {
	day := func(d int) string { return time.Now().UTC().AddDate(0, 0, d).Format(time.DateOnly) }
	noticeNo := fmt.Sprintf("BENCH-%s-%d", e.RunID, i)
	purchaser := map[string]string{"id": "bench-purchaser", "name": "procfin bench purchasing unit"}
	err := e.signedPost(ctx, "/v1/award-notices", map[string]any{
		"notice_no": noticeNo, "project_no": "BENCH-P-" + e.RunID, "project_name": "procfin bench",
		"purchaser": purchaser, "supplier": map[string]string{"uscc": t.USCC, "name": t.Name},
		"amount": ContractAmount, "currency": "CNY", "awarded_on": day(-30),
		"procurement_method": "open_tender", "status": "active",
	}, nil)
	if err != nil {
		return fmt.Errorf("setup: award notice %s: %w", noticeNo, err)
	}
	var res struct {
		Contract struct {
			ID string `json:"id"`
		} `json:"contract"`
	}
	err = e.signedPost(ctx, "/v1/contracts", map[string]any{
		"contract_no": "HT-" + noticeNo, "notice_no": noticeNo,
		"purchaser": map[string]string{"id": purchaser["id"]}, "supplier": map[string]string{"uscc": t.USCC},
		"amount": ContractAmount, "signed_on": day(-20),
		"period":        map[string]string{"start": day(-10), "end": day(730)},
		"payment_terms": []map[string]string{{"due_on": day(760), "amount": ContractAmount, "condition": "acceptance"}},
		"status":        "active",
	}, &res)
	if err != nil {
		return fmt.Errorf("setup: contract for %s: %w", noticeNo, err)
	}
	if res.Contract.ID == "" {
		return fmt.Errorf("setup: contract for %s: the answer has no contract id", noticeNo)
	}
	t.ContractID = res.Contract.ID
	return nil
}

// Login logs t's user in.
func (e *Env) Login(ctx context.Context, t *Tenant) error {
	tok, err := e.login(ctx, t.Username, t.Password)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	t.Token = tok
	return nil
}

// SetupTenants makes n tenants, each with a contract when withContract,
// several at a time, then logs them in one by one (logins are
// rate-limited per address, so in parallel they would only wait longer).
func (e *Env) SetupTenants(ctx context.Context, n int, withContract bool) error {
	e.Tenants = make([]*Tenant, n)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(n, setupParallel) {
		wg.Go(func() {
			for i := range next {
				t, err := e.NewTenant(ctx, i)
				if err == nil && withContract {
					err = e.AddContract(ctx, t, i)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
					continue
				}
				e.Tenants[i] = t
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fmt.Fprintf(e.Log, "setup: %d supplier(s) and user(s) registered\n", n)
	for _, t := range e.Tenants {
		if err := e.Login(ctx, t); err != nil {
			return err
		}
	}
	return nil
}
