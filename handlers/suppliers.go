package handlers

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"procfin/contracts"
	"procfin/platform/errs"
)

// listSuppliers lists the suppliers procfin knows, newest first, a page
// at a time (?limit=, ?cursor=).
func (s *server) listSuppliers(c *gin.Context) {
	var fields []errs.FieldError
	limit := 50
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			fields = append(fields, errs.FieldError{Field: "limit", Code: "out_of_range", Message: "must be a whole number from 1 to 500"})
		}
		limit = n
	}
	after, ok := contracts.ParseSupplierCursor(c.Query("cursor"))
	if !ok {
		fields = append(fields, errs.FieldError{Field: "cursor", Code: "invalid", Message: "is not a cursor this API gave"})
	}
	if len(fields) > 0 {
		fail(c, errs.InvalidFields(fields...))
		return
	}
	list, err := s.contracts.Suppliers(c.Request.Context(), after, limit+1)
	if err != nil {
		fail(c, err)
		return
	}
	p := Page[contracts.Supplier]{Items: list}
	if len(list) > limit {
		p.Items = list[:limit]
		last := list[limit-1]
		next := contracts.SupplierCursor{CreatedAt: last.CreatedAt, USCC: last.USCC}.String()
		p.NextCursor = &next
	}
	reply(c, http.StatusOK, p)
}
