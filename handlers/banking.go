package handlers

import (
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"procfin/platform/errs"
	"procfin/platform/signature"
)

// bankEvent takes a bank's signed event (bank-protocol.md).
func (s *server) bankEvent(c *gin.Context) {
	m := signedMessage(c)
	body, _ := io.ReadAll(bodyReader(c))
	outcome, env, err := s.events.Apply(c.Request.Context(), m.Issuer, body, consumeInTx(c, s.bankMessages))
	if signature.RejectReason(err) != "" { // a replay, found in the event's transaction
		s.rejected(c, err)
		fail(c, err)
		return
	}
	if err != nil {
		s.bankMetrics.Event(m.Issuer, env.Type, string(errs.CodeOf(err)))
		fail(c, err)
		return
	}
	s.bankMetrics.Event(m.Issuer, env.Type, outcome)
	reply(c, http.StatusOK, gin.H{"status": outcome})
}

// listDeliveries shows the outbox to administrators (?status=dead for the
// dead letters).
func (s *server) listDeliveries(c *gin.Context) {
	before, limit, err := page(c)
	if err != nil {
		fail(c, err)
		return
	}
	list, err := s.deliveries.List(c.Request.Context(), c.Query("status"), before, limit+1)
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, pageOf(list, limit, func(i int) int64 { return list[i].ID }))
}

func (s *server) requeueDelivery(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		fail(c, errs.E(errs.NotFound, "no delivery %s", c.Param("id")))
		return
	}
	d, err := s.deliveries.Requeue(c.Request.Context(), id, actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, d)
}
