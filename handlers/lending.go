package handlers

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"procfin/banking"
	"procfin/lending"
	"procfin/platform/auth"
	"procfin/platform/errs"
	"procfin/platform/money"
)

// lendingScope is what the caller may see of lending: a supplier user its
// own supplier's, officers and administrators everything.
func lendingScope(c *gin.Context) lending.Scope {
	p, _ := principal(c)
	if p.Role == auth.RoleSupplier {
		return lending.Scope{SupplierUSCC: p.SupplierUSCC}
	}
	return lending.Scope{}
}

func (s *server) registerBank(c *gin.Context) {
	var req banking.BankRegistration
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	b, created, err := s.banks.Register(c.Request.Context(), req, actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	reply(c, status, b)
}

func (s *server) listCreditLines(c *gin.Context) {
	before, limit, err := page(c)
	if err != nil {
		fail(c, err)
		return
	}
	list, err := s.lending.Lines(c.Request.Context(), lendingScope(c), before, limit+1)
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, pageOf(list, limit, func(i int) int64 { return list[i].Seq }))
}

// apply takes a supplier's credit application.
func (s *server) apply(c *gin.Context) {
	var req lending.ApplyInput
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	p, _ := principal(c)
	a, err := s.lending.Apply(c.Request.Context(), lending.Applicant{UserID: p.UserID, SupplierUSCC: p.SupplierUSCC, RequestKey: c.GetHeader("Idempotency-Key")}, req)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Location", "/v1/credit-applications/"+a.ID)
	reply(c, http.StatusCreated, a)
}

func (s *server) listApplications(c *gin.Context) {
	before, limit, err := page(c)
	if err != nil {
		fail(c, err)
		return
	}
	f := lending.Filter{Status: lending.Status(c.Query("status")), BankID: c.Query("bank_id")}
	var fe []errs.FieldError
	if f.Status != "" && !lending.KnownStatus(f.Status) {
		fe = append(fe, errs.FieldError{Field: "status", Code: "unknown_status", Message: "is not a status of applications"})
	}
	for _, q := range []struct {
		name string
		dst  **money.Date
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := c.Query(q.name); v != "" {
			d, err := money.ParseDate(v)
			if err != nil {
				fe = append(fe, errs.FieldError{Field: q.name, Code: "invalid_date", Message: "must be a date YYYY-MM-DD"})
				continue
			}
			*q.dst = &d
		}
	}
	if len(fe) > 0 {
		fail(c, errs.InvalidFields(fe...))
		return
	}
	list, err := s.lending.Applications(c.Request.Context(), lendingScope(c), f, before, limit+1)
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, pageOf(list, limit, func(i int) int64 { return list[i].Seq }))
}

// getApplication answers from this process's read cache (see
// lending.CachedApplicationJSON) unless the client asks for a fresh copy
// with Cache-Control: no-cache (or no-store, max-age=0).
func (s *server) getApplication(c *gin.Context) {
	if wantsFresh(c.Request.Header) {
		a, err := s.lending.Application(c.Request.Context(), lendingScope(c), c.Param("id"))
		if err != nil {
			fail(c, err)
			return
		}
		reply(c, http.StatusOK, a)
		return
	}
	body, err := s.lending.CachedApplicationJSON(c.Request.Context(), lendingScope(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

// wantsFresh reports whether the request's Cache-Control forbids answering
// from a cache (RFC 9111 5.2.1: no-cache, no-store or max-age=0).
func wantsFresh(h http.Header) bool {
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			if d == "no-cache" || d == "no-store" || d == "max-age=0" {
				return true
			}
		}
	}
	return false
}

func (s *server) cancelApplication(c *gin.Context) {
	a, err := s.lending.Cancel(c.Request.Context(), lendingScope(c), c.Param("id"), actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, a)
}

func (s *server) listLoans(c *gin.Context) {
	before, limit, err := page(c)
	if err != nil {
		fail(c, err)
		return
	}
	list, err := s.lending.Loans(c.Request.Context(), lendingScope(c), before, limit+1)
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, pageOf(list, limit, func(i int) int64 { return list[i].Seq }))
}

func (s *server) getLoan(c *gin.Context) {
	l, err := s.lending.Loan(c.Request.Context(), lendingScope(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, l)
}
