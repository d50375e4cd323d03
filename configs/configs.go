// Package configs owns procfin's configuration: the defaults embedded in
// the binary (defaults.yaml), an optional file that overrides them, and the
// environment, which overrides both. Load validates the result and reports
// every problem, one line each. Secrets (the database password, the master
// key) never appear in String or in errors.
package configs

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"procfin/platform/money"
)

//go:embed defaults.yaml
var defaults []byte

// Config is procfin's whole configuration.
type Config struct {
	Addr        string `yaml:"addr"`
	PublicURL   string `yaml:"public_url"`
	DataDir     string `yaml:"data_dir"`
	DatabaseURL string `yaml:"database_url"`
	// MasterKey encrypts the private parts of the platform's signing keys.
	// Only from the environment (PROCFIN_MASTER_KEY); when empty, procfin
	// keeps one in DataDir.
	MasterKey string `yaml:"-"`

	Log struct {
		Level string `yaml:"level"`
	} `yaml:"log"`

	HTTP struct {
		ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
		ReadTimeout       time.Duration `yaml:"read_timeout"`
		WriteTimeout      time.Duration `yaml:"write_timeout"`
		IdleTimeout       time.Duration `yaml:"idle_timeout"`
		ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
		MaxBodyBytes      int64         `yaml:"max_body_bytes"`
		TrustedProxies    []string      `yaml:"trusted_proxies"`
		// DebugAddr, when set, serves Go's profiler (net/http/pprof) on
		// that address, which must be loopback.
		DebugAddr string `yaml:"debug_addr"`
		// MetricsAddr, when set, serves /metrics to anyone who reaches it
		// (the operators' address: loopback by default); on the main
		// address /metrics answers administrators only.
		MetricsAddr string `yaml:"metrics_addr"`
		// ReadCacheTTL is how long GET /v1/credit-applications/{id} may
		// answer from the process's read cache; 0 turns it off.
		ReadCacheTTL time.Duration `yaml:"read_cache_ttl"`
	} `yaml:"http"`

	Database struct {
		MaxOpenConns    int           `yaml:"max_open_conns"`
		MaxIdleConns    int           `yaml:"max_idle_conns"`
		ConnMaxLifetime time.Duration `yaml:"conn_max_lifetime"`
	} `yaml:"database"`

	Auth struct {
		Issuer                   string        `yaml:"issuer"`
		Audience                 string        `yaml:"audience"`
		TokenTTL                 time.Duration `yaml:"token_ttl"`
		KeyRotationLead          time.Duration `yaml:"key_rotation_lead"`
		LoginPerMinute           int           `yaml:"login_per_minute"`
		LoginPerMinutePerAddress int           `yaml:"login_per_minute_per_address"`
		Password                 struct {
			MemoryKiB uint32 `yaml:"memory_kib"`
			Time      uint32 `yaml:"time"`
			Threads   uint8  `yaml:"threads"`
		} `yaml:"password"`
	} `yaml:"auth"`

	Idempotency struct {
		TTL time.Duration `yaml:"ttl"`
	} `yaml:"idempotency"`

	// Outbound is how procfin calls URLs other parties registered: banks'
	// base URLs and senders' JWKS URLs.
	Outbound struct {
		// AllowPrivateURLs allows plain http and loopback or private
		// addresses (PROCFIN_ALLOW_PRIVATE_URLS=1): tests and the demo only.
		AllowPrivateURLs bool `yaml:"allow_private_urls"`
		// JWKSHardExpiry is how long keys read from a JWKS URL are still
		// used while it cannot be read again (PROCFIN_JWKS_HARD_EXPIRY).
		JWKSHardExpiry time.Duration `yaml:"jwks_hard_expiry"`
	} `yaml:"outbound"`

	// Banks are partner banks of a fixed deployment, registered (or
	// updated) at start-up; administrators can register more through the API.
	Banks []BankConfig `yaml:"banks"`

	Financing struct {
		Ratio                string   `yaml:"ratio"`
		MaxApplicationAmount string   `yaml:"max_application_amount"`
		MaxTermDays          int      `yaml:"max_term_days"`
		Currency             string   `yaml:"currency"`
		EligibleSizeClasses  []string `yaml:"eligible_size_classes"`
	} `yaml:"financing"`

	Lending struct {
		// WriteOffBarDays is how long after a loan of the supplier is
		// written off its new applications fail supplier.not_overdue.
		WriteOffBarDays int `yaml:"write_off_bar_days"`
		// ConsentTTL is how long a supplier's consent to send its data to a
		// bank lasts (PROCFIN_CONSENT_TTL).
		ConsentTTL time.Duration `yaml:"consent_ttl"`
		// IntentTTL is how long banks have to answer a financing intent
		// whose supplier names no respond_by (PROCFIN_INTENT_TTL).
		IntentTTL time.Duration `yaml:"intent_ttl"`
	} `yaml:"lending"`

	// Subsidy is the interest-subsidy (贴息) policy that becomes version 1
	// when the database has none; administrators add versions through the API.
	Subsidy SubsidyConfig `yaml:"subsidy"`
}

