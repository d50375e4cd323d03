package handlers

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// csvRows checks that an exported CSV starts with the UTF-8 byte order
// mark and reads its rows.
func csvRows(t *testing.T, body []byte) [][]string {
	t.Helper()
	rest, ok := bytes.CutPrefix(body, []byte{0xEF, 0xBB, 0xBF})
	if !ok {
		t.Fatalf("CSV without the UTF-8 byte order mark: %q", body[:min(len(body), 32)])
	}
	rows, err := csv.NewReader(bytes.NewReader(rest)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// xlsxRows reads an exported XLSX's only sheet, raw values (a number
// cell's own digits, a date's day serial), every row as wide as the
// header (GetRows drops a row's empty trailing cells), and returns the
// sheet's name.
func xlsxRows(t *testing.T, body []byte) (string, [][]string) {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) != 1 {
		t.Fatalf("sheets %q", sheets)
	}
	rows, err := f.GetRows(sheets[0], excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		for len(rows[i]) < len(rows[0]) {
			rows[i] = append(rows[i], "")
		}
	}
	return sheets[0], rows
}

// xlsxSheet is what a test reads of an XLSX's sheet XML: its declared
// dimension, its frozen pane, and its cells' types (t; none is a number,
// ECMA-376 Part 1, 18.18.11).
type xlsxSheet struct {
	Dimension struct {
		Ref string `xml:"ref,attr"`
	} `xml:"dimension"`
	Pane struct {
		YSplit string `xml:"ySplit,attr"`
		State  string `xml:"state,attr"`
	} `xml:"sheetViews>sheetView>pane"`
	Cells []struct {
		R string `xml:"r,attr"`
		T string `xml:"t,attr"`
		V string `xml:"v"`
	} `xml:"sheetData>row>c"`
}

func readXLSXSheet(t *testing.T, body []byte) xlsxSheet {
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
	var s xlsxSheet
	if err := xml.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// number returns a cell's value if the sheet writes it as a number.
func (s xlsxSheet) number(ref string) (string, bool) {
	for _, c := range s.Cells {
		if c.R == ref {
			return c.V, c.T == "" || c.T == "n"
		}
	}
	return "", false
}

// TestExportedFilesHTTP: the API's downloads: the batch and the bank
// report as CSV and XLSX, worded in ?lang=, else the caller's
// Accept-Language, else zh-CN; named for the reader (filename* beside an
// ASCII filename); a bad month and lang named together.
func TestExportedFilesHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu, appID, _ := e.disbursedLoan()
	_, officer := e.user("officer-li", "officer", "")
	// Interest-only, 7 days on 800000.00 at the 3.10% cap, × 0.5:
	// 800000 × 0.031 × 7 / 360 = 482.2222…; / 2 = 241.1111… → 241.11.
	qilu.repay(appID, "R1", "0.00", "2000.00", "2027-01-01", "2027-01-08")
	claims := e.claims(officer, "?status=pending")
	if len(claims) != 1 || claims[0].Amount != "241.11" {
		t.Fatalf("claims %+v", claims)
	}
	if r := e.do("POST", "/v1/subsidy-claims/"+claims[0].ID+"/approve", officer, nil); r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	r := e.do("POST", "/v1/subsidy-batches", officer, nil)
	if r.status != 201 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	batch := r.json(t)["id"].(string)

	// The language: ?lang=, else Accept-Language, else zh-CN.
	for _, tc := range []struct{ query, accept, first, total string }{
		{"", "", "贴息申请编号", "合计"},
		{"", "en-GB,en;q=0.9,zh-CN;q=0.5", "Claim id", "Total"},
		{"", "zh-CN,zh;q=0.9,en;q=0.8", "贴息申请编号", "合计"},
		{"?lang=zh-cn", "en", "贴息申请编号", "合计"},
		{"?lang=en", "zh-CN", "Claim id", "Total"},
	} {
		var headers []string
		if tc.accept != "" {
			headers = []string{"Accept-Language", tc.accept}
		}
		r := e.do("GET", "/v1/subsidy-batches/"+batch+".csv"+tc.query, officer, nil, headers...)
		if r.status != 200 || r.header.Get("Content-Type") != "text/csv; charset=utf-8" {
			t.Fatalf("%q %q: %d %s", tc.query, tc.accept, r.status, r.body)
		}
		rows := csvRows(t, r.body)
		// A header, the claim, the totals: 241.11 under the amount, 2000.00 under the interest paid.
		if len(rows) != 3 || rows[0][0] != tc.first || rows[1][6] != "241.11" || rows[1][11] != "2000.00" ||
			rows[2][0] != tc.total || rows[2][6] != "241.11" || rows[2][11] != "2000.00" || rows[2][12] != "" {
			t.Fatalf("%q %q: rows %q", tc.query, tc.accept, rows)
		}
		name := "%E8%B4%B4%E6%81%AF%E5%8F%91%E6%94%BE%E6%89%B9%E6%AC%A1-" + batch + ".csv" // 贴息发放批次-{id}.csv
		want := `attachment; filename="subsidy-batch-` + batch + `.csv"; filename*=UTF-8''` + name
		if tc.first == "Claim id" {
			want = `attachment; filename="subsidy-batch-` + batch + `.csv"`
		}
		if got := r.header.Get("Content-Disposition"); got != want {
			t.Fatalf("%q %q: Content-Disposition %q, want %q", tc.query, tc.accept, got, want)
		}
	}

	// The XLSX: the sheet in zh-CN by default, numbers and dates as numbers,
	// the header frozen, A1:N3 (14 columns, a header, a claim, the totals).
	r = e.do("GET", "/v1/subsidy-batches/"+batch+".xlsx", officer, nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
		t.Fatalf("xlsx: %d %s", r.status, r.body)
	}
	sheet, rows := xlsxRows(t, r.body)
	if sheet != "贴息发放" || rows[0][6] != "贴息金额（元）" || rows[2][0] != "合计" {
		t.Fatalf("xlsx %s: %q", sheet, rows)
	}
	x := readXLSXSheet(t, r.body)
	// 2027-01-08 as Excel's day serial: 2027-01-01 is 46388, + 7 = 46395.
	for cell, want := range map[string]string{"G2": "241.11", "K2": "46395", "L2": "2000.00", "M2": "1", "G3": "241.11", "L3": "2000.00"} {
		if v, ok := x.number(cell); !ok || v != want {
			t.Errorf("xlsx %s = %q (a number: %v), want the number %s", cell, v, ok, want)
		}
	}
	if x.Dimension.Ref != "A1:N3" || x.Pane.State != "frozen" || x.Pane.YSplit != "1" {
		t.Errorf("xlsx dimension %q, pane %+v", x.Dimension.Ref, x.Pane)
	}

	// The bank report for November 2026 (D1 500000.00 and D2 300000.00
	// disbursed on 2026-11-22): one bank, and the totals, as XLSX in English.
	r = e.do("GET", "/v1/stats/bank-report.xlsx?month=2026-11&lang=en", officer, nil)
	if r.status != 200 || !strings.Contains(r.header.Get("Content-Type"), "spreadsheetml") ||
		r.header.Get("Content-Disposition") != `attachment; filename="bank-report-2026-11.xlsx"` {
		t.Fatalf("bank report xlsx: %d %q %s", r.status, r.header, r.body)
	}
	sheet, rows = xlsxRows(t, r.body)
	// Applications and approvals count by when they were made (today, on
	// the test's clock): whatever they are, the totals repeat the one bank's.
	if len(rows) == 3 {
		for _, i := range []int{3, 4} {
			if rows[1][i] != rows[2][i] || (rows[1][i] != "0" && rows[1][i] != "1") {
				t.Fatalf("bank report column %d: %q then total %q", i, rows[1][i], rows[2][i])
			}
			rows[1][i], rows[2][i] = "n", "n"
		}
	}
	want := [][]string{
		{"Month", "Bank id", "Bank name", "Applications", "Approvals", "Disbursed in the month (yuan)",
			"Outstanding at the month's end (yuan)", "Overdue principal at the month's end (yuan)", "Misdirected payments", "Misdirected amount (yuan)"},
		{"2026-11", "qilu-bank", "Bank qilu-bank", "n", "n", "800000.00", "800000.00", "0.00", "0", "0.00"},
		{"Total", "", "", "n", "n", "800000.00", "800000.00", "0.00", "0", "0.00"}}
	if sheet != "Bank report" || !slices.EqualFunc(rows, want, slices.Equal) {
		t.Fatalf("bank report %s:\n%q\nwant\n%q", sheet, rows, want)
	}
	x = readXLSXSheet(t, r.body)
	for _, cell := range []string{"D2", "E2", "F2", "G2", "H2", "I2", "J2", "D3", "F3", "J3"} {
		if _, ok := x.number(cell); !ok {
			t.Errorf("bank report %s is not a number cell", cell)
		}
	}
	if x.Dimension.Ref != "A1:J3" || x.Pane.State != "frozen" {
		t.Errorf("bank report dimension %q, pane %+v", x.Dimension.Ref, x.Pane)
	}
	// The CSV, in zh-CN by default, named in Chinese: 银行月报-2026-11.csv.
	r = e.do("GET", "/v1/stats/bank-report.csv?month=2026-11", officer, nil)
	if rows := csvRows(t, r.body); r.status != 200 || rows[0][0] != "月份" || rows[2][0] != "合计" || rows[2][5] != "800000.00" ||
		r.header.Get("Content-Disposition") != `attachment; filename="bank-report-2026-11.csv"; filename*=UTF-8''%E9%93%B6%E8%A1%8C%E6%9C%88%E6%8A%A5-2026-11.csv` {
		t.Fatalf("bank report csv: %d %q %q", r.status, r.header, rows)
	}
	// Both bad fields named at once.
	p := wantProblem(t, e.do("GET", "/v1/stats/bank-report.xlsx?month=2026-13&lang=fr", officer, nil), 422, "invalid")
	if got := problemFields(p); !slices.Equal(got, []string{"month", "lang"}) {
		t.Fatalf("fields %q, want month and lang", got)
	}
	wantProblem(t, e.do("GET", "/v1/stats/bank-report.xlsx?month=2026-11", "", nil), 401, "unauthorized")
}
