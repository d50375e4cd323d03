package handlers

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"procfin/platform/errs"
	"procfin/platform/signature"
)

const (
	ctxSigned = "procfin.signed"
	ctxBody   = "procfin.body"
)

// signed admits only requests whose Procfin-Signature verifies fully, from
// a sender the verifier knows, before the body is parsed at all. A refused
// message leaves nothing but a log line and a metric.
func (s *server) signed(v *signature.Verifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				fail(c, errs.E(errs.BodyTooLarge, "the request body is over %d bytes", tooLarge.Limit))
				return
			}
			fail(c, errs.Wrap(errs.MalformedRequest, err, "the request body could not be read"))
			return
		}
		claims, err := v.Verify(c.Request.Context(), signature.Request{
			Header: c.GetHeader("Procfin-Signature"),
			Method: c.Request.Method,
			URL:    strings.TrimRight(s.cfg.PublicURL, "/") + c.Request.URL.Path,
			Body:   body,
		})
		if err != nil {
			if reason := signature.RejectReason(err); reason != "" {
				s.rejections.With(prometheus.Labels{"route": c.FullPath(), "reason": reason}).Inc()
				slog.WarnContext(c.Request.Context(), "signed message rejected", "request_id", requestID(c),
					"route", c.FullPath(), "reason", reason, "client_ip", c.ClientIP())
			}
			fail(c, err)
			return
		}
		c.Set(ctxSigned, claims)
		c.Set(ctxBody, body)
		c.Next()
	}
}

func signedMessage(c *gin.Context) signature.Claims {
	v, _ := c.Get(ctxSigned)
	claims, _ := v.(signature.Claims)
	return claims
}

// bodyReader returns the body a signed request was verified with.
func bodyReader(c *gin.Context) io.Reader {
	v, _ := c.Get(ctxBody)
	b, _ := v.([]byte)
	return bytes.NewReader(b)
}
