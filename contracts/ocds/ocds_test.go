package ocds

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"testing"
	"testing/iotest"

	"procfin/platform/errs"
)

// Valid USCCs (GB 32100 checksums; the first is the standard's example).
const (
	usccA = "91350100M000100Y43"
	usccB = "91370100MA3C00011J"
	usccC = "91370102123456788X"
)

func TestUSCCFixturesAreValid(t *testing.T) {
	t.Parallel()
	for _, u := range []string{usccA, usccB, usccC} {
		if !realUSCC(u) {
			t.Errorf("%s should be a valid USCC", u)
		}
	}
}

func read(t *testing.T, s string) *Batch {
	t.Helper()
	b, err := Read(strings.NewReader(s), Options{ValidUSCC: realUSCC})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return b
}

func assertSummary(t *testing.T, b *Batch, want map[string]int) {
	t.Helper()
	if want == nil {
		want = map[string]int{}
	}
	if got := b.Summary(); !maps.Equal(got, want) {
		t.Errorf("refusals %v, want %v; all: %+v", got, want, b.Refused)
	}
}

func assertInvalid(t *testing.T, err error, contains string) {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.Invalid {
		t.Fatalf("error %v, want an *errs.Error Invalid", err)
	}
	if !strings.Contains(e.Message, contains) {
		t.Errorf("message %q does not contain %q", e.Message, contains)
	}
}

// parties and a tender shared by the small cases.
const common = `"parties": [
  {"id": "buyer-1", "name": "济南市财政局", "roles": ["buyer"], "identifier": {"scheme": "CN-USCC", "id": "11370100004186000M"}},
  {"id": "sup-a", "name": "甲科技有限公司", "roles": ["supplier"], "identifier": {"scheme": "CN-USCC", "id": "` + usccA + `"}},
  {"id": "sup-b", "name": "乙软件有限公司", "roles": ["supplier"], "identifier": {"scheme": "CN-SAIC", "id": "` + usccB + `"}},
  {"id": "sup-x", "name": "No USCC Ltd", "roles": ["supplier"], "identifier": {"scheme": "GB-COH", "id": "01234567"}}
],
"tender": {"id": "JNCG-2026-001", "title": "服务器采购", "procurementMethod": "open"}`

func rel(ocid, id, date, body string) string {
	return `{"ocid": "` + ocid + `", "id": "` + id + `", "date": "` + date + `", ` + common + `, ` + body + `}`
}

func pkg(releases ...string) string {
	return `{"uri": "x", "version": "1.1", "releases": [` + strings.Join(releases, ",") + `]}`
}

