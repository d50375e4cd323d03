package handlers

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"procfin/lending"
	"procfin/platform/auth"
	"procfin/platform/errs"
	"procfin/platform/ids"
)

// ctxPurchaserSystem holds the lending.Scope of a request signed by a
// purchaser's signing system (signedPurchaser).
const ctxPurchaserSystem = "procfin.purchaser_system"

// signatureHeader is the header of a signed request.
const signatureHeader = "Procfin-Signature"

// purchaserOrSystem is the middleware of a route a purchaser takes either
// through its user (a bearer token of role purchaser, idempotent by its
// Idempotency-Key as other users' POSTs) or through its signing system
// (Procfin-Signature, iss = the purchaser's id; idempotent by content, its
// jti refused on reuse): which one, the request's Procfin-Signature header
// decides.
func (s *server) purchaserOrSystem() []gin.HandlerFunc {
	return []gin.HandlerFunc{
		unlessSigned(authenticate(s.auth)),
		unlessSigned(requireRole(auth.RolePurchaser)),
		unlessSigned(idempotent(s.idem, false)),
		ifSigned(s.signed(s.purchaserMessages)),
		ifSigned(s.signedPurchaser),
	}
}

// ifSigned runs h for a signed request only; unlessSigned for any other.
func ifSigned(h gin.HandlerFunc) gin.HandlerFunc     { return bySignature(true, h) }
func unlessSigned(h gin.HandlerFunc) gin.HandlerFunc { return bySignature(false, h) }

func bySignature(signed bool, h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if (c.GetHeader(signatureHeader) != "") == signed {
			h(c)
			return
		}
		c.Next()
	}
}

// signedPurchaser finds the purchaser of a verified signed message (its
// iss) and keeps its scope for the handler.
func (s *server) signedPurchaser(c *gin.Context) {
	id := signedMessage(c).Issuer
	issuerID, err := s.contracts.SigningPurchaser(c.Request.Context(), id)
	if err != nil {
		fail(c, err)
		return
	}
	c.Set(ctxPurchaserSystem, lending.Scope{PurchaserIssuerID: issuerID, PurchaserID: id})
	c.Next()
}

// receivableCaller is the scope and the audit trail's name of the caller
// of a receivables route: a purchaser's signing system, a purchaser user
// (its purchaser's), a supplier user (its own), an officer (all). A
// purchaser user without its purchaser is forbidden.
func receivableCaller(c *gin.Context) (lending.Scope, string, error) {
	if v, ok := c.Get(ctxPurchaserSystem); ok {
		sc := v.(lending.Scope)
		return sc, "purchaser-system:" + sc.PurchaserID, nil
	}
	p, _ := principal(c)
	switch p.Role {
	case auth.RolePurchaser:
		if p.PurchaserIssuerID == "" || p.PurchaserID == "" {
			return lending.Scope{}, "", errs.E(errs.Forbidden, "your user acts for no purchaser")
		}
		return lending.Scope{PurchaserIssuerID: p.PurchaserIssuerID, PurchaserID: p.PurchaserID}, p.Username, nil
	case auth.RoleSupplier:
		return lending.Scope{SupplierUSCC: p.SupplierUSCC}, p.Username, nil
	}
	return lending.Scope{}, p.Username, nil
}

// receivableInScope is receivableCaller for a route on the receivable of
// contract id, which must be in the caller's scope (not_found otherwise),
// before the body is read: another purchaser learns nothing of it.
func (s *server) receivableInScope(c *gin.Context, id string) (lending.Scope, string, error) {
	sc, who, err := receivableCaller(c)
	if err != nil {
		return sc, who, err
	}
	_, err = s.lending.Receivable(c.Request.Context(), sc, id)
	return sc, who, err
}

// contractParam is the route's contract id: not_found, before the body is
// read, when it is no id.
func contractParam(c *gin.Context) (string, error) {
	id, ok := ids.Canonical(c.Param("id"))
	if !ok {
		return "", errs.E(errs.NotFound, "no contract %s", c.Param("id"))
	}
	return id, nil
}

// bindSignedOrJSON decodes the body of a route purchaserOrSystem guards:
// the verified body of a signed request, else the request's JSON body.
func bindSignedOrJSON(c *gin.Context, dst any) error {
	if _, signed := c.Get(ctxSigned); signed {
		return checkedDecode(bodyReader(c), dst, nil)
	}
	return bindJSON(c, dst)
}

// confirmReceivable takes the purchaser's confirmation (确权) of a
// contract's receivable: 200 with the receivable, also when it repeats the
// recorded confirmation.
func (s *server) confirmReceivable(c *gin.Context) {
	answerReceivable(s, c, (*lending.Service).Confirm)
}

// refuseReceivable takes the purchaser's refusal: 200 with the
// receivable, also when it repeats the recorded refusal.
func (s *server) refuseReceivable(c *gin.Context) { answerReceivable(s, c, (*lending.Service).Refuse) }

// answerReceivable is the one way of the purchaser's answers: the
// contract's receivable in the caller's scope (404 before the body is
// read), the body of type B, then act.
func answerReceivable[B any](s *server, c *gin.Context,
	act func(*lending.Service, context.Context, lending.Scope, string, B, string) (lending.Receivable, bool, error)) {
	id, err := contractParam(c)
	if err != nil {
		fail(c, err)
		return
	}
	sc, who, err := s.receivableInScope(c, id)
	if err != nil {
		fail(c, err)
		return
	}
	var req B
	if err := bindSignedOrJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	r, _, err := act(s.lending, c.Request.Context(), sc, id, req, who)
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, r)
}

// listReceivables lists the receivables in the caller's scope, newest
// first, ?status=pending|confirmed|refused.
func (s *server) listReceivables(c *gin.Context) {
	before, limit, err := page(c)
	if err != nil {
		fail(c, err)
		return
	}
	status := c.Query("status")
	switch status {
	case "", lending.ReceivablePending, lending.ReceivableConfirmed, lending.ReceivableRefused:
	default:
		fail(c, errs.InvalidFields(errs.Field("status", errs.FieldOneOf, "pending, confirmed, refused")))
		return
	}
	sc, _, err := receivableCaller(c)
	if err != nil {
		fail(c, err)
		return
	}
	list, err := s.lending.Receivables(c.Request.Context(), sc, status, before, limit+1)
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, pageOf(list, limit, func(i int) int64 { return list[i].Seq }))
}
