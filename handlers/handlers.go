// Package handlers owns procfin's HTTP surface: the Gin router (every route
// in routes.go), middleware, request and response shapes, and the one
// error writer (problem.go) that maps errs codes to RFC 9457 problems.
// Handlers are thin: bind, validate, one call into a business package,
// answer. Business packages never import this package or Gin.
package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"procfin/banking"
	"procfin/configs"
	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/auth"
	"procfin/platform/errs"
	"procfin/platform/idempotency"
	"procfin/platform/signature"
	"procfin/subsidies"
)

// Deps are what the handlers need.
type Deps struct {
	Config    configs.Config
	DB        *sqlx.DB
	Auth      *auth.Service
	Contracts *contracts.Service
	Banks     *banking.Registry
	Lending   *lending.Service
	// Events applies banks' signed events; BankMessages verifies them.
	Events       *banking.Events
	BankMessages *signature.Verifier
	Deliveries   *banking.Deliveries
	// Subsidies computes, reviews and pays interest subsidies.
	Subsidies *subsidies.Service
	// IssuerMessages verifies issuers' signed submissions.
	IssuerMessages *signature.Verifier
	// PurchaserMessages verifies purchasers' signing systems' messages,
	// PaymentMessages the treasury payment systems'.
	PurchaserMessages *signature.Verifier
	PaymentMessages   *signature.Verifier
	Logger            *slog.Logger
	// Metrics, when set, receives the banking metrics registered on the
	// router's registry, for the relay to report into.
	Metrics **banking.Metrics
	// MetricsHandler, when set, receives the handler of /metrics for the
	// operators' own address (http.metrics_addr); on the main address
	// /metrics answers administrators only.
	MetricsHandler *http.Handler
	// Web, when set, serves every path outside /v1/ that no route serves
	// (the browser interface, package web).
	Web http.Handler
}

// server holds the dependencies the handler methods use.
type server struct {
	cfg               configs.Config
	db                *sqlx.DB
	auth              *auth.Service
	contracts         *contracts.Service
	banks             *banking.Registry
	lending           *lending.Service
	events            *banking.Events
	bankMessages      *signature.Verifier
	deliveries        *banking.Deliveries
	subsidies         *subsidies.Service
	bankMetrics       *banking.Metrics
	issuerMessages    *signature.Verifier
	purchaserMessages *signature.Verifier
	paymentMessages   *signature.Verifier
	idem              *idempotency.Store
	logger            *slog.Logger
	metrics           http.Handler
	rejections        *prometheus.CounterVec
}

// New builds the router with its middleware and every route.
func New(d Deps) (http.Handler, error) {
	gin.SetMode(gin.ReleaseMode)
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(d.DB.DB, "procfin"),
	)
	s := &server{
		cfg: d.Config, db: d.DB, auth: d.Auth, contracts: d.Contracts, banks: d.Banks, lending: d.Lending, subsidies: d.Subsidies,
		events: d.Events, bankMessages: d.BankMessages, deliveries: d.Deliveries, issuerMessages: d.IssuerMessages, logger: d.Logger,
		purchaserMessages: d.PurchaserMessages, paymentMessages: d.PaymentMessages,
		idem:    idempotency.NewStore(d.DB, d.Config.Idempotency.TTL),
		metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "procfin_signed_message_rejections_total", Help: "Signed messages refused, by route and reason.",
		}, []string{"route", "reason"}),
	}
	reg.MustRegister(s.rejections)
	if ls := d.Lending; ls != nil {
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "procfin_read_cache_hits_total", Help: "Application reads answered from the process's read cache.",
			}, func() float64 { return float64(ls.ReadCacheStats().Hits) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "procfin_read_cache_misses_total", Help: "Application reads through the read cache that went to the database.",
			}, func() float64 { return float64(ls.ReadCacheStats().Misses) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "procfin_read_cache_entries", Help: "Applications the process's read cache holds.",
			}, func() float64 { return float64(ls.ReadCacheStats().Entries) }),
		)
	}
	s.bankMetrics = banking.NewMetrics(reg, d.DB)
	if d.Metrics != nil {
		*d.Metrics = s.bankMetrics
	}
	if d.MetricsHandler != nil {
		*d.MetricsHandler = s.metrics
	}

	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	if err := r.SetTrustedProxies(d.Config.HTTP.TrustedProxies); err != nil {
		return nil, err
	}
	r.Use(requestIDs(), accessLog(d.Logger), newHTTPMetrics(reg).middleware(), recovery(),
		bodyLimit(d.Config.HTTP.MaxBodyBytes))
	r.NoRoute(func(c *gin.Context) {
		if d.Web != nil && !strings.HasPrefix(c.Request.URL.Path, "/v1/") {
			d.Web.ServeHTTP(c.Writer, c.Request)
			c.Set(ctxWebRoute, webRoute(c.Request.Pattern))
			return
		}
		fail(c, errs.E(errs.NotFound, "no route %s %s", c.Request.Method, c.Request.URL.Path))
	})
	r.NoMethod(func(c *gin.Context) {
		fail(c, errs.E(errs.MethodNotAllowed, "%s is not allowed on %s", c.Request.Method, c.Request.URL.Path))
	})
	s.routes(r)
	return r, nil
}

// healthz answers while the process runs.
func (s *server) healthz(c *gin.Context) {
	reply(c, http.StatusOK, gin.H{"status": "ok"})
}

// readyz answers 200 only when the database answers.
func (s *server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.db.PingContext(ctx); err != nil {
		fail(c, errs.Wrap(errs.Unavailable, err, "the database is not reachable"))
		return
	}
	reply(c, http.StatusOK, gin.H{"status": "ready"})
}

func (s *server) metricsHandler(c *gin.Context) { s.metrics.ServeHTTP(c.Writer, c.Request) }
