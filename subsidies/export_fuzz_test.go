package subsidies

import (
	"errors"
	"slices"
	"testing"

	"procfin/platform/errs"
)

// FuzzExportLang: a payment file's ?lang= is zh-CN, en (in any case) or
// nothing; anything else is invalid naming lang, never a panic.
func FuzzExportLang(f *testing.F) {
	for _, s := range []string{"", "zh-CN", "EN", "zh-cn", "fr", "zh", "en\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		lang, err := ExportLang(q)
		switch {
		case err != nil:
			var e *errs.Error
			if !errs.Is(err, errs.Invalid) || !errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0].Field != "lang" {
				t.Fatalf("%q: %v", q, err)
			}
		case q == "":
			if lang != "" {
				t.Fatalf("no lang read as %q", lang)
			}
		case !slices.Contains(ExportLangs, lang):
			t.Fatalf("%q read as %q", q, lang)
		}
		// Every language it answers heads every column.
		if err == nil {
			for _, h := range exportHeader(lang) {
				if h == "" {
					t.Fatalf("an empty header in %q", lang)
				}
			}
		}
	})
}
