package handlers

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"procfin/platform/errs"
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
