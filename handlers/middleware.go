package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"procfin/platform/auth"
	"procfin/platform/errs"
	"procfin/platform/idempotency"
)

const (
	ctxRequestID = "procfin.request_id"
	ctxPrincipal = "procfin.principal"
	// ctxClaim holds the idempotency.Claim of a request under idempotentInTx,
	// and ctxAnswerKept is set once its handler stored the answer itself.
	ctxClaim      = "procfin.idempotency_claim"
	ctxAnswerKept = "procfin.idempotency_kept"
	// ctxWebRoute holds the route pattern of the web page that served the
	// request (package web's mux), for the access log and the metrics.
	ctxWebRoute = "procfin.web_route"
)

// recovery turns a panic into a logged internal error; the client sees a
// problem without the stack.
func recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				slog.ErrorContext(c.Request.Context(), "panic", "request_id", requestID(c),
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if !c.Writer.Written() {
					fail(c, errs.E(errs.Internal, "panic"))
				}
				c.Abort()
			}
		}()
		c.Next()
	}
}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestIDs takes the caller's X-Request-Id when it is sane, or makes one,
// and echoes it on the answer.
func requestIDs() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-Id")
		if !validRequestID.MatchString(id) {
			id = uuid.NewString()
		}
		c.Set(ctxRequestID, id)
		c.Header("X-Request-Id", id)
		c.Next()
	}
}

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// accessLog writes one structured line per request. It logs the path but
// never headers, bodies or query strings, which may carry secrets.
func accessLog(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		attrs := []slog.Attr{
			slog.String("request_id", requestID(c)),
			slog.String("method", c.Request.Method),
			slog.String("route", routeOf(c)),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", c.Writer.Status()),
			slog.Int("bytes", c.Writer.Size()),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("client_ip", c.ClientIP()),
		}
		if p, ok := principal(c); ok {
			attrs = append(attrs, slog.String("user_id", p.UserID))
		}
		logger.LogAttrs(c.Request.Context(), slog.LevelInfo, "request", attrs...)
	}
}

// routeOf is the request's route: the API route's template, the web
// page's pattern, or "unmatched".
func routeOf(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	if r := c.GetString(ctxWebRoute); r != "" {
		return r
	}
	return "unmatched"
}

// webRoute is a web page's route from the pattern its mux matched
// ("GET /portal/contracts/{id}" → "/portal/contracts/{id}"); the catch-all
// "/" of pages not found is "unmatched".
func webRoute(pattern string) string {
	if _, path, ok := strings.Cut(pattern, " "); ok {
		pattern = path
	}
	if pattern == "" || pattern == "/" {
		return "unmatched"
	}
	return pattern
}

// methodLabel is the request's method as a metric label: any method but
// HTTP's own is "other", so that a client cannot add series at will (each
// label value is a series, with a histogram, kept for the process's life).
// The route label is bounded too: a route's template, or "unmatched".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// httpMetrics counts requests and their latencies by route and status.
type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "procfin_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "procfin_http_request_duration_seconds", Help: "HTTP request latency by route, method and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "status"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

func (m *httpMetrics) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		labels := prometheus.Labels{"route": routeOf(c), "method": methodLabel(c.Request.Method), "status": strconv.Itoa(c.Writer.Status())}
		m.requests.With(labels).Inc()
		m.latency.With(labels).Observe(time.Since(start).Seconds())
	}
}

// bodyLimit refuses bodies over max bytes: at once when Content-Length says
// so, else when the handler reads past the limit.
func bodyLimit(max int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > max {
			c.Header("Connection", "close")
			fail(c, errs.E(errs.BodyTooLarge, "the request body is over %d bytes", max))
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		c.Next()
	}
}

// authenticate requires a valid bearer access token and puts its principal
// in the context.
func authenticate(a *auth.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.GetHeader("Authorization")
		scheme, token, ok := strings.Cut(h, " ")
		if h == "" {
			c.Header("WWW-Authenticate", `Bearer realm="procfin"`)
			fail(c, errs.E(errs.Unauthorized, "an access token is required (Authorization: Bearer …)"))
			return
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			fail(c, errs.E(errs.InvalidToken, "the Authorization header must be: Bearer <token>"))
			return
		}
		p, err := a.VerifyToken(c.Request.Context(), strings.TrimSpace(token))
		if err != nil {
			fail(c, err)
			return
		}
		c.Set(ctxPrincipal, p)
		c.Next()
	}
}

func principal(c *gin.Context) (auth.Principal, bool) {
	v, ok := c.Get(ctxPrincipal)
	if !ok {
		return auth.Principal{}, false
	}
	p, ok := v.(auth.Principal)
	return p, ok
}

// actor names the caller in the audit trail.
func actor(c *gin.Context) string {
	if p, ok := principal(c); ok {
		return "user:" + p.UserID
	}
	return "anonymous"
}

// requireRole lets through only callers with one of the roles.
func requireRole(roles ...auth.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := principal(c)
		if !ok {
			fail(c, errs.E(errs.Unauthorized, "an access token is required"))
			return
		}
		for _, r := range roles {
			if p.Role == r {
				c.Next()
				return
			}
		}
		fail(c, errs.E(errs.Forbidden, "your role (%s) may not do this", p.Role))
	}
}

var validIdempotencyKey = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

