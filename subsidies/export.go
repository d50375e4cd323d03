package subsidies

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"procfin/platform/errs"
	"procfin/platform/i18n"
	"procfin/platform/money"
	"procfin/platform/text"
)

// The exported files (payment batches, the monthly bank report) as CSV
// and XLSX, worded from the catalogue (platform/i18n, files.go) in the
// reader's language: the API's and the console's downloads are the same
// bytes for the same batch and language.

// ExportLangs are the languages of exported files, the default first.
var ExportLangs = i18n.Langs

// ExportLang reads a file's ?lang= (zh-CN or en, in any case); "" when
// not given, for the caller to fall back on the reader's language, then
// zh-CN. Returns invalid naming field lang for any other value.
func ExportLang(q string) (string, error) {
	if q == "" {
		return "", nil
	}
	for _, l := range ExportLangs {
		if strings.EqualFold(q, l) {
			return l, nil
		}
	}
	return "", errs.InvalidFields(errs.Field("lang", errs.FieldOneOf, strings.Join(ExportLangs, ", ")))
}

// The formats of an exported file.
const (
	CSV  = "csv"
	XLSX = "xlsx"
)

// File is an exported file as served.
type File struct {
	Name        string // in the reader's language, with its extension
	ASCIIName   string // the English name, for clients that read only filename
	ContentType string
	Body        []byte
}

// Disposition is the file's Content-Disposition (RFC 6266): an
// attachment named by its ASCII name, and by its name in UTF-8
// (filename*, RFC 8187) when that differs.
func (f File) Disposition() string {
	d := `attachment; filename="` + f.ASCIIName + `"`
	if f.Name != f.ASCIIName {
		d += "; filename*=UTF-8''" + rfc8187(f.Name)
	}
	return d
}

