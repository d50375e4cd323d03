package handlers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"procfin/banking"
	"procfin/platform/errs"
	"procfin/platform/signature"
)

const (
	ctxSigned = "procfin.signed"
	ctxBody   = "procfin.body"
	// ctxSeen holds the signature.Seen of a message under signedInTx, and
	// ctxConsumed its *atomic.Bool, set once the handler's transaction
	// consumed it. That transaction may be shared and commit after the
	// handler gave up on it (banking's inbox): it sets the flag, never the
	// gin.Context, which is reused once the request is over.
	ctxSeen     = "procfin.signed_seen"
	ctxConsumed = "procfin.signed_consumed"
)

// signed admits only requests whose Procfin-Signature verifies fully, from
// a sender the verifier knows, before the body is parsed at all. A refused
// message leaves nothing but a log line and a metric.
func (s *server) signed(v *signature.Verifier) gin.HandlerFunc { return s.signedBy(v, false) }

// signedInTx is signed for a handler that consumes the message (its replay
// check, signature.Verifier.Consume) in the transaction that acts on it,
// so that both commit together: it finds the message under ctxSeen and
// sets ctxConsumed once that transaction committed. Otherwise the message
// is consumed here afterwards, whatever the handler did with it.
func (s *server) signedInTx(v *signature.Verifier) gin.HandlerFunc { return s.signedBy(v, true) }

func (s *server) signedBy(v *signature.Verifier, inTx bool) gin.HandlerFunc {
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
		req := signature.Request{
			Header: c.GetHeader("Procfin-Signature"),
			Method: c.Request.Method,
			URL:    strings.TrimRight(s.cfg.PublicURL, "/") + c.Request.URL.Path,
			Body:   body,
		}
		var claims signature.Claims
		var seen signature.Seen
		if inTx {
			claims, seen, err = v.VerifyDeferred(c.Request.Context(), req)
		} else {
			claims, err = v.Verify(c.Request.Context(), req)
		}
		if err != nil {
			s.rejected(c, err)
			fail(c, err)
			return
		}
		c.Set(ctxSigned, claims)
		c.Set(ctxBody, body)
		if !inTx {
			c.Next()
			return
		}
		consumed := new(atomic.Bool)
		c.Set(ctxSeen, seen)
		c.Set(ctxConsumed, consumed)
		defer func() { // also when the handler panics
			if consumed.Load() {
				return
			}
			ctx := context.WithoutCancel(c.Request.Context())
			if err := v.Consume(ctx, nil, seen); err != nil && signature.RejectReason(err) == "" {
				slog.ErrorContext(ctx, "consume signed message", "request_id", requestID(c), "error", err)
			}
		}()
		c.Next()
	}
}

// rejected counts and logs a signed message refused (err from the
// verifier): nothing else of it is kept. The log has the reason and which
// check failed, with the request id; the sender's answer says only
// signature_invalid (problemOf). The metric's labels are bounded: the
// route's template and the verifier's fixed reasons.
func (s *server) rejected(c *gin.Context, err error) {
	if reason := signature.RejectReason(err); reason != "" {
		s.rejections.With(prometheus.Labels{"route": c.FullPath(), "reason": reason}).Inc()
		var detail string
		if e := (*errs.Error)(nil); errors.As(err, &e) {
			detail = e.Message
		}
		s.logger.WarnContext(c.Request.Context(), "signed message rejected", "request_id", requestID(c),
			"route", c.FullPath(), "reason", reason, "detail", detail, "client_ip", c.ClientIP())
	}
}

// consumeInTx returns the replay check of the message of a request under
// signedInTx, for the transaction that acts on it (banking.Consume), which
// marks it consumed once that transaction commits.
func consumeInTx(c *gin.Context, v *signature.Verifier) *banking.Consume {
	seen, _ := c.Get(ctxSeen)
	flag, _ := c.Get(ctxConsumed)
	consumed := flag.(*atomic.Bool)
	return &banking.Consume{Verifier: v, Seen: seen.(signature.Seen), Done: func() { consumed.Store(true) }}
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
