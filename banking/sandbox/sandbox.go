// Package sandbox is procfin's sandbox partner bank: a bank that speaks the
// partner-bank protocol (docs: bank-protocol.md) for the demo, the tests
// and the reliability drills.
//
// It accepts signed credit applications (POST /v1/credit-applications),
// de-duplicates them by Idempotency-Key, and after a delay decides them by
// rule: approve the requested amount when it is within ApproveUpTo (or
// within what is left of a credit line the sandbox granted, when the request
// names one), reject it with reason_code "over_limit" otherwise. What
// becomes of an application is its Life, chosen by Config.Life: by default
// the approved amount is disbursed in equal tranches and, when RepayAfter is
// set, later repaid with ACT/360 interest; other lives repay the loan whole
// or per tranche, end its drawdown early, make it overdue and cure it, and
// close it (protocol version 1.1), or hold the application undecided. Every
// step goes to procfin as a signed event (POST {ProcfinURL}/v1/bank-events),
// resent on 5xx, time-outs and 409 invalid_transition.
//
// It takes procfin's withdrawals (POST
// /v1/credit-applications/{application_id}/withdrawal) and then decides
// nothing more for the application, and procfin's contract events (POST
// /v1/contract-events, contractevents.go). A bank of version 1 (the
// default) disburses at once after approving; one that waits for
// confirmation (Config.AwaitConfirmation, protocol version 1.1) disburses
// only after the purchaser's receivable.confirmed for the application, and
// lets the approval lapse on receivable.refused.
//
// It takes financing intents (POST /v1/financing-intents, protocol 1.1,
// intents.go) and answers each by its OfferRule with an offer.made, or
// declines to offer; it takes procfin's decisions on them (POST
// /v1/financing-intents/{intent_id}/decision), and approves the credit
// application of an accepted offer (request.offer_id) within the offer:
// its amount at most the offer's, at the offer's rate and term.
//
// Beside the bank, the package has the purchaser's and the treasury's
// sandbox systems, signing clients of procfin: Purchaser confirms or
// refuses receivables (purchaser.go), Treasury reports payments of
// contracts (treasury.go).
//
// Faults make it misbehave on demand (down, slow, 500s, duplicate and
// reordered events); SetFaults changes them at run time.
//
// Given a database (Config.DB), the bank keeps its state there, in its own
// tables (sandbox_*, keyed by its id): a bank restarted on the same
// database takes up every loan's life where it stood, each next step at
// its due time (at once when overdue), sending again with the same event
// ids and bodies what procfin had not yet taken. Without one, everything
// is in memory and a restarted bank forgets its applications, loans and
// lines.
package sandbox

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/safehttp"
	"procfin/platform/signature"
)

// PlatformID is procfin's sender id and the audience of the sandbox's
// events.
const PlatformID = "procfin"

// The sandbox's defaults.
const (
	DefaultApproveUpTo  = "5000000.00"
	DefaultRate         = "0.0345"
	DefaultTranches     = 2
	DefaultBankName     = "Sandbox Bank"
	DefaultRetryBackoff = 200 * time.Millisecond

	maxRetryBackoff = 5 * time.Second
	maxTries        = 10               // tries per event
	maxBodyBytes    = 1 << 20          // request and response bodies
	maxConcurrent   = 64               // applications decided at once
	maxTermDays     = 3650             // longer terms are refused (422)
	sendTimeout     = 10 * time.Second // default HTTP client time-out
)

// sandboxURLs: the sandbox reads procfin's keys wherever procfin runs,
// plain http to 127.0.0.1 included (it is a bank for demos and drills).
var sandboxURLs = safehttp.Policy{AllowPrivate: true}

func loopbackHost(host string) bool {
	ip, err := netip.ParseAddr(host)
	return strings.EqualFold(host, "localhost") || err == nil && ip.Unmap().IsLoopback()
}

