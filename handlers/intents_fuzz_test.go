package handlers

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"procfin/lending"
	"procfin/platform/errs"
)

// FuzzIntentBodies: whatever the bytes, the bodies of publishing a need
// and accepting an offer decode without a panic, every failure a client
// error (4xx) with a stable code.
func FuzzIntentBodies(f *testing.F) {
	for _, s := range []string{
		`{"contract_id": "8a1c2f8e-3c1d-4f7a-9b2e-1d2c3b4a5f60", "amount": "800000.00", "term_days": 180, "purpose": "materials", "bank_ids": ["*"]}`,
		`{"contract_id": "x", "amount": 1, "term_days": "180", "bank_ids": "qilu-bank", "respond_by": 5}`,
		`{"offer_id": "8a1c2f8e-3c1d-4f7a-9b2e-1d2c3b4a5f60"}`, `{"offer_id": null}`, `{"offer_id": ["a"]}`,
		`{"amount": "1e400"}`, `{"bank_ids": [null, 1, {}]}`, `{`, ``, `null`, `{"purpose": "\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, dst := range []any{new(lending.PublishInput), new(acceptInput)} {
			rec := httptest.NewRecorder()
			err := decodeJSON(http.MaxBytesReader(rec, nopCloser{bytes.NewReader(body)}, 1<<10), dst)
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
		}
	})
}
