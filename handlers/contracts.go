package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"procfin/contracts"
	"procfin/platform/auth"
	"procfin/platform/errs"
)

// scope is what the caller may see: a supplier user its own supplier's
// documents, a purchaser user its own purchaser's, officers and
// administrators everything.
func scope(c *gin.Context) contracts.Scope {
	p, _ := principal(c)
	switch p.Role {
	case auth.RoleSupplier:
		return contracts.Scope{SupplierUSCC: p.SupplierUSCC}
	case auth.RolePurchaser:
		return contracts.Scope{PurchaserIssuerID: p.PurchaserIssuerID, PurchaserID: p.PurchaserID}
	}
	return contracts.All
}

func (s *server) registerIssuer(c *gin.Context) { register(c, s.contracts.RegisterIssuer) }

func (s *server) registerSupplier(c *gin.Context) { register(c, s.contracts.RegisterSupplier) }

type awardNoticeSubmission struct {
	Outcome     contracts.Outcome     `json:"outcome"`
	AwardNotice contracts.AwardNotice `json:"award_notice"`
}

type contractSubmission struct {
	Outcome  contracts.Outcome  `json:"outcome"`
	Contract contracts.Contract `json:"contract"`
}

func submissionStatus(o contracts.Outcome) int {
	if o == contracts.Created {
		return http.StatusCreated
	}
	return http.StatusOK
}

// submitAwardNotice takes an award notice signed by a registered issuer.
func (s *server) submitAwardNotice(c *gin.Context) {
	var doc contracts.AwardNoticeDoc
	if err := checkedDecode(bodyReader(c), &doc, nil); err != nil {
		fail(c, err)
		return
	}
	m := signedMessage(c)
	n, outcome, err := s.contracts.SubmitAwardNotice(c.Request.Context(), m.Issuer, doc, contracts.Source{
		Kind: "signed", KeyID: m.KeyID, MessageID: m.JTI, Actor: "issuer:" + m.Issuer,
	})
	if err != nil {
		fail(c, err)
		return
	}
	if outcome == contracts.Created {
		c.Header("Location", "/v1/award-notices/"+n.ID)
	}
	reply(c, submissionStatus(outcome), awardNoticeSubmission{Outcome: outcome, AwardNotice: n})
}

// submitContract takes a contract signed by a registered issuer.
func (s *server) submitContract(c *gin.Context) {
	var doc contracts.ContractDoc
	if err := checkedDecode(bodyReader(c), &doc, nil); err != nil {
		fail(c, err)
		return
	}
	m := signedMessage(c)
	ct, outcome, err := s.contracts.SubmitContract(c.Request.Context(), m.Issuer, doc, contracts.Source{
		Kind: "signed", KeyID: m.KeyID, MessageID: m.JTI, Actor: "issuer:" + m.Issuer,
	})
	if err != nil {
		fail(c, err)
		return
	}
	if outcome == contracts.Created {
		c.Header("Location", "/v1/contracts/"+ct.ID)
	}
	reply(c, submissionStatus(outcome), contractSubmission{Outcome: outcome, Contract: ct})
}

func (s *server) listAwardNotices(c *gin.Context) {
	before, limit, err := page(c)
	if err != nil {
		fail(c, err)
		return
	}
	list, err := s.contracts.AwardNotices(c.Request.Context(), scope(c), before, limit+1)
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, pageOf(list, limit, func(i int) int64 { return list[i].Seq }))
}

func (s *server) getAwardNotice(c *gin.Context) {
	n, err := s.contracts.AwardNotice(c.Request.Context(), scope(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, n)
}

func (s *server) listContracts(c *gin.Context) {
	before, limit, err := page(c)
	amendment := c.Query("amendment")
	if amendment != "" && amendment != contracts.AmendmentPending {
		bad := errs.Field("amendment", errs.FieldOneOf, "pending")
		var e *errs.Error
		if errors.As(err, &e) {
			err = errs.InvalidFields(append(e.Fields, bad)...)
		} else {
			err = errs.InvalidFields(bad)
		}
	}
	if err != nil {
		fail(c, err)
		return
	}
	var list []contracts.Contract
	if amendment == contracts.AmendmentPending {
		list, err = s.contracts.ContractsPendingReview(c.Request.Context(), scope(c), before, limit+1)
	} else {
		list, err = s.contracts.Contracts(c.Request.Context(), scope(c), before, limit+1)
	}
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, pageOf(list, limit, func(i int) int64 { return list[i].Seq }))
}

func (s *server) getContract(c *gin.Context) {
	ct, err := s.contracts.Contract(c.Request.Context(), scope(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, ct)
}

// verifyContract answers the verification report of a contract. A supplier
// verifies as the applicant.
func (s *server) verifyContract(c *gin.Context) {
	sc := scope(c)
	rep, err := s.contracts.Verify(c.Request.Context(), sc, c.Param("id"), contracts.VerifyRequest{ApplicantUSCC: sc.SupplierUSCC})
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, rep)
}

// resolveAmendment is an officer's decision on a version of a contract held
// for review: {decision: adopt | keep, reason}.
func (s *server) resolveAmendment(c *gin.Context) {
	var req contracts.Resolution
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	version, err := strconv.Atoi(c.Param("version"))
	if err != nil || version < 1 {
		fail(c, errs.E(errs.NotFound, "no amendment version %q of contract %s", c.Param("version"), c.Param("id")))
		return
	}
	ct, err := s.contracts.ResolveAmendment(c.Request.Context(), c.Param("id"), version, req, actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, ct)
}
