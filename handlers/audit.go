package handlers

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/ids"
)

// page reads ?limit= (default 50, at most 500) and the opaque ?cursor=,
// which for append-only lists is the last sequence number seen.
func page(c *gin.Context) (after int64, limit int, err error) {
	limit = 50
	if v := c.Query("limit"); v != "" {
		n, convErr := strconv.Atoi(v)
		if convErr != nil || n < 1 || n > 500 {
			return 0, 0, errs.InvalidFields(errs.Field("limit", errs.FieldOutOfRange, 1, 500))
		}
		limit = n
	}
	if v := c.Query("cursor"); v != "" {
		b, decErr := base64.RawURLEncoding.DecodeString(v)
		n, convErr := strconv.ParseInt(string(b), 10, 64)
		if decErr != nil || convErr != nil || n < 0 {
			return 0, 0, errs.InvalidFields(errs.Field("cursor", errs.FieldInvalid))
		}
		after = n
	}
	return after, limit, nil
}

func cursorAfter(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(seq, 10)))
}

// Page is a list answer: the items and the cursor of the next page (null
// on the last page).
type Page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// pageOf makes the answer from a list fetched with limit+1 rows: at most
// limit items, and a cursor after the last one kept when there are more.
func pageOf[T any](list []T, limit int, cursor func(i int) int64) Page[T] {
	p := Page[T]{Items: list}
	if len(list) > limit {
		p.Items = list[:limit]
		next := cursorAfter(cursor(limit - 1))
		p.NextCursor = &next
	}
	return p
}

// auditTrail lists the audit trail of one entity, ?entity=TYPE:ID.
func (s *server) auditTrail(c *gin.Context) {
	entityType, entityID, ok := strings.Cut(c.Query("entity"), ":")
	if !ok || entityType == "" || entityID == "" {
		fail(c, errs.InvalidFields(errs.Field("entity", errs.FieldInvalid)))
		return
	}
	if id, ok := ids.Canonical(entityID); ok { // an id in upper case finds its rows
		entityID = id
	}
	after, limit, err := page(c)
	if err != nil {
		fail(c, err)
		return
	}
	rows, err := audit.List(c.Request.Context(), s.db, entityType, entityID, after, limit+1)
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, pageOf(rows, limit, func(i int) int64 { return rows[i].ID }))
}