func TestSimpleAwardAndContract(t *testing.T) {
	t.Parallel()
	b := read(t, pkg(rel("ocds-1", "r1", "2026-10-08T10:00:00+08:00", `
	  "awards": [{"id": "a1", "status": "active", "date": "2026-10-07T20:00:00Z",
	    "value": {"amount": 1200000, "currency": "CNY"}, "suppliers": [{"id": "sup-a", "name": "甲科技有限公司"}]}],
	  "contracts": [{"id": "c1", "awardID": "a1", "status": "pending", "dateSigned": "2026-10-20",
	    "value": {"amount": 1180000.00, "currency": "CNY"},
	    "period": {"startDate": "2026-11-01T00:00:00+08:00", "endDate": "2027-04-30T00:00:00+08:00"},
	    "implementation": {"milestones": [
	      {"id": "m1", "type": "payment", "title": "acceptance", "dueDate": "2027-05-31T00:00:00+08:00", "value": {"amount": 1180000, "currency": "CNY"}},
	      {"id": "m2", "type": "delivery", "dueDate": "2027-01-31"},
	      {"id": "m3", "type": "payment", "title": "no date", "value": {"amount": 1}}]}}]`)))
	assertSummary(t, b, nil)
	if len(b.Notices) != 1 || len(b.Contracts) != 1 {
		t.Fatalf("%+v", b)
	}
	n := b.Notices[0].Doc
	// 2026-10-07T20:00Z is 2026-10-08 04:00 in Shanghai.
	if n.NoticeNo != "ocds-1/a1" || n.ProjectNo != "ocds-1" || n.ProjectName != "服务器采购" ||
		n.Purchaser.ID != "CN-USCC-11370100004186000M" || n.Purchaser.Name != "济南市财政局" ||
		n.Supplier.USCC != usccA || n.Amount.String() != "1200000.00" || n.Currency != "CNY" ||
		n.AwardedOn.String() != "2026-10-08" || n.ProcurementMethod != "open" || n.Status != "active" {
		t.Errorf("notice %+v", n)
	}
	c := b.Contracts[0].Doc
	if c.ContractNo != "ocds-1/c1" || c.NoticeNo != "ocds-1/a1" || c.Amount.String() != "1180000.00" || c.Currency != "CNY" ||
		c.SignedOn.String() != "2026-10-20" || c.Period.Start.String() != "2026-11-01" || c.Period.End.String() != "2027-04-30" ||
		c.Status != "active" || c.Supplier.USCC != usccA || c.Purchaser != n.Purchaser {
		t.Errorf("contract %+v", c)
	}
	if len(c.PaymentTerms) != 1 || c.PaymentTerms[0].DueOn.String() != "2027-05-31" || c.PaymentTerms[0].Amount.String() != "1180000.00" || c.PaymentTerms[0].Condition != "acceptance" {
		t.Errorf("payment terms %+v", c.PaymentTerms)
	}
	if len(b.Notes) != 1 || b.Notes[0].Code != NotePaymentMilestoneIgnored {
		t.Errorf("notes %+v", b.Notes)
	}
}

func TestMergeNewerWins(t *testing.T) {
	t.Parallel()
	award := func(amount, status, title string) string {
		return `"awards": [{"id": "a1", "status": "` + status + `", "title": "` + title + `", "date": "2026-01-05",
		  "value": {"amount": ` + amount + `, "currency": "CNY"}, "suppliers": [{"id": "sup-a"}]}]`
	}
	// The newest by date comes first in the file; an older one last.
	b := read(t, pkg(
		rel("ocds-m", "r3", "2026-03-01T00:00:00Z", `"awards": [{"id": "a1", "value": {"amount": 300}}]`),
		rel("ocds-m", "r1", "2026-01-01T00:00:00Z", award("100", "pending", "first")),
		rel("ocds-m", "r2", "2026-02-01T00:00:00Z", award("200", "cancelled", "second")),
	))
	assertSummary(t, b, nil)
	if b.Releases != 3 || b.OCIDs != 1 || len(b.Notices) != 1 {
		t.Fatalf("%+v", b)
	}
	n := b.Notices[0].Doc
	// amount from r3 (newest), status from r2 (r3 has none), currency kept from r1.
	if n.Amount.String() != "300.00" || n.Status != "cancelled" || n.Currency != "CNY" {
		t.Errorf("notice %+v", n)
	}

	// Equal dates: the later in the file wins.
	b = read(t, pkg(
		rel("ocds-t", "r1", "2026-01-01T00:00:00Z", award("100", "active", "x")),
		rel("ocds-t", "r2", "2026-01-01T00:00:00Z", award("150", "active", "x")),
	))
	if len(b.Notices) != 1 || b.Notices[0].Doc.Amount.String() != "150.00" {
		t.Errorf("tie: %+v", b.Notices)
	}
}

