// Command procfin runs the procfin service and its tools: serve, migrate,
// demo, users, audit and keys. See README.md.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"procfin/banking"
	"procfin/configs"
	"procfin/contracts"
	"procfin/handlers"
	"procfin/lending"
	"procfin/platform/audit"
	"procfin/platform/auth"
	"procfin/platform/errs"
	"procfin/platform/idempotency"
	"procfin/platform/money"
	"procfin/platform/postgres"
	"procfin/platform/safehttp"
	"procfin/platform/signature"
	"procfin/subsidies"
	"procfin/web"
)

// stdin is where `users add` reads the password; tests replace it.
var stdin io.Reader = os.Stdin

func main() {
	tuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := exitCode(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// tuneGC sets the garbage collector for a process whose live heap is small
// (tens of MB) but which allocates fast. It collects when the heap has
// grown by 400 % instead of 100 %, which takes most of the collector's CPU
// off the request path (docs/performance-log.md). And it sets a soft limit of
// 100 MiB for the Go runtime's memory: each password hash briefly takes
// 19 MiB, and a burst of logins would otherwise let the heap grow to
// several times that before collecting; near the limit the collector runs
// sooner instead (procfin does not fail past it). The two keep procfin's
// resident set under 150 MB. GOGC and GOMEMLIMIT, when set, win.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}

const (
	gcPercent   = 400
	memoryLimit = 100 << 20
)

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ error }

// run is the whole program; main only wires the process to it (through
// exitCode). Help (-h, --help, help) goes to stdout.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	err := dispatch(ctx, args, getenv, stdout)
	var h helpRequest
	if errors.As(err, &h) {
		return writeHelp(ctx, stdout, h)
	}
	return err
}

const configUsage = "the configuration `FILE`, read after configs/defaults.yaml and before the environment"

