package subsidies

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"pgregory.net/rapid"

	"procfin/platform/money"
	"procfin/platform/text"
)

// yuan writes cents as a decimal amount, the model's own way.
func yuan(cents int64) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) }

// TestBatchFilesProperty: for any batch, the CSV and the XLSX read back
// hold every line as it was (CSV text made formula-safe, XLSX text as it
// is, amounts to the 分, dates as the day they are), the totals row sums
// the lines in integer 分 (the model) under their own columns, and the
// XLSX's dimension covers the header, the lines and the totals.
func TestBatchFilesProperty(t *testing.T) {
	t.Parallel()
	textGen := rapid.StringOfN(rapid.RuneFrom([]rune(`=+-@'",;. 0123456789AZaz泉城软件有限公司（）`)), 0, 12, -1)
	epoch := time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)
	rapid.Check(t, func(r *rapid.T) {
		n := rapid.IntRange(0, 6).Draw(r, "lines")
		var lines []Line
		var amount, interest int64
		for i := range n {
			a := rapid.Int64Range(1, 1_000_000_000_000).Draw(r, "amount") // up to 10¹⁰ 元
			p := rapid.Int64Range(0, 1_000_000_000_000).Draw(r, "interest")
			amount, interest = amount+a, interest+p
			day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rapid.IntRange(0, 3000).Draw(r, "day"))
			lines = append(lines, Line{ClaimID: fmt.Sprint("c", i), SupplierUSCC: textGen.Draw(r, "uscc"),
				SupplierName: textGen.Draw(r, "name"), SettlementAccountNo: textGen.Draw(r, "account"),
				SettlementMissing: rapid.Bool().Draw(r, "missing"), BankID: textGen.Draw(r, "bank"), BankName: textGen.Draw(r, "bank name"),
				ApplicationID: "a", PaidOn: money.MustDate(day.Format(time.DateOnly)), InterestPaid: money.MustAmount(yuan(p)),
				PolicyVersion: rapid.IntRange(1, 99).Draw(r, "version"), Amount: money.MustAmount(yuan(a))})
		}
		b := Batch{ID: "b", Claims: n, Total: money.MustAmount(yuan(amount))}
		lang := rapid.SampledFrom(ExportLangs).Draw(r, "lang")

		f, err := BatchFile(b, lines, CSV, lang)
		if err != nil {
			r.Fatal(err)
		}
		rows := readCSV(r, f.Body)
		if len(rows) != n+2 {
			r.Fatalf("%d rows for %d lines", len(rows), n)
		}
		for i, l := range lines {
			want := batchRecord(l, lang)
			for j := range want {
				want[j] = text.FormulaSafe(want[j])
			}
			if !slices.Equal(rows[i+1], want) {
				r.Fatalf("line %d: %q, want %q", i, rows[i+1], want)
			}
		}
		// The word for total first, the two sums under their columns, the
		// count as the note, nothing else.
		tot := rows[n+1]
		for j, v := range tot {
			want := ""
			switch j {
			case 6:
				want = yuan(amount)
			case 11:
				want = yuan(interest)
			}
			if (j == 0 || j == 13) && v == "" || j != 0 && j != 13 && v != want {
				r.Fatalf("totals %q, want %s and %s", tot, yuan(amount), yuan(interest))
			}
		}

		f, err = BatchFile(b, lines, XLSX, lang)
		if err != nil {
			r.Fatal(err)
		}
		x, err := excelize.OpenReader(bytes.NewReader(f.Body))
		if err != nil {
			r.Fatal(err)
		}
		defer x.Close()
		xrows, err := x.GetRows(x.GetSheetList()[0], excelize.Options{RawCellValue: true})
		if err != nil {
			r.Fatal(err)
		}
		for i, l := range lines {
			want := batchRecord(l, lang)
			want[10] = strconv.Itoa(int(l.PaidOn.Time().Sub(epoch).Hours() / 24)) // the day serial
			got := append(xrows[i+1], make([]string, len(want))...)[:len(want)]
			if !slices.Equal(got, want) {
				r.Fatalf("xlsx line %d: %q, want %q", i, got, want)
			}
		}
		if got := append(xrows[n+1], make([]string, 14)...)[:14]; got[6] != yuan(amount) || got[11] != yuan(interest) {
			r.Fatalf("xlsx totals %q", got)
		}
		if dim := readSheetXML(r, f.Body).Dimension.Ref; dim != fmt.Sprintf("A1:N%d", n+2) {
			r.Fatalf("dimension %s for %d lines", dim, n)
		}
	})
}
