package handlers

import (
	"math"
	"net/http"

	"github.com/gin-gonic/gin"

	"procfin/platform/auth"
	"procfin/platform/errs"
)

type tokenRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// issueToken exchanges a username and password for a short-lived access
// token. Unknown user and wrong password get the same answer.
func (s *server) issueToken(c *gin.Context) {
	var req tokenRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	if f := required("username", req.Username, "password", req.Password); len(f) > 0 {
		fail(c, errs.InvalidFields(f...))
		return
	}
	u, err := s.auth.Authenticate(c.Request.Context(), req.Username, req.Password, c.ClientIP())
	if err != nil {
		fail(c, err)
		return
	}
	token, ttl, err := s.auth.IssueToken(c.Request.Context(), u)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	reply(c, http.StatusOK, tokenResponse{AccessToken: token, TokenType: "Bearer", ExpiresIn: int(math.Ceil(ttl.Seconds()))})
}

// me answers who the caller is.
func (s *server) me(c *gin.Context) {
	p, _ := principal(c)
	u, err := s.auth.GetUser(c.Request.Context(), p.UserID)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			err = errs.E(errs.InvalidToken, "the token's user no longer exists")
		}
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, u)
}

type createUserRequest struct {
	Username     string `json:"username"`
	Password     string `json:"password"`
	Role         string `json:"role"`
	SupplierUSCC string `json:"supplier_uscc"`

	PurchaserID       string `json:"purchaser_id"`
	PurchaserIssuerID string `json:"purchaser_issuer_id"`
}

// createUser registers a user (administrators only).
func (s *server) createUser(c *gin.Context) {
	var req createUserRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	u, err := s.auth.CreateUser(c.Request.Context(), auth.NewUser{
		Username: req.Username, Password: req.Password, Role: req.Role, SupplierUSCC: req.SupplierUSCC,
		PurchaserID: req.PurchaserID, PurchaserIssuerID: req.PurchaserIssuerID,
	}, actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Location", "/v1/admin/users/"+u.ID)
	reply(c, http.StatusCreated, u)
}

// disableUser disables a user (administrators only): their access tokens
// and web sessions stop working at once. An administrator cannot disable
// themselves (409).
func (s *server) disableUser(c *gin.Context) {
	p, _ := principal(c)
	u, err := s.auth.DisableUser(c.Request.Context(), c.Param("id"), p.UserID)
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, u)
}

// jwks publishes the platform's public signing keys.
func (s *server) jwks(c *gin.Context) {
	set, err := s.auth.JWKS(c.Request.Context())
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age=60")
	reply(c, http.StatusOK, set)
}
