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

	"github.com/shopspring/decimal"

	"procfin/platform/money"
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
//   - events: each client's supplier has a loan of 500,000.00 disbursed
//     in eventTranches tranches from eventsValueDate; the bank posts signed
//     loan.repaid events (0.01 of principal, 0.01 of interest, a fresh
//     event and repayment id each) to POST /v1/bank-events and expects 200
//     processed. This is bank-event ingestion: signature, inbox, state
//     machine, audit and subsidy claim in one transaction. The events pay
//     the interest of consecutive days in the past, never one twice
//     (bank-protocol.md 1.1): the client's nth names tranche n mod
//     eventTranches and pays the day ⌊n / eventTranches⌋ days before
//     today (Asia/Shanghai), paid at its end.
//   - roundtrip: intake's application, then the bank's received, approved,
//     loan.disbursed (valued 90 days back) and loan.repaid (today, for
//     those 90 days) events for it, timed as one.
type bankRoutes struct {
	name  string
	env   *Env
	apps  []string       // events: per worker, its disbursed application
	seq   []atomic.Int64 // per worker
	bodys [][]byte       // roundtrip: per worker, the application body
	today money.Date     // Asia/Shanghai, at setup
}

// The events scenario's loans: eventTranches tranches from
// eventsValueDate, so that a client has eventTranches days to pay for each
// day back to it (the policy of the demo is in force from 2020-01-01: the
// first 16 × 2,500 or so events of a client are subsidised, later ones
// get ineligible claims).
const eventTranches = 16

var eventsValueDate = money.MustDate("1900-01-01")

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
	s.today = money.DateOf(time.Now())
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
		id, err := s.lend(ctx, i, "500000.00", fmt.Sprintf("setup-%d", i), eventTranches, eventsValueDate)
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		s.apps[i] = id
	}
	return nil
}

// lend applies for amount as worker's supplier and has the bank receive,
// approve and disburse it in full, in tranches "D<n>-<application>" (n
// from 1; the cents left over go to the last) valued valueDate; it returns
// the application id.
func (s *bankRoutes) lend(ctx context.Context, worker int, amount, key string, tranches int, valueDate money.Date) (string, error) {
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
	type event struct {
		id, typ string
		data    map[string]any
	}
	events := []event{
		{"application.received-" + app.ID, "application.received", map[string]any{}},
		{"application.approved-" + app.ID, "application.approved", map[string]any{"approved_amount": amount, "annual_rate": "0.0345", "term_days": 90,
			"repayment_account": map[string]string{"bank_name": "Bench Bank", "account_no": "6222000000", "account_name": t.Name}}},
	}
	total := money.MustAmount(amount)
	n64 := decimal.NewFromInt(int64(tranches))
	each := money.AmountFromDecimal(total.Decimal().Div(n64).Truncate(2))
	for n := 1; n <= tranches; n++ {
		part := each
		if n == tranches {
			part = money.AmountFromDecimal(total.Decimal().Sub(each.Decimal().Mul(n64.Sub(decimal.NewFromInt(1)))))
		}
		events = append(events, event{fmt.Sprintf("loan.disbursed-%d-%s", n, app.ID), "loan.disbursed", map[string]any{
			"loan_id": "L-" + app.ID, "disbursement_id": fmt.Sprintf("D%d-%s", n, app.ID), "amount": part.String(),
			"value_date": valueDate.String(), "maturity_date": s.today.AddDays(90).String(), "annual_rate": "0.0345"}})
	}
	for _, ev := range events {
		if err := s.event(ctx, app.ID, ev.id, ev.typ, ev.data); err != nil {
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
		// 90 days of 1,000.00 at 3.45 %: 1,000.00 × 0.0345 × 90 / 360 = 8.625 → 8.63.
		from := s.today.AddDays(-90)
		id, err := s.lend(ctx, worker, ApplicationAmount, fmt.Sprintf("rt-%d-%d", worker, n), 1, from)
		if err != nil {
			return err
		}
		return s.event(ctx, id, "loan.repaid-"+id, "loan.repaid", map[string]any{"loan_id": "L-" + id, "repayment_id": "R-" + id,
			"disbursement_id": "D1-" + id, "principal": ApplicationAmount, "interest": "8.63", "paid_on": s.today.String(),
			"interest_period": map[string]string{"start": from.String(), "end": s.today.String()}})
	}
	app := s.apps[worker]
	ref := fmt.Sprintf("%s-%d", app, n)
	tranche, end := eventsPeriod(n, s.today)
	if end.AddDays(-1).Before(eventsValueDate) {
		return fmt.Errorf("events: client %d has paid every day since %s", worker, eventsValueDate)
	}
	return s.event(ctx, app, "repaid-"+ref, "loan.repaid", map[string]any{"loan_id": "L-" + app, "repayment_id": "R-" + ref,
		"disbursement_id": fmt.Sprintf("D%d-%s", tranche, app), "principal": "0.01", "interest": "0.01", "paid_on": end.String(),
		"interest_period": map[string]string{"start": end.AddDays(-1).String(), "end": end.String()}})
}

// eventsPeriod is the tranche (from 1) and the end of the one-day interest
// period that a client's nth event (from 1) of the events scenario pays:
// tranche n mod eventTranches, the day ⌊(n−1) / eventTranches⌋ days
// before today, so that no two of a client's events pay one day of one
// tranche.
func eventsPeriod(n int64, today money.Date) (tranche int, end money.Date) {
	k := n - 1
	return int(k%eventTranches) + 1, today.AddDays(-int(k / eventTranches))
}

func (s *bankRoutes) Route() string {
	if s.name == "roundtrip" {
		return "POST /v1/credit-applications + 4 bank events"
	}
	return "POST /v1/bank-events"
}
func (s *bankRoutes) Close() {}
