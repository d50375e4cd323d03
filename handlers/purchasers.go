package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// registerPurchaser registers or updates a purchaser (采购人) under its
// issuer, with its signing system's keys when given: 201 when new, 200
// when it completed or updated one.
func (s *server) registerPurchaser(c *gin.Context) { register(c, s.contracts.RegisterPurchaser) }

// listPurchasers lists the purchasers, of one issuer with ?issuer_id=.
func (s *server) listPurchasers(c *gin.Context) {
	list, err := s.contracts.Purchasers(c.Request.Context(), c.Query("issuer_id"))
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, gin.H{"items": list})
}
