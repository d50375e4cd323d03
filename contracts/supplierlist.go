package contracts

import (
	"context"
	"encoding/base64"
	"regexp"
	"strings"
	"time"

	"procfin/platform/postgres"
)

// SupplierCursor is where a page of the supplier list starts: after the
// supplier first recorded at CreatedAt with the USCC (the list is newest
// first). The zero cursor starts at the newest.
type SupplierCursor struct {
	CreatedAt time.Time
	USCC      string
}

// String is the cursor as an opaque token for a URL.
func (c SupplierCursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + " " + c.USCC))
}

// usccShape is the suppliers table's check of a USCC.
var usccShape = regexp.MustCompile(`^[0-9A-HJ-NPQRTUWXY]{18}$`)

// ParseSupplierCursor reads a token of String; "" is the zero cursor.
// It reports false for anything else.
func ParseSupplierCursor(s string) (SupplierCursor, bool) {
	if s == "" {
		return SupplierCursor{}, true
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return SupplierCursor{}, false
	}
	at, uscc, ok := strings.Cut(string(b), " ")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil || !usccShape.MatchString(uscc) {
		return SupplierCursor{}, false
	}
	return SupplierCursor{CreatedAt: t, USCC: uscc}, true
}

// Suppliers lists the suppliers procfin knows (registered, or known only
// from a document), newest first, at most limit of them, after the cursor.
// Returns internal on database failure.
func (s *Service) Suppliers(ctx context.Context, after SupplierCursor, limit int) ([]Supplier, error) {
	list := []Supplier{}
	err := s.db.SelectContext(ctx, &list, `
		SELECT * FROM suppliers
		WHERE $1::timestamptz IS NULL OR (created_at, uscc) < ($1, $2)
		ORDER BY created_at DESC, uscc DESC LIMIT $3`, nullTime(after.CreatedAt), after.USCC, limit)
	return list, postgres.Translate(err)
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