func TestRecordPackage(t *testing.T) {
	t.Parallel()
	compiled := rel("ocds-r", "compiled", "2026-02-01T00:00:00Z", `"awards": [{"id": "a1", "date": "2026-01-05",
	  "value": {"amount": 500, "currency": "CNY"}, "suppliers": [{"id": "sup-a"}]}]`)
	old := rel("ocds-r", "r1", "2026-01-01T00:00:00Z", `"awards": [{"id": "a1", "date": "2026-01-05",
	  "value": {"amount": 400, "currency": "CNY"}, "suppliers": [{"id": "sup-a"}]}]`)
	newer := rel("ocds-r", "r2", "2026-01-02T00:00:00Z", `"awards": [{"id": "a1", "value": {"amount": 450}}]`)

	// With compiledRelease (after the releases in the record: key order does not matter).
	b := read(t, `{"records": [{"ocid": "ocds-r", "releases": [`+old+`], "compiledRelease": `+compiled+`}]}`)
	assertSummary(t, b, nil)
	if b.Releases != 1 || len(b.Notices) != 1 || b.Notices[0].Doc.Amount.String() != "500.00" {
		t.Errorf("compiled: %+v", b)
	}
	// Without: the record's releases merge.
	b = read(t, `{"records": [{"releases": [`+newer+`, `+old+`], "ocid": "ocds-r"}, {"ocid": "ocds-empty", "releases": [{"url": "http://x/1.json", "date": "2026-01-01T00:00:00Z"}]}]}`)
	assertSummary(t, b, nil)
	if b.Releases != 3 || b.OCIDs != 2 || len(b.Notices) != 1 || b.Notices[0].Doc.Amount.String() != "450.00" {
		t.Errorf("merged: %+v", b)
	}
}

func TestIntegerIDs(t *testing.T) {
	t.Parallel()
	b := read(t, pkg(rel("ocds-i", "r1", "2026-01-01T00:00:00Z", `
	  "awards": [{"id": 7, "date": "2026-01-05", "value": {"amount": 100, "currency": "CNY"}, "suppliers": [{"id": "sup-a"}]}],
	  "contracts": [{"id": 9, "awardID": 7, "dateSigned": "2026-01-06", "value": {"amount": 100}},
	                {"id": {"x": 1}, "awardID": 7},
	                {"id": "c3", "awardID": true},
	                {"id": 1.5, "awardID": 7}]`)))
	assertSummary(t, b, map[string]int{ReasonIDTypeMismatch: 3})
	if len(b.Contracts) != 1 || b.Contracts[0].Doc.ContractNo != "ocds-i/9" || b.Contracts[0].Doc.NoticeNo != "ocds-i/7" || b.Contracts[0].Doc.Currency != "CNY" {
		t.Errorf("%+v", b.Contracts)
	}
}

func TestContractRefusals(t *testing.T) {
	t.Parallel()
	b := read(t, pkg(rel("ocds-c", "r1", "2026-01-01T00:00:00Z", `
	  "awards": [{"id": "a1", "date": "2026-01-05", "value": {"amount": 1000.00, "currency": "CNY"}, "suppliers": [{"id": "sup-a"}]},
	             {"id": "a2", "date": "2026-01-05", "value": {"amount": 1000.00, "currency": "CNY"}, "suppliers": [{"id": "sup-x"}]}],
	  "contracts": [
	    {"id": "missing", "awardID": "nope", "dateSigned": "2026-01-06", "value": {"amount": 1}},
	    {"id": "noaward", "dateSigned": "2026-01-06", "value": {"amount": 1}},
	    {"id": "over", "awardID": "a1", "dateSigned": "2026-01-06", "value": {"amount": 1000.01, "currency": "CNY"}},
	    {"id": "usd", "awardID": "a1", "dateSigned": "2026-01-06", "value": {"amount": 10, "currency": "USD"}},
	    {"id": "refused", "awardID": "a2", "dateSigned": "2026-01-06", "value": {"amount": 10}},
	    {"id": "neg", "awardID": "a1", "dateSigned": "2026-01-06", "value": {"amount": -1}},
	    {"id": "nodate", "awardID": "a1", "value": {"amount": 1}},
	    {"id": "baddate", "awardID": "a1", "dateSigned": "06/01/2026", "value": {"amount": 1}},
	    {"id": "backwards", "awardID": "a1", "dateSigned": "2026-01-06", "value": {"amount": 1}, "period": {"startDate": "2026-03-01", "endDate": "2026-02-01"}},
	    {"id": "status", "awardID": "a1", "status": "signed", "dateSigned": "2026-01-06", "value": {"amount": 1}},
	    {"id": "equal", "awardID": "a1", "status": "terminated", "dateSigned": "2026-01-06", "value": {"amount": 1000}}]`)))
	assertSummary(t, b, map[string]int{
		ReasonSupplierWithoutUSCC:  1,
		ReasonContractAwardMissing: 2, ReasonContractValueExceeds: 1, ReasonCurrencyMismatch: 1,
		ReasonContractAwardRefused: 1, ReasonInvalidAmount: 1, ReasonInvalidDate: 3, ReasonInvalidStatus: 1,
	})
	if len(b.Contracts) != 1 || b.Contracts[0].Doc.ContractNo != "ocds-c/equal" || b.Contracts[0].Doc.Status != "terminated" {
		t.Errorf("%+v", b.Contracts)
	}
	for _, r := range b.Refused {
		if r.Reason == ReasonSupplierWithoutUSCC && (r.Ref != "a2" || r.Kind != KindAward || !strings.Contains(r.Detail, "No USCC Ltd")) {
			t.Errorf("%+v", r)
		}
	}
}

