package ocds

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"procfin/contracts"
)

// The OCDS Kit sample files (BSD-3, LICENSE.ocdskit), read by hand:
//
//   - release-package-1.json: 2 releases of one ocid (Mexico City, OCDS 1.0
//     shape: inline buyer and suppliers with RFC identifiers, no parties),
//     award "1" 1311264.00 MXN, contract "1" of award "1".
//   - release-package-2.json: the same shape, 75464.96 USD.
//   - release-package_1.1-1.json: one compiled 1.1 release (Paraguay), award
//     of 135630400 PYG to a party with a RUC identifier, no contract.
//   - release-package_1.1-2.json: one contract release whose award is not in
//     the file.
//   - release-package_encoding-iso-8859-1.json: ISO-8859-1, 3 releases of one
//     ocid; the newest sets the award to 193817.35 MXN and adds a pending
//     contract without dateSigned.
//
// None names a Chinese USCC, so with the real validator every award is
// refused; with a validator that accepts any id the mapping itself shows.

func testdataDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "testdata", "ocds")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("OCDS test data not found at %s: %v", dir, err)
	}
	return dir
}

func realUSCC(s string) bool {
	_, err := contracts.ParseUSCC(s)
	return err == nil
}

func acceptAny(string) bool { return true }

func readFile(t *testing.T, name string, opts Options) *Batch {
	t.Helper()
	f, err := os.Open(filepath.Join(testdataDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := Read(f, opts)
	if err != nil {
		t.Fatalf("Read(%s): %v", name, err)
	}
	return b
}

func TestRealFilesWithRealValidator(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file               string
		releases, ocids    int
		notices, contracts int
		summary            map[string]int
	}{
		{"release-package-1.json", 2, 1, 0, 0, map[string]int{ReasonSupplierWithoutUSCC: 1, ReasonContractAwardRefused: 1}},
		{"release-package-2.json", 2, 1, 0, 0, map[string]int{ReasonSupplierWithoutUSCC: 1, ReasonContractAwardRefused: 1}},
		{"release-package_1.1-1.json", 1, 1, 0, 0, map[string]int{ReasonSupplierWithoutUSCC: 1}},
		{"release-package_1.1-2.json", 1, 1, 0, 0, map[string]int{ReasonContractAwardMissing: 1}},
		{"release-package_encoding-iso-8859-1.json", 3, 1, 0, 0, map[string]int{ReasonSupplierWithoutUSCC: 1, ReasonContractAwardRefused: 1}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			progress := 0
			b := readFile(t, c.file, Options{ValidUSCC: realUSCC, Progress: func(n int) { progress = n }})
			if b.Releases != c.releases || b.OCIDs != c.ocids || len(b.Notices) != c.notices || len(b.Contracts) != c.contracts {
				t.Fatalf("releases %d ocids %d notices %d contracts %d, want %d %d %d %d",
					b.Releases, b.OCIDs, len(b.Notices), len(b.Contracts), c.releases, c.ocids, c.notices, c.contracts)
			}
			if progress != c.releases {
				t.Errorf("progress ended at %d, want %d", progress, c.releases)
			}
			assertSummary(t, b, c.summary)
			for _, r := range b.Refused {
				if r.Detail == "" || r.OCID == "" || r.Ref == "" {
					t.Errorf("refusal without detail, ocid or ref: %+v", r)
				}
			}
		})
	}
}

func TestRealFile1Mapping(t *testing.T) {
	t.Parallel()
	b := readFile(t, "release-package-1.json", Options{ValidUSCC: acceptAny})
	if len(b.Notices) != 1 || len(b.Contracts) != 1 || len(b.Refused) != 0 {
		t.Fatalf("got %d notices, %d contracts, refused %+v", len(b.Notices), len(b.Contracts), b.Refused)
	}
	n := b.Notices[0].Doc
	want := contracts.AwardNoticeDoc{
		NoticeNo: "OCDS-87SD3T-AD-SF-DRM-063-2015/1", ProjectNo: "OCDS-87SD3T-AD-SF-DRM-063-2015",
		ProjectName: "ARRENDAMIENTO DE BIENES INFORMÁTICOS",
		Purchaser:   contracts.Party{ID: "GDF9712054NA", Name: "SECRETARÍA DE FINANZAS"},
		Supplier:    contracts.SupplierRef{USCC: "C&C021030KX2", Name: "COMUNIC@RTE & CONSULTING SA DE C"},
		Currency:    "MXN", ProcurementMethod: "selective", Status: "active",
	}
	checkNotice(t, n, want, "1311264.00", "2015-12-30")
	c := b.Contracts[0].Doc
	if c.ContractNo != "OCDS-87SD3T-AD-SF-DRM-063-2015/1" || c.NoticeNo != n.NoticeNo ||
		c.Amount.String() != "1311264.00" || c.Currency != "MXN" || c.SignedOn.String() != "2015-12-30" ||
		c.Period.Start.String() != "2016-01-01" || c.Period.End.String() != "2016-12-31" ||
		c.Status != "active" || c.Supplier != n.Supplier || c.Purchaser != n.Purchaser || len(c.PaymentTerms) != 0 || c.PaymentTerms == nil {
		t.Errorf("contract %+v", c)
	}
}

