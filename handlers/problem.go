package handlers

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"procfin/platform/errs"
)

// signatureInvalidDetail is the one detail of every signature_invalid
// problem: an unauthenticated sender learns nothing of which check failed.
const signatureInvalidDetail = "签名无效 / signature invalid"

// Problem is an RFC 9457 problem details body. Type is the stable error
// code (a relative URI reference) that clients switch on.
type Problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail,omitempty"`
	Instance  string            `json:"instance,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	Errors    []errs.FieldError `json:"errors,omitempty"`
	Extra     map[string]any    `json:"-"`
}

// problemOf turns any error into the problem to send. Errors that are not
// *errs.Error are internal: their text is never shown.
func problemOf(err error) Problem {
	var e *errs.Error
	if !errors.As(err, &e) {
		e = &errs.Error{Code: errs.Internal}
	}
	status := errs.Status(e.Code) // the one table, as the web pages answer
	p := Problem{Type: string(e.Code), Title: errs.Title(e.Code), Status: status, Detail: e.Message, Errors: e.Fields, Extra: e.Extra}
	if p.Title == "" {
		p.Title = http.StatusText(status)
	}
	if e.Code == errs.SignatureInvalid { // which check failed is for the log (rejected), never the sender
		p.Detail, p.Errors, p.Extra = signatureInvalidDetail, nil, nil
	}
	if status == http.StatusInternalServerError {
		p.Type, p.Title, p.Detail, p.Errors, p.Extra = string(errs.Internal), errs.Title(errs.Internal), "an unexpected error occurred; it has been logged", nil, nil
	}
	return p
}

// fail is the one place that answers a request with an error. Internal
// errors are logged here, once, with the request id; their text stays in
// the log.
func fail(c *gin.Context, err error) {
	p := problemOf(err)
	p.Instance = c.Request.URL.Path
	p.RequestID = requestID(c)
	if p.Status >= 500 {
		slog.ErrorContext(c.Request.Context(), "request failed",
			"request_id", p.RequestID, "route", c.FullPath(), "code", p.Type, "error", err.Error())
	}
	switch p.Type {
	case string(errs.RateLimited), string(errs.IdempotencyPending), string(errs.Unavailable):
		retry := "1"
		if secs, ok := p.Extra["retry_after"].(int); ok && secs > 0 {
			retry = strconv.Itoa(secs)
		}
		c.Header("Retry-After", retry)
	case string(errs.InvalidToken), string(errs.Unauthorized):
		if c.Writer.Header().Get("WWW-Authenticate") == "" && c.GetHeader("Authorization") != "" {
			c.Header("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
	}
	body := map[string]any{"type": p.Type, "title": p.Title, "status": p.Status}
	for k, v := range p.Extra {
		body[k] = v
	}
	if p.Detail != "" {
		body["detail"] = p.Detail
	}
	if len(p.Errors) > 0 {
		body["errors"] = p.Errors
	}
	body["instance"] = p.Instance
	if p.RequestID != "" {
		body["request_id"] = p.RequestID
	}
	c.Header("Cache-Control", "no-store")
	c.Abort()
	c.Render(p.Status, problemRender{body})
}

type problemRender struct{ body map[string]any }

func (r problemRender) Render(w http.ResponseWriter) error {
	r.WriteContentType(w)
	return encodeJSON(w, r.body)
}

func (r problemRender) WriteContentType(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/problem+json")
}
