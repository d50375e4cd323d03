package handlers

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/errs"
	"procfin/subsidies"
)

// FuzzDecodeJSON: whatever the bytes, decoding never panics and every
// failure is a client error (4xx) with a stable code.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"username":"a","password":"b","role":"admin","supplier_uscc":"x"}`,
		`{"username":1}`, `{"a":`, `[]`, `null`, `"str"`, `{} {}`, ``, `{"username":"\ud800"}`,
		`{"username":"a","username":"b"}`, `{"password":{"x":[1,2,{"y":null}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req createUserRequest
		rec := httptest.NewRecorder()
		r := http.MaxBytesReader(rec, nopCloser{bytes.NewReader(body)}, 1<<10)
		err := decodeJSON(r, &req)
		if err == nil {
			return
		}
		var e *errs.Error
		if !errors.As(err, &e) {
			t.Fatalf("non-errs error %T %v", err, err)
		}
		if status := errs.Status(e.Code); status < 400 || status > 499 {
			t.Fatalf("decode error %q maps to %d, want 4xx", e.Code, status)
		}
	})
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// FuzzCheckedDecode: whatever the bytes, reading a body that checks
// itself (a contract, a confirmation, a policy, a supplier's registration)
// never panics, even when its checks run on what could be read, and
// every failure is a client error; an invalid one names its fields.
func FuzzCheckedDecode(f *testing.F) {
	for _, s := range []string{contractBody, `{"amount": 1, "period": {"end": 3}, "payment_terms": [{"amount": "x"}, 7]}`,
		`{"confirmed_amount": "abc", "repayment_account": 1, "payment_terms": {}}`,
		`{"effective_from": 1, "lpr_1y": [{"from": 2}], "eligible_size_classes": "small"}`,
		`{"uscc": 1, "employees": "many", "settlement_account": []}`, `{"amount": "1e5", "amount": "2"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, dst := range []func() any{
			func() any { return new(contracts.ContractDoc) }, func() any { return new(contracts.AwardNoticeDoc) },
			func() any { return new(lending.Confirmation) }, func() any { return new(subsidies.PolicyInput) },
			func() any { return new(contracts.SupplierRegistration) }, func() any { return new(contracts.Resolution) },
		} {
			err := checkedDecode(bytes.NewReader(body), dst(), nil)
			if err == nil {
				continue
			}
			var e *errs.Error
			if !errors.As(err, &e) {
				t.Fatalf("non-errs error %T %v", err, err)
			}
			if status := errs.Status(e.Code); status < 400 || status > 499 {
				t.Fatalf("decode error %q maps to %d, want 4xx", e.Code, status)
			}
			if e.Code == errs.Invalid && len(e.Fields) == 0 {
				t.Fatalf("invalid naming no field: %v", err)
			}
		}
	})
}