func TestRealFile2USD(t *testing.T) {
	t.Parallel()
	b := readFile(t, "release-package-2.json", Options{ValidUSCC: acceptAny})
	if len(b.Notices) != 1 || len(b.Contracts) != 1 {
		t.Fatalf("got %+v", b)
	}
	n := b.Notices[0].Doc
	if n.Amount.String() != "75464.96" || n.Currency != "USD" || n.ProjectName != "RENOVACIÓN DEL LICENCIAMIENTO SELECT BENTLEY" || n.Supplier.USCC != "BSM971107ME6" {
		t.Errorf("notice %+v", n)
	}
	if c := b.Contracts[0].Doc; c.Amount.String() != "75464.96" || c.Currency != "USD" {
		t.Errorf("contract %+v", c)
	}
}

func TestRealFile11(t *testing.T) {
	t.Parallel()
	b := readFile(t, "release-package_1.1-1.json", Options{ValidUSCC: acceptAny})
	if len(b.Notices) != 1 {
		t.Fatalf("got %+v", b)
	}
	want := contracts.AwardNoticeDoc{
		NoticeNo: "ocds-03ad3f-193399/193399-adquisicion-scanner", ProjectNo: "ocds-03ad3f-193399",
		ProjectName: "Adquisición de Scanner",
		Purchaser:   contracts.Party{ID: "a02fc5eae413fa29686db8eff8b439b6", Name: "Dirección Nacional de Contrataciones Públicas (DNCP)"},
		Supplier:    contracts.SupplierRef{USCC: "80007525-0", Name: "MASTER SOFT SRL"},
		Currency:    "PYG", Status: "active",
	}
	checkNotice(t, b.Notices[0].Doc, want, "135630400.00", "2010-04-23")

	b = readFile(t, "release-package_1.1-2.json", Options{ValidUSCC: acceptAny})
	if len(b.Refused) != 1 || b.Refused[0].Ref != "246807-11-setiembre-srl-4" || b.Refused[0].Kind != KindContract ||
		!strings.Contains(b.Refused[0].Detail, "246807-adqusicion-guantes-otros-insumos-medicos") {
		t.Errorf("refused %+v", b.Refused)
	}
}

func TestRealFileLatin1(t *testing.T) {
	t.Parallel()
	for _, cs := range []string{"", "ISO-8859-1", "latin1"} {
		b := readFile(t, "release-package_encoding-iso-8859-1.json", Options{ValidUSCC: acceptAny, Charset: cs})
		if len(b.Notices) != 1 || len(b.Contracts) != 0 {
			t.Fatalf("charset %q: got %+v", cs, b)
		}
		n := b.Notices[0].Doc
		// The newest release (03) sets the value; 01 and 02 had 0 and no currency.
		want := contracts.AwardNoticeDoc{
			NoticeNo: "OCDS-87SD3T-SEFIN-DRM-AD-024-2016/1", ProjectNo: "OCDS-87SD3T-SEFIN-DRM-AD-024-2016",
			ProjectName: "MANTENIMIENTO A MÁQUINA CORTADORA",
			Purchaser:   contracts.Party{ID: "GDF9712054NA", Name: "SECRETARÍA DE FINANZAS"},
			Supplier:    contracts.SupplierRef{USCC: "CES031203IG0", Name: "COMERCIALIZADORA DE EQUIPOS"},
			Currency:    "MXN", ProcurementMethod: "limited", Status: "active",
		}
		checkNotice(t, n, want, "193817.35", "2016-04-14")
		assertSummary(t, b, map[string]int{ReasonInvalidDate: 1}) // the pending contract has dateSigned null
	}
	// Forced UTF-8 refuses the file, naming the first bad byte.
	f, err := os.Open(filepath.Join(testdataDir(t), "release-package_encoding-iso-8859-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = Read(f, Options{Charset: "UTF-8"})
	assertInvalid(t, err, "byte offset 592")
}

func checkNotice(t *testing.T, got, want contracts.AwardNoticeDoc, amount, date string) {
	t.Helper()
	if got.Amount.String() != amount || got.AwardedOn.String() != date {
		t.Errorf("amount %s date %s, want %s %s", got.Amount, got.AwardedOn, amount, date)
	}
	got.Amount, got.AwardedOn = want.Amount, want.AwardedOn
	if got != want {
		t.Errorf("notice\n got %+v\nwant %+v", got, want)
	}
}
