package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
)

// Scenario is one kind of load. Setup prepares it through env (it may
// print "setup: …" lines to env.Log); Do makes one request as client
// worker (0 ≤ worker < clients) and returns an *HTTPError for an
// unexpected answer; Close releases what Setup started. Do is called
// concurrently for different workers, never for the same one.
type Scenario interface {
	Setup(ctx context.Context, env *Env) error
	Do(ctx context.Context, worker int) error
	Route() string // what Do requests, for the report
	Close()
}

// scenarios are the scenarios by name. anchor is not in the usage text: it
// is the yardstick scripts/bench.sh compares reads with.
var scenarios = map[string]func() Scenario{
	"intake":    func() Scenario { return &intake{} },
	"events":    func() Scenario { return &bankRoutes{name: "events"} },
	"read":      func() Scenario { return &read{} },
	"read-db":   func() Scenario { return &read{fresh: true} },
	"roundtrip": func() Scenario { return &bankRoutes{name: "roundtrip"} },
	"anchor":    func() Scenario { return &anchor{} },
}

// scenarioChoices are the documented scenario names, sorted.
func scenarioChoices() []string {
	var names []string
	for n := range scenarios {
		if n != "anchor" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// read: a supplier user reads, as all clients share the one user (one
// log-in: logins are rate-limited): GET /v1/credit-applications/{id} of an
// application the setup submitted; when that cannot be made (no lending
// routes yet, or they refuse), GET /v1/contracts/{id} of its contract; when
// that cannot be made either, GET /v1/me. Setup says which and why.
//
// read-db is the same with Cache-Control: no-cache on every request, so
// procfin reads the database each time instead of its read cache.
type read struct {
	fresh bool
	env   *Env
	token string
	path  string
	route string
}

func (s *read) Setup(ctx context.Context, env *Env) error {
	s.env = env
	if err := env.LoginAdmin(ctx); err != nil {
		return err
	}
	t, err := env.NewTenant(ctx, 0)
	if err != nil {
		return err
	}
	contractErr := env.RegisterIssuer(ctx)
	if contractErr == nil {
		contractErr = env.AddContract(ctx, t, 0)
	}
	if err := env.Login(ctx, t); err != nil {
		return err
	}
	s.token = t.Token
	get := func(path string) error {
		return env.do(ctx, request{method: "GET", path: path, token: s.token, want: []int{200}})
	}
	if contractErr == nil {
		appErr := s.apply(ctx, t)
		if appErr == nil {
			return nil
		}
		fmt.Fprintf(env.Log, "setup: no application to read (%v): reading the contract instead\n", appErr)
		s.path, s.route = "/v1/contracts/"+t.ContractID, "GET /v1/contracts/{id}"
		if contractErr = get(s.path); contractErr == nil {
			return nil
		}
	}
	fmt.Fprintf(env.Log, "setup: no contract to read (%v): reading GET /v1/me instead\n", contractErr)
	s.path, s.route = "/v1/me", "GET /v1/me"
	return get(s.path)
}

// apply submits one application for t and reads it back.
func (s *read) apply(ctx context.Context, t *Tenant) error {
	env := s.env
	if err := env.requireRoute(ctx, "read", "POST", "/v1/credit-applications", "lending"); err != nil {
		return err
	}
	if err := env.RegisterBank(ctx, "read"); err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]any{
		"contract_id": t.ContractID, "bank_id": env.Bank.ID, "amount": ApplicationAmount,
		"term_days": 90, "purpose": "bench",
	})
	var app struct {
		ID string `json:"id"`
	}
	err := env.do(ctx, request{method: "POST", path: "/v1/credit-applications", token: s.token, body: body,
		header: http.Header{"Idempotency-Key": {"bench-" + env.RunID + "-read"}}, want: []int{201}, out: &app})
	if err != nil {
		return err
	}
	if app.ID == "" {
		return errors.New("the answer has no application id")
	}
	s.path, s.route = "/v1/credit-applications/"+app.ID, "GET /v1/credit-applications/{id}"
	return env.do(ctx, request{method: "GET", path: s.path, token: s.token, want: []int{200}})
}

var noCache = http.Header{"Cache-Control": {"no-cache"}}

