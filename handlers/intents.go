package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/idempotency"
	"procfin/platform/ids"
)

// Competing offers (融资意向, api.md 1.1): a supplier publishes a financing
// need to banks, reads their offers best first by the effective rate after
// the programme's subsidy, and accepts one (it becomes a credit
// application to that bank) or cancels the need.

// applicant is the calling supplier user as lending's Applicant, shown the
// consent statement in the language of its Accept-Language.
func applicant(c *gin.Context) lending.Applicant {
	p, _ := principal(c)
	return lending.Applicant{UserID: p.UserID, SupplierUSCC: p.SupplierUSCC, RequestKey: c.GetHeader("Idempotency-Key"),
		Lang: consentLang(c.GetHeader("Accept-Language"))}
}

func intentLocation(id string) string { return "/v1/financing-intents/" + id }

// publishIntent publishes the supplier's financing need to the banks named
// (["*"]: every bank of the programme), with its consent to each: 201 the
// intent.
func (s *server) publishIntent(c *gin.Context) {
	var req lending.PublishInput
	if err := bindChecked(c, &req, func() []errs.FieldError { return s.lending.CheckPublish(c.Request.Context(), req) }); err != nil {
		fail(c, err)
		return
	}
	in, err := s.lending.Publish(c.Request.Context(), applicant(c), req)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Location", intentLocation(in.ID))
	reply(c, http.StatusCreated, in)
}

// intentStatuses are the statuses ?status= may name.
var intentStatuses = []lending.IntentStatus{lending.IntentOpen, lending.IntentAccepted, lending.IntentCancelled, lending.IntentExpired}

// listIntents lists the supplier's own intents (an officer's: all), newest
// first, with ?status= and cursor paging.
func (s *server) listIntents(c *gin.Context) {
	before, limit, err := page(c)
	if err != nil {
		fail(c, err)
		return
	}
	f := lending.IntentFilter{Status: lending.IntentStatus(c.Query("status"))}
	if f.Status != "" && !knownIntentStatus(f.Status) {
		fail(c, errs.InvalidFields(errs.Field("status", errs.FieldOneOf, "open, accepted, cancelled, expired")))
		return
	}
	list, err := s.lending.Intents(c.Request.Context(), lendingScope(c), f, before, limit+1)
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, pageOf(list, limit, func(i int) int64 { return list[i].Seq }))
}

func knownIntentStatus(st lending.IntentStatus) bool {
	for _, k := range intentStatuses {
		if st == k {
			return true
		}
	}
	return false
}

// getIntent answers the intent with its banks and every offer, each with
// its effective annual rate and how it was computed, best first.
func (s *server) getIntent(c *gin.Context) {
	in, err := s.lending.Intent(c.Request.Context(), lendingScope(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, in)
}

// acceptInput is the body of POST /v1/financing-intents/{id}/accept:
// OfferID is the offer's id (procfin's), not the bank's offer_id.
type acceptInput struct {
	OfferID string `json:"offer_id"`
}

// acceptOffer accepts one offer of the supplier's open intent: 201 the
// credit application to its bank. Under idempotentInTx, as apply, the
// answer is stored in the application's own transaction.
func (s *server) acceptOffer(c *gin.Context) {
	var req acceptInput
	err := bindJSON(c, &req)
	if err == nil {
		if fe := required("offer_id", req.OfferID); len(fe) > 0 {
			err = errs.InvalidFields(fe...)
		} else if !ids.Valid(req.OfferID) {
			err = errs.InvalidFields(errs.Field("offer_id", errs.FieldInvalid))
		}
	}
	if err != nil {
		// Another supplier's intent (or none) is 404 whatever the body.
		if _, ierr := s.lending.Intent(c.Request.Context(), lendingScope(c), c.Param("id")); errs.Is(ierr, errs.NotFound) {
			err = ierr
		}
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
	a, err := s.lending.Accept(ctx, who, c.Param("id"), req.OfferID)
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
		// The application made before under this key: its answer then.
		if stored, err := s.idem.Lookup(ctx, answer.claim.Scope, answer.claim.Key, answer.claim.RequestHash); answeredBefore(c, stored, err) {
			c.Set(ctxAnswerKept, true)
			return
		}
	}
	c.Header("Location", applicationLocation(a.ID))
	reply(c, http.StatusCreated, a.API())
}

// cancelIntent cancels the supplier's open intent; every bank asked is
// told cancelled. 200 the intent.
func (s *server) cancelIntent(c *gin.Context) {
	in, err := s.lending.CancelIntent(c.Request.Context(), lendingScope(c), c.Param("id"), actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, in)
}
