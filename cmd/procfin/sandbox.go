package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"procfin/banking/sandbox"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// runSandboxBank is `procfin sandbox-bank`: the sandbox partner bank
// (package banking/sandbox) on its own HTTP server, until ctx ends. It
// prints the bank's JWKS and the POST /v1/admin/banks body that registers
// it with procfin.
func runSandboxBank(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fset := flag.NewFlagSet("procfin sandbox-bank", flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	addr := fset.String("addr", "127.0.0.1:9090", "listen address")
	bankID := fset.String("bank-id", "sandbox-bank", "the bank's id at procfin")
	name := fset.String("name", sandbox.DefaultBankName, "the bank's name")
	procfinURL := fset.String("procfin-url", "http://127.0.0.1:8080", "procfin's base URL")
	jwksURL := fset.String("procfin-jwks-url", "", "procfin's JWKS URL (default: --procfin-url + /.well-known/jwks.json)")
	publicURL := fset.String("public-url", "", "this bank's base URL as procfin calls it (default: http://ADDR)")
	keyFile := fset.String("key-file", "", "Ed25519 key: PEM (PKCS #8) or a base64 32-byte seed; created when absent (default: a fresh key each run)")
	delay := fset.Duration("delay", 2*time.Second, "time from an application to its decision")
	approveUpTo := fset.String("approve-up-to", sandbox.DefaultApproveUpTo, "approve requests up to this amount, reject those above")
	rate := fset.String("rate", sandbox.DefaultRate, "annual rate of the loans")
	tranches := fset.Int("tranches", sandbox.DefaultTranches, "disbursements per loan")
	repayAfter := fset.Duration("repay-after", 0, "repay each loan this long after disbursing it, and pause as long between a loan's later steps (0: never)")
	life := fset.String("life", string(sandbox.LifeRepaid), "what becomes of every application: repaid, tranches, whole, partial, overdue or held (bank-protocol.md 1.1)")
	await := fset.Bool("await-confirmation", false, "disburse only after procfin's receivable.confirmed of the application (protocol 1.1); lapse the approval on receivable.refused")
	offerDecline := fset.Bool("offer-decline", false, "make no offer on financing intents (protocol 1.1)")
	offerRate := fset.String("offer-rate", "", "annual rate of offers (default: --rate)")
	offerShare := fset.String("offer-max-share", "1", "largest share of a need offered, above 0 and at most 1 (0.8: 80 %)")
	offerMax := fset.String("offer-max-amount", "", "largest amount offered (default: --approve-up-to)")
	offerTerm := fset.Int("offer-term-days", 0, "term of offers in days (0: the term asked)")
	offerValid := fset.Duration("offer-valid-for", sandbox.DefaultOfferValidFor, "how long an offer may be accepted")
	offerConditions := fset.String("offer-conditions", sandbox.DefaultOfferConditions, "conditions of offers, Chinese first")
	down := fset.Bool("down", false, "fault: answer 503 to everything")
	slow := fset.Duration("slow", 0, "fault: wait this long before answering")
	fail5xx := fset.Int("fail-5xx-every", 0, "fault: answer 500 to every Nth application")
	dup := fset.Bool("duplicate-events", false, "fault: send every event twice")
	reorder := fset.Bool("reorder-events", false, "fault: send events out of order first, then in order")
	dbURL := fset.String("database-url", "", "the database where the bank keeps its state, procfin's (default: DATABASE_URL; neither: in memory, forgotten when it stops)")
	if err := fset.Parse(args); err != nil {
		return flagError("sandbox-bank", fset, err)
	}
	if fset.NArg() > 0 {
		return usageError{fmt.Errorf("sandbox-bank: unexpected argument %q", fset.Arg(0))}
	}
	limit, err := money.ParseAmount(*approveUpTo)
	if err != nil || !limit.IsPositive() {
		return usageError{fmt.Errorf("sandbox-bank: --approve-up-to %q is not an amount above zero", *approveUpTo)}
	}
	r, err := money.ParseRate(*rate)
	if err != nil || !r.Decimal().IsPositive() {
		return usageError{fmt.Errorf("sandbox-bank: --rate %q is not a rate above zero, such as 0.0345", *rate)}
	}
	if *tranches < 1 {
		return usageError{errors.New("sandbox-bank: --tranches must be at least 1")}
	}
	if !slices.Contains(sandbox.Lives, sandbox.Life(*life)) {
		return usageError{fmt.Errorf("sandbox-bank: --life %q is not one of %v", *life, sandbox.Lives)}
	}
	offers, err := offerRule(*offerDecline, *offerRate, *offerShare, *offerMax, *offerTerm, *offerValid, *offerConditions)
	if err != nil {
		return usageError{err}
	}

	key, created, err := loadOrCreateBankKey(*keyFile)
	if err != nil {
		return err
	}
	if *dbURL == "" {
		*dbURL = getenv("DATABASE_URL")
	}
	var db *sqlx.DB
	if *dbURL != "" {
		if db, err = postgres.Open(ctx, *dbURL, postgres.PoolConfig{MaxOpenConns: 4}); err != nil {
			return fmt.Errorf("sandbox-bank: %w", err)
		}
		defer db.Close()
		if err := postgres.CheckSchema(ctx, db.DB); err != nil {
			return fmt.Errorf("sandbox-bank: %w", err)
		}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("sandbox-bank: listen on %s: %w", *addr, err)
	}
	base := "http://" + ln.Addr().String()
	if *publicURL != "" {
		base = strings.TrimRight(*publicURL, "/")
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	bank, err := sandbox.New(sandbox.Config{
		BankID: *bankID, ProcfinURL: *procfinURL, ProcfinJWKSURL: *jwksURL, PublicURL: base,
		Key: key, DecisionDelay: *delay, ApproveUpTo: limit, Rate: r, Tranches: *tranches,
		RepayAfter: *repayAfter, BankName: *name, Logger: logger, AwaitConfirmation: *await, DB: db,
		Life: func(sandbox.Application) sandbox.Life { return sandbox.Life(*life) }, Offers: offers,
		Faults: sandbox.Faults{Down: *down, Slow: *slow, Fail5xxEvery: *fail5xx, DuplicateEvents: *dup, ReorderEvents: *reorder},
	})
	if err != nil {
		ln.Close()
		return err
	}

	jwks, err := json.MarshalIndent(bank.JWKS(), "", "  ")
	if err != nil {
		ln.Close()
		return err
	}
	registration, err := json.MarshalIndent(struct {
		ID         string   `json:"id"`
		Name       string   `json:"name"`
		BaseURL    string   `json:"base_url"`
		JWKS       any      `json:"jwks"`
		Algorithms []string `json:"algorithms"`
	}{*bankID, *name, base, bank.JWKS(), []string{"EdDSA"}}, "", "  ")
	if err != nil {
		ln.Close()
		return err
	}
	switch {
	case *keyFile == "":
		fmt.Fprintln(stdout, "signing key: a fresh one for this run (give --key-file to keep it)")
	case created:
		fmt.Fprintf(stdout, "signing key: created %s\n", *keyFile)
	default:
		fmt.Fprintf(stdout, "signing key: %s\n", *keyFile)
	}
	if db == nil {
		fmt.Fprintln(stdout, "state: in memory, forgotten when the bank stops (give --database-url or DATABASE_URL to keep it)")
	} else {
		fmt.Fprintf(stdout, "state: in the database %s (tables sandbox_*); a bank run again with the same --bank-id carries on\n", postgres.Redact(*dbURL))
	}
	fmt.Fprintf(stdout, "sandbox bank %s listens at %s; its events go to %s/v1/bank-events\n", *bankID, base, strings.TrimRight(*procfinURL, "/"))
	fmt.Fprintf(stdout, "JWKS (also at %s/.well-known/jwks.json):\n%s\n", base, jwks)
	fmt.Fprintf(stdout, "register it with procfin as an administrator: POST /v1/admin/banks with\n%s\n", registration)
	if !strings.HasPrefix(base, "https://") {
		fmt.Fprintln(stdout, "(a plain http base_url is accepted only by a procfin run with PROCFIN_ALLOW_PRIVATE_URLS=1)")
	}

	srv := &http.Server{
		Handler:           bank.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		_ = bank.Run(ctx)
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		serveErr = srv.Shutdown(shutdownCtx)
		cancel()
	}
	bank.Close()
	<-runDone
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// offerRule reads the sandbox-bank's --offer-* flags.
func offerRule(decline bool, rate, share, maxAmount string, termDays int, validFor time.Duration, conditions string) (sandbox.OfferRule, error) {
	r := sandbox.OfferRule{Decline: decline, TermDays: termDays, ValidFor: validFor, Conditions: conditions}
	var err error
	if rate != "" {
		if r.Rate, err = money.ParseRate(rate); err != nil || !r.Rate.Decimal().IsPositive() {
			return r, fmt.Errorf("sandbox-bank: --offer-rate %q is not a rate above zero, such as 0.032", rate)
		}
	}
	if r.MaxShare, err = decimal.NewFromString(share); err != nil || !r.MaxShare.IsPositive() || r.MaxShare.GreaterThan(decimal.NewFromInt(1)) {
		return r, fmt.Errorf("sandbox-bank: --offer-max-share %q is not a share above 0 and at most 1, such as 0.8", share)
	}
	if maxAmount != "" {
		if r.MaxAmount, err = money.ParseAmount(maxAmount); err != nil || !r.MaxAmount.IsPositive() {
			return r, fmt.Errorf("sandbox-bank: --offer-max-amount %q is not an amount above zero", maxAmount)
		}
	}
	if termDays < 0 || validFor <= 0 {
		return r, errors.New("sandbox-bank: --offer-term-days may not be negative, --offer-valid-for must be above zero")
	}
	return r, nil
}

// loadOrCreateBankKey reads an Ed25519 key from path (PEM PKCS #8 or a
// base64 32-byte seed), or creates one there (mode 0600) when the file does
// not exist. An empty path gives a fresh key that is not kept.
func loadOrCreateBankKey(path string) (key ed25519.PrivateKey, created bool, err error) {
	if path == "" {
		_, key, err = ed25519.GenerateKey(rand.Reader)
		return key, false, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		_, key, err = ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, false, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, false, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("sandbox-bank: create key file: %w", err)
		}
		if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("sandbox-bank: write key file: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, false, fmt.Errorf("sandbox-bank: write key file: %w", err)
		}
		return key, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("sandbox-bank: read key file: %w", err)
	}
	key, err = parseBankKey(b)
	if err != nil {
		return nil, false, fmt.Errorf("sandbox-bank: key file %s: %w", path, err)
	}
	return key, false, nil
}

// parseBankKey reads a PEM PKCS #8 Ed25519 private key or a base64 (std or
// URL alphabet, padded or not) 32-byte seed.
func parseBankKey(b []byte) (ed25519.PrivateKey, error) {
	if block, _ := pem.Decode(b); block != nil {
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("not a PKCS #8 private key: %w", err)
		}
		ed, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("a %T, not an Ed25519 key", k)
		}
		return ed, nil
	}
	s := strings.TrimSpace(string(b))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if seed, err := enc.DecodeString(s); err == nil && len(seed) == ed25519.SeedSize {
			return ed25519.NewKeyFromSeed(seed), nil
		}
	}
	return nil, errors.New("neither a PEM private key nor a base64 32-byte Ed25519 seed")
}