// Config configures a sandbox bank.
type Config struct {
	// BankID is the bank's id at procfin: iss of its events, aud of the
	// applications it accepts. Required.
	BankID string
	// ProcfinURL is procfin's base URL (http://127.0.0.1:8080); events go
	// to ProcfinURL + "/v1/bank-events". Required.
	ProcfinURL string
	// ProcfinJWKSURL is where procfin's public keys are (default
	// ProcfinURL + "/.well-known/jwks.json"); plain http only on loopback.
	ProcfinJWKSURL string
	// PublicURL is this bank's base URL as procfin addresses it, for the
	// htu check of incoming applications. Empty: taken from each request
	// (http or https, and its Host header).
	PublicURL string
	// Key signs the bank's events; nil generates a fresh key.
	Key ed25519.PrivateKey
	// KeyID is the key's kid (default: derived from the public key).
	KeyID string
	// DecisionDelay is how long after accepting an application the bank
	// decides it.
	DecisionDelay time.Duration
	// ApproveUpTo: requests up to this amount are approved, those above
	// rejected (over_limit). A request naming a credit line the sandbox
	// granted is measured against what is left of the line instead. Zero
	// means DefaultApproveUpTo.
	ApproveUpTo money.Amount
	// Rate is the annual rate of approvals and loans, and the rate ceiling
	// of granted lines (zero: DefaultRate).
	Rate money.Rate
	// Tranches is the number of equal disbursements (default 2; the
	// remainder cents go to the last).
	Tranches int
	// RepayAfter is how long after the disbursements the loan is repaid in
	// full, one loan.repaid per tranche, and the pause between the later
	// steps of the other lives; 0 never repays.
	RepayAfter time.Duration
	// Life chooses what becomes of each application the bank accepts (nil:
	// LifeRepaid for all). It must depend only on the application.
	Life func(Application) Life
	// LoanDays, when above zero, dates each loan's value date that many
	// days before its approval (interest accrues over them until the
	// repayment, paid on the day it is sent): a demo can show a 90-day
	// loan repaid, with its interest, a minute after disbursement, with
	// every date in the past, as procfin requires (bank-protocol.md 1.1).
	LoanDays int
	// AwaitConfirmation makes the bank wait, after approving an
	// application, for procfin's receivable.confirmed of it before
	// disbursing (the purchaser's 确权, bank-protocol.md 1.1), and answer
	// receivable.refused with application.lapsed (receivable_refused).
	// False: a version-1 bank, disbursing at once.
	AwaitConfirmation bool
	// Offers is how the bank answers financing intents (intents.go).
	Offers OfferRule
	// Faults is the initial misbehaviour; see SetFaults.
	Faults Faults
	// HTTPClient sends events and fetches procfin's JWKS (default: a
	// client with a 10 s time-out).
	HTTPClient *http.Client
	// Now is the clock of signatures, timestamps and dates (default
	// time.Now). Delays are real time whatever it says.
	Now func() time.Time
	// Logger logs deliveries and decisions (default slog.Default()).
	Logger *slog.Logger
	// DB, when set, keeps the bank's state in procfin's database, in the
	// sandbox's own tables (migration 00040), keyed by BankID: New reads
	// it back and Run carries on every life that is not over. Nil: in
	// memory only.
	DB *sqlx.DB

	// BankName is repayment_account.bank_name (default DefaultBankName).
	BankName string
	// RetryBackoff is the first pause before an event is resent; it doubles
	// up to 5 s, for at most 10 tries in all (default DefaultRetryBackoff).
	RetryBackoff time.Duration
}

// Faults make the sandbox misbehave, for the reliability drills.
type Faults struct {
	// Down answers 503 to every request.
	Down bool
	// Slow sleeps this long before answering any request.
	Slow time.Duration
	// Fail5xxEvery answers 500 to every Nth credit application received
	// (counting from the bank's start, before any check).
	Fail5xxEvery int
	// DuplicateEvents sends each event twice (same event_id, same body).
	DuplicateEvents bool
	// ReorderEvents sends the events of one batch (the decision and
	// disbursements of an application, or its repayments) once in a
	// shuffled order, without retries, then again in order.
	ReorderEvents bool
}

