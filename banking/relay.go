package banking

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/sony/gobreaker/v2"

	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/postgres"
	"procfin/platform/signature"
	"procfin/platform/text"
)

// PlatformID is procfin's sender id in its messages to banks (iss).
const PlatformID = "procfin"

// RelayConfig tunes the relay; zero values take the protocol's defaults.
type RelayConfig struct {
	WorkerID     string        // names this process in locks
	Poll         time.Duration // how often to look for due deliveries (default 50 ms)
	Batch        int           // deliveries claimed at once (default 64)
	Concurrency  int           // HTTP attempts under way at once to one bank (default 16)
	Lease        time.Duration // how long a claim lasts (default 1 min)
	Timeout      time.Duration // per HTTP attempt (default 10 s)
	BaseBackoff  time.Duration // first retry delay (default 1 s)
	MaxBackoff   time.Duration // longest retry delay (default 5 min)
	DeadAfter    time.Duration // give up into the dead letters (default 24 h)
	BreakerAfter uint32        // consecutive failures that open a bank's breaker (default 5)
	BreakerOpen  time.Duration // how long it stays open (default 30 s)
	SlowAnswer   time.Duration // an answer slower than this counts against the breaker (default 5 s)
}

// Relay delivers queued messages to their banks: signed, at
// least once, with exponential back-off and full jitter, honouring
// Retry-After, one circuit breaker per bank, dead letters after 24 h.
// Several relays (processes) may run against one database: each delivery
// is claimed with SKIP LOCKED and a lease, so none runs twice at once.
type Relay struct {
	cfg      RelayConfig
	db       *sqlx.DB
	banks    *Registry
	lending  *lending.Service
	signer   signature.Signer
	client   *http.Client
	metrics  *Metrics
	logger   *slog.Logger
	mu       sync.Mutex
	breakers map[string]*gobreaker.CircuitBreaker[result]
	busy     map[string]bool // banks with a lane under way
	freed    chan struct{}   // a lane finished
}

// NewRelay returns a relay; call Run to start it. It signs with the
// platform's key that keys gives at each attempt (platform/auth's, which
// it publishes at /.well-known/jwks.json).
func NewRelay(db *sqlx.DB, banks *Registry, ls *lending.Service, keys signature.SigningKeys, m *Metrics, logger *slog.Logger, cfg RelayConfig) *Relay {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.Poll, 50*time.Millisecond)
	def(&cfg.Lease, time.Minute)
	def(&cfg.Timeout, 10*time.Second)
	def(&cfg.BaseBackoff, time.Second)
	def(&cfg.MaxBackoff, 5*time.Minute)
	def(&cfg.DeadAfter, 24*time.Hour)
	def(&cfg.BreakerOpen, 30*time.Second)
	def(&cfg.SlowAnswer, 5*time.Second)
	if cfg.Batch == 0 {
		cfg.Batch = 64
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 16
	}
	if cfg.BreakerAfter == 0 {
		cfg.BreakerAfter = 5
	}
	if cfg.WorkerID == "" {
		cfg.WorkerID = randomID()
	}
	if logger == nil {
		logger = slog.Default()
	}
	// Up to Concurrency connections to a bank stay open between batches
	// (net/http keeps 2 by default, and closed and dialled the rest anew
	// for every batch).
	transport := banks.urls.Transport() // only to the addresses the URL policy allows
	transport.MaxIdleConnsPerHost = cfg.Concurrency
	return &Relay{cfg: cfg, db: db, banks: banks, lending: ls, signer: signature.Signer{ID: PlatformID, Keys: keys}, metrics: m, logger: logger,
		client: &http.Client{Timeout: cfg.Timeout, Transport: transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		breakers: map[string]*gobreaker.CircuitBreaker[result]{}, busy: map[string]bool{}, freed: make(chan struct{}, 1)}
}

// Run delivers until ctx ends. Each bank's deliveries go in a lane of
// their own (dispatch): a slow or failing bank holds up only its own
// deliveries.
func (r *Relay) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Poll)
	defer t.Stop()
	var lanes sync.WaitGroup
	defer lanes.Wait()
	for {
		n, err := r.dispatch(ctx, &lanes)
		if err != nil && ctx.Err() == nil {
			r.logger.Warn("relay", "error", err)
		}
		if n == r.cfg.Batch {
			continue // more may be due: do not wait
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.freed: // a lane of a full claim finished: its bank may have more due
		}
	}
}