func (s *read) Do(ctx context.Context, _ int) error {
	r := request{method: "GET", path: s.path, token: s.token, want: []int{200}}
	if s.fresh {
		r.header = noCache
	}
	return s.env.do(ctx, r)
}

func (s *read) Route() string {
	if s.fresh {
		return s.route + " (Cache-Control: no-cache)"
	}
	return s.route
}
func (s *read) Close() {}

// ApplicationAmount is what each intake request asks for.
const ApplicationAmount = "1000.00"

// intake: each client submits credit applications of 1000.00 against its
// own supplier's contract (so clients do not contend on one contract row),
// with a fresh Idempotency-Key each, and expects 201.
type intake struct {
	env  *Env
	seq  []atomic.Int64 // per worker
	body [][]byte       // per worker: the same body every time
}

func (s *intake) Setup(ctx context.Context, env *Env) error {
	s.env = env
	if err := env.requireRoute(ctx, "intake", "POST", "/v1/credit-applications", "lending"); err != nil {
		return err
	}
	if err := env.LoginAdmin(ctx); err != nil {
		return err
	}
	if err := env.RegisterIssuer(ctx); err != nil {
		return err
	}
	if err := env.RegisterBank(ctx, "intake"); err != nil {
		return err
	}
	if err := env.SetupTenants(ctx, env.Config.Clients, true); err != nil {
		return err
	}
	s.seq = make([]atomic.Int64, len(env.Tenants))
	s.body = make([][]byte, len(env.Tenants))
	for i, t := range env.Tenants {
		b, err := json.Marshal(map[string]any{
			"contract_id": t.ContractID, "bank_id": env.Bank.ID, "amount": ApplicationAmount,
			"term_days": 90, "purpose": "bench",
		})
		if err != nil {
			return err
		}
		s.body[i] = b
	}
	return nil
}

func (s *intake) Do(ctx context.Context, worker int) error {
	n := s.seq[worker].Add(1)
	key := "bench-" + s.env.RunID + "-" + strconv.Itoa(worker) + "-" + strconv.FormatInt(n, 10)
	return s.env.do(ctx, request{
		method: "POST", path: "/v1/credit-applications", token: s.env.Tenants[worker].Token,
		body: s.body[worker], header: http.Header{"Idempotency-Key": {key}}, want: []int{201},
	})
}

func (s *intake) Route() string { return "POST /v1/credit-applications" }
func (s *intake) Close()        {}

// bankRoutes are the scenarios where the bench plays the bank:
//
//   - events: each client's supplier has a disbursed loan of 500,000.00;
//     the bank posts signed loan.repaid events (0.01 of principal, 0.01 of
//     interest, a fresh event and repayment id each) to POST /v1/bank-events
//     and expects 200 processed. This is bank-event ingestion: signature,
//     inbox, state machine, audit and subsidy claim in one transaction.
//   - roundtrip: intake's application, then the bank's received, approved,
//     loan.disbursed and loan.repaid events for it, timed as one.
type bankRoutes struct {
	name  string
	env   *Env
	apps  []string       // events: per worker, its disbursed application
	seq   []atomic.Int64 // per worker
	bodys [][]byte       // roundtrip: per worker, the application body
}

func (s *bankRoutes) Setup(ctx context.Context, env *Env) error {
	s.env = env
	if err := env.requireRoute(ctx, s.name, "POST", "/v1/bank-events", "banking"); err != nil {
		return err
	}
	if err := env.requireRoute(ctx, s.name, "POST", "/v1/credit-applications", "lending"); err != nil {
		return err
	}
	if err := env.LoginAdmin(ctx); err != nil {
		return err
	}
	if err := env.RegisterIssuer(ctx); err != nil {
		return err
	}
	if err := env.RegisterBank(ctx, s.name); err != nil {
		return err
	}
	if err := env.SetupTenants(ctx, env.Config.Clients, true); err != nil {
		return err
	}
	s.seq = make([]atomic.Int64, len(env.Tenants))
	s.apps = make([]string, len(env.Tenants))
	s.bodys = make([][]byte, len(env.Tenants))
	for i, t := range env.Tenants {
		if s.name == "roundtrip" {
			b, _ := json.Marshal(map[string]any{"contract_id": t.ContractID, "bank_id": env.Bank.ID,
				"amount": ApplicationAmount, "term_days": 90, "purpose": "bench"})
			s.bodys[i] = b
			continue
		}
		id, err := s.lend(ctx, i, "500000.00", fmt.Sprintf("setup-%d", i))
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		s.apps[i] = id
	}
	return nil
}

