package handlers

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"procfin/lending"
	"procfin/platform/auth"
	"procfin/platform/errs"
	"procfin/platform/idempotency"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// lendingScope is what the caller may see of lending: a supplier user its
// own supplier's, a purchaser user its own purchaser's contracts', officers
// and administrators everything.
func lendingScope(c *gin.Context) lending.Scope {
	p, _ := principal(c)
	switch p.Role {
	case auth.RoleSupplier:
		return lending.Scope{SupplierUSCC: p.SupplierUSCC}
	case auth.RolePurchaser:
		return lending.Scope{PurchaserIssuerID: p.PurchaserIssuerID, PurchaserID: p.PurchaserID}
	}
	return lending.Scope{}
}

func (s *server) registerBank(c *gin.Context) { register(c, s.banks.Register) }

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

// apply takes a supplier's credit application. Under idempotentInTx, the
// answer is stored in the application's own transaction.
func (s *server) apply(c *gin.Context) {
	var req lending.ApplyInput
	if err := bindChecked(c, &req, func() []errs.FieldError { return s.lending.CheckApply(req) }); err != nil {
		fail(c, err)
		return
	}
	who := applicant(c)
	var answer *appliedAnswer
	if claim, ok := c.Get(ctxClaim); ok {
		answer = &appliedAnswer{store: s.idem, claim: claim.(idempotency.Claim)}
		who.Answered = answer.keep
	}
	ctx := c.Request.Context()
	a, err := s.lending.Apply(ctx, who, req)
	if err != nil {
		fail(c, err)
		return
	}
	if answer != nil {
		if body, ok := answer.bodyFor(a.ID); ok {
			c.Set(ctxAnswerKept, true)
			c.Header("Location", applicationLocation(a.ID))
			c.Data(http.StatusCreated, jsonContentType, body)
			return
		}
		// An application made before under this key: its answer then.
		if stored, err := s.idem.Lookup(ctx, answer.claim.Scope, answer.claim.Key, answer.claim.RequestHash); answeredBefore(c, stored, err) {
			c.Set(ctxAnswerKept, true) // stored already, or a refusal not to store
			return
		}
	}
	c.Header("Location", applicationLocation(a.ID))
	reply(c, http.StatusCreated, a.API())
}

func applicationLocation(id string) string { return "/v1/credit-applications/" + id }

// appliedAnswer stores the answer to an application request in the
// application's transaction (lending.Applicant.Answered) and keeps it for
// the handler. It is called on the intake's goroutine, hence the lock.
type appliedAnswer struct {
	store *idempotency.Store
	claim idempotency.Claim

	mu   sync.Mutex
	id   string
	body []byte
}

func (t *appliedAnswer) keep(ctx context.Context, tx *postgres.Tx, a lending.Application) error {
	body, err := a.JSON() // as encodeJSON writes it, but cheaper
	if err != nil {
		return err
	}
	body = append(body, '\n')
	err = t.store.Keep(ctx, tx, t.claim, idempotency.Response{Status: http.StatusCreated, ContentType: jsonContentType,
		Location: applicationLocation(a.ID), Body: body})
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.id, t.body = a.ID, body
	return nil
}

// bodyFor returns the answer stored for application id: only the
// transaction that wrote id stored it (an application's id is new on every
// attempt), and only a committed one's id reaches the handler.
func (t *appliedAnswer) bodyFor(id string) ([]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.body, t.id == id
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
		fe = append(fe, errs.Field("status", errs.FieldOneOf, lending.Statuses()))
	}
	for _, q := range []struct {
		name string
		dst  **money.Date
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := c.Query(q.name); v != "" {
			d, err := money.ParseDate(v)
			if err != nil {
				fe = append(fe, errs.Field(q.name, errs.FieldInvalidDate))
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
		reply(c, http.StatusOK, a.API())
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