type claimed struct {
	ID            int64     `db:"id"`
	ApplicationID string    `db:"application_id"` // "" for a message about an intent
	IntentID      string    `db:"intent_id"`      // "" for a message about an application
	MessageID     string    `db:"message_id"`
	BankID        string    `db:"bank_id"`
	Kind          string    `db:"kind"`
	Payload       []byte    `db:"payload"`
	Attempts      int       `db:"attempts"`
	CreatedAt     time.Time `db:"created_at"`
	// NoConsent: the message carries the supplier's data and its consent
	// to the bank has expired or was revoked.
	NoConsent bool `db:"no_consent"`
}

// RunOnce claims the due deliveries and delivers them, each bank's in a
// lane of its own, and returns once every lane has recorded its outcomes.
// It returns how many it claimed.
func (r *Relay) RunOnce(ctx context.Context) (int, error) {
	var lanes sync.WaitGroup
	n, err := r.dispatch(ctx, &lanes)
	lanes.Wait()
	return n, err
}

// dispatch claims up to Batch due deliveries of the banks that have no lane
// under way in this relay, and starts a lane for each bank among them
// (counted in lanes): it delivers that bank's deliveries, Concurrency at a
// time, and records their outcomes. While a bank's lane runs, its
// deliveries are not claimed, so a slow bank's queue waits in the table,
// not under a lease, and never in front of another bank's. It returns how
// many it claimed.
func (r *Relay) dispatch(ctx context.Context, lanes *sync.WaitGroup) (int, error) {
	r.mu.Lock()
	busy := make([]string, 0, len(r.busy))
	for b := range r.busy {
		busy = append(busy, b)
	}
	r.mu.Unlock()
	var due []claimed
	// A message after an application's credit application (a withdrawal)
	// waits while an earlier delivery of that application is pending or
	// under a lease: one probe of deliveries_application each, and none
	// for credit applications, always their application's first. A
	// message about an intent (a decision) waits likewise for the earlier
	// ones of its intent and bank (deliveries_intent), and a financing
	// intent, always its intent's first to that bank, for none. A message
	// carrying the supplier's data is claimed with whether its consent
	// still holds (one probe of the consent's unique index: of the
	// application, or of the intent and bank).
	err := r.db.SelectContext(ctx, &due, `
		UPDATE deliveries AS d SET locked_until = now() + $2 * interval '1 millisecond', locked_by = $3, attempts = attempts + 1
		WHERE id IN (
			SELECT id FROM deliveries AS n
			WHERE status = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
				AND bank_id <> ALL($4::text[])
				AND (kind = ANY($5::text[]) OR CASE WHEN n.intent_id IS NULL THEN NOT EXISTS (
					SELECT FROM deliveries AS e
					WHERE e.application_id = n.application_id AND e.id < n.id
						AND (e.status = 'pending' OR e.locked_until >= now()))
				ELSE NOT EXISTS (
					SELECT FROM deliveries AS e
					WHERE e.intent_id = n.intent_id AND e.bank_id = n.bank_id AND e.id < n.id
						AND (e.status = 'pending' OR e.locked_until >= now()))
				END)
			ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
		RETURNING id, coalesce(application_id::text, '') AS application_id, coalesce(intent_id::text, '') AS intent_id,
			message_id, bank_id, kind, payload, attempts, created_at,
			kind = ANY($6::text[]) AND CASE WHEN d.intent_id IS NULL THEN NOT EXISTS (
				SELECT FROM consents AS c
				WHERE c.application_id = d.application_id AND c.expires_at > now() AND c.revoked_at IS NULL)
			ELSE NOT EXISTS (
				SELECT FROM consents AS c
				WHERE c.intent_id = d.intent_id AND c.bank_id = d.bank_id AND c.expires_at > now() AND c.revoked_at IS NULL)
			END AS no_consent`,
		r.cfg.Batch, r.cfg.Lease.Milliseconds(), r.cfg.WorkerID, pq.Array(busy), pq.Array(firstKinds), pq.Array(dataKinds))
	if err != nil {
		return 0, postgres.Translate(err)
	}
	byBank := map[string][]claimed{}
	var order []string
	for _, d := range due {
		if _, ok := byBank[d.BankID]; !ok {
			order = append(order, d.BankID)
		}
		byBank[d.BankID] = append(byBank[d.BankID], d)
	}
	// A lane of a full claim wakes Run when it ends: its bank may have more
	// due, which was not claimed meanwhile. Otherwise Run polls as before,
	// so that the deliveries arriving meanwhile go in one claim.
	full := len(due) == r.cfg.Batch
	for _, bankID := range order {
		ds := byBank[bankID]
		r.mu.Lock()
		r.busy[bankID] = true
		r.mu.Unlock()
		lanes.Add(1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					// A bug must not take the process down: the lane's
					// deliveries stay claimed until their lease ends.
					r.logger.Error("relay lane panicked", "bank", bankID, "panic", p, "stack", string(debug.Stack()))
				}
				r.mu.Lock()
				delete(r.busy, bankID)
				r.mu.Unlock()
				lanes.Done()
				if full {
					select {
					case r.freed <- struct{}{}:
					default:
					}
				}
			}()
			r.deliver(ctx, bankID, ds)
		}()
	}
	return len(due), nil
}