func TestAwardRefusals(t *testing.T) {
	t.Parallel()
	b := read(t, pkg(rel("ocds-a", "r1", "2026-01-01T00:00:00Z", `
	  "awards": [
	    {"id": "nosup", "date": "2026-01-05", "value": {"amount": 1, "currency": "CNY"}},
	    {"id": "noval", "date": "2026-01-05", "suppliers": [{"id": "sup-a"}]},
	    {"id": "nocur", "date": "2026-01-05", "value": {"amount": 1}, "suppliers": [{"id": "sup-a"}]},
	    {"id": "strval", "date": "2026-01-05", "value": {"amount": "abc", "currency": "CNY"}, "suppliers": [{"id": "sup-a"}]},
	    {"id": "nodate", "value": {"amount": 1, "currency": "CNY"}, "suppliers": [{"id": "sup-a"}]},
	    {"id": "unsucc", "status": "unsuccessful", "date": "2026-01-05", "value": {"amount": 1, "currency": "CNY"}, "suppliers": [{"id": "sup-a"}]},
	    {"id": "strnum", "date": "2026-01-05", "value": {"amount": "99.5", "currency": "CNY"}, "suppliers": [{"id": "sup-a"}]},
	    {"noid": true}]`)))
	assertSummary(t, b, map[string]int{
		ReasonAwardWithoutSupplier: 1, ReasonAwardWithoutValue: 2, ReasonInvalidAmount: 1, ReasonInvalidDate: 1, ReasonMalformedRelease: 1,
	})
	if len(b.Notices) != 2 || b.Notices[0].Doc.Status != "cancelled" || b.Notices[1].Doc.Amount.String() != "99.50" {
		t.Errorf("%+v", b.Notices)
	}
}