// Received is an application the bank accepted.
type Received struct {
	ApplicationID  string
	IdempotencyKey string
	BodyHash       string // BodyHash of the accepted body (signature.BodyHash)
	BankReference  string
	ReceivedAt     time.Time // first delivery, by Config.Now
	Deliveries     int       // deliveries with this key and body, the first included
	Life           Life      // what the bank does with it (Config.Life)
}

// application is an accepted application and what became of it.
type application struct {
	rec Received
	msg incoming

	life Life

	// Set by the decision.
	decided  bool // approved or rejected
	approved bool
	amount   money.Amount
	line     *creditLine
	rate     money.Rate // of the approval and the loan
	termDays int        // of the approval
	loanID   string
	plan     plan

	// receivable is the first of receivable.confirmed or
	// receivable.refused procfin sent of it ("" before); settled is closed
	// when it is set.
	receivable string
	settled    chan struct{}

	// Where its life stands: the batches of events procfin took, when
	// the next is due (real time), and whether the life is over.
	sent   int
	nextAt time.Time
	done   bool
}

// creditLine is a line the sandbox granted.
type creditLine struct {
	id, uscc    string
	limit, used money.Amount
	revolving   bool
	validFrom   money.Date
	validUntil  money.Date
	changes     int // credit_line.changed sent
}

// incoming is what the bank reads of a credit application
// (banking.ApplicationMessage on procfin's side).
type incoming struct {
	ApplicationID string `json:"application_id"`
	Supplier      struct {
		USCC string `json:"uscc"`
		Name string `json:"name"`
	} `json:"supplier"`
	Request struct {
		Amount       *money.Amount `json:"amount"`
		Currency     string        `json:"currency"`
		TermDays     int           `json:"term_days"`
		CreditLineID *string       `json:"credit_line_id"`
		OfferID      *string       `json:"offer_id"` // the bank's offer the supplier accepted (protocol 1.1)
	} `json:"request"`
}

// lifeOf is the life Config.Life gives m.
func (b *Bank) lifeOf(m incoming) Life {
	if b.cfg.Life == nil {
		return LifeRepaid
	}
	app := Application{ApplicationID: m.ApplicationID, SupplierUSCC: m.Supplier.USCC, Amount: *m.Request.Amount, TermDays: m.Request.TermDays}
	if m.Request.CreditLineID != nil {
		app.CreditLineID = *m.Request.CreditLineID
	}
	if l := b.cfg.Life(app); slices.Contains(Lives, l) {
		return l
	}
	return LifeRepaid
}

// Bank is a running sandbox bank. Its methods are safe for concurrent use.
type Bank struct {
	cfg       Config
	signer    signature.Signer
	verifier  *signature.Verifier
	store     store
	log       *slog.Logger
	client    *http.Client
	eventsURL string
	publicURL string

	mu       sync.Mutex
	faults   Faults
	requests int                     // credit applications received, for Fail5xxEvery
	apps     map[string]*application // by Idempotency-Key
	order    []*application
	pending  []*application // accepted, not yet picked up by Run
	lines    map[string]*creditLine
	// withdrawals are the withdrawals taken, by Idempotency-Key, in the
	// order taken; withdrawn the first of each application, by its id.
	withdrawals   map[string]*WithdrawalReceived
	wOrder        []*WithdrawalReceived
	withdrawnApps map[string]*WithdrawalReceived
	// cEvents are the contract events taken, by Idempotency-Key, in the
	// order taken (cOrder).
	cEvents map[string]*ContractEventReceived
	cOrder  []*ContractEventReceived
	// Competing offers (intents.go): the intents heard of, by intent_id;
	// the intent messages and decisions taken, by Idempotency-Key, in the
	// order taken; the offers made, by offer_id, in the order made.
	intents        map[string]*intentState
	pendingIntents []*intentState // taken, not yet picked up by Run
	intentMsgs     map[string]*IntentReceived
	iOrder         []*IntentReceived
	decisions      map[string]*DecisionReceived
	dOrder         []*DecisionReceived
	offers         map[string]*OfferSent
	oOrder         []*OfferSent
	closed         bool
	running        sync.WaitGroup
	wake           chan struct{}
	done           chan struct{}
	doneOnce       sync.Once
}