// deliver is a bank's lane: it sends ds, Concurrency at a time, then
// records the outcomes: the accepted ones together in one transaction,
// the rest one by one.
func (r *Relay) deliver(ctx context.Context, bankID string, ds []claimed) {
	b, err := r.banks.Bank(ctx, bankID)
	bank := bankOrErr{b, err}
	results := make([]result, len(ds))
	var wg sync.WaitGroup
	slots := make(chan struct{}, r.cfg.Concurrency)
	for i, d := range ds {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			start := time.Now()
			results[i] = r.attempt(ctx, d, bank)
			r.metrics.delivery(d.BankID, results[i].outcome, time.Since(start))
		}()
	}
	wg.Wait()
	ctx = context.WithoutCancel(ctx) // what happened at the bank is recorded
	var accepted []claimed
	var outcomes []result
	for i, d := range ds {
		if results[i].outcome == "delivered" {
			accepted, outcomes = append(accepted, d), append(outcomes, results[i])
			continue
		}
		if err := r.record(ctx, d, results[i]); err != nil {
			r.logger.Error("record delivery", "delivery", d.ID, "application", d.ApplicationID, "intent", d.IntentID, "error", err)
		}
	}
	r.recordAcceptedOrEach(ctx, accepted, outcomes)
}

// recordAcceptedOrEach records the accepted deliveries together and, should
// that statement fail, each alone, so that one row the database refuses
// never keeps the others from being recorded: that one is logged by its
// id and, still claimed, is sent again when its lease ends.
func (r *Relay) recordAcceptedOrEach(ctx context.Context, ds []claimed, rs []result) {
	err := r.recordAccepted(ctx, ds, rs)
	switch {
	case err == nil:
		return
	case len(ds) == 1 || errs.Is(err, errs.Unavailable):
		// Alone already, or the database is out of reach: each would fail
		// alone too, and is sent again when its lease ends.
		for _, d := range ds {
			r.logger.Error("record delivery", "delivery", d.ID, "application", d.ApplicationID, "intent", d.IntentID, "error", err)
		}
		return
	}
	r.logger.Warn("record deliveries together: recording each alone", "deliveries", len(ds), "error", err)
	for i, d := range ds {
		if err := r.recordAccepted(ctx, ds[i:i+1], rs[i:i+1]); err != nil {
			r.logger.Error("record delivery", "delivery", d.ID, "application", d.ApplicationID, "intent", d.IntentID, "error", err)
		}
	}
}

type bankOrErr struct {
	bank Bank
	err  error
}