// dispatch runs the command args name; for -h or --help it returns a
// helpRequest.
func dispatch(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	global := flag.NewFlagSet("procfin", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	configFile := global.String("config", "", configUsage)
	if err := global.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage())
			return nil
		}
		return usageError{err}
	}
	rest := global.Args()
	if len(rest) == 0 {
		return usageError{errors.New("no command")}
	}
	cmd, rest := rest[0], rest[1:]
	if cmd == "help" {
		return helpFor(ctx, rest, stdout)
	}
	if isGroup(cmd) && len(rest) > 0 && isHelpFlag(rest[0]) {
		return helpRequest{name: cmd}
	}
	name := cmd // with its subcommand, once taken
	fs := flag.NewFlagSet("procfin "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(configFile, "config", *configFile, configUsage)
	parse := func() error {
		if err := fs.Parse(rest); err != nil {
			return flagError(name, fs, err)
		}
		if fs.NArg() > 0 {
			return usageError{fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))}
		}
		return nil
	}
	load := func() (configs.Config, error) {
		cfg, err := configs.Load(*configFile, getenv)
		if err != nil {
			return cfg, fmt.Errorf("configuration:\n%w", err)
		}
		return cfg, nil
	}
	// parseAndLoad parses the command's flags, then loads the configuration.
	parseAndLoad := func() (configs.Config, error) {
		if err := parse(); err != nil {
			return configs.Config{}, err
		}
		return load()
	}
	// subcommand takes the word after a command that has one (audit verify).
	subcommand := func(want string) error {
		if len(rest) == 0 || rest[0] != want {
			return usageError{fmt.Errorf("%s: the subcommand is %s", cmd, want)}
		}
		rest = rest[1:]
		name = cmd + " " + want
		return nil
	}

	switch cmd {
	case "serve":
		migrate := fs.Bool("migrate", false, "apply pending migrations first")
		cfg, err := parseAndLoad()
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stdout, *migrate, nil)
	case "demo":
		cfg, err := parseAndLoad()
		if err != nil {
			return err
		}
		// The demo's sandbox banks listen on 127.0.0.1, over plain http.
		cfg.Outbound.AllowPrivateURLs = true
		return serve(ctx, cfg, stdout, true, &demo{})
	case "migrate":
		cfg, err := parseAndLoad()
		if err != nil {
			return err
		}
		return withDB(ctx, cfg, stdout, func(db *sqlx.DB) error {
			n, err := postgres.Migrate(ctx, db.DB, nil)
			if err != nil {
				return err
			}
			current, _, _ := postgres.SchemaVersions(ctx, db.DB)
			fmt.Fprintf(stdout, "applied %d migration(s); schema at version %d\n", n, current)
			return nil
		})
	case "users":
		if len(rest) > 0 && (rest[0] == "disable" || rest[0] == "password") {
			return runUsersChange(ctx, rest[0], rest[1:], fs, load, stdout)
		}
		if err := subcommand("add"); err != nil {
			return err
		}
		username := fs.String("username", "", "the user's `NAME` (required)")
		role := fs.String("role", "", "the user's `ROLE` (required): supplier, officer, admin or purchaser")
		supplier := fs.String("supplier", "", "the supplier's `USCC` (role supplier)")
		purchaser := fs.String("purchaser", "", "the purchaser's `ID` (role purchaser)")
		purchaserIssuer := fs.String("purchaser-issuer", "", "the purchaser's `ISSUER`, when purchasers of several issuers have its id")
		if err := parse(); err != nil {
			return err
		}
		if *username == "" || *role == "" {
			return usageError{errors.New("users add: --username and --role are required")}
		}
		cfg, err := load()
		if err != nil {
			return err
		}
		password, err := readPassword(stdin)
		if err != nil {
			return err
		}
		return withAuth(ctx, cfg, stdout, func(db *sqlx.DB, a *auth.Service) error {
			u, err := a.CreateUser(ctx, auth.NewUser{Username: *username, Password: password, Role: *role, SupplierUSCC: *supplier,
				PurchaserID: *purchaser, PurchaserIssuerID: *purchaserIssuer}, "cli")
			if err != nil {
				return describe(err)
			}
			fmt.Fprintf(stdout, "created user %s (%s) with id %s\n", u.Username, u.Role, u.ID)
			return nil
		})
	case "audit":
		if err := subcommand("verify"); err != nil {
			return err
		}
		cfg, err := parseAndLoad()
		if err != nil {
			return err
		}
		return withDB(ctx, cfg, stdout, func(db *sqlx.DB) error {
			if err := postgres.CheckSchema(ctx, db.DB); err != nil {
				return err
			}
			// Seal what is committed first, so that everything is checked.
			if err := audit.SealAll(ctx, db); err != nil {
				return fmt.Errorf("audit seal: %w", err)
			}
			rep, err := audit.Verify(ctx, db)
			if err != nil {
				return fmt.Errorf("audit trail broken: %w", err)
			}
			fmt.Fprintf(stdout, "audit trail intact: %d rows; head %d %s\n", rep.Rows, rep.HeadSeq, rep.HeadHash)
			if rep.Unsealed > 0 {
				fmt.Fprintf(stdout, "%d rows committed while verifying are not sealed yet\n", rep.Unsealed)
			}
			return nil
		})
	case "sandbox-bank":
		return runSandboxBank(ctx, rest, getenv, stdout)
	case "bench":
		return runBench(ctx, rest, stdout)
	case "import":
		return runImport(ctx, fs, rest, load, stdout)
	case "keys":
		if err := subcommand("rotate"); err != nil {
			return err
		}
		cfg, err := parseAndLoad()
		if err != nil {
			return err
		}
		return withAuth(ctx, cfg, stdout, func(db *sqlx.DB, a *auth.Service) error {
			kid, err := a.RotateSigningKey(ctx, "cli")
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "new signing key %s is published now and signs from %s on\n", kid,
				time.Now().Add(cfg.Auth.KeyRotationLead).UTC().Format(time.RFC3339))
			return nil
		})
	}
	return usageError{fmt.Errorf("unknown command %q", cmd)}
}

// helpFor is `procfin help [COMMAND]`.
func helpFor(ctx context.Context, words []string, stdout io.Writer) error {
	if len(words) == 0 || (len(words) == 1 && words[0] == "help") {
		fmt.Fprint(stdout, usage())
		return nil
	}
	name, ok := commandOf(words)
	if !ok || len(strings.Fields(name)) != len(words) {
		return usageError{fmt.Errorf("help: unknown command %q", strings.Join(words, " "))}
	}
	if isGroup(name) {
		return helpRequest{name: name}
	}
	h, err := helpOf(ctx, words)
	if err != nil {
		return err
	}
	return h
}