// New checks cfg, fills in its defaults, reads the bank's state back from
// cfg.DB, if set, and returns the bank. Call Run to have it decide
// applications and send events, and Handler to serve it.
func New(cfg Config) (*Bank, error) {
	if cfg.BankID == "" {
		return nil, errors.New("sandbox: BankID is required")
	}
	if cfg.BankID == PlatformID {
		return nil, fmt.Errorf("sandbox: BankID may not be %q", PlatformID)
	}
	base, err := baseURL("ProcfinURL", cfg.ProcfinURL)
	if err != nil {
		return nil, err
	}
	cfg.ProcfinURL = base
	if cfg.ProcfinJWKSURL == "" {
		cfg.ProcfinJWKSURL = cfg.ProcfinURL + "/.well-known/jwks.json"
	}
	if err := signature.CheckJWKSURLWith(cfg.ProcfinJWKSURL, sandboxURLs); err != nil {
		return nil, fmt.Errorf("sandbox: ProcfinJWKSURL %q: %s", cfg.ProcfinJWKSURL, errs.MessageOf(err))
	}
	if u, _ := url.Parse(cfg.ProcfinJWKSURL); strings.EqualFold(u.Scheme, "http") && !loopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("sandbox: ProcfinJWKSURL %q: plain http only to 127.0.0.1, ::1 or localhost", cfg.ProcfinJWKSURL)
	}
	if cfg.PublicURL != "" {
		if cfg.PublicURL, err = baseURL("PublicURL", cfg.PublicURL); err != nil {
			return nil, err
		}
	}
	if cfg.Key == nil {
		if _, cfg.Key, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return nil, fmt.Errorf("sandbox: generate key: %w", err)
		}
	}
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("sandbox: Key is not an Ed25519 private key")
	}
	if cfg.KeyID == "" {
		cfg.KeyID = KeyIDOf(cfg.Key)
	}
	if cfg.DecisionDelay < 0 || cfg.RepayAfter < 0 || cfg.RetryBackoff < 0 {
		return nil, errors.New("sandbox: delays may not be negative")
	}
	if cfg.ApproveUpTo.IsZero() {
		cfg.ApproveUpTo = money.MustAmount(DefaultApproveUpTo)
	}
	if cfg.ApproveUpTo.IsNegative() {
		return nil, errors.New("sandbox: ApproveUpTo may not be negative")
	}
	if cfg.Rate.Decimal().IsZero() {
		cfg.Rate = money.MustRate(DefaultRate)
	}
	if err := cfg.Offers.check(cfg.Rate); err != nil {
		return nil, err
	}
	if cfg.Tranches == 0 {
		cfg.Tranches = DefaultTranches
	}
	if cfg.Tranches < 0 || cfg.Tranches > 100 {
		return nil, errors.New("sandbox: Tranches must be 1 to 100")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: sendTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BankName == "" {
		cfg.BankName = DefaultBankName
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = DefaultRetryBackoff
	}
	b := &Bank{
		cfg:           cfg,
		signer:        signature.Signer{ID: cfg.BankID, KeyID: cfg.KeyID, Key: cfg.Key, Algorithm: signature.AlgEdDSA},
		log:           cfg.Logger.With("bank", cfg.BankID),
		client:        cfg.HTTPClient,
		eventsURL:     cfg.ProcfinURL + "/v1/bank-events",
		store:         store{db: cfg.DB, bank: cfg.BankID},
		publicURL:     cfg.PublicURL,
		faults:        cfg.Faults,
		apps:          map[string]*application{},
		lines:         map[string]*creditLine{},
		withdrawals:   map[string]*WithdrawalReceived{},
		withdrawnApps: map[string]*WithdrawalReceived{},
		cEvents:       map[string]*ContractEventReceived{},
		intents:       map[string]*intentState{},
		intentMsgs:    map[string]*IntentReceived{},
		decisions:     map[string]*DecisionReceived{},
		offers:        map[string]*OfferSent{},
		wake:          make(chan struct{}, 1),
		done:          make(chan struct{}),
	}
	if _, err := b.signer.PublicJWK(); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	procfin := signature.Sender{ID: PlatformID, JWKSURL: cfg.ProcfinJWKSURL, Algorithms: []string{signature.AlgEdDSA}}
	lookup := func(_ context.Context, id string) (signature.Sender, error) {
		if id != PlatformID {
			return signature.Sender{}, errs.E(errs.NotFound, "unknown sender")
		}
		return procfin, nil
	}
	b.verifier = signature.NewVerifier(nil, cfg.BankID, lookup,
		signature.WithReplayStore(signature.NewMemoryReplayStore()),
		signature.WithClock(cfg.Now),
		signature.WithHTTPClient(cfg.HTTPClient),
		signature.WithURLPolicy(sandboxURLs))
	if err := b.load(); err != nil {
		return nil, err
	}
	return b, nil
}

