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
			for _, h := range append(batchTable(Batch{}, nil, lang).header(lang), table{columns: bankReportColumns}.header(lang)...) {
				if h == "" {
					t.Fatalf("an empty header in %q", lang)
				}
			}
		}
	})
}

// FuzzReportQuery: a bank report's month and lang are read or refused
// naming each bad field (month, lang), never a panic; a month read is the
// first day of that month.
func FuzzReportQuery(f *testing.F) {
	for _, s := range [][2]string{{"2026-11", ""}, {"2026-13", "fr"}, {"2026-1", "en"}, {"", ""}, {"2026-11-01", "ZH-cn"}, {"０２０２-11", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, month, lang string) {
		d, l, err := ReportQuery(month, lang)
		if err == nil {
			if d.String() != month+"-01" || (lang != "" && !slices.Contains(ExportLangs, l)) {
				t.Fatalf("%q %q read as %s %q", month, lang, d, l)
			}
			return
		}
		var e *errs.Error
		if !errs.Is(err, errs.Invalid) || !errors.As(err, &e) || len(e.Fields) == 0 || len(e.Fields) > 2 {
			t.Fatalf("%q %q: %v", month, lang, err)
		}
		for _, fe := range e.Fields {
			if fe.Field != "month" && fe.Field != "lang" {
				t.Fatalf("%q %q: names %q", month, lang, fe.Field)
			}
		}
	})
}