// runUsersChange runs `users disable NAME` and `users password NAME`.
func runUsersChange(ctx context.Context, sub string, rest []string, fs *flag.FlagSet, load func() (configs.Config, error), stdout io.Writer) error {
	if err := fs.Parse(rest); err != nil {
		return flagError("users "+sub, fs, err)
	}
	if fs.NArg() != 1 {
		return usageError{fmt.Errorf("users %s: give one user name", sub)}
	}
	name := fs.Arg(0)
	cfg, err := load()
	if err != nil {
		return err
	}
	var password string
	if sub == "password" {
		if password, err = readPassword(stdin); err != nil {
			return err
		}
	}
	return withAuth(ctx, cfg, stdout, func(db *sqlx.DB, a *auth.Service) error {
		u, err := a.UserByName(ctx, name)
		if err != nil {
			return describe(err)
		}
		if sub == "disable" {
			if _, err := a.DisableUser(ctx, u.ID, ""); err != nil {
				return describe(err)
			}
			fmt.Fprintf(stdout, "disabled user %s (%s); their tokens and web sessions no longer work\n", u.Username, u.ID)
			return nil
		}
		if err := a.ChangePassword(ctx, u.ID, password, "cli"); err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "changed the password of %s; their earlier tokens and web sessions no longer work\n", u.Username)
		return nil
	})
}

// describe makes a business error readable on a terminal.
func describe(err error) error {
	var e *errs.Error
	if errors.As(err, &e) && e.Code != errs.Internal {
		msg := e.Message
		for _, f := range e.Fields {
			msg += fmt.Sprintf("; %s: %s", f.Field, f.Message)
		}
		if len(e.Fields) == 1 {
			msg = e.Message
		}
		return errors.New(msg)
	}
	return err
}

func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usageError{errors.New("users add: give the password on standard input, e.g. `printf '%s\\n' \"$PASSWORD\" | procfin users add …`")}
	}
	return line, nil
}

// withDB opens the configured database (starting the private cluster when
// no DATABASE_URL is set), runs fn, and closes everything it opened.
func withDB(ctx context.Context, cfg configs.Config, stdout io.Writer, fn func(db *sqlx.DB) error) (err error) {
	dsn := cfg.DatabaseURL
	if dsn == "" {
		cluster := &postgres.Cluster{Dir: filepath.Join(cfg.DataDir, "pg")}
		if err := cluster.Start(ctx); err != nil {
			return fmt.Errorf("private PostgreSQL: %w", err)
		}
		defer func() {
			if stopErr := cluster.Stop(context.WithoutCancel(ctx)); stopErr != nil && err == nil {
				err = fmt.Errorf("stop private PostgreSQL: %w", stopErr)
			}
		}()
		dsn = cluster.URL()
	}
	db, err := postgres.Open(ctx, dsn, postgres.PoolConfig{
		MaxOpenConns: cfg.Database.MaxOpenConns, MaxIdleConns: cfg.Database.MaxIdleConns,
		ConnMaxLifetime: cfg.Database.ConnMaxLifetime,
	})
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db)
}

// withAuth is withDB on a current schema, with the auth service ready.
func withAuth(ctx context.Context, cfg configs.Config, stdout io.Writer, fn func(db *sqlx.DB, a *auth.Service) error) error {
	return withDB(ctx, cfg, stdout, func(db *sqlx.DB) error {
		if err := postgres.CheckSchema(ctx, db.DB); err != nil {
			return err
		}
		a, err := newAuth(ctx, cfg, db)
		if err != nil {
			return err
		}
		return fn(db, a)
	})
}

