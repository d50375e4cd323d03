package main

import (
	"context"
	"fmt"
	"io"

	"github.com/jmoiron/sqlx"

	"procfin/platform/auth"
	"procfin/platform/errs"
)

// demoUsers are the demo's log-ins. Their passwords are public: the demo
// runs on its own private database and listens on loopback by default.
var demoUsers = []auth.NewUser{
	{Username: "admin", Password: "procfin-demo-admin", Role: "admin"},
	{Username: "officer", Password: "procfin-demo-officer", Role: "officer"},
}

// seedDemo creates the demo users (once) and prints how to log in.
func seedDemo(ctx context.Context, db *sqlx.DB, a *auth.Service, stdout io.Writer) error {
	for _, u := range demoUsers {
		if _, err := a.CreateUser(ctx, u, "demo"); err != nil && !errs.Is(err, errs.Conflict) {
			return fmt.Errorf("demo user %s: %w", u.Username, err)
		}
	}
	fmt.Fprintln(stdout, "procfin demo: log in with")
	for _, u := range demoUsers {
		fmt.Fprintf(stdout, "  %-8s %-8s password %s\n", u.Role, u.Username, u.Password)
	}
	return nil
}