// idempotent makes a state-changing route idempotent by its caller's
// Idempotency-Key: the first answer (unless a 5xx) is stored and replayed
// for the same key and request; another request under the key is a 409;
// a concurrent one waits briefly for the first, then gets a 409 to retry.
// With required, a request without the header is refused.
func idempotent(store *idempotency.Store, required bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		claim, ok := idempotencyClaim(c, required)
		if !ok {
			return
		}
		if claim == nil {
			c.Next()
			return
		}
		scope, key, hash := claim.Scope, claim.Key, claim.RequestHash
		ctx := c.Request.Context()
		if stored, err := beginWaiting(ctx, store, scope, key, hash); answeredBefore(c, stored, err) {
			return
		}

		rec := &recordingWriter{ResponseWriter: c.Writer}
		c.Writer = rec
		completed := false
		defer func() {
			if !completed { // a panic or a 5xx: let a retry run afresh
				_ = store.Release(context.WithoutCancel(ctx), scope, key)
			}
		}()
		c.Next()
		if status := rec.Status(); status < 500 {
			err := store.Complete(context.WithoutCancel(ctx), scope, key, rec.response())
			if err != nil {
				slog.ErrorContext(ctx, "store idempotent answer", "request_id", requestID(c), "error", err)
				return
			}
			completed = true
		}
	}
}

// idempotentInTx is idempotent (the key required) for a route whose
// handler stores its answer in the transaction of the change it answers
// (idempotency.Store.Keep), so that the change and its answer commit
// together, in one commit, and a request with a new key costs one
// read-only lookup besides. The handler finds the claim under ctxClaim and
// sets ctxAnswerKept once it has stored the answer; any other answer below
// 500 (a refusal, which changed nothing) is stored here afterwards.
// Concurrent requests under one key are not held apart here: the change
// itself must be unique by key (an application is, by its request_key), and
// the later one then answers with the first one's stored answer.
func idempotentInTx(store *idempotency.Store) gin.HandlerFunc {
	return func(c *gin.Context) {
		claim, ok := idempotencyClaim(c, true)
		if !ok {
			return
		}
		ctx := c.Request.Context()
		if stored, err := store.Lookup(ctx, claim.Scope, claim.Key, claim.RequestHash); answeredBefore(c, stored, err) {
			return
		}
		rec := &recordingWriter{ResponseWriter: c.Writer}
		c.Writer = rec
		c.Set(ctxClaim, *claim)
		c.Next()
		if c.GetBool(ctxAnswerKept) || rec.Status() >= 500 {
			return
		}
		if err := store.Put(context.WithoutCancel(ctx), *claim, rec.response()); err != nil {
			slog.ErrorContext(ctx, "store idempotent answer", "request_id", requestID(c), "error", err)
		}
	}
}

// idempotencyClaim reads the request's Idempotency-Key and its body (put
// back for the handler). It returns nil without a key (refused when
// required), and false when it has answered the request with a problem.
func idempotencyClaim(c *gin.Context, required bool) (*idempotency.Claim, bool) {
	key := c.GetHeader("Idempotency-Key")
	if key == "" {
		if required {
			fail(c, errs.InvalidFields(errs.Field("Idempotency-Key", errs.FieldRequired)))
			return nil, false
		}
		return nil, true
	}
	if !validIdempotencyKey.MatchString(key) {
		fail(c, errs.InvalidFields(errs.Field("Idempotency-Key", errs.FieldInvalid)))
		return nil, false
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			fail(c, errs.E(errs.BodyTooLarge, "the request body is over %d bytes", tooLarge.Limit))
			return nil, false
		}
		fail(c, errs.Wrap(errs.MalformedRequest, err, "the request body could not be read"))
		return nil, false
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	return &idempotency.Claim{Scope: actor(c), Key: key, RequestHash: idempotency.RequestHash(c.Request.Method, c.Request.URL.Path, body)}, true
}

// answeredBefore answers the request with the stored answer, or with the
// error met looking for it, and reports whether it did.
func answeredBefore(c *gin.Context, stored *idempotency.Response, err error) bool {
	switch {
	case err != nil:
		fail(c, err)
	case stored != nil:
		replay(c, stored)
	default:
		return false
	}
	return true
}

// replay answers with a stored answer.
func replay(c *gin.Context, stored *idempotency.Response) {
	if stored.Location != "" {
		c.Header("Location", stored.Location)
	}
	c.Header("Idempotent-Replayed", "true")
	c.Data(stored.Status, stored.ContentType, stored.Body)
	c.Abort()
}

// beginWaiting claims the key; while another request holds it, it waits a
// little for that answer before giving up with idempotency_in_progress.
func beginWaiting(ctx context.Context, store *idempotency.Store, scope, key, hash string) (*idempotency.Response, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		stored, err := store.Begin(ctx, scope, key, hash)
		if !errs.Is(err, errs.IdempotencyPending) || time.Now().After(deadline) {
			return stored, err
		}
		select {
		case <-ctx.Done():
			return nil, errs.E(errs.IdempotencyPending, "a request with this Idempotency-Key is still running; retry shortly")
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// recordingWriter keeps a copy of what the handler writes.
type recordingWriter struct {
	gin.ResponseWriter
	buf bytes.Buffer
}

// response is what was written, as an answer to store.
func (w *recordingWriter) response() idempotency.Response {
	return idempotency.Response{Status: w.Status(), ContentType: w.Header().Get("Content-Type"),
		Location: w.Header().Get("Location"), Body: w.buf.Bytes()}
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *recordingWriter) WriteString(s string) (int, error) {
	w.buf.WriteString(s)
	return w.ResponseWriter.WriteString(s)
}