func newAuth(ctx context.Context, cfg configs.Config, db *sqlx.DB) (*auth.Service, error) {
	masterKey, err := auth.LoadOrCreateMasterKey(cfg.MasterKey, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	a, err := auth.NewService(db, auth.Config{
		Issuer: cfg.Auth.Issuer, Audience: cfg.Auth.Audience, TokenTTL: cfg.Auth.TokenTTL,
		RotationLead: cfg.Auth.KeyRotationLead, MasterKey: masterKey,
		Password:       auth.PasswordParams{Memory: cfg.Auth.Password.MemoryKiB, Time: cfg.Auth.Password.Time, Threads: cfg.Auth.Password.Threads},
		LoginPerMinute: cfg.Auth.LoginPerMinute, LoginPerMinutePerAddr: cfg.Auth.LoginPerMinutePerAddress,
	}, nil)
	if err != nil {
		return nil, err
	}
	if err := a.EnsureSigningKey(ctx); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return a, nil
}

// serve runs the HTTP service until ctx ends, then shuts down gracefully.
// seed, when set, runs after migrations and before listening (the demo).
func serve(ctx context.Context, cfg configs.Config, stdout io.Writer, migrate bool, seed *demo) error {
	logger := newLogger(cfg, stdout)
	logger.Info("starting", "config", cfg.String())
	return withDB(ctx, cfg, stdout, func(db *sqlx.DB) error {
		if migrate {
			n, err := postgres.Migrate(ctx, db.DB, nil)
			if err != nil {
				return err
			}
			logger.Info("migrations applied", "count", n)
		}
		if err := postgres.CheckSchema(ctx, db.DB); err != nil {
			return err
		}
		a, err := newAuth(ctx, cfg, db)
		if err != nil {
			return err
		}
		cs, err := newContracts(cfg, db)
		if err != nil {
			return err
		}
		urls := safehttp.Policy{AllowPrivate: cfg.Outbound.AllowPrivateURLs}
		cs.SetURLPolicy(urls)
		keyOpts := []signature.Option{signature.WithURLPolicy(urls), signature.WithJWKSHardExpiry(cfg.Outbound.JWKSHardExpiry)}
		issuerMessages := signature.NewVerifier(db, "procfin", cs.Sender, keyOpts...)
		purchaserMessages := signature.NewVerifier(db, "procfin", cs.PurchaserSender, keyOpts...)
		paymentMessages := signature.NewVerifier(db, "procfin", cs.PaymentSystemSender, keyOpts...)
		ls, err := newLending(cfg, db, cs)
		if err != nil {
			return err
		}
		subs := subsidies.NewService(db, subsidies.PolicyInput{EffectiveFrom: cfg.Subsidy.EffectiveFrom,
			SubsidyRatio: cfg.Subsidy.Ratio, RateCap: cfg.Subsidy.RateCap, SupplierYearlyCap: cfg.Subsidy.SupplierYearlyCap,
			ProgrammeBudget: cfg.Subsidy.ProgrammeBudget, EligibleSizeClasses: cfg.Subsidy.EligibleSizeClasses,
			FourEyesThreshold: cfg.Subsidy.FourEyesThreshold, LPR1Y: lprInput(cfg.Subsidy.LPR1Y)})
		if err := subs.EnsurePolicy(ctx); err != nil {
			return err
		}
		events := banking.NewEvents(db, ls)
		events.OnRepaid = subs.OnRepaid
		events.OnOverdue = subs.OnOverdue
		ls.OnConfirmed(subs.ReleaseHeld)
		ls.UseSubsidyRates(subs)
		banks := banking.NewRegistry(db)
		banks.SetURLPolicy(urls)
		for _, b := range cfg.Banks {
			_, _, err := banks.Register(ctx, banking.BankRegistration{ID: b.ID, Name: b.Name, BaseURL: b.BaseURL,
				JWKS: json.RawMessage(b.JWKS), JWKSURL: b.JWKSURL, Algorithms: b.Algorithms}, "config")
			if err != nil {
				return fmt.Errorf("configuration: bank %s: %s", b.ID, describe(err))
			}
		}
		bankMessages := signature.NewVerifier(db, "procfin", banks.Sender, keyOpts...)
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
		}
		defer ln.Close()
		base := "http://" + ln.Addr().String()
		if cfg.PublicURL == "http://"+cfg.Addr { // the default: name the port really bound (":0" in tests)
			cfg.PublicURL = base
		}
		deliveries := banking.NewDeliveries(db, ls)
		webUI, err := web.New(web.Deps{DB: db, Auth: a, Contracts: cs, Lending: ls, Banks: banks,
			Deliveries: deliveries, Subsidies: subs, PublicURL: cfg.PublicURL, FormKeyTTL: cfg.Idempotency.TTL, Logger: logger})
		if err != nil {
			return err
		}
		var bankMetrics *banking.Metrics
		var metrics http.Handler
		h, err := handlers.New(handlers.Deps{Config: cfg, DB: db, Auth: a, Contracts: cs, Banks: banks,
			Lending: ls, IssuerMessages: issuerMessages, BankMessages: bankMessages,
			PurchaserMessages: purchaserMessages, PaymentMessages: paymentMessages,
			Events: events, Subsidies: subs, Deliveries: deliveries, Web: webUI,
			Metrics: &bankMetrics, MetricsHandler: &metrics, Logger: logger})
		if err != nil {
			return err
		}
		srv := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
			ReadTimeout:       cfg.HTTP.ReadTimeout,
			WriteTimeout:      cfg.HTTP.WriteTimeout,
			IdleTimeout:       cfg.HTTP.IdleTimeout,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		}
		if seed != nil {
			if err := seed.prepare(ctx, services{db: db, auth: a, contracts: cs, banks: banks, lending: ls}, cfg.PublicURL, logger); err != nil {
				return err
			}
			defer seed.close()
		}
		go func() {
			// Revocations made by other processes reach this one at once.
			if err := a.Watch(ctx); err != nil {
				logger.Error("watch users: revocations are checked in the database on every request", "error", err)
			}
		}()
		go purgeIdempotency(ctx, db, cfg, logger)
		go purgeSeenMessages(ctx, issuerMessages, logger)
		go purgeSeenMessages(ctx, bankMessages, logger)
		go purgeSeenMessages(ctx, purchaserMessages, logger)
		go purgeSeenMessages(ctx, paymentMessages, logger)
		go ls.RunIntentExpiry(ctx, time.Minute, func(n int, err error) {
			if err != nil {
				logger.Error("expire financing intents", "error", err)
				return
			}
			logger.Info("expired financing intents", "count", n)
		})
		relay := banking.NewRelay(db, banks, ls, a, bankMetrics, logger, banking.RelayConfig{})
		relayDone := make(chan struct{})
		go func() { relay.Run(ctx); close(relayDone) }()
		defer func() { <-relayDone }() // before the database closes
		sealerDone := make(chan struct{})
		go func() { audit.Sealer{DB: db, Logger: logger}.Run(ctx); close(sealerDone) }()
		defer func() { <-sealerDone }()

		if cfg.HTTP.MetricsAddr != "" {
			stop, err := serveMetrics(ctx, cfg.HTTP.MetricsAddr, metrics, logger)
			if err != nil {
				return err
			}
			defer stop()
		}
		if cfg.HTTP.DebugAddr != "" {
			stop, err := serveDebug(ctx, cfg.HTTP.DebugAddr, logger)
			if err != nil {
				return err
			}
			defer stop()
		}

		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		logger.Info("listening", "addr", base)
		if seed != nil {
			if err := seed.populate(ctx, cfg.PublicURL, stdout); err != nil {
				return err
			}
		}
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
		}
		logger.Info("shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.HTTP.ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
		logger.Info("stopped")
		return nil
	})
}

