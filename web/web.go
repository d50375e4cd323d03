// Package web owns procfin's browser interface: the supplier portal
// (/portal), the finance officers' console (/console) and the
// administrators' pages (/admin). Pages are html/template files and static
// assets embedded in the binary, in Chinese (zh-CN) first with an English
// switch. Sessions are server-side (table web_sessions) behind an HttpOnly,
// SameSite cookie; every form carries a CSRF token checked on every POST;
// every answer carries a strict Content-Security-Policy.
//
// Like package handlers it is an adapter: it calls the business packages
// directly (not through the JSON API) and keeps no business rules of its
// own.
package web

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"procfin/banking"
	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/auth"
	"procfin/platform/idempotency"
	"procfin/subsidies"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Deps are what the web interface needs.
type Deps struct {
	DB         *sqlx.DB
	Auth       *auth.Service
	Contracts  *contracts.Service
	Lending    *lending.Service
	Banks      *banking.Registry
	Deliveries *banking.Deliveries
	Subsidies  *subsidies.Service // nil: the subsidy pages say the feature is not enabled
	// PublicURL is the address users reach procfin at; an https URL makes
	// the session cookie Secure even behind a TLS-terminating proxy.
	PublicURL string
	// SessionTTL is how long a log-in lasts (default 8 h).
	SessionTTL time.Duration
	// FormKeyTTL is how long a form's first answer is kept for a second
	// submission (default 24 h, as the API's idempotency.ttl).
	FormKeyTTL time.Duration
	Logger     *slog.Logger
}

// server holds the dependencies of the page handlers.
type server struct {
	Deps
	pages map[string]*template.Template
	idem  *idempotency.Store // the answers to forms, by form key (once)
}