// rfc8187 percent-encodes every byte of s but RFC 8187's attr-char.
func rfc8187(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// cellKind is what a column holds, which decides its XLSX cell.
type cellKind int

const (
	textCell   cellKind = iota // a string cell, never a formula
	amountCell                 // money.Amount's decimal text: a number, two places
	countCell                  // a whole number
	dateCell                   // money.Date's YYYY-MM-DD: a date
)

// column is one column of a file: the catalogue key of its header and
// what it holds.
type column struct {
	key  string
	kind cellKind
}

// table is one file's content: a header row from the columns, the lines,
// and a totals row whose first cell is the word for total, each total
// under its own column.
type table struct {
	sheet   string // catalogue key of the sheet's name
	name    string // catalogue key of the file's name, with one %s
	nameArg string
	columns []column
	rows    [][]string
	total   []string
}

func (t table) header(lang string) []string {
	h := make([]string, len(t.columns))
	for i, c := range t.columns {
		h[i] = i18n.T(lang, c.key)
	}
	return h
}

// file writes the table in format (CSV or XLSX) and lang.
func (t table) file(format, lang string) (File, error) {
	lang = i18n.Lang(lang)
	f := File{
		Name:      i18n.T(lang, t.name, t.nameArg) + "." + format,
		ASCIIName: i18n.T(i18n.EN, t.name, t.nameArg) + "." + format,
	}
	var err error
	switch format {
	case CSV:
		f.ContentType = "text/csv; charset=utf-8"
		f.Body, err = t.csv(lang)
	case XLSX:
		f.ContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
		f.Body, err = t.xlsx(lang)
	default:
		err = fmt.Errorf("no file format %q", format)
	}
	return f, err
}

// csv writes the table as CSV through text.NewCSVWriter: a UTF-8 byte
// order mark first, every cell neutralised against formulas (decimal
// numbers kept), amounts as plain decimals (no separators, so a
// spreadsheet reads numbers).
func (t table) csv(lang string) ([]byte, error) {
	var buf bytes.Buffer
	w := text.NewCSVWriter(&buf)
	_ = w.Write(t.header(lang))
	for _, r := range t.rows {
		_ = w.Write(r)
	}
	_ = w.Write(t.total)
	w.Flush()
	return buf.Bytes(), w.Error()
}

// The XLSX number formats: amounts to the 分 with separators, whole
// numbers, dates.
const (
	numFmtAmount = 4 // #,##0.00
	numFmtCount  = 1 // 0
	dateFormat   = "yyyy-mm-dd"
)

// xlsx writes the table as one sheet: a bold header row frozen above the
// lines, columns as wide as their text (a Chinese character counts two),
// the totals row in bold, and the sheet's dimension over every row and
// column.
//
// Amounts are number cells holding money.Amount's exact decimal text
// (SetCellDefault writes the text as the cell's value, never through
// float64); a spreadsheet reads it as a double, which keeps every amount
// below 10¹³ 元 exact to the 分 (15 significant digits). Counts are number
// cells, dates number cells holding Excel's day serial (an integer) under
// the format yyyy-mm-dd. Text is always a string cell, never a formula.
func (t table) xlsx(lang string) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	sheet := i18n.T(lang, t.sheet)
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return nil, err
	}
	dateFmt := dateFormat
	var styles [2][4]int // [bold][kind]
	for bold := range 2 {
		for kind, s := range []excelize.Style{{}, {NumFmt: numFmtAmount}, {NumFmt: numFmtCount}, {CustomNumFmt: &dateFmt}} {
			s.Font = &excelize.Font{Bold: bold == 1}
			id, err := f.NewStyle(&s)
			if err != nil {
				return nil, err
			}
			styles[bold][kind] = id
		}
	}
	widths := make([]int, len(t.columns))
	write := func(row int, rec []string, header bool) error {
		bold := 0
		if header || row == len(t.rows)+2 {
			bold = 1
		}
		for i, v := range rec {
			if v == "" {
				continue
			}
			cell, err := excelize.CoordinatesToCellName(i+1, row)
			if err != nil {
				return err
			}
			kind := t.columns[i].kind
			if header {
				kind = textCell
			}
			if d, ok := xlsxNumber(kind, v); ok {
				err = f.SetCellDefault(sheet, cell, d)
			} else {
				kind = textCell
				err = f.SetCellStr(sheet, cell, v)
			}
			if err == nil {
				err = f.SetCellStyle(sheet, cell, cell, styles[bold][kind])
			}
			if err != nil {
				return err
			}
			widths[i] = max(widths[i], shownWidth(kind, v))
		}
		return nil
	}
	if err := write(1, t.header(lang), true); err != nil {
		return nil, err
	}
	for i, r := range t.rows {
		if err := write(i+2, r, false); err != nil {
			return nil, err
		}
	}
	last := len(t.rows) + 2
	if err := write(last, t.total, false); err != nil {
		return nil, err
	}
	for i, w := range widths {
		name, err := excelize.ColumnNumberToName(i + 1)
		if err != nil {
			return nil, err
		}
		if err := f.SetColWidth(sheet, name, name, float64(min(max(w+2, 8), 60))); err != nil {
			return nil, err
		}
	}
	if err := f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}}}); err != nil {
		return nil, err
	}
	end, err := excelize.CoordinatesToCellName(len(t.columns), last)
	if err != nil {
		return nil, err
	}
	if err := f.SetSheetDimension(sheet, "A1:"+end); err != nil {
		return nil, err
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// excelEpoch is the Unix day of Excel's day 25569, 1970-01-01: Excel
// counts days from 1899-12-30 (for dates after 1900-02-28).
const excelEpoch = 25569

// xlsxNumber is the value of a number cell of kind holding v: the decimal
// or whole number itself, or a date's day serial; false when v is not one
// (then it is written as text).
func xlsxNumber(kind cellKind, v string) (string, bool) {
	switch kind {
	case amountCell:
		if decimalText(v) {
			return v, true
		}
	case countCell:
		if _, err := strconv.ParseInt(v, 10, 64); err == nil {
			return v, true
		}
	case dateCell:
		if d, err := money.ParseDate(v); err == nil {
			return strconv.FormatInt(excelEpoch+d.Time().Unix()/86400, 10), true
		}
	}
	return "", false
}

// decimalText reports whether s is -?digits.digits, as money.Amount
// writes it.
func decimalText(s string) bool {
	s = strings.TrimPrefix(s, "-")
	whole, frac, ok := strings.Cut(s, ".")
	return ok && whole != "" && frac != "" && strings.Trim(whole, "0123456789") == "" && strings.Trim(frac, "0123456789") == ""
}

// shownWidth is how many character widths a cell takes as shown: a
// Chinese (wide) character two, an amount with its separators.
func shownWidth(kind cellKind, v string) int {
	switch kind {
	case amountCell:
		return utf8.RuneCountInString(v) + len(v)/4
	case dateCell:
		return len("2006-01-02")
	}
	n := 0
	for _, r := range v {
		n++
		if unicode.Is(unicode.Han, r) || r >= 0x3000 && r <= 0x30FF || r >= 0xFF00 && r <= 0xFF60 || r >= 0xFE30 && r <= 0xFE4F {
			n++
		}
	}
	return n
}

// batchFileColumns are the payment file's columns, in the order of
// batchRecord. The treasury pays the amount to the settlement account; a
// claim whose supplier has none is still listed, its account cells empty,
// and the note says so.
var batchFileColumns = []column{
	{"file.batch.claim_id", textCell},
	{"file.batch.supplier_uscc", textCell},
	{"file.batch.supplier_name", textCell},
	{"file.batch.settlement_bank", textCell},
	{"file.batch.settlement_account_no", textCell},
	{"file.batch.settlement_account_name", textCell},
	{"file.batch.amount", amountCell},
	{"file.batch.bank_id", textCell},
	{"file.batch.bank_name", textCell},
	{"file.batch.application_id", textCell},
	{"file.batch.paid_on", dateCell},
	{"file.batch.interest_paid", amountCell},
	{"file.batch.policy_version", countCell},
	{"file.batch.note", textCell},
}

func batchRecord(l Line, lang string) []string {
	note := ""
	if l.SettlementMissing {
		note = i18n.T(lang, "file.batch.settlement_missing")
	}
	return []string{l.ClaimID, l.SupplierUSCC, l.SupplierName,
		l.SettlementBankName, l.SettlementAccountNo, l.SettlementAccountName, l.Amount.String(),
		l.BankID, l.BankName, l.ApplicationID, l.PaidOn.String(), l.InterestPaid.String(),
		strconv.Itoa(l.PolicyVersion), note}
}

// batchTable is a batch's file: a line per claim, then the totals: the
// batch total (from the database) under the amounts, the interest paid
// under its column, and the number of claims as the note.
func batchTable(b Batch, lines []Line, lang string) table {
	t := table{sheet: "file.batch.sheet", name: "file.batch.name", nameArg: b.ID, columns: batchFileColumns}
	interest := money.Zero
	for _, l := range lines {
		t.rows = append(t.rows, batchRecord(l, lang))
		interest = interest.Add(l.InterestPaid)
	}
	t.total = make([]string, len(t.columns))
	t.total[0] = i18n.T(lang, "file.total")
	t.total[6] = b.Total.String()
	t.total[11] = interest.String()
	t.total[13] = i18n.T(lang, "file.batch.claims", b.Claims)
	return t
}

// BatchFile writes a batch (BatchLines) as format (CSV or XLSX) in lang
// (ExportLang; "" is zh-CN).
func BatchFile(b Batch, lines []Line, format, lang string) (File, error) {
	return batchTable(b, lines, i18n.Lang(lang)).file(format, lang)
}

var bankReportColumns = []column{
	{"file.report.month", textCell},
	{"file.report.bank_id", textCell},
	{"file.report.bank_name", textCell},
	{"file.report.applications", countCell},
	{"file.report.approvals", countCell},
	{"file.report.disbursed", amountCell},
	{"file.report.outstanding", amountCell},
	{"file.report.overdue", amountCell},
	{"file.report.misdirected", countCell},
	{"file.report.misdirected_amount", amountCell},
}

// BankReportFile writes the monthly bank report (BankReport) for month
// (YYYY-MM) as format (CSV or XLSX) in lang (ExportLang; "" is zh-CN): a
// line per bank, then the totals, each under its column.
func BankReportFile(month string, lines []BankReportLine, format, lang string) (File, error) {
	lang = i18n.Lang(lang)
	t := table{sheet: "file.report.sheet", name: "file.report.name", nameArg: month, columns: bankReportColumns}
	var apps, approvals, misdirected int
	disbursed, outstanding, overdue, misdirectedAmount := money.Zero, money.Zero, money.Zero, money.Zero
	for _, l := range lines {
		t.rows = append(t.rows, []string{month, l.BankID, l.BankName, strconv.Itoa(l.Applications), strconv.Itoa(l.Approvals),
			l.Disbursed.String(), l.Outstanding.String(), l.Overdue.String(), strconv.Itoa(l.Misdirected), l.MisdirectedAmount.String()})
		apps, approvals, misdirected = apps+l.Applications, approvals+l.Approvals, misdirected+l.Misdirected
		disbursed, outstanding, overdue = disbursed.Add(l.Disbursed), outstanding.Add(l.Outstanding), overdue.Add(l.Overdue)
		misdirectedAmount = misdirectedAmount.Add(l.MisdirectedAmount)
	}
	t.total = []string{i18n.T(lang, "file.total"), "", "", strconv.Itoa(apps), strconv.Itoa(approvals),
		disbursed.String(), outstanding.String(), overdue.String(), strconv.Itoa(misdirected), misdirectedAmount.String()}
	return t.file(format, lang)
}

// ReportQuery reads a bank report's month (YYYY-MM, its first day
// returned) and language (ExportLang). Returns invalid naming every bad
// field of month and lang.
func ReportQuery(month, lang string) (money.Date, string, error) {
	var bad []errs.FieldError
	d, err := money.ParseDate(month + "-01")
	if err != nil || len(month) != len("2006-01") {
		bad = append(bad, errs.Field("month", errs.FieldInvalidFormat))
	}
	lang, err = ExportLang(lang)
	var e *errs.Error
	if errors.As(err, &e) {
		bad = append(bad, e.Fields...)
	}
	if len(bad) > 0 {
		return d, "", errs.InvalidFields(bad...)
	}
	return d, lang, nil
}