// baseURL checks an absolute http(s) URL without query or fragment and
// returns it without a trailing slash.
func baseURL(name, s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("sandbox: %s %q must be an absolute http(s) URL without query", name, s)
	}
	return strings.TrimRight(s, "/"), nil
}

// KeyIDOf is the default kid of a key: "sbx-" and 12 hex digits of the
// SHA-256 of the public key.
func KeyIDOf(k ed25519.PrivateKey) string {
	sum := sha256.Sum256(k.Public().(ed25519.PublicKey))
	return "sbx-" + hex.EncodeToString(sum[:6])
}

// JWKS returns the bank's public key, as procfin registers it.
func (b *Bank) JWKS() signature.JWKS { return b.signer.PublicJWKS() }

// ID returns the bank's id.
func (b *Bank) ID() string { return b.cfg.BankID }

// KeyID returns the kid of the bank's key.
func (b *Bank) KeyID() string { return b.cfg.KeyID }

// SetFaults changes the bank's misbehaviour from now on.
func (b *Bank) SetFaults(f Faults) {
	b.mu.Lock()
	b.faults = f
	b.mu.Unlock()
}

// Faults returns the current misbehaviour.
func (b *Bank) Faults() Faults {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.faults
}

// Received returns the applications accepted so far, in the order of their
// first delivery.
func (b *Bank) Received() []Received {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Received, len(b.order))
	for i, a := range b.order {
		out[i] = a.rec
	}
	return out
}

// Run decides the accepted applications and sends their events until ctx
// ends or Close is called; it waits for the work in flight to stop and
// returns nil.
func (b *Bank) Run(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.running.Add(1)
	b.mu.Unlock()
	defer b.running.Done()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-b.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, maxConcurrent)
	for {
		// spawn runs work once one of maxConcurrent places is free.
		spawn := func(work func()) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				defer func() { <-sem }()
				work()
			}()
		}
		for _, a := range b.takePending() {
			spawn(func() { b.process(ctx, a) })
		}
		for _, in := range b.takePendingIntents() {
			spawn(func() { b.answerIntent(ctx, in) })
		}
		select {
		case <-ctx.Done():
			return nil
		case <-b.wake:
		}
	}
}

// Close stops Run and waits for it to return. The handler keeps answering.
func (b *Bank) Close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.doneOnce.Do(func() { close(b.done) })
	b.running.Wait()
}

func (b *Bank) takePending() []*application {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.pending
	b.pending = nil
	return p
}

func (b *Bank) now() time.Time { return b.cfg.Now() }

