package ids_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"procfin/platform/ids"
)

func TestCanonical(t *testing.T) {
	t.Parallel()
	const id = "0b8e4c1e-7f5a-4d2b-9c3e-2a1f6d7e8b90"
	for _, tc := range []struct {
		name, in, want string // want "" = refused
	}{
		{"OK", id, id},
		{"OKZero", "00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"},
		{"OKUpperCase", strings.ToUpper(id), id},
		{"OKMixedCase", "0B8e4c1e-7f5a-4d2b-9c3e-2a1f6d7e8b90", id},
		{"ErrURN", "urn:uuid:" + id, ""},
		{"ErrBraces", "{" + id + "}", ""},
		{"ErrNoHyphens", strings.ReplaceAll(id, "-", ""), ""},
		{"ErrLeadingSpace", " " + id, ""},
		{"ErrTrailingSpace", id + " ", ""},
		{"ErrShort", id[:35], ""},
		{"ErrUnderscore", id[:8] + "_" + id[9:], ""},
		{"ErrNotHex", id[:35] + "g", ""},
		{"ErrEmpty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ids.Canonical(tc.in)
			if got != tc.want || ok != (tc.want != "") || ids.Valid(tc.in) != ok {
				t.Fatalf("Canonical(%q) = %q %v, want %q", tc.in, got, ok, tc.want)
			}
			u, ok := ids.Parse(tc.in)
			if ok != (tc.want != "") || (ok && u.String() != tc.want) {
				t.Fatalf("Parse(%q) = %v %v", tc.in, u, ok)
			}
		})
	}
}

// FuzzCanonical: whatever the input, an accepted id comes out as the text
// of the UUID it names, so only one spelling of an id reaches SQL, and
// only the hyphenated 36-character spellings are accepted.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"0b8e4c1e-7f5a-4d2b-9c3e-2a1f6d7e8b90", "urn:uuid:0b8e4c1e-7f5a-4d2b-9c3e-2a1f6d7e8b90",
		"{0b8e4c1e-7f5a-4d2b-9c3e-2a1f6d7e8b90}", "0b8e4c1e7f5a4d2b9c3e2a1f6d7e8b90", "0B8E4C1E-7F5A-4D2B-9C3E-2A1F6D7E8B90", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := ids.Canonical(s)
		u, parsed := ids.Parse(s)
		if ok != parsed || ok != ids.Valid(s) {
			t.Fatalf("Canonical, Parse and Valid disagree on %q", s)
		}
		if !ok {
			return
		}
		if len(s) != 36 || c != strings.ToLower(s) || u.String() != c {
			t.Fatalf("accepted %q as %q (%s)", s, c, u)
		}
		if p, err := uuid.Parse(s); err != nil || p != u {
			t.Fatalf("%q: uuid.Parse says %v %v", s, p, err)
		}
	})
}
