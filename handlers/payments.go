package handlers

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"procfin/lending"
)

// registerPaymentSystem registers or updates a treasury payment system
// (administrator): 201 when new, 200 otherwise.
func (s *server) registerPaymentSystem(c *gin.Context) {
	register(c, s.contracts.RegisterPaymentSystem)
}

// recordPayment takes a payment record signed by a registered payment
// system (its iss): 201 with where the payment went, 200 for the same
// record again.
func (s *server) recordPayment(c *gin.Context) {
	m := signedMessage(c)
	p, err := s.lending.ReadPaymentRecord(bodyReader(c))
	if err != nil {
		fail(c, err)
		return
	}
	cp, created, err := s.lending.RecordPayment(c.Request.Context(), m.Issuer, p, "payment-system:"+m.Issuer)
	if err != nil {
		fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	reply(c, status, cp)
}

// contractPayments lists a contract's payments: its supplier's, its
// purchaser's, or an officer's; 404 for another's contract.
func (s *server) contractPayments(c *gin.Context) {
	before, limit, err := page(c)
	if err != nil {
		fail(c, err)
		return
	}
	list, err := s.lending.ContractPayments(c.Request.Context(), lendingScope(c), c.Param("id"), before, limit+1)
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, pageOf(list, limit, func(i int) int64 { return list[i].Seq }))
}

// listAlerts lists the open alerts for officers, newest first,
// ?kind=&cursor=&limit=.
func (s *server) listAlerts(c *gin.Context) {
	limit := 50
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			n = 0 // out of range: Alerts names it with the other bad fields
		}
		limit = n
	}
	pg, err := s.lending.Alerts(c.Request.Context(), c.Query("kind"), c.Query("cursor"), limit)
	if err != nil {
		fail(c, err)
		return
	}
	out := Page[lending.Alert]{Items: pg.Items}
	if pg.NextCursor != "" {
		out.NextCursor = &pg.NextCursor
	}
	reply(c, http.StatusOK, out)
}