// Handler serves the bank: POST /v1/credit-applications, POST
// /v1/credit-applications/{application_id}/withdrawal, POST
// /v1/contract-events, POST /v1/financing-intents, POST
// /v1/financing-intents/{intent_id}/decision, GET /.well-known/jwks.json
// and GET /healthz, each subject to the faults.
func (b *Bank) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/credit-applications", b.createApplication)
	mux.HandleFunc("POST /v1/credit-applications/{application_id}/withdrawal", b.withdraw)
	mux.HandleFunc("POST /v1/contract-events", b.contractEvents)
	mux.HandleFunc("POST /v1/financing-intents", b.takeIntent)
	mux.HandleFunc("POST /v1/financing-intents/{intent_id}/decision", b.takeDecision)
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		writeJSONType(w, http.StatusOK, "application/jwk-set+json", b.JWKS())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "bank_id": b.cfg.BankID})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := b.Faults()
		if f.Slow > 0 {
			t := time.NewTimer(f.Slow)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if f.Down {
			w.Header().Set("Retry-After", "1")
			writeProblem(w, http.StatusServiceUnavailable, string(errs.Unavailable), "the sandbox bank is down (fault injected)")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// createApplication is POST /v1/credit-applications.
func (b *Bank) createApplication(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.requests++
	n, every := b.requests, b.faults.Fail5xxEvery
	b.mu.Unlock()
	if every > 0 && n%every == 0 {
		writeProblem(w, http.StatusInternalServerError, string(errs.Internal), "injected fault: every "+strconv.Itoa(every)+"th request fails")
		return
	}
	body, ok := b.readSigned(w, r)
	if !ok {
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" || len(key) > 200 {
		writeProblem(w, http.StatusBadRequest, string(errs.MalformedRequest), "the Idempotency-Key header is required (the application_id, at most 200 bytes)")
		return
	}
	hash := signature.BodyHash(body)

	b.mu.Lock()
	if a, ok := b.apps[key]; ok {
		if a.rec.BodyHash != hash {
			b.mu.Unlock()
			writeProblem(w, http.StatusConflict, string(errs.IdempotencyReused), "this Idempotency-Key came before with a different body")
			return
		}
		a.rec.Deliveries++
		ref := a.rec.BankReference
		b.mu.Unlock()
		b.countResend("", key)
		writeJSON(w, http.StatusOK, map[string]string{"bank_reference": ref})
		return
	}
	b.mu.Unlock()

	if !json.Valid(body) {
		writeProblem(w, http.StatusBadRequest, string(errs.MalformedRequest), "the body is not JSON")
		return
	}
	var msg incoming
	if err := json.Unmarshal(body, &msg); err != nil {
		writeProblem(w, http.StatusUnprocessableEntity, string(errs.Invalid), "the body is not a credit application: "+errs.MessageOf(err))
		return
	}
	if detail := msg.check(key); detail != "" {
		writeProblem(w, http.StatusUnprocessableEntity, string(errs.Invalid), detail)
		return
	}

	b.mu.Lock()
	if a, ok := b.apps[key]; ok { // a concurrent delivery won
		status, ref := http.StatusOK, a.rec.BankReference
		if a.rec.BodyHash != hash {
			b.mu.Unlock()
			writeProblem(w, http.StatusConflict, string(errs.IdempotencyReused), "this Idempotency-Key came before with a different body")
			return
		}
		a.rec.Deliveries++
		b.mu.Unlock()
		b.countResend("", key)
		writeJSON(w, status, map[string]string{"bank_reference": ref})
		return
	}
	life := b.lifeOf(msg)
	a := &application{msg: msg, life: life, settled: make(chan struct{}), nextAt: time.Now().Add(b.cfg.DecisionDelay), rec: Received{
		ApplicationID: msg.ApplicationID, IdempotencyKey: key, BodyHash: hash,
		BankReference: "SBX-" + randomID(5), ReceivedAt: b.now(), Deliveries: 1, Life: life,
	}}
	if err := b.store.takeApplication(a, body, a.nextAt); err != nil {
		b.mu.Unlock()
		b.unstored(w, "application", key, err)
		return
	}
	b.apps[key] = a
	b.order = append(b.order, a)
	b.pending = append(b.pending, a)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	b.log.Info("application accepted", "application_id", msg.ApplicationID, "bank_reference", a.rec.BankReference, "amount", msg.Request.Amount, "life", life)
	writeJSON(w, http.StatusAccepted, map[string]string{"bank_reference": a.rec.BankReference})
}

// countResend stores another delivery of what the bank took under key
// (kind "": an application).
func (b *Bank) countResend(kind, key string) {
	if err := b.store.resent(kind, key); err != nil {
		b.log.Error("store a resend", "kind", kind, "key", key, "error", err)
	}
}

// unstored answers 503 to a message the bank could not store: procfin
// sends it again.
func (b *Bank) unstored(w http.ResponseWriter, what, key string, err error) {
	b.log.Error("store a message taken", "what", what, "key", key, "error", err)
	w.Header().Set("Retry-After", "1")
	writeProblem(w, http.StatusServiceUnavailable, string(errs.Unavailable), "the sandbox bank could not store the "+what)
}

// LifeOver reports whether the bank is done with the application: its
// life is over (its last events taken by procfin, withdrawn before the
// decision, or a batch of its events refused or given up) and the bank
// sends nothing more of it.
func (b *Bank) LifeOver(applicationID string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, ok := b.apps[applicationID] // keyed by application_id
	return ok && a.done
}

// readSigned reads the body of a request from procfin and checks its
// signature, as addressed to the bank's URL of the request. On a failure it
// answers (401 signature_invalid, 413, 400, or 503 when procfin's keys
// cannot be read) and returns false.
func (b *Bank) readSigned(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeProblem(w, http.StatusRequestEntityTooLarge, string(errs.BodyTooLarge), "the body is over 1 MiB")
			return nil, false
		}
		writeProblem(w, http.StatusBadRequest, string(errs.MalformedRequest), "the body could not be read")
		return nil, false
	}
	if _, err := b.verifier.Verify(r.Context(), signature.Request{
		Header: r.Header.Get(signature.HeaderName),
		Method: r.Method,
		URL:    b.baseURLOf(r) + r.URL.EscapedPath(),
		Body:   body,
	}); err != nil {
		switch code := errs.CodeOf(err); code {
		case errs.SignatureInvalid:
			writeProblem(w, http.StatusUnauthorized, string(code), errs.MessageOf(err))
		case errs.Unavailable:
			w.Header().Set("Retry-After", "5")
			writeProblem(w, http.StatusServiceUnavailable, string(code), errs.MessageOf(err))
		default:
			b.log.Error("verify a message's signature", "error", err)
			writeProblem(w, http.StatusInternalServerError, string(errs.Internal), "the signature could not be checked")
		}
		return nil, false
	}
	return body, true
}

