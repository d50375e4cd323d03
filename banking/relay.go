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
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/sony/gobreaker/v2"

	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/postgres"
	"procfin/platform/signature"
)

// Signer signs procfin's messages with the platform's current key (the
// auth service does, with the keys it publishes at /.well-known/jwks.json).
type Signer interface {
	Sign(ctx context.Context, claims jwt.Claims, typ string) (string, error)
}

// RelayConfig tunes the relay; zero values take the protocol's defaults.
type RelayConfig struct {
	WorkerID     string        // names this process in locks
	Poll         time.Duration // how often to look for due deliveries (default 50 ms)
	Batch        int           // deliveries claimed at once (default 64)
	Concurrency  int           // HTTP attempts under way at once (default 16)
	Lease        time.Duration // how long a claim lasts (default 1 min)
	Timeout      time.Duration // per HTTP attempt (default 10 s)
	BaseBackoff  time.Duration // first retry delay (default 1 s)
	MaxBackoff   time.Duration // longest retry delay (default 5 min)
	DeadAfter    time.Duration // give up into the dead letters (default 24 h)
	BreakerAfter uint32        // consecutive failures that open a bank's breaker (default 5)
	BreakerOpen  time.Duration // how long it stays open (default 30 s)
}

// Relay delivers queued credit applications to their banks: signed, at
// least once, with exponential back-off and full jitter, honouring
// Retry-After, one circuit breaker per bank, dead letters after 24 h.
// Several relays (processes) may run against one database: each delivery
// is claimed with SKIP LOCKED and a lease, so none runs twice at once.
type Relay struct {
	cfg      RelayConfig
	db       *sqlx.DB
	banks    *Registry
	lending  *lending.Service
	signer   Signer
	client   *http.Client
	metrics  *Metrics
	logger   *slog.Logger
	mu       sync.Mutex
	breakers map[string]*gobreaker.CircuitBreaker[*http.Response]
}

// NewRelay returns a relay; call Run to start it.
func NewRelay(db *sqlx.DB, banks *Registry, ls *lending.Service, signer Signer, m *Metrics, logger *slog.Logger, cfg RelayConfig) *Relay {
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
	return &Relay{cfg: cfg, db: db, banks: banks, lending: ls, signer: signer, metrics: m, logger: logger,
		client: &http.Client{Timeout: cfg.Timeout, Transport: transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		breakers: map[string]*gobreaker.CircuitBreaker[*http.Response]{}}
}

// Run delivers until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Poll)
	defer t.Stop()
	for {
		n, err := r.RunOnce(ctx)
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
		}
	}
}

type claimed struct {
	ID            int64     `db:"id"`
	ApplicationID string    `db:"application_id"`
	BankID        string    `db:"bank_id"`
	Payload       []byte    `db:"payload"`
	Attempts      int       `db:"attempts"`
	CreatedAt     time.Time `db:"created_at"`
}

// RunOnce claims the due deliveries and delivers them, Concurrency at a
// time (a slow bank does not hold up the others), then records the outcomes: the
// accepted ones together in one transaction, the rest one by one. It
// returns how many it claimed.
func (r *Relay) RunOnce(ctx context.Context) (int, error) {
	var due []claimed
	err := r.db.SelectContext(ctx, &due, `
		UPDATE deliveries SET locked_until = now() + $2 * interval '1 millisecond', locked_by = $3, attempts = attempts + 1
		WHERE id IN (
			SELECT id FROM deliveries
			WHERE status = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
			ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
		RETURNING id, application_id, bank_id, payload, attempts, created_at`,
		r.cfg.Batch, r.cfg.Lease.Milliseconds(), r.cfg.WorkerID)
	if err != nil {
		return 0, postgres.Translate(err)
	}
	// Each bank is read once per batch.
	banks := map[string]bankOrErr{}
	for _, d := range due {
		if _, ok := banks[d.BankID]; !ok {
			b, err := r.banks.Bank(ctx, d.BankID)
			banks[d.BankID] = bankOrErr{b, err}
		}
	}
	results := make([]result, len(due))
	var wg sync.WaitGroup
	slots := make(chan struct{}, r.cfg.Concurrency)
	for i, d := range due {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			start := time.Now()
			results[i] = r.attempt(ctx, d, banks[d.BankID])
			r.metrics.delivery(d.BankID, results[i].outcome, time.Since(start))
		}()
	}
	wg.Wait()
	ctx = context.WithoutCancel(ctx) // what happened at the bank is recorded
	var accepted []claimed
	var outcomes []result
	for i, d := range due {
		if results[i].outcome == "delivered" {
			accepted, outcomes = append(accepted, d), append(outcomes, results[i])
			continue
		}
		if err := r.record(ctx, d, results[i]); err != nil {
			r.logger.Error("record delivery", "delivery", d.ID, "application", d.ApplicationID, "error", err)
		}
	}
	if err := r.recordAccepted(ctx, accepted, outcomes); err != nil {
		r.logger.Error("record deliveries", "deliveries", len(accepted), "error", err)
	}
	return len(due), nil
}

type bankOrErr struct {
	bank Bank
	err  error
}