func TestUSCCRecognition(t *testing.T) {
	t.Parallel()
	body := `"awards": [{"id": "a1", "date": "2026-01-05", "value": {"amount": 1, "currency": "CNY"},
	  "suppliers": [{"id": "sup-a"}, {"id": "sup-b"}, {"id": "sup-x"},
	                {"name": "inline", "identifier": {"id": "` + strings.ToLower(usccC) + `"}},
	                {"name": "additional", "identifier": {"scheme": "X", "id": "1"}, "additionalIdentifiers": [{"scheme": "CN-USCC", "id": "` + usccB + `"}]}]}],
	  "contracts": [{"id": "c1", "awardID": "a1", "dateSigned": "2026-01-06", "value": {"amount": 1}, "suppliers": [{"id": "sup-b"}]},
	                {"id": "c2", "awardID": "a1", "dateSigned": "2026-01-06", "value": {"amount": 1}}]`
	b := read(t, pkg(rel("ocds-u", "r1", "2026-01-01T00:00:00Z", body)))
	// sup-a by scheme; sup-b by its valid id (scheme CN-SAIC); sup-x refused;
	// the inline lower-case USCC is upper-cased; "additional" repeats sup-b's USCC: one notice.
	assertSummary(t, b, map[string]int{ReasonSupplierWithoutUSCC: 1, ReasonContractSupplierAmbiguous: 1})
	var nos []string
	for _, n := range b.Notices {
		nos = append(nos, n.Doc.NoticeNo)
	}
	want := []string{"ocds-u/a1/" + usccA, "ocds-u/a1/" + usccB, "ocds-u/a1/" + usccC}
	if strings.Join(nos, " ") != strings.Join(want, " ") {
		t.Errorf("notices %v, want %v", nos, want)
	}
	if len(b.Contracts) != 1 || b.Contracts[0].Doc.NoticeNo != "ocds-u/a1/"+usccB || b.Contracts[0].Doc.Supplier.USCC != usccB {
		t.Errorf("%+v", b.Contracts)
	}

	// Without a validator only the CN-USCC scheme counts.
	b, err := Read(strings.NewReader(pkg(rel("ocds-u", "r1", "2026-01-01T00:00:00Z", body))), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Notices) != 2 || b.Summary()[ReasonSupplierWithoutUSCC] != 3 {
		t.Errorf("no validator: %d notices, %v", len(b.Notices), b.Summary())
	}
}

func TestNonCNYKept(t *testing.T) {
	t.Parallel()
	b := read(t, pkg(rel("ocds-usd", "r1", "2026-01-01T00:00:00Z", `
	  "awards": [{"id": "a1", "date": "2026-01-05", "value": {"amount": 5000, "currency": "USD"}, "suppliers": [{"id": "sup-a"}]}],
	  "contracts": [{"id": "c1", "awardID": "a1", "dateSigned": "2026-01-06", "value": {"amount": 4000}}]`)))
	assertSummary(t, b, nil)
	if len(b.Notices) != 1 || b.Notices[0].Doc.Currency != "USD" || len(b.Contracts) != 1 || b.Contracts[0].Doc.Currency != "USD" {
		t.Errorf("%+v", b)
	}
}

func TestAmounts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		amount string
		want   string
		note   bool
		reason string
	}{
		{"12345678901234.57", "12345678901234.57", false, ""},
		{`"12345678901234.57"`, "12345678901234.57", false, ""},
		{"1.005", "1.01", true, ""},
		{"1.004", "1.00", true, ""},
		{"2.675", "2.68", true, ""}, // 2.675 is below 2.675 in float64; exact here
		{"1e3", "1000.00", false, ""},
		{"0", "0.00", false, ""},
		{"999999999999999.99", "999999999999999.99", false, ""},
		{"999999999999999.995", "", false, ReasonInvalidAmount}, // rounds to 10^15
		{"1000000000000000", "", false, ReasonInvalidAmount},
		{"-0.01", "", false, ReasonInvalidAmount},
		{"1e400", "", false, ReasonInvalidAmount},
		{"true", "", false, ReasonInvalidAmount},
		{`"1e3"`, "", false, ReasonInvalidAmount},
		{`{"a": 1}`, "", false, ReasonInvalidAmount},
	}
	for _, c := range cases {
		b := read(t, pkg(rel("ocds-amt", "r1", "2026-01-01T00:00:00Z", `"awards": [{"id": "a1", "date": "2026-01-05",
		  "value": {"amount": `+c.amount+`, "currency": "CNY"}, "suppliers": [{"id": "sup-a"}]}]`)))
		if c.reason != "" {
			if len(b.Refused) != 1 || b.Refused[0].Reason != c.reason {
				t.Errorf("%s: refused %+v", c.amount, b.Refused)
			}
			continue
		}
		if len(b.Notices) != 1 || b.Notices[0].Doc.Amount.String() != c.want {
			t.Errorf("%s: %+v %+v", c.amount, b.Notices, b.Refused)
			continue
		}
		if got := len(b.Notes) == 1 && b.Notes[0].Code == NoteAmountRounded; got != c.note {
			t.Errorf("%s: notes %+v", c.amount, b.Notes)
		}
	}
}