// check returns what is wrong with an application the bank cannot decide,
// or "".
func (m incoming) check(key string) string {
	switch {
	case m.ApplicationID == "":
		return "application_id is required"
	case m.ApplicationID != key:
		return "the Idempotency-Key must be the application_id"
	case m.Supplier.USCC == "":
		return "supplier.uscc is required"
	case m.Request.Amount == nil || !m.Request.Amount.IsPositive():
		return "request.amount must be above zero"
	case m.Request.TermDays < 1 || m.Request.TermDays > maxTermDays:
		return "request.term_days must be 1 to " + strconv.Itoa(maxTermDays)
	case m.Request.OfferID != nil && (*m.Request.OfferID == "" || len(*m.Request.OfferID) > maxIDLen):
		return "request.offer_id must be an offer id of at most 200 bytes, or null"
	}
	return ""
}

// baseURLOf is the bank's base URL as the request addressed it.
func (b *Bank) baseURLOf(r *http.Request) string {
	if b.publicURL != "" {
		return b.publicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// writeProblem answers with an RFC 9457 problem.
func writeProblem(w http.ResponseWriter, status int, typ, detail string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSONType(w, status, "application/problem+json", map[string]any{
		"type": typ, "title": http.StatusText(status), "status": status, "detail": detail,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONType(w, status, "application/json", v)
}

func writeJSONType(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// randomID returns n random bytes as upper-case hex.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return strings.ToUpper(hex.EncodeToString(b))
}

// copies returns a copy of what each element of *ps points to, in order,
// read under mu: what the bank took so far, for its tests and the demo.
func copies[T any](mu *sync.Mutex, ps *[]*T) []T {
	mu.Lock()
	defer mu.Unlock()
	out := make([]T, len(*ps))
	for i, p := range *ps {
		out[i] = *p
	}
	return out
}