func purgeIdempotency(ctx context.Context, db *sqlx.DB, cfg configs.Config, logger *slog.Logger) {
	store := idempotency.NewStore(db, cfg.Idempotency.TTL)
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := store.Purge(ctx); err != nil {
				logger.Warn("purge idempotency keys", "error", err)
			} else if n > 0 {
				logger.Info("purged idempotency keys", "count", n)
			}
		}
	}
}

// newContracts builds the contracts service with the configured policy.
func newContracts(cfg configs.Config, db *sqlx.DB) (*contracts.Service, error) {
	ratio, err := decimal.NewFromString(cfg.Financing.Ratio)
	if err != nil {
		return nil, fmt.Errorf("financing.ratio: %w", err)
	}
	var classes []contracts.SizeClass
	for _, c := range cfg.Financing.EligibleSizeClasses {
		classes = append(classes, contracts.SizeClass(c))
	}
	return contracts.NewService(db, contracts.Policy{FinancingRatio: ratio, Currency: cfg.Financing.Currency, EligibleClasses: classes}, nil), nil
}

// newLending builds the lending service with the configured limits.
func newLending(cfg configs.Config, db *sqlx.DB, cs *contracts.Service) (*lending.Service, error) {
	maxAmount, err := money.ParseAmount(cfg.Financing.MaxApplicationAmount)
	if err != nil {
		return nil, fmt.Errorf("financing.max_application_amount: %w", err)
	}
	ls := lending.NewService(db, cs, banking.Outbox{}, lending.Limits{MaxAmount: maxAmount, MaxTermDays: cfg.Financing.MaxTermDays,
		WriteOffBarDays: cfg.Lending.WriteOffBarDays, ConsentTTL: cfg.Lending.ConsentTTL,
		IntentTTL: cfg.Lending.IntentTTL}, nil)
	ls.UseReadCache(cfg.HTTP.ReadCacheTTL)
	return ls, nil
}

// purgeSeenMessages forgets message ids old enough that their messages
// have expired (a replay of them fails on expiry instead).
func purgeSeenMessages(ctx context.Context, v *signature.Verifier, logger *slog.Logger) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := v.PurgeSeen(ctx); err != nil {
				logger.Warn("purge seen messages", "error", err)
			}
		}
	}
}

func newLogger(cfg configs.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	l := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(l)
	return l
}