func TestDates(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"2026-01-05":                "2026-01-05",
		"2026-01-05T15:59:59Z":      "2026-01-05", // 23:59:59 in Shanghai
		"2026-01-05T16:00:00Z":      "2026-01-06",
		"2026-01-05T23:00:00-06:00": "2026-01-06",
		"2026-01-05T23:00:00":       "2026-01-05", // no offset: Shanghai time
		"2026-01-05T10:00:00.123Z":  "2026-01-05",
		"05/01/2026":                "",
		"2026-13-01":                "",
		"0001-01-01":                "",
		"1899-12-31T10:00:00Z":      "",
	}
	for in, want := range cases {
		b := read(t, pkg(rel("ocds-d", "r1", "2026-01-01T00:00:00Z", `"awards": [{"id": "a1", "date": "`+in+`",
		  "value": {"amount": 1, "currency": "CNY"}, "suppliers": [{"id": "sup-a"}]}]`)))
		if want == "" {
			assertSummary(t, b, map[string]int{ReasonInvalidDate: 1})
			continue
		}
		if len(b.Notices) != 1 || b.Notices[0].Doc.AwardedOn.String() != want {
			t.Errorf("%s: %+v %+v", in, b.Notices, b.Refused)
		}
	}
}

func TestMalformedReleases(t *testing.T) {
	t.Parallel()
	good := rel("ocds-g", "r1", "2026-01-01T00:00:00Z", `"awards": [{"id": "a1", "date": "2026-01-05",
	  "value": {"amount": 1, "currency": "CNY"}, "suppliers": [{"id": "sup-a"}]}]`)
	b := read(t, pkg(`42`, `{"id": "no-ocid"}`, `{"ocid": 5}`, `{"ocid": "ocds-bd", "date": "yesterday"}`,
		`{"ocid": "ocds-aw", "awards": {"id": "a1"}}`, `{"ocid": "ocds-aw2", "awards": ["x"]}`, good))
	assertSummary(t, b, map[string]int{ReasonMalformedRelease: 5, ReasonInvalidDate: 1})
	if b.Releases != 7 || len(b.Notices) != 1 || b.OCIDs != 3 {
		t.Errorf("releases %d ocids %d notices %d", b.Releases, b.OCIDs, len(b.Notices))
	}
}

func TestPurchaser(t *testing.T) {
	t.Parallel()
	// OCDS 1.0 shape: an inline buyer without parties, inline suppliers.
	b := read(t, `{"releases": [{"ocid": "ocds-p", "date": "2026-01-01T00:00:00Z",
	  "buyer": {"identifier": {"scheme": "CN-USCC", "id": "11370100004186000M"}, "name": "采购人"},
	  "awards": [{"id": "a1", "date": "2026-01-05", "value": {"amount": 1, "currency": "CNY"},
	    "suppliers": [{"name": "甲", "identifier": {"scheme": "CN-USCC", "id": "`+usccA+`"}}]}]}]}`)
	if len(b.Notices) != 1 || b.Notices[0].Doc.Purchaser.ID != "CN-USCC-11370100004186000M" || b.Notices[0].Doc.Purchaser.Name != "采购人" || b.Notices[0].Doc.ProjectName != "" {
		t.Errorf("%+v %+v", b.Notices, b.Refused)
	}
	// Only tender.procuringEntity, a reference to a party without identifier.
	b = read(t, `{"releases": [{"ocid": "ocds-p", "date": "2026-01-01T00:00:00Z",
	  "parties": [{"id": "pe", "name": "中心"}],
	  "tender": {"procuringEntity": {"id": "pe"}},
	  "awards": [{"id": "a1", "title": "标题", "date": "2026-01-05", "value": {"amount": 1, "currency": "CNY"},
	    "suppliers": [{"name": "甲", "identifier": {"scheme": "CN-USCC", "id": "`+usccA+`"}}]}]}]}`)
	if len(b.Notices) != 1 || b.Notices[0].Doc.Purchaser.ID != "pe" || b.Notices[0].Doc.Purchaser.Name != "中心" || b.Notices[0].Doc.ProjectName != "标题" {
		t.Errorf("%+v %+v", b.Notices, b.Refused)
	}
	// None at all.
	b = read(t, `{"releases": [{"ocid": "ocds-p", "date": "2026-01-01T00:00:00Z",
	  "awards": [{"id": "a1", "date": "2026-01-05", "value": {"amount": 1, "currency": "CNY"},
	    "suppliers": [{"name": "甲", "identifier": {"scheme": "CN-USCC", "id": "`+usccA+`"}}]}]}]}`)
	assertSummary(t, b, map[string]int{ReasonPurchaserMissing: 1})
}

