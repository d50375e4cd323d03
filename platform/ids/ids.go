// Package ids reads the ids procfin issues (UUIDs) from outside: path
// parameters, query strings, JSON bodies, signed events and web forms. An id
// is accepted only as 36 characters with hyphens, hex digits of either case
// (UUIDs are case-insensitive on input, RFC 9562), and goes on in the one
// form procfin stores and writes it: lower case. The other spellings
// github.com/google/uuid.Parse accepts (urn:uuid:…, {…}, without hyphens)
// name no id procfin ever gave out, and PostgreSQL refuses some of them,
// so they stop here: a path naming one is not found, a body field naming
// one is invalid.
package ids

import (
	"strings"

	"github.com/google/uuid"
)

// Canonical returns s in its canonical form (lower case, with hyphens) and
// true, or "" and false when s is not an id.
func Canonical(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	upper := false
	for i := 0; i < 36; i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", false
			}
		case '0' <= c && c <= '9' || 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			upper = true
		default:
			return "", false
		}
	}
	if upper {
		return strings.ToLower(s), true
	}
	return s, true
}

// Valid reports whether s is an id (Canonical accepts it).
func Valid(s string) bool {
	_, ok := Canonical(s)
	return ok
}

// Parse returns the UUID s names when s is an id.
func Parse(s string) (uuid.UUID, bool) {
	c, ok := Canonical(s)
	if !ok {
		return uuid.UUID{}, false
	}
	u, err := uuid.Parse(c)
	return u, err == nil
}