// lend applies for amount as worker's supplier and has the bank receive,
// approve and disburse it in full; it returns the application id.
func (s *bankRoutes) lend(ctx context.Context, worker int, amount, key string) (string, error) {
	env := s.env
	t := env.Tenants[worker]
	body := s.bodys[worker]
	if body == nil {
		body, _ = json.Marshal(map[string]any{"contract_id": t.ContractID, "bank_id": env.Bank.ID,
			"amount": amount, "term_days": 90, "purpose": "bench"})
	}
	var app struct{ ID string }
	err := env.do(ctx, request{method: "POST", path: "/v1/credit-applications", token: t.Token, body: body, out: &app,
		header: http.Header{"Idempotency-Key": {"bench-" + env.RunID + "-" + key}}, want: []int{201}})
	if err != nil {
		return "", err
	}
	for _, ev := range []struct {
		typ  string
		data map[string]any
	}{
		{"application.received", map[string]any{}},
		{"application.approved", map[string]any{"approved_amount": amount, "annual_rate": "0.0345", "term_days": 90,
			"repayment_account": map[string]string{"bank_name": "Bench Bank", "account_no": "6222000000", "account_name": t.Name}}},
		{"loan.disbursed", map[string]any{"loan_id": "L-" + app.ID, "disbursement_id": "D-" + app.ID, "amount": amount,
			"value_date": "2026-11-01", "maturity_date": "2027-01-30", "annual_rate": "0.0345"}},
	} {
		if err := s.event(ctx, app.ID, ev.typ+"-"+app.ID, ev.typ, ev.data); err != nil {
			return "", err
		}
	}
	return app.ID, nil
}

// event posts one signed bank event and expects it processed.
func (s *bankRoutes) event(ctx context.Context, appID, eventID, typ string, data map[string]any) error {
	body, err := json.Marshal(map[string]any{"event_id": eventID, "type": typ, "occurred_at": time.Now().UTC().Format(time.RFC3339),
		"application_id": appID, "bank_reference": "B-" + appID, "data": data})
	if err != nil {
		return err
	}
	sig, err := s.env.Bank.Sign("POST", s.env.Target+"/v1/bank-events", "procfin", body, time.Now())
	if err != nil {
		return err
	}
	return s.env.do(ctx, request{method: "POST", path: "/v1/bank-events", body: body,
		header: http.Header{"Procfin-Signature": {sig}}, want: []int{200}})
}

func (s *bankRoutes) Do(ctx context.Context, worker int) error {
	n := s.seq[worker].Add(1)
	if s.name == "roundtrip" {
		id, err := s.lend(ctx, worker, ApplicationAmount, fmt.Sprintf("rt-%d-%d", worker, n))
		if err != nil {
			return err
		}
		return s.event(ctx, id, "loan.repaid-"+id, "loan.repaid", map[string]any{"loan_id": "L-" + id, "repayment_id": "R-" + id,
			"principal": ApplicationAmount, "interest": "8.63", "paid_on": "2027-01-30",
			"interest_period": map[string]string{"start": "2026-11-01", "end": "2027-01-30"}})
	}
	app := s.apps[worker]
	ref := fmt.Sprintf("%s-%d", app, n)
	return s.event(ctx, app, "repaid-"+ref, "loan.repaid", map[string]any{"loan_id": "L-" + app, "repayment_id": "R-" + ref,
		"principal": "0.01", "interest": "0.01", "paid_on": "2026-12-01",
		"interest_period": map[string]string{"start": "2026-11-01", "end": "2026-12-01"}})
}

func (s *bankRoutes) Route() string {
	if s.name == "roundtrip" {
		return "POST /v1/credit-applications + 4 bank events"
	}
	return "POST /v1/bank-events"
}
func (s *bankRoutes) Close() {}