// SubsidyConfig is the default subsidy policy (domain.md "Interest
// subsidy"): decimal strings, as the API takes them.
type SubsidyConfig struct {
	EffectiveFrom string `yaml:"effective_from"`
	Ratio         string `yaml:"ratio"`
	// LPR1Y is the dated 1-year LPR, each day's rate cap; RateCap, one cap
	// for every day, is taken only when LPR1Y is empty.
	LPR1Y               []LPREntryConfig `yaml:"lpr_1y"`
	RateCap             string           `yaml:"rate_cap"`
	SupplierYearlyCap   string           `yaml:"supplier_yearly_cap"`
	ProgrammeBudget     string           `yaml:"programme_budget"`
	EligibleSizeClasses []string         `yaml:"eligible_size_classes"`
	FourEyesThreshold   string           `yaml:"four_eyes_threshold"`
}

// LPREntryConfig is one entry of the dated 1-year LPR: the rate from the
// date on.
type LPREntryConfig struct {
	From string `yaml:"from"`
	Rate string `yaml:"rate"`
}

// BankConfig is a partner bank listed in the configuration. JWKS is the
// key set as JSON text; give it or JWKSURL.
type BankConfig struct {
	ID         string   `yaml:"id"`
	Name       string   `yaml:"name"`
	BaseURL    string   `yaml:"base_url"`
	JWKS       string   `yaml:"jwks"`
	JWKSURL    string   `yaml:"jwks_url"`
	Algorithms []string `yaml:"algorithms"`
}

// Load builds the configuration: embedded defaults, then file (if not
// empty), then the environment read through getenv. The error lists every
// problem found, one per line.
func Load(file string, getenv func(string) string) (Config, error) {
	var c Config
	if err := decode(defaults, &c); err != nil {
		return c, fmt.Errorf("embedded defaults: %w", err)
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return c, fmt.Errorf("config file: %w", err)
		}
		if err := decode(b, &c); err != nil {
			return c, fmt.Errorf("config file %s: %w", file, err)
		}
	}
	var problems []error
	env := func(name string, apply func(string) error) {
		if v := getenv(name); v != "" {
			if err := apply(v); err != nil {
				problems = append(problems, fmt.Errorf("%s: %w", name, err))
			}
		}
	}
	setString := func(dst *string) func(string) error { return func(v string) error { *dst = v; return nil } }
	env("DATABASE_URL", setString(&c.DatabaseURL))
	env("PROCFIN_ADDR", setString(&c.Addr))
	env("PROCFIN_PUBLIC_URL", setString(&c.PublicURL))
	env("PROCFIN_DATA_DIR", setString(&c.DataDir))
	env("PROCFIN_LOG_LEVEL", setString(&c.Log.Level))
	env("PROCFIN_DEBUG_ADDR", setString(&c.HTTP.DebugAddr))
	env("PROCFIN_METRICS_ADDR", func(v string) error { // "off": none
		if v == "off" {
			v = ""
		}
		c.HTTP.MetricsAddr = v
		return nil
	})
	env("PROCFIN_MASTER_KEY", setString(&c.MasterKey))
	env("PROCFIN_TRUSTED_PROXIES", func(v string) error {
		c.HTTP.TrustedProxies = nil
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.HTTP.TrustedProxies = append(c.HTTP.TrustedProxies, p)
			}
		}
		return nil
	})
	env("PROCFIN_TOKEN_TTL", func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration (e.g. 15m): %q", v)
		}
		c.Auth.TokenTTL = d
		return nil
	})
	env("PROCFIN_ALLOW_PRIVATE_URLS", func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want 1 or 0 (true or false), got %q", v)
		}
		c.Outbound.AllowPrivateURLs = b
		return nil
	})
	env("PROCFIN_JWKS_HARD_EXPIRY", func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration (e.g. 24h): %q", v)
		}
		c.Outbound.JWKSHardExpiry = d
		return nil
	})
	env("PROCFIN_INTENT_TTL", func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration (e.g. 72h): %q", v)
		}
		c.Lending.IntentTTL = d
		return nil
	})
	env("PROCFIN_CONSENT_TTL", func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration (e.g. 8760h): %q", v)
		}
		c.Lending.ConsentTTL = d
		return nil
	})
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	problems = append(problems, c.validate()...)
	return c, errors.Join(problems...)
}