// New returns the web interface's handler. Mount it for every path outside
// /v1/ that the API router does not serve.
func New(d Deps) (http.Handler, error) {
	if d.DB == nil || d.Auth == nil || d.Contracts == nil || d.Lending == nil || d.Banks == nil || d.Deliveries == nil {
		return nil, errors.New("web: DB, Auth, Contracts, Lending, Banks and Deliveries are required")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.SessionTTL <= 0 {
		d.SessionTTL = 8 * time.Hour
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	if d.FormKeyTTL <= 0 {
		d.FormKeyTTL = 24 * time.Hour
	}
	s := &server{Deps: d, pages: pages, idem: idempotency.NewStore(d.DB, d.FormKeyTTL)}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	s.routes(mux, static)
	return securityHeaders(mux), nil
}

// routes lists every page, one per line.
func (s *server) routes(mux *http.ServeMux, static fs.FS) {
	suppliers := []auth.Role{auth.RoleSupplier}
	officers := []auth.Role{auth.RoleOfficer}
	reviewers := []auth.Role{auth.RoleOfficer, auth.RoleAdmin}
	admins := []auth.Role{auth.RoleAdmin}
	purchasers := []auth.Role{auth.RolePurchaser}

	mux.Handle("GET /static/", staticHandler(static))
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.page(nil, s.logout))
	mux.HandleFunc("GET /lang/{lang}", s.switchLanguage)

	mux.HandleFunc("GET /portal", s.page(suppliers, s.portal))
	mux.HandleFunc("GET /portal/contracts/{id}", s.page(suppliers, s.contractPage))
	mux.HandleFunc("GET /portal/contracts/{id}/apply", s.page(suppliers, s.applyPage))
	mux.HandleFunc("POST /portal/contracts/{id}/apply", s.page(suppliers, s.once(s.apply)))
	mux.HandleFunc("GET /portal/applications", s.page(suppliers, s.applicationsPage))
	mux.HandleFunc("GET /portal/applications/{id}", s.page(suppliers, s.applicationPage))
	mux.HandleFunc("POST /portal/applications/{id}/cancel", s.page(suppliers, s.once(s.cancelApplication)))
	mux.HandleFunc("GET /portal/subsidies", s.page(suppliers, s.supplierClaims))
	mux.HandleFunc("GET /portal/consents", s.page(suppliers, s.consentsPage))
	mux.HandleFunc("POST /portal/consents/{id}/revoke", s.page(suppliers, s.once(s.revokeConsent)))
	mux.HandleFunc("GET /portal/contracts/{id}/intent", s.page(suppliers, s.publishPage))
	mux.HandleFunc("POST /portal/contracts/{id}/intent", s.page(suppliers, s.once(s.publish)))
	mux.HandleFunc("GET /portal/intents", s.page(suppliers, s.intentsPage))
	mux.HandleFunc("GET /portal/intents/{id}", s.page(suppliers, s.intentPage))
	mux.HandleFunc("POST /portal/intents/{id}/accept", s.page(suppliers, s.once(s.acceptOffer)))
	mux.HandleFunc("POST /portal/intents/{id}/cancel", s.page(suppliers, s.once(s.cancelIntent)))

	mux.HandleFunc("GET /console", s.page(officers, s.dashboard))
	mux.HandleFunc("GET /console/claims", s.page(officers, s.claimsQueue))
	mux.HandleFunc("GET /console/claims/{id}", s.page(officers, s.claimPage))
	mux.HandleFunc("POST /console/claims/{id}/approve", s.page(officers, s.once(s.approveClaim)))
	mux.HandleFunc("POST /console/claims/{id}/reject", s.page(officers, s.once(s.rejectClaim)))
	mux.HandleFunc("GET /console/batches", s.page(officers, s.batchesPage))
	mux.HandleFunc("POST /console/batches", s.page(officers, s.once(s.createBatch)))
	mux.HandleFunc("POST /console/batches/{id}/close", s.page(officers, s.once(s.closeBatch)))
	mux.HandleFunc("GET /console/batches/{file}", s.page(officers, s.exportBatch)) // {id}.csv, {id}.xlsx
	mux.HandleFunc("GET /console/bank-report", s.page(officers, s.bankReport))     // ?month=&format=csv|xlsx
	mux.HandleFunc("GET /console/applications", s.page(reviewers, s.allApplications))
	mux.HandleFunc("GET /console/intents", s.page(reviewers, s.consoleIntents))
	mux.HandleFunc("GET /console/amendments", s.page(officers, s.amendmentsPage))
	mux.HandleFunc("POST /console/contracts/{id}/amendments/{version}/resolve", s.page(officers, s.once(s.resolveAmendment)))
	mux.HandleFunc("GET /console/audit", s.page(reviewers, s.auditPage))
	mux.HandleFunc("GET /console/alerts", s.page(reviewers, s.alertsPage))
	mux.HandleFunc("GET /console/contracts/{id}", s.page(reviewers, s.consoleContract))

	mux.HandleFunc("GET /purchaser", s.page(purchasers, s.purchaserHome))
	mux.HandleFunc("GET /purchaser/contracts/{id}", s.page(purchasers, s.receivablePage))
	mux.HandleFunc("POST /purchaser/contracts/{id}/confirm", s.page(purchasers, s.once(s.confirmReceivable)))
	mux.HandleFunc("POST /purchaser/contracts/{id}/refuse", s.page(purchasers, s.once(s.refuseReceivable)))

	mux.HandleFunc("GET /admin", s.page(admins, s.adminHome))
	mux.HandleFunc("GET /admin/issuers", s.page(admins, s.issuersPage))
	mux.HandleFunc("POST /admin/issuers", s.page(admins, s.once(s.registerIssuer)))
	mux.HandleFunc("GET /admin/banks", s.page(admins, s.banksPage))
	mux.HandleFunc("POST /admin/banks", s.page(admins, s.once(s.registerBank)))
	mux.HandleFunc("GET /admin/suppliers", s.page(admins, s.suppliersPage))
	mux.HandleFunc("POST /admin/suppliers", s.page(admins, s.once(s.registerSupplier)))
	mux.HandleFunc("GET /admin/purchasers", s.page(admins, s.purchasersPage))
	mux.HandleFunc("POST /admin/purchasers", s.page(admins, s.once(s.registerPurchaser)))
	mux.HandleFunc("GET /admin/users", s.page(admins, s.usersPage))
	mux.HandleFunc("POST /admin/users", s.page(admins, s.once(s.createUser)))
	mux.HandleFunc("POST /admin/users/{id}/disable", s.page(admins, s.once(s.disableUser)))
	mux.HandleFunc("GET /admin/deliveries", s.page(admins, s.deliveriesPage))
	mux.HandleFunc("POST /admin/deliveries/{id}/requeue", s.page(admins, s.once(s.requeueDelivery)))
	mux.HandleFunc("GET /admin/subsidy-policies", s.page(reviewers, s.policiesPage))
	mux.HandleFunc("POST /admin/subsidy-policies", s.page(admins, s.once(s.addPolicy)))

	mux.HandleFunc("/", s.notFoundPage)
}

// contentSecurityPolicy allows only procfin's own scripts, styles and
// images (and data: images), no framing, and forms posting only here.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"

// securityHeaders sets the headers every answer carries. It also makes the
// status explicit: the API router hands unknown paths over with 404 preset.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(&explicitWriter{ResponseWriter: w}, r)
	})
}

// explicitWriter sends 200 when a handler writes without WriteHeader.
type explicitWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *explicitWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *explicitWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// staticHandler serves the embedded CSS, JavaScript and images (no
// directory listings).
func staticHandler(static fs.FS) http.Handler {
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}
