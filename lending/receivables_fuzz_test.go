package lending

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"procfin/platform/errs"
	"procfin/platform/jsonbody"
	"procfin/platform/text"
)

// FuzzPurchaserBodies: a confirmation's or refusal's body from outside is
// decoded and checked without a panic; what passes has an amount above
// zero, an account of bounded valid text, payment terms that are a JSON
// array within the bound (equal to themselves), and a reason of bounded
// valid text.
func FuzzPurchaserBodies(f *testing.F) {
	for _, s := range []string{
		`{"confirmed_amount": "800000.00", "repayment_account": {"bank_name": "B", "account_no": "62 22", "account_name": "A"}, "payment_terms": [{"due_on": "2027-05-31", "amount": "1.00"}]}`,
		`{"confirmed_amount": "1", "repayment_account": {}, "payment_terms": {}}`,
		`{"confirmed_amount": "-1.00", "payment_terms": "x"}`,
		`{"reason": "货物未验收"}`, `{"reason": ""}`, `{"reason": 5}`, `[]`, `null`, `{"payment_terms": [1e999]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var c Confirmation
		if err := jsonbody.Decode(bytes.NewReader(body), &c); err != nil {
			if code := errs.CodeOf(err); code != errs.Invalid && code != errs.MalformedRequest {
				t.Fatalf("decode %q: %v", body, err)
			}
		} else if fe := c.validate(); len(fe) == 0 {
			terms := bytes.TrimSpace(c.PaymentTerms)
			if !c.ConfirmedAmount.IsPositive() || len(terms) == 0 || terms[0] != '[' || !json.Valid(terms) || len(terms) > maxPaymentTerms ||
				!sameTerms(terms, terms) {
				t.Fatalf("accepted %q", body)
			}
			for _, v := range []string{c.RepaymentAccount.BankName, c.RepaymentAccount.AccountNo, c.RepaymentAccount.AccountName} {
				if !text.Valid(v) || len(v) > maxAccountText || strings.TrimSpace(v) == "" {
					t.Fatalf("accepted the account of %q", body)
				}
			}
			if no := bareAccountNo(c.RepaymentAccount.AccountNo); strings.Contains(no, " ") {
				t.Fatalf("account number %q keeps white space", no)
			}
		}
		var r Refusal
		if err := jsonbody.Decode(bytes.NewReader(body), &r); err == nil && len(r.validate()) == 0 {
			if !text.Valid(r.Reason) || utf8.RuneCountInString(r.Reason) > maxRefusal || strings.TrimSpace(r.Reason) == "" {
				t.Fatalf("accepted the reason of %q", body)
			}
		}
	})
}
