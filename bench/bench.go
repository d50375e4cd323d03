// Package bench is procfin's load generator (`procfin bench`): it prepares
// what a scenario needs through procfin's own API (an administrator's
// registrations, an issuer's signed documents, supplier log-ins), then runs
// N clients against one route for a bounded time and reports throughput,
// latency percentiles and errors, as text or JSON.
//
// A scenario is a Scenario: Setup prepares it, Do makes one request for one
// client. Adding one is adding a type and a line in scenarios.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// Limits and defaults of the command line.
const (
	DefaultTarget   = "http://127.0.0.1:8080"
	DefaultDuration = 10 * time.Second
	MaxDuration     = 10 * time.Minute
	MaxWarmup       = 2 * time.Minute
	MaxClients      = 1000
	// ProgressEvery is how often a long text-mode run prints a progress line.
	ProgressEvery = 5 * time.Second
)

// UsageError is a mistake in the command line; procfin exits 2 on it.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf("bench: "+format, args...)}
}

// Config is a parsed command line.
type Config struct {
	Target        string // without a trailing slash
	Scenario      string
	Clients       int
	Duration      time.Duration
	Count         int64 // 0: no limit
	Warmup        time.Duration
	JSON          bool
	AdminUser     string
	AdminPassword string
}

// Flags is the command line's flag set, which sets c; procfin's help lists
// it. The scenario anchor (a minimal Gin server started in-process, the
// yardstick for reads) is left out of --scenario's description on purpose:
// it is for scripts/bench.sh.
func Flags(c *Config) *flag.FlagSet {
	fs := flag.NewFlagSet("procfin bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.Target, "target", DefaultTarget, "procfin's public `URL`; signed requests name it, so it must be what procfin calls\n"+
		"itself (PROCFIN_PUBLIC_URL, by default http:// + PROCFIN_ADDR)")
	fs.StringVar(&c.Scenario, "scenario", "", "the scenario, `NAME` (required), one of:\n"+
		"intake: POST /v1/credit-applications, one supplier and contract per client\n"+
		"read: GET /v1/credit-applications/{id} as a supplier (GET /v1/contracts/{id} or GET /v1/me\n"+
		"  if none can be made)\n"+
		"read-db: the same with Cache-Control: no-cache, so procfin reads its database each time\n"+
		"events, roundtrip: the bank routes (POST /v1/bank-events)")
	fs.IntVar(&c.Clients, "clients", 1, fmt.Sprintf("`N` concurrent clients, at most %d", MaxClients))
	fs.DurationVar(&c.Duration, "duration", DefaultDuration, "measured time, at most "+MaxDuration.String())
	fs.Int64Var(&c.Count, "count", 0, "stop after `N` measured requests (0: no limit)")
	fs.DurationVar(&c.Warmup, "warmup", 0, "unmeasured load before measuring, at most "+MaxWarmup.String())
	fs.BoolVar(&c.JSON, "json", false, "print the report as JSON only")
	fs.StringVar(&c.AdminUser, "admin-user", "admin", "the `NAME` of the administrator that sets the scenario up")
	fs.StringVar(&c.AdminPassword, "admin-password", "procfin-demo-admin", "the administrator's `PASSWORD`")
	return fs
}

// ParseArgs reads the command line (without the "bench" word); -h and
// --help are flag.ErrHelp.
func ParseArgs(args []string) (Config, error) {
	var c Config
	fs := Flags(&c)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return c, usagef("unexpected argument %q", fs.Arg(0))
	}
	if c.Scenario == "" {
		return c, usagef("--scenario is required: one of %s", strings.Join(scenarioChoices(), ", "))
	}
	if _, ok := scenarios[c.Scenario]; !ok {
		return c, usagef("unknown scenario %q: one of %s", c.Scenario, strings.Join(scenarioChoices(), ", "))
	}
	switch {
	case c.Clients < 1:
		return c, usagef("--clients must be at least 1; got %d", c.Clients)
	case c.Clients > MaxClients:
		return c, usagef("--clients must be at most %d; got %d", MaxClients, c.Clients)
	case c.Duration <= 0:
		return c, usagef("--duration must be positive; got %s", c.Duration)
	case c.Duration > MaxDuration:
		return c, usagef("--duration must be at most %s; got %s", MaxDuration, c.Duration)
	case c.Count < 0:
		return c, usagef("--count must not be negative; got %d", c.Count)
	case c.Warmup < 0 || c.Warmup > MaxWarmup:
		return c, usagef("--warmup must be between 0s and %s; got %s", MaxWarmup, c.Warmup)
	}
	u, err := url.Parse(c.Target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return c, usagef("--target must be an absolute http(s) URL without a query, like %s; got %q", DefaultTarget, c.Target)
	}
	c.Target = strings.TrimRight(c.Target, "/")
	return c, nil
}

// Run is `procfin bench`: it parses args, sets the scenario up, runs the
// load and writes the report (and, in text mode, setup and progress lines)
// to stdout. Command-line mistakes are *UsageError; -h and --help are
// flag.ErrHelp (the caller prints Flags' help).
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := ParseArgs(args)
	if err != nil {
		return err
	}
	rep, err := Execute(ctx, cfg, stdout)
	if rep != nil {
		if werr := writeReport(stdout, cfg.JSON, rep); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// Execute sets up and runs cfg's scenario. log receives setup and progress
// lines in text mode (none with cfg.JSON). The report is nil when setup
// failed; on an interruption it is the partial report, with the error.
func Execute(ctx context.Context, cfg Config, log io.Writer) (*Report, error) {
	if cfg.JSON || log == nil {
		log = io.Discard
	}
	sc := scenarios[cfg.Scenario]()
	env := newEnv(cfg, log)
	defer env.close()
	setupStart := time.Now()
	if err := sc.Setup(ctx, env); err != nil {
		sc.Close()
		return nil, err
	}
	defer sc.Close()
	fmt.Fprintf(log, "setup: done in %.1f s; loading %s with %d client(s) for %s\n",
		time.Since(setupStart).Seconds(), sc.Route(), cfg.Clients, cfg.Duration)

	if cfg.Warmup > 0 {
		fmt.Fprintf(log, "warm-up: %s\n", cfg.Warmup)
		load(ctx, sc, loadSpec{clients: cfg.Clients, duration: cfg.Warmup})
		if ctx.Err() != nil {
			return nil, fmt.Errorf("bench: interrupted during the warm-up: %w", ctx.Err())
		}
	}
	var progress io.Writer
	if !cfg.JSON {
		progress = log
	}
	res := load(ctx, sc, loadSpec{clients: cfg.Clients, duration: cfg.Duration, count: cfg.Count, progress: progress})
	rep := res.report(cfg.Scenario, sc.Route(), env.Target, cfg.Clients)
	if ctx.Err() != nil {
		return rep, fmt.Errorf("bench: interrupted: %w", ctx.Err())
	}
	return rep, nil
}

func writeReport(w io.Writer, asJSON bool, rep *Report) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	_, err := io.WriteString(w, rep.Text())
	return err
}
