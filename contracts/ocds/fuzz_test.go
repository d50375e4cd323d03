package ocds

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"procfin/platform/errs"
)

// FuzzRead: Read never panics, in every charset mode (detected, Latin-1,
// UTF-8, GB18030 and GBK named), fails only with Invalid, refuses only with
// the listed reasons, and what it produces is consistent. The small real
// files are seeds; the large ones would make the fuzzer spend its time
// minimizing them.
func FuzzRead(f *testing.F) {
	if entries, err := os.ReadDir(filepath.Join("..", "..", "..", "shared", "testdata", "ocds")); err == nil {
		for _, e := range entries {
			if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".json") && info.Size() < 8<<10 {
				if b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "testdata", "ocds", e.Name())); err == nil {
					f.Add(b, uint8(0))
				}
			}
		}
	}
	seeds := []string{
		``, `{}`, `[]`, `{"releases": []}`, `{"records": []}`, `{"releases": null}`,
		pkg(rel("ocds-1", "r1", "2026-01-01T00:00:00Z", `"awards": [{"id": 1, "date": "2026-01-05", "value": {"amount": 1.005, "currency": "CNY"}, "suppliers": [{"id": "sup-a"}, {"id": "sup-b"}]}],
		  "contracts": [{"id": 2, "awardID": 1, "dateSigned": "2026-01-06", "value": {"amount": 1}, "suppliers": [{"id": "sup-a"}],
		    "period": {"startDate": "2026-01-06", "endDate": "2026-02-06"},
		    "implementation": {"milestones": [{"type": "payment", "dueDate": "2026-02-06", "value": {"amount": 1}}]}}]`)),
		`{"records": [{"ocid": "o", "compiledRelease": {"ocid": "o", "awards": [{"id": "a"}]}, "releases": [{"ocid": "o"}]}]}`,
		`{"records": [{"ocid": "o", "releases": [{"ocid": "o", "date": "2026-01-01", "contracts": [{"id": "c", "awardID": "a"}]}]}, 7, []]}`,
		"{\"releases\": [{\"ocid\": \"\xe9\", \"date\": \"x\"}]}",
		`{"releases": [{"ocid": "o", "awards": [{"id": "a", "value": {"amount": 1e999999999}}]}]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
	}
	if b, err := os.ReadFile(filepath.Join("testdata", "release-package_zh.gb18030.json")); err == nil {
		f.Add(b, uint8(0))
		f.Add(b, uint8(4))
		f.Add(b, uint8(5))
	}
	reasons := slices.Clone(Reasons)
	noteCodes := []string{NoteAmountRounded, NotePaymentMilestoneIgnored}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		opts := Options{ValidUSCC: realUSCC}
		var r io.Reader = bytes.NewReader(data)
		switch mode % 6 {
		case 1:
			opts.ValidUSCC = nil
			opts.Charset = "latin1"
		case 2:
			opts.Charset = "utf-8"
		case 3:
			r = oneByte{r}
		case 4:
			opts.Charset = "GB18030"
		case 5:
			opts.Charset = "gbk"
			r = oneByte{r}
		}
		b, err := Read(r, opts)
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || e.Code != errs.Invalid || e.Message == "" {
				t.Fatalf("error %v is not an Invalid *errs.Error", err)
			}
			if b != nil {
				t.Fatal("a batch with an error")
			}
			return
		}
		for _, rf := range b.Refused {
			if !slices.Contains(reasons, rf.Reason) || rf.Detail == "" || rf.Kind == "" {
				t.Fatalf("refusal %+v", rf)
			}
		}
		for _, n := range b.Notes {
			if !slices.Contains(noteCodes, n.Code) {
				t.Fatalf("note %+v", n)
			}
		}
		notices := map[string]bool{}
		for _, n := range b.Notices {
			d := n.Doc
			if d.Amount.IsNegative() || d.Supplier.USCC == "" || d.Purchaser.ID == "" || d.Currency == "" || d.AwardedOn.IsZero() ||
				!strings.HasPrefix(d.NoticeNo, n.OCID+"/") || (d.Status != "active" && d.Status != "cancelled") {
				t.Fatalf("notice %+v", n)
			}
			if d.Amount.String() != d.Amount.Decimal().StringFixed(2) {
				t.Fatalf("amount %s", d.Amount)
			}
			notices[d.NoticeNo] = true
		}
		for _, c := range b.Contracts {
			if !notices[c.Doc.NoticeNo] || c.Doc.Amount.IsNegative() || c.Doc.SignedOn.IsZero() || c.Doc.PaymentTerms == nil {
				t.Fatalf("contract %+v", c)
			}
		}
		if b.OCIDs > b.Releases {
			t.Fatalf("%d ocids from %d releases", b.OCIDs, b.Releases)
		}
		// Deterministic.
		if mode%6 == 0 {
			b2, err := Read(bytes.NewReader(data), opts)
			if err != nil || !reflect.DeepEqual(fmt.Sprint(b), fmt.Sprint(b2)) {
				t.Fatalf("second read differs: %v", err)
			}
		}
	})
}

type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}