func latin1(s string) []byte {
	var out []byte
	for _, r := range s {
		if r > 0xFF {
			panic("not latin-1")
		}
		out = append(out, byte(r))
	}
	return out
}

func TestCharsets(t *testing.T) {
	t.Parallel()
	doc := `{"releases": [{"ocid": "ocds-l", "date": "2026-01-01T00:00:00Z",
	  "buyer": {"id": "b", "name": "Secretaría de Finanzas"},
	  "tender": {"title": "Máquina cortadora ÁÉÍÓÚ ñ"},
	  "awards": [{"id": "a1", "date": "2026-01-05", "value": {"amount": 1, "currency": "MXN"},
	    "suppliers": [{"name": "Compañía", "identifier": {"scheme": "CN-USCC", "id": "` + usccA + `"}}]}]}]}`
	check := func(name string, b *Batch, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(b.Notices) != 1 {
			t.Fatalf("%s: %+v", name, b)
		}
		n := b.Notices[0].Doc
		if n.ProjectName != "Máquina cortadora ÁÉÍÓÚ ñ" || n.Purchaser.Name != "Secretaría de Finanzas" || n.Supplier.Name != "Compañía" {
			t.Errorf("%s: %+v", name, n)
		}
	}
	l1 := latin1(doc)
	b, err := Read(bytes.NewReader(l1), Options{})
	check("latin1 auto", b, err)
	b, err = Read(iotest.OneByteReader(bytes.NewReader(l1)), Options{})
	check("latin1 auto, one byte at a time", b, err)
	b, err = Read(bytes.NewReader(l1), Options{Charset: "iso-8859-1"})
	check("latin1 forced", b, err)
	b, err = Read(strings.NewReader(doc), Options{})
	check("utf8 auto", b, err)
	b, err = Read(iotest.HalfReader(strings.NewReader(doc)), Options{Charset: "utf8"})
	check("utf8 forced", b, err)
	b, err = Read(strings.NewReader("\uFEFF"+doc), Options{})
	check("utf8 with BOM", b, err)

	_, err = Read(bytes.NewReader(l1), Options{Charset: "UTF-8"})
	assertInvalid(t, err, "not valid UTF-8")
	_, err = Read(strings.NewReader(doc), Options{Charset: "EBCDIC"})
	assertInvalid(t, err, "unsupported charset")
	// UTF-8 first, Latin-1 later (beyond the look-ahead): refused, not mangled.
	mixed := `{"x": "é", "pad": "` + strings.Repeat("a", 100000) + `", "releases": [], "y": "` + string([]byte{0xE9}) + `"}`
	_, err = Read(strings.NewReader(mixed), Options{})
	assertInvalid(t, err, fmt.Sprintf("byte offset %d", strings.IndexByte(mixed, 0xE9)))
}