func decode(b []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func (c *Config) validate() []error {
	var p []error
	bad := func(field, format string, args ...any) {
		p = append(p, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("addr", "want host:port, got %q", c.Addr)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("public_url", "want an http(s) URL, got %q", c.PublicURL)
	}
	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}
	if c.DatabaseURL != "" {
		if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("database_url", "want a postgres:// URL")
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	positive := func(field string, d time.Duration) {
		if d <= 0 {
			bad(field, "must be a positive duration, got %s", d)
		}
	}
	positive("http.read_header_timeout", c.HTTP.ReadHeaderTimeout)
	positive("http.read_timeout", c.HTTP.ReadTimeout)
	positive("http.write_timeout", c.HTTP.WriteTimeout)
	positive("http.idle_timeout", c.HTTP.IdleTimeout)
	positive("http.shutdown_timeout", c.HTTP.ShutdownTimeout)
	positive("auth.token_ttl", c.Auth.TokenTTL)
	positive("idempotency.ttl", c.Idempotency.TTL)
	positive("lending.consent_ttl", c.Lending.ConsentTTL)
	positive("lending.intent_ttl", c.Lending.IntentTTL)
	if c.Auth.TokenTTL > time.Hour {
		bad("auth.token_ttl", "access tokens are short-lived: at most 1h, got %s", c.Auth.TokenTTL)
	}
	if c.Outbound.JWKSHardExpiry < time.Minute {
		bad("outbound.jwks_hard_expiry", "want at least 1m, got %s", c.Outbound.JWKSHardExpiry)
	}
	if c.HTTP.ReadCacheTTL < 0 || c.HTTP.ReadCacheTTL > time.Minute {
		bad("http.read_cache_ttl", "want 0 (off) up to 1m, got %s", c.HTTP.ReadCacheTTL)
	}
	if c.Auth.KeyRotationLead < 0 {
		bad("auth.key_rotation_lead", "must not be negative")
	}
	if c.HTTP.MaxBodyBytes < 1024 {
		bad("http.max_body_bytes", "must be at least 1024, got %d", c.HTTP.MaxBodyBytes)
	}
	for _, tp := range c.HTTP.TrustedProxies {
		if net.ParseIP(tp) == nil {
			if _, _, err := net.ParseCIDR(tp); err != nil {
				bad("http.trusted_proxies", "%q is neither an address nor a CIDR", tp)
			}
		}
	}
	if c.HTTP.DebugAddr != "" {
		host, _, err := net.SplitHostPort(c.HTTP.DebugAddr)
		if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			bad("http.debug_addr", "want a loopback host:port such as 127.0.0.1:6060, got %q", c.HTTP.DebugAddr)
		}
	}
	if c.HTTP.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.HTTP.MetricsAddr); err != nil {
			bad("http.metrics_addr", "want a host:port such as 127.0.0.1:9090, or empty for none, got %q", c.HTTP.MetricsAddr)
		}
	}
	if c.Database.MaxOpenConns < 1 {
		bad("database.max_open_conns", "must be at least 1")
	}
	if c.Auth.Issuer == "" || c.Auth.Audience == "" {
		bad("auth", "issuer and audience must be set")
	}
	if c.Auth.LoginPerMinute < 1 || c.Auth.LoginPerMinutePerAddress < 1 {
		bad("auth", "login_per_minute and login_per_minute_per_address must be at least 1")
	}
	if c.Auth.Password.MemoryKiB < 1024 || c.Auth.Password.Time < 1 || c.Auth.Password.Threads < 1 {
		bad("auth.password", "memory_kib >= 1024, time >= 1 and threads >= 1 are required")
	}
	if r, err := money.ParseRate(c.Financing.Ratio); err != nil || !r.Decimal().IsPositive() {
		bad("financing.ratio", "want a decimal fraction above 0 and at most 1, got %q", c.Financing.Ratio)
	}
	if a, err := money.ParseAmount(c.Financing.MaxApplicationAmount); err != nil || !a.IsPositive() {
		bad("financing.max_application_amount", "want a positive decimal amount, got %q", c.Financing.MaxApplicationAmount)
	}
	if c.Financing.MaxTermDays < 1 {
		bad("financing.max_term_days", "must be at least 1")
	}
	if c.Lending.WriteOffBarDays < 1 {
		bad("lending.write_off_bar_days", "must be at least 1")
	}
	if len(c.Financing.Currency) != 3 {
		bad("financing.currency", "want an ISO 4217 code such as CNY, got %q", c.Financing.Currency)
	}
	for i, b := range c.Banks {
		if b.ID == "" || b.BaseURL == "" || (b.JWKS == "") == (b.JWKSURL == "") {
			bad(fmt.Sprintf("banks[%d]", i), "id, base_url and exactly one of jwks and jwks_url are required")
		}
	}
	for _, sc := range c.Financing.EligibleSizeClasses {
		switch sc {
		case "micro", "small", "medium", "large":
		default:
			bad("financing.eligible_size_classes", "unknown size class %q", sc)
		}
	}
	if _, err := money.ParseDate(c.Subsidy.EffectiveFrom); err != nil {
		bad("subsidy.effective_from", "want a date YYYY-MM-DD, got %q", c.Subsidy.EffectiveFrom)
	}
	rates := [][2]string{{"subsidy.ratio", c.Subsidy.Ratio}}
	switch {
	case len(c.Subsidy.LPR1Y) > 0 && c.Subsidy.RateCap != "":
		bad("subsidy.rate_cap", "give subsidy.lpr_1y (the dated 1-year LPR) or subsidy.rate_cap (one cap for every day), not both")
	case len(c.Subsidy.LPR1Y) == 0:
		rates = append(rates, [2]string{"subsidy.rate_cap", c.Subsidy.RateCap})
	}
	var last money.Date
	for i, e := range c.Subsidy.LPR1Y {
		d, err := money.ParseDate(e.From)
		if err != nil {
			bad(fmt.Sprintf("subsidy.lpr_1y[%d].from", i), "want a date YYYY-MM-DD, got %q", e.From)
		} else if i > 0 && !d.After(last) {
			bad(fmt.Sprintf("subsidy.lpr_1y[%d].from", i), "%s is not after the entry before it: entries go from the oldest, one per date", e.From)
		}
		last = d
		rates = append(rates, [2]string{fmt.Sprintf("subsidy.lpr_1y[%d].rate", i), e.Rate})
	}
	for _, f := range rates {
		if _, err := money.ParseRate(f[1]); err != nil {
			bad(f[0], "want a decimal fraction from 0 to 1, got %q", f[1])
		}
	}
	for _, f := range [][2]string{{"subsidy.supplier_yearly_cap", c.Subsidy.SupplierYearlyCap},
		{"subsidy.programme_budget", c.Subsidy.ProgrammeBudget}, {"subsidy.four_eyes_threshold", c.Subsidy.FourEyesThreshold}} {
		if a, err := money.ParseAmount(f[1]); err != nil || a.IsNegative() {
			bad(f[0], "want a decimal amount of at least 0, got %q", f[1])
		}
	}
	if len(c.Subsidy.EligibleSizeClasses) == 0 {
		bad("subsidy.eligible_size_classes", "name at least one size class")
	}
	for _, sc := range c.Subsidy.EligibleSizeClasses {
		switch sc {
		case "micro", "small", "medium", "large":
		default:
			bad("subsidy.eligible_size_classes", "unknown size class %q", sc)
		}
	}
	return p
}

// String shows the configuration with secrets hidden, for start-up logs.
func (c Config) String() string {
	db := "(private cluster in data_dir)"
	if c.DatabaseURL != "" {
		db = redactURL(c.DatabaseURL)
	}
	key := "(from data_dir)"
	if c.MasterKey != "" {
		key = "(set, hidden)"
	}
	return fmt.Sprintf("addr=%s public_url=%s data_dir=%s database=%s master_key=%s log.level=%s",
		c.Addr, c.PublicURL, c.DataDir, db, key, c.Log.Level)
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable, hidden)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
