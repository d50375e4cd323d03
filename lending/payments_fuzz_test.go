package lending

import (
	"bytes"
	"strings"
	"testing"

	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/text"
)

// FuzzParsePaymentRecord: reading a payment system's record never panics;
// what it refuses is invalid (naming fields) or malformed_request; what it
// accepts has every field present and within its bounds, an amount above
// zero and a payment day no later than tomorrow.
func FuzzParsePaymentRecord(f *testing.F) {
	f.Add([]byte(`{"payment_id": "TP-1", "contract_no": "HT-2026-0815-1", "issuer_id": "jinan-pprc", "purchaser_id": "sdu",
		"amount": "300000.00", "paid_on": "2026-11-25",
		"payee_account": {"bank_name": "齐鲁银行", "account_no": "6222 0216", "account_name": "泉城软件"}}`))
	f.Add([]byte(`{"payment_id": "", "amount": "-1", "paid_on": "2999-01-01", "payee_account": {}}`))
	f.Add([]byte(`{"amount": 5, "paid_on": null, "payee_account": null}`))
	f.Add([]byte(`{"amount": "1e3", "paid_on": "2026-02-30", "contract_no": "\u202e"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"payment_id": "a\u0000"}`))
	today := money.MustDate("2026-11-26")
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePaymentRecord(bytes.NewReader(body), today)
		if err != nil {
			var e *errs.Error
			if !errs.Is(err, errs.Invalid) && !errs.Is(err, errs.MalformedRequest) {
				t.Fatalf("refused with %v", err)
			}
			if errs.Is(err, errs.Invalid) {
				if e, _ = err.(*errs.Error); e == nil || len(e.Fields) == 0 {
					t.Fatalf("invalid naming no field: %v", err)
				}
			}
			return
		}
		for _, v := range []string{p.PaymentID, p.ContractNo, p.IssuerID, p.PurchaserID,
			p.PayeeAccount.BankName, p.PayeeAccount.AccountNo, p.PayeeAccount.AccountName} {
			if strings.TrimSpace(v) == "" || len(v) > maxPaymentRef*4 || !text.Valid(v) {
				t.Fatalf("accepted %q in %+v", v, p)
			}
		}
		if !p.Amount.IsPositive() || p.PaidOn.IsZero() || p.PaidOn.After(today.AddDays(1)) {
			t.Fatalf("accepted %+v", p)
		}
	})
}
