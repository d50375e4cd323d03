package handlers

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
)

// register is every administrator's registration route (issuers,
// suppliers, banks, payment systems, purchasers): bind the body strictly,
// register it as the caller, answer 201 with what was created or 200 with
// what was updated (registering an id again updates it).
func register[In, Out any](c *gin.Context, do func(ctx context.Context, in In, actor string) (Out, bool, error)) {
	var in In
	if err := bindJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	out, created, err := do(c.Request.Context(), in, actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	reply(c, status, out)
}
