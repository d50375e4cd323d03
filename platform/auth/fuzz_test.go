package auth

import (
	"context"
	"strings"
	"testing"

	"procfin/platform/errs"
)

// FuzzVerifyToken: whatever a caller sends as a bearer token, VerifyToken
// answers without panicking, with token_invalid, or accepts it for the
// one user it issued a token to (a token's signature may be spelled in
// more than one base64 way, so not only the very same text).
func FuzzVerifyToken(f *testing.F) {
	s, _, _ := MustReadyService(f, testConfig())
	u := MustCreateUser(f, s, NewUser{Username: "officer.li", Password: goodPassword, Role: "officer"})
	tok, _, err := s.IssueToken(context.Background(), u)
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	f.Add(tok)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(parts[0] + ".eyJzdWIiOiJ4IiwiZ2VuIjotMX0." + parts[2])
	f.Add("")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := s.VerifyToken(context.Background(), in)
		if err != nil {
			if !errs.Is(err, errs.InvalidToken) {
				t.Fatalf("VerifyToken(%q): %v, want token_invalid", in, err)
			}
			return
		}
		if p.UserID != u.ID || p.Username != u.Username || p.Role != u.Role {
			t.Fatalf("accepted %q for %+v", in, p)
		}
	})
}
