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
	idem := idempotent(s.idem, false)

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", s.metricsHandler)
	r.GET("/openapi.json", s.openAPI)
	r.GET("/.well-known/jwks.json", s.jwks)

	r.POST("/v1/auth/token", s.issueToken)
	r.GET("/v1/me", authed, s.me)
	r.GET("/v1/audit", authed, reviewers, s.auditTrail)
	r.POST("/v1/admin/users", authed, admin, idem, s.createUser)
}
