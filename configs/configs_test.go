package configs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"procfin/configs"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := configs.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != ".procfin" || c.HTTP.MaxBodyBytes != 1<<20 || c.Auth.TokenTTL != 15*time.Minute {
		t.Fatalf("defaults: %+v", c)
	}
	if c.PublicURL != "http://127.0.0.1:8080" {
		t.Fatalf("public_url default %q", c.PublicURL)
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("addr: 127.0.0.1:9000\ndata_dir: /var/lib/procfin\nauth:\n  token_ttl: 5m\n"), 0o600)
	c, err := configs.Load(file, env(map[string]string{"PROCFIN_ADDR": "127.0.0.1:9100"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9100" { // env beats file
		t.Errorf("addr = %s, want env's", c.Addr)
	}
	if c.DataDir != "/var/lib/procfin" || c.Auth.TokenTTL != 5*time.Minute { // file beats defaults
		t.Errorf("file values not applied: %s %s", c.DataDir, c.Auth.TokenTTL)
	}
	if c.Auth.Audience != "procfin-api" { // defaults survive a partial file
		t.Errorf("audience = %q", c.Auth.Audience)
	}
}

func TestProblemsOneLineEach(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("http:\n  max_body_bytes: 10\n  read_cache_ttl: -1s\nlog:\n  level: loud\n"), 0o600)
	_, err := configs.Load(file, env(map[string]string{
		"PROCFIN_ADDR": "nonsense", "PROCFIN_TOKEN_TTL": "forever",
		"DATABASE_URL": "mysql://u:hunter2@h/db", "PROCFIN_TRUSTED_PROXIES": "10.0.0.0/8, bogus",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	for _, want := range []string{"PROCFIN_TOKEN_TTL", "addr:", "log.level", "http.max_body_bytes", "http.read_cache_ttl", "database_url", "bogus"} {
		found := false
		for _, l := range lines {
			found = found || strings.Contains(l, want)
		}
		if !found {
			t.Errorf("no line about %s in:\n%s", want, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("secret in error: %s", err)
	}
}

func TestUnknownFieldInFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("adr: 127.0.0.1:1\n"), 0o600)
	if _, err := configs.Load(file, env(nil)); err == nil || !strings.Contains(err.Error(), "adr") {
		t.Fatalf("err = %v, want the unknown field named", err)
	}
}

func TestStringHidesSecrets(t *testing.T) {
	t.Parallel()
	c, err := configs.Load("", env(map[string]string{
		"DATABASE_URL": "postgres://u:hunter2@db/procfin", "PROCFIN_MASTER_KEY": "c2VjcmV0c2VjcmV0",
	}))
	if err != nil {
		t.Fatal(err)
	}
	s := c.String()
	if strings.Contains(s, "hunter2") || strings.Contains(s, "c2VjcmV0c2VjcmV0") || !strings.Contains(s, "db/procfin") {
		t.Fatalf("String() = %s", s)
	}
}

func TestDebugAddrLoopbackOnly(t *testing.T) {
	t.Parallel()
	for addr, ok := range map[string]bool{
		"127.0.0.1:6060": true, "localhost:6060": true, "[::1]:6060": true,
		"0.0.0.0:6060": false, "10.0.0.5:6060": false, ":6060": false, "127.0.0.1": false,
	} {
		c, err := configs.Load("", env(map[string]string{"PROCFIN_DEBUG_ADDR": addr}))
		if ok && (err != nil || c.HTTP.DebugAddr != addr) {
			t.Errorf("%s: %v, want accepted", addr, err)
		}
		if !ok && (err == nil || !strings.Contains(err.Error(), "http.debug_addr")) {
			t.Errorf("%s: %v, want refused", addr, err)
		}
	}
}

// TestOutbound: private URLs are refused by default and allowed by
// PROCFIN_ALLOW_PRIVATE_URLS; the JWKS hard expiry is 24 h, set by file or
// PROCFIN_JWKS_HARD_EXPIRY.
func TestOutbound(t *testing.T) {
	t.Parallel()
	c, err := configs.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Outbound.AllowPrivateURLs || c.Outbound.JWKSHardExpiry != 24*time.Hour {
		t.Fatalf("defaults: allow_private_urls %v, jwks_hard_expiry %s", c.Outbound.AllowPrivateURLs, c.Outbound.JWKSHardExpiry)
	}
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("outbound:\n  jwks_hard_expiry: 6h\n"), 0o600)
	c, err = configs.Load(file, env(map[string]string{"PROCFIN_ALLOW_PRIVATE_URLS": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Outbound.AllowPrivateURLs || c.Outbound.JWKSHardExpiry != 6*time.Hour {
		t.Fatalf("file and env: allow_private_urls %v, jwks_hard_expiry %s", c.Outbound.AllowPrivateURLs, c.Outbound.JWKSHardExpiry)
	}
	c, err = configs.Load(file, env(map[string]string{"PROCFIN_JWKS_HARD_EXPIRY": "48h"}))
	if err != nil || c.Outbound.JWKSHardExpiry != 48*time.Hour {
		t.Fatalf("env: %s, %v", c.Outbound.JWKSHardExpiry, err)
	}
	_, err = configs.Load("", env(map[string]string{"PROCFIN_ALLOW_PRIVATE_URLS": "maybe", "PROCFIN_JWKS_HARD_EXPIRY": "1s"}))
	if err == nil || !strings.Contains(err.Error(), "PROCFIN_ALLOW_PRIVATE_URLS") || !strings.Contains(err.Error(), "outbound.jwks_hard_expiry") {
		t.Fatalf("err = %v, want both refused", err)
	}
}

func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	for env_, want := range map[string]string{"": "127.0.0.1:9090", "127.0.0.1:0": "127.0.0.1:0", "10.0.0.5:9100": "10.0.0.5:9100", "off": ""} {
		c, err := configs.Load("", env(map[string]string{"PROCFIN_METRICS_ADDR": env_}))
		if err != nil || c.HTTP.MetricsAddr != want {
			t.Errorf("PROCFIN_METRICS_ADDR=%q: %q %v, want %q", env_, c.HTTP.MetricsAddr, err, want)
		}
	}
	if _, err := configs.Load("", env(map[string]string{"PROCFIN_METRICS_ADDR": "9090"})); err == nil || !strings.Contains(err.Error(), "http.metrics_addr") {
		t.Errorf("a port without host: %v, want refused", err)
	}
}