// recordAccepted records the deliveries the banks accepted, in one
// transaction: the deliveries still claimed by this worker become
// delivered (one whose lease ran out belongs to another worker now, and
// is left to it), and their kinds record what that means (a credit
// application's application moves to delivered). Should it
// fail, the deliveries stay claimed until the lease ends and are sent
// again: at least once, and the bank sees the same Idempotency-Key.
func (r *Relay) recordAccepted(ctx context.Context, ds []claimed, rs []result) error {
	if len(ds) == 0 {
		return nil
	}
	ids, statuses, refs := make([]int64, len(ds)), make([]int64, len(ds)), make([]string, len(ds))
	for i, d := range ds {
		ids[i], statuses[i], refs[i] = d.ID, int64(rs[i].status), rs[i].reference
	}
	return postgres.Transact(ctx, r.db, func(tx *postgres.Tx) error {
		// Every statement here finds its rows by id.
		if err := postgres.GenericPlans(ctx, tx); err != nil {
			return err
		}
		var mine []struct {
			ApplicationID string `db:"application_id"`
			Kind          string `db:"kind"`
			Ref           string `db:"ref"`
		}
		err := tx.SelectContext(ctx, &mine, `
			UPDATE deliveries AS d SET status = 'delivered', delivered_at = now(), bank_reference = v.ref,
				last_status = NULLIF(v.status, 0), last_error = '', locked_until = NULL
			FROM unnest($1::bigint[], $2::text[], $3::int[]) AS v(id, ref, status)
			WHERE d.id = v.id AND d.locked_by = $4
			RETURNING coalesce(d.application_id::text, '') AS application_id, d.kind, v.ref`,
			pq.Array(ids), pq.Array(refs), pq.Array(statuses), r.cfg.WorkerID)
		if err != nil {
			return postgres.Translate(err)
		}
		var kinds []string
		byKind := map[string][]lending.Acceptance{}
		for _, m := range mine {
			if _, ok := byKind[m.Kind]; !ok {
				kinds = append(kinds, m.Kind)
			}
			byKind[m.Kind] = append(byKind[m.Kind], lending.Acceptance{ApplicationID: m.ApplicationID, BankReference: m.Ref})
		}
		for _, kind := range kinds {
			if delivered := outboundKinds[kind].delivered; delivered != nil {
				if err := delivered(r.lending, ctx, tx, byKind[kind]); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// result is what one attempt came to.
type result struct {
	outcome    string // delivered, refused, conflict, retry
	status     int
	reference  string
	detail     string
	retryAfter time.Duration
	troubled   bool // the answer counts against the bank's breaker
}

func (r *Relay) breaker(bankID string) *gobreaker.CircuitBreaker[result] {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.breakers[bankID]
	if !ok {
		b = gobreaker.NewCircuitBreaker[result](gobreaker.Settings{
			Name:        bankID,
			MaxRequests: 1,
			Timeout:     r.cfg.BreakerOpen,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= r.cfg.BreakerAfter },
			OnStateChange: func(name string, from, to gobreaker.State) {
				r.metrics.breaker(name, to)
				r.logger.Info("bank circuit breaker", "bank", name, "from", from.String(), "to", to.String())
			},
		})
		r.breakers[bankID] = b
	}
	return b
}

func (r *Relay) attempt(ctx context.Context, d claimed, b bankOrErr) result {
	bank, err := b.bank, b.err
	if err != nil {
		return result{outcome: "retry", detail: "bank registry: " + errs.MessageOf(err)}
	}
	kind, ok := outboundKinds[d.Kind]
	if !ok {
		// Queued by a newer procfin, perhaps: one that knows it may send it.
		return result{outcome: "retry", detail: text.Clean(fmt.Sprintf("no message kind %q in this procfin", d.Kind), maxError)}
	}
	if d.NoConsent {
		return result{outcome: "no_consent", detail: "consent_expired: the supplier's consent to send its data to the bank has expired or was revoked; nothing was sent"}
	}
	url := bank.BaseURL + kind.pathOf(d.ApplicationID, d.IntentID)
	token, err := r.signer.SignContext(ctx, http.MethodPost, url, d.BankID, d.Payload, time.Now())
	if err != nil {
		return result{outcome: "retry", detail: "sign: " + err.Error()}
	}
	res, err := r.breaker(d.BankID).Execute(func() (result, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.Payload))
		if err != nil {
			return result{}, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(signature.HeaderName, token)
		req.Header.Set("Idempotency-Key", d.MessageID)
		start := time.Now()
		resp, err := r.client.Do(req)
		if err != nil {
			return result{}, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		if err != nil {
			detail := text.Clean(fmt.Sprintf("the bank answered %d, and its body could not be read: %v", resp.StatusCode, err), maxError)
			return result{outcome: "retry", status: resp.StatusCode, detail: detail}, err
		}
		res := interpret(resp.StatusCode, resp.Header.Get("Retry-After"), body)
		switch took := time.Since(start); {
		case res.troubled:
			// The bank is in trouble: count it against the breaker, keep the answer.
			return res, errors.New(res.detail)
		case took > r.cfg.SlowAnswer:
			// Slow, even if it accepted: a bank that keeps answering
			// slowly is failing, and its breaker lets it recover.
			return res, fmt.Errorf("the bank answered %d after %s", res.status, took.Round(time.Millisecond))
		}
		return res, nil
	})
	switch {
	case errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests):
		return result{outcome: "retry", detail: "circuit breaker open for " + d.BankID, retryAfter: r.cfg.BreakerOpen}
	case res.outcome == "":
		return result{outcome: "retry", detail: text.Clean("no answer: "+err.Error(), maxError)}
	}
	return res
}

// The bounds of what the relay reads of a bank's answer and keeps of it.
const (
	maxAnswer    = 64 << 10 // bytes of an answer's body read
	maxReference = 200      // bytes of a bank_reference kept
	maxDetail    = 500      // bytes of a problem's type, title and detail kept
	maxExcerpt   = 200      // bytes kept of a body that is not what the protocol says
	maxError     = 1000     // bytes of last_error
)

// interpret reads a bank's answer to a delivery (bank-protocol.md): its
// status, Retry-After header and body (at most maxAnswer bytes). What it
// keeps of the bank's words (reference, problem detail, an excerpt of a
// body that is not the protocol's) is clean text, bounded (text.Clean).
// An acceptance must carry a JSON object (or nothing): an HTML page or
// binary under 200 or 202 is not the bank's acceptance but a failure,
// retried and counted against the breaker, as are 408, 429 and 5xx.
func interpret(status int, retryAfterHeader string, body []byte) result {
	res := result{status: status, retryAfter: retryAfter(retryAfterHeader)}
	switch {
	case status == http.StatusOK || status == http.StatusAccepted:
		var ok struct {
			BankReference string `json:"bank_reference"`
		}
		if len(bytes.TrimSpace(body)) > 0 && json.Unmarshal(body, &ok) != nil {
			res.outcome, res.troubled = "retry", true
			res.detail = fmt.Sprintf("the bank answered %d with a body that is not the protocol's JSON object: %s", status, excerpt(body))
			return res
		}
		res.outcome, res.reference = "delivered", text.Clean(ok.BankReference, maxReference)
	case status == http.StatusConflict:
		res.outcome, res.detail = "conflict", "the bank holds a different body under this Idempotency-Key: flagged for an administrator"
	case status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
		res.outcome, res.detail = "refused", fmt.Sprintf("the bank refused the message (%d): %s", status, problemDetail(body))
	case status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests:
		res.outcome, res.troubled, res.detail = "retry", true, fmt.Sprintf("the bank answered %d", status)
		if len(bytes.TrimSpace(body)) > 0 {
			res.detail += ": " + problemDetail(body)
		}
	default:
		res.outcome, res.detail = "retry", fmt.Sprintf("the bank answered %d", status)
	}
	return res
}

// record stores an attempt's outcome other than delivered (recordAccepted
// does those), guarded by this worker's claim: each
// update names the claim (locked_by), and one that finds none means the
// lease ran out and another worker took over, so nothing is recorded.
func (r *Relay) record(ctx context.Context, d claimed, res result) error {
	return postgres.Transact(ctx, r.db, func(tx *postgres.Tx) error {
		var status any
		if res.status != 0 {
			status = res.status
		}
		mine := func(res sql.Result, err error) (bool, error) {
			if err != nil {
				return false, postgres.Translate(err)
			}
			n, err := res.RowsAffected()
			return n == 1, postgres.Translate(err)
		}
		// A delivery withdrawn while under way (its application cancelled)
		// is failed already: the answer only ends its lease.
		switch res.outcome {
		case "conflict", "refused", "no_consent":
			ok, err := mine(tx.ExecContext(ctx, `
				UPDATE deliveries SET status = 'failed', last_status = $2, last_error = $3, locked_until = NULL
				WHERE id = $1 AND locked_by = $4 AND status = 'pending'`,
				d.ID, status, text.Clean(res.detail, maxError), r.cfg.WorkerID))
			if !ok || err != nil {
				return r.endLease(ctx, tx, d, err)
			}
			if res.outcome == "no_consent" {
				return failed(ctx, tx, r.lending, d, lending.CauseConsentExpired)
			}
			return failed(ctx, tx, r.lending, d, text.Clean(res.detail, maxError))
		}
		if time.Since(d.CreatedAt) > r.cfg.DeadAfter {
			ok, err := mine(tx.ExecContext(ctx, `
				UPDATE deliveries SET status = 'dead', last_status = $2, last_error = $3, locked_until = NULL
				WHERE id = $1 AND locked_by = $4 AND status = 'pending'`,
				d.ID, status, text.Clean(res.detail, maxError), r.cfg.WorkerID))
			if !ok || err != nil {
				return r.endLease(ctx, tx, d, err)
			}
			r.metrics.delivery(d.BankID, "dead", 0)
			return failed(ctx, tx, r.lending, d, text.Clean("undeliverable for 24 hours: "+res.detail, maxError))
		}
		wait := backoff(d.Attempts, r.cfg.BaseBackoff, r.cfg.MaxBackoff)
		if res.retryAfter > wait {
			wait = min(res.retryAfter, r.cfg.MaxBackoff)
		}
		ok, err := mine(tx.ExecContext(ctx, `
			UPDATE deliveries SET next_attempt_at = now() + $2 * interval '1 millisecond', last_status = $3, last_error = $4,
				locked_until = NULL WHERE id = $1 AND locked_by = $5 AND status = 'pending'`,
			d.ID, wait.Milliseconds(), status, text.Clean(res.detail, maxError), r.cfg.WorkerID))
		if !ok || err != nil {
			return r.endLease(ctx, tx, d, err)
		}
		return nil
	})
}

// endLease ends this worker's lease of a delivery that is no longer
// pending (withdrawn while under way), so that the application's next
// message need not wait for the lease to run out; err, if any, is
// returned as it is.
func (r *Relay) endLease(ctx context.Context, tx *postgres.Tx, d claimed, err error) error {
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE deliveries SET locked_until = NULL WHERE id = $1 AND locked_by = $2 AND status <> 'pending'`,
		d.ID, r.cfg.WorkerID)
	return postgres.Translate(err)
}

// failed records what d's failing for good means, by its kind: for a
// message about an intent, nothing more than its delivery's state.
func failed(ctx context.Context, tx *postgres.Tx, ls *lending.Service, d claimed, detail string) error {
	if f := outboundKinds[d.Kind].failed; f != nil && d.ApplicationID != "" {
		return f(ls, ctx, tx, d.ApplicationID, detail)
	}
	return nil
}

// backoff is exponential with full jitter: uniform in [0, min(max,
// base·2^(attempt−1))], at least 50 ms.
func backoff(attempt int, base, max time.Duration) time.Duration {
	ceiling := max
	if attempt < 30 {
		if d := base << (attempt - 1); d > 0 && d < max {
			ceiling = d
		}
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(ceiling)+1))
	if err != nil {
		return ceiling
	}
	return time.Duration(n.Int64()) + 50*time.Millisecond
}

// retryAfter reads a Retry-After header (seconds or an HTTP date).
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// problemDetail is what the relay keeps of a bank's problem document
// (RFC 9457): its type, title and detail, at most maxDetail bytes of clean
// text; of a body that is no problem document, an excerpt.
func problemDetail(body []byte) string {
	var p struct {
		Type   string `json:"type"`
		Detail string `json:"detail"`
		Title  string `json:"title"`
	}
	if json.Unmarshal(body, &p) != nil || (p.Detail == "" && p.Title == "") {
		return "the answer is not a problem document: " + excerpt(body)
	}
	var words []string
	for _, w := range []string{p.Type, p.Title, p.Detail} {
		if w != "" {
			words = append(words, w)
		}
	}
	return text.Clean(strings.Join(words, " "), maxDetail)
}

// excerpt is the start of a body, as clean text of at most maxExcerpt bytes.
func excerpt(body []byte) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return "(no body)"
	}
	return text.Bytes(body[:min(len(body), 4*maxExcerpt)], maxExcerpt)
}

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
