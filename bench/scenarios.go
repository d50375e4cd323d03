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
type read struct {
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

func (s *read) Do(ctx context.Context, _ int) error {
	return s.env.do(ctx, request{method: "GET", path: s.path, token: s.token, want: []int{200}})
}

func (s *read) Route() string { return s.route }
func (s *read) Close()        {}

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

// bankRoutes stands for the scenarios that need the banking routes:
//
//   - events: a bank posts signed events (POST /v1/bank-events, signed by
//     env.Bank for env.Target+"/v1/bank-events", audience "procfin"), for
//     instance credit_line.granted with a fresh credit_line_id each;
//   - roundtrip: intake's application, then the bank's received, approved,
//     loan.disbursed and loan.repaid events for it, timed as one.
//
// Setup already checks the route and, when it exists, registers what they
// need (the bank and its key, suppliers with contracts); what is left is
// Do. Until then Setup refuses to run.
type bankRoutes struct {
	name string
}

var errNotWritten = errors.New("not written yet")

func (s *bankRoutes) Setup(ctx context.Context, env *Env) error {
	if err := env.requireRoute(ctx, s.name, "POST", "/v1/bank-events", "banking"); err != nil {
		return err
	}
	if s.name == "roundtrip" {
		if err := env.requireRoute(ctx, s.name, "POST", "/v1/credit-applications", "lending"); err != nil {
			return err
		}
	}
	return fmt.Errorf("scenario %s: the banking routes exist now, but the scenario's requests are %w (bench/scenarios.go, bankRoutes)", s.name, errNotWritten)
}

func (s *bankRoutes) Do(context.Context, int) error { return errNotWritten }
func (s *bankRoutes) Route() string                 { return "POST /v1/bank-events" }
func (s *bankRoutes) Close()                        {}