// recordAccepted records the deliveries the banks accepted, in one
// transaction: the deliveries still claimed by this worker become
// delivered (one whose lease ran out belongs to another worker now, and
// is left to it), and their applications move to delivered. Should it
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
	return postgres.Transact(ctx, r.db, func(tx *sqlx.Tx) error {
		// Every statement here finds its rows by id.
		if err := postgres.GenericPlans(ctx, tx); err != nil {
			return err
		}
		var mine []struct {
			ApplicationID string `db:"application_id"`
			Ref           string `db:"ref"`
		}
		err := tx.SelectContext(ctx, &mine, `
			UPDATE deliveries AS d SET status = 'delivered', delivered_at = now(), bank_reference = v.ref,
				last_status = NULLIF(v.status, 0), last_error = '', locked_until = NULL
			FROM unnest($1::bigint[], $2::text[], $3::int[]) AS v(id, ref, status)
			WHERE d.id = v.id AND d.locked_by = $4
			RETURNING d.application_id, v.ref`,
			pq.Array(ids), pq.Array(refs), pq.Array(statuses), r.cfg.WorkerID)
		if err != nil {
			return postgres.Translate(err)
		}
		accepted := make([]lending.Acceptance, len(mine))
		for i, m := range mine {
			accepted[i] = lending.Acceptance{ApplicationID: m.ApplicationID, BankReference: m.Ref}
		}
		return r.lending.MarkDeliveredMany(ctx, tx, accepted)
	})
}

// result is what one attempt came to.
type result struct {
	outcome    string // delivered, refused, conflict, retry
	status     int
	reference  string
	detail     string
	retryAfter time.Duration
}

func (r *Relay) breaker(bankID string) *gobreaker.CircuitBreaker[*http.Response] {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.breakers[bankID]
	if !ok {
		b = gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
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
	url := bank.BaseURL + "/v1/credit-applications"
	now := time.Now()
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	token, err := r.signer.Sign(ctx, jwt.MapClaims{
		"iss": "procfin", "aud": d.BankID, "iat": now.Unix(), "exp": now.Add(signature.MessageLifetime).Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti[:]), "htm": http.MethodPost, "htu": url,
		"bsh": signature.BodyHash(d.Payload),
	}, signature.TokenType)
	if err != nil {
		return result{outcome: "retry", detail: "sign: " + err.Error()}
	}
	resp, err := r.breaker(d.BankID).Execute(func() (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.Payload))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(signature.HeaderName, token)
		req.Header.Set("Idempotency-Key", d.ApplicationID)
		resp, err := r.client.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
			// The bank is in trouble: count it against the breaker, keep the answer.
			return resp, fmt.Errorf("bank answered %d", resp.StatusCode)
		}
		return resp, nil
	})
	if resp != nil {
		defer resp.Body.Close()
	}
	var body []byte
	if resp != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	}
	switch {
	case errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests):
		return result{outcome: "retry", detail: "circuit breaker open for " + d.BankID, retryAfter: r.cfg.BreakerOpen}
	case resp == nil:
		return result{outcome: "retry", detail: "no answer: " + err.Error()}
	}
	res := result{status: resp.StatusCode, retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted:
		var ok struct {
			BankReference string `json:"bank_reference"`
		}
		_ = json.Unmarshal(body, &ok)
		res.outcome, res.reference = "delivered", ok.BankReference
	case resp.StatusCode == http.StatusConflict:
		res.outcome, res.detail = "conflict", "the bank holds a different body under this Idempotency-Key: flagged for an administrator"
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests:
		res.outcome, res.detail = "refused", fmt.Sprintf("the bank refused the application (%d): %s", resp.StatusCode, problemDetail(body))
	default:
		res.outcome, res.detail = "retry", fmt.Sprintf("the bank answered %d", resp.StatusCode)
	}
	return res
}

// record stores an attempt's outcome other than delivered (recordAccepted
// does those), guarded by this worker's claim: each
// update names the claim (locked_by), and one that finds none means the
// lease ran out and another worker took over, so nothing is recorded.
func (r *Relay) record(ctx context.Context, d claimed, res result) error {
	return postgres.Transact(ctx, r.db, func(tx *sqlx.Tx) error {
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
		switch res.outcome {
		case "conflict", "refused":
			ok, err := mine(tx.ExecContext(ctx, `
				UPDATE deliveries SET status = 'failed', last_status = $2, last_error = $3, locked_until = NULL
				WHERE id = $1 AND locked_by = $4`,
				d.ID, status, truncate(res.detail, 1000), r.cfg.WorkerID))
			if !ok || err != nil {
				return err
			}
			return r.lending.MarkDeliveryFailed(ctx, tx, d.ApplicationID, res.detail)
		}
		if time.Since(d.CreatedAt) > r.cfg.DeadAfter {
			ok, err := mine(tx.ExecContext(ctx, `
				UPDATE deliveries SET status = 'dead', last_status = $2, last_error = $3, locked_until = NULL
				WHERE id = $1 AND locked_by = $4`,
				d.ID, status, truncate(res.detail, 1000), r.cfg.WorkerID))
			if !ok || err != nil {
				return err
			}
			r.metrics.delivery(d.BankID, "dead", 0)
			return r.lending.MarkDeliveryFailed(ctx, tx, d.ApplicationID, "undeliverable for 24 hours: "+res.detail)
		}
		wait := backoff(d.Attempts, r.cfg.BaseBackoff, r.cfg.MaxBackoff)
		if res.retryAfter > wait {
			wait = min(res.retryAfter, r.cfg.MaxBackoff)
		}
		_, err := mine(tx.ExecContext(ctx, `
			UPDATE deliveries SET next_attempt_at = now() + $2 * interval '1 millisecond', last_status = $3, last_error = $4,
				locked_until = NULL WHERE id = $1 AND locked_by = $5`,
			d.ID, wait.Milliseconds(), status, truncate(res.detail, 1000), r.cfg.WorkerID))
		return err
	})
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

func problemDetail(body []byte) string {
	var p struct {
		Type   string `json:"type"`
		Detail string `json:"detail"`
		Title  string `json:"title"`
	}
	if json.Unmarshal(body, &p) == nil && (p.Detail != "" || p.Title != "") {
		return truncate(fmt.Sprintf("%s %s %s", p.Type, p.Title, p.Detail), 500)
	}
	return truncate(string(bytes.ToValidUTF8(body, nil)), 500)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