func TestNotAPackage(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"":                                "empty",
		"   ":                             "empty",
		"[1, 2]":                          "not a JSON object",
		`"releases"`:                      "not a JSON object",
		`{"uri": "x"}`:                    "neither",
		`{"releases": {}}`:                "not an array",
		`{"releases": "x"}`:               "not an array",
		`{"releases": [], "records": []}`: "both",
		`{"releases": [`:                  "ends inside",
		`{"releases": [{"ocid": }]}`:      "not valid JSON",
		`{"releases": []} {}`:             "data after",
		`{"releases": []}]`:               "not valid JSON",
		"\x00\x01":                        "not valid JSON",
	}
	for in, want := range cases {
		b, err := Read(strings.NewReader(in), Options{})
		if b != nil {
			t.Errorf("%q: a batch with the error", in)
		}
		assertInvalid(t, err, want)
	}
}

func TestEmptyPackage(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`{"releases": []}`, `{"records": []}`, `{"releases": null}`, `{"uri": "x", "publisher": {"name": "p"}, "releases": []}`} {
		b := read(t, in)
		if b.Releases != 0 || b.OCIDs != 0 || len(b.Notices)+len(b.Contracts)+len(b.Refused) != 0 {
			t.Errorf("%s: %+v", in, b)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestReaderErrorPassesThrough(t *testing.T) {
	t.Parallel()
	_, err := Read(failingReader{}, Options{})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("err %v", err)
	}
}

// TestStreamingLargeFile feeds a generated package through a pipe: Read
// consumes it as it comes and reports progress per release.
func TestStreamingLargeFile(t *testing.T) {
	t.Parallel()
	const ocids, perOCID = 2000, 3
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriter(pw)
		fmt.Fprint(w, `{"uri": "gen", "releases": [`)
		for k := 0; k < perOCID; k++ {
			for i := 0; i < ocids; i++ {
				if k > 0 || i > 0 {
					w.WriteString(",")
				}
				// Each release raises the award; the last one (k = perOCID-1) wins.
				fmt.Fprintf(w, `{"ocid": "ocds-gen-%d", "id": "r%d", "date": "2026-01-0%dT00:00:00Z", "planning": {"documents": [{"id": "d", "title": "%s"}]}, %s,
				  "awards": [{"id": "a", "date": "2026-01-05", "value": {"amount": %d.5, "currency": "CNY"}, "suppliers": [{"id": "sup-a"}]}],
				  "contracts": [{"id": "c", "awardID": "a", "dateSigned": "2026-01-06", "value": {"amount": 100}}]}`,
					i, k, k+1, strings.Repeat("x", 200), common, 1000+k)
			}
		}
		fmt.Fprint(w, `]}`)
		w.Flush()
		pw.Close()
	}()
	calls, last := 0, 0
	b, err := Read(pr, Options{ValidUSCC: realUSCC, Progress: func(n int) {
		calls++
		if n != last+1 {
			t.Errorf("progress %d after %d", n, last)
		}
		last = n
	}})
	if err != nil {
		t.Fatal(err)
	}
	assertSummary(t, b, nil)
	if b.Releases != ocids*perOCID || b.OCIDs != ocids || len(b.Notices) != ocids || len(b.Contracts) != ocids || calls != ocids*perOCID {
		t.Fatalf("releases %d ocids %d notices %d contracts %d progress calls %d", b.Releases, b.OCIDs, len(b.Notices), len(b.Contracts), calls)
	}
	if b.Notices[0].Doc.NoticeNo != "ocds-gen-0/a" || b.Notices[0].Doc.Amount.String() != "1002.50" || b.Notices[ocids-1].Doc.NoticeNo != fmt.Sprintf("ocds-gen-%d/a", ocids-1) {
		t.Errorf("first %+v", b.Notices[0].Doc)
	}
}

type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

func TestStuckReader(t *testing.T) {
	t.Parallel()
	if _, err := Read(stuckReader{}, Options{}); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("err %v", err)
	}
}
