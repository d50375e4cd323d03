package web

import (
	"net/http"
	"strings"
	"testing"
)

// TestAuditPageIDCase: the audit page finds an entity's rows by its id in
// upper case too (one canonical form reaches SQL).
func TestAuditPageIDCase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	c.login("officer")
	lower := c.get("/console/audit?type=contract&id=" + e.contract[quancheng])
	upper := c.get("/console/audit?type=contract&id=" + strings.ToUpper(e.contract[quancheng]))
	wantStatus(t, upper, http.StatusOK)
	rows := func(p page) int { return strings.Count(p.body, "<tr") }
	if rows(lower) < 2 || rows(upper) != rows(lower) {
		t.Fatalf("%d rows by the id, %d by it in upper case", rows(lower), rows(upper))
	}
}
