package handlers

import (
	"github.com/gin-gonic/gin"

	"procfin/platform/auth"
)

// routes lists every route, one per line. openapi.yaml describes each one;
// TestOpenAPIMatchesRoutes fails when the two disagree.
func (s *server) routes(r *gin.Engine) {
	authed := authenticate(s.auth)
	admin := requireRole(auth.RoleAdmin)
	reviewers := requireRole(auth.RoleOfficer, auth.RoleAdmin)
	readers := requireRole(auth.RoleSupplier, auth.RoleOfficer, auth.RoleAdmin)
	docReaders := requireRole(auth.RoleSupplier, auth.RoleOfficer, auth.RoleAdmin, auth.RolePurchaser)
	verifiers := requireRole(auth.RoleSupplier, auth.RoleOfficer)
	suppliers := requireRole(auth.RoleSupplier)
	idem := idempotent(s.idem, false)
	issuer := s.signed(s.issuerMessages)

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", authed, admin, s.metricsHandler) // and to anyone on http.metrics_addr
	r.GET("/openapi.json", s.openAPI)
	r.GET("/.well-known/jwks.json", s.jwks)

	r.POST("/v1/auth/token", s.issueToken)
	r.GET("/v1/me", authed, s.me)
	r.GET("/v1/audit", authed, reviewers, s.auditTrail)
	r.POST("/v1/admin/users", authed, admin, idem, s.createUser)
	r.POST("/v1/admin/users/:id/disable", authed, admin, idem, s.disableUser)
	r.POST("/v1/admin/issuers", authed, admin, idem, s.registerIssuer)
	r.POST("/v1/admin/suppliers", authed, admin, idem, s.registerSupplier)
	r.GET("/v1/admin/suppliers", authed, reviewers, s.listSuppliers)
	r.POST("/v1/admin/banks", authed, admin, idem, s.registerBank)
	r.POST("/v1/admin/payment-systems", authed, admin, idem, s.registerPaymentSystem)
	r.POST("/v1/admin/purchasers", authed, admin, idem, s.registerPurchaser)
	r.GET("/v1/admin/purchasers", authed, reviewers, s.listPurchasers)

	r.POST("/v1/award-notices", issuer, s.submitAwardNotice)
	r.GET("/v1/award-notices", authed, docReaders, s.listAwardNotices)
	r.GET("/v1/award-notices/:id", authed, docReaders, s.getAwardNotice)
	r.POST("/v1/contracts", issuer, s.submitContract)
	r.GET("/v1/contracts", authed, docReaders, s.listContracts)
	r.GET("/v1/contracts/:id", authed, docReaders, s.getContract)
	r.POST("/v1/contracts/:id/verify", authed, verifiers, s.verifyContract)
	r.POST("/v1/contracts/:id/amendments/:version/resolve", authed, requireRole(auth.RoleOfficer), idem, s.resolveAmendment)
	r.GET("/v1/contracts/:id/payments", authed, requireRole(auth.RoleSupplier, auth.RolePurchaser, auth.RoleOfficer), s.contractPayments)
	r.POST("/v1/contract-payments", s.signed(s.paymentMessages), s.recordPayment)
	r.GET("/v1/alerts", authed, requireRole(auth.RoleOfficer), s.listAlerts)

	r.GET("/v1/credit-lines", authed, readers, s.listCreditLines)
	r.POST("/v1/credit-applications", authed, suppliers, idempotentInTx(s.idem), s.apply)
	r.GET("/v1/credit-applications", authed, readers, s.listApplications)
	r.GET("/v1/credit-applications/:id", authed, readers, s.getApplication)
	r.POST("/v1/credit-applications/:id/cancel", authed, suppliers, idem, s.cancelApplication)
	r.POST("/v1/financing-intents", authed, suppliers, idempotent(s.idem, true), s.publishIntent)
	r.GET("/v1/financing-intents", authed, verifiers, s.listIntents)
	r.GET("/v1/financing-intents/:id", authed, verifiers, s.getIntent)
	r.POST("/v1/financing-intents/:id/accept", authed, suppliers, idempotentInTx(s.idem), s.acceptOffer)
	r.POST("/v1/financing-intents/:id/cancel", authed, suppliers, idem, s.cancelIntent)
	r.GET("/v1/consents", authed, suppliers, s.listConsents)
	r.POST("/v1/consents/:id/revoke", authed, suppliers, idem, s.revokeConsent)
	r.GET("/v1/loans", authed, readers, s.listLoans)
	r.GET("/v1/loans/:id", authed, readers, s.getLoan)
	r.GET("/v1/receivables", authed, requireRole(auth.RolePurchaser, auth.RoleOfficer), s.listReceivables)
	r.POST("/v1/contracts/:id/confirmation", append(s.purchaserOrSystem(), s.confirmReceivable)...)
	r.POST("/v1/contracts/:id/refusal", append(s.purchaserOrSystem(), s.refuseReceivable)...)

	r.POST("/v1/bank-events", s.signedInTx(s.bankMessages), s.bankEvent)
	r.GET("/v1/admin/deliveries", authed, admin, s.listDeliveries)
	r.POST("/v1/admin/deliveries/:id/requeue", authed, admin, idem, s.requeueDelivery)

	// Interest subsidies (贴息) and the finance bureau's figures.
	officer := requireRole(auth.RoleOfficer)
	r.POST("/v1/admin/subsidy-policies", authed, admin, idem, s.addSubsidyPolicy)
	r.GET("/v1/admin/subsidy-policies", authed, reviewers, s.listSubsidyPolicies)
	r.GET("/v1/subsidy-claims", authed, verifiers, s.listSubsidyClaims)
	r.GET("/v1/subsidy-claims/:id", authed, verifiers, s.getSubsidyClaim)
	r.POST("/v1/subsidy-claims/:id/approve", authed, officer, idem, s.approveSubsidyClaim)
	r.POST("/v1/subsidy-claims/:id/reject", authed, officer, idem, s.rejectSubsidyClaim)
	r.GET("/v1/subsidy-batches", authed, officer, s.listSubsidyBatches)
	r.POST("/v1/subsidy-batches", authed, officer, idem, s.createSubsidyBatch)
	r.POST("/v1/subsidy-batches/:id/close", authed, officer, idem, s.closeSubsidyBatch)
	r.GET("/v1/subsidy-batches/:file", authed, officer, s.exportSubsidyBatch) // {id}.csv, {id}.xlsx
	r.GET("/v1/stats", authed, officer, s.stats)
	r.GET("/v1/stats/bank-report.csv", authed, officer, s.bankReport)
	r.GET("/v1/stats/bank-report.xlsx", authed, officer, s.bankReport)
}
