package banking

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"procfin/platform/text"
)

// TestInterpret: each kind of answer a bank may give to a delivery, as
// the protocol reads it.
func TestInterpret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		body     string
		outcome  string
		ref      string
		troubled bool
		detail   string // what the detail must hold
	}{
		{"Accepted", 202, `{"bank_reference":"REF-1"}`, "delivered", "REF-1", false, ""},
		{"SeenBefore", 200, `{"bank_reference":"REF-1"}`, "delivered", "REF-1", false, ""},
		{"NoBody", 202, ``, "delivered", "", false, ""},
		{"NULInReference", 202, `{"bank_reference":"REF\u0000X"}`, "delivered", "REFX", false, ""},
		{"LongReference", 202, `{"bank_reference":"` + strings.Repeat("参", 100) + `"}`, "delivered", strings.Repeat("参", 65) + "…", false, ""},
		{"HTMLAccepted", 202, `<html>oops</html>`, "retry", "", true, "202 with a body that is not the protocol's JSON object: <html>oops</html>"},
		{"Conflict", 409, `{}`, "conflict", "", false, "different body"},
		{"Refused", 422, `{"type":"invalid","title":"缺少","detail":"合同编号"}`, "refused", "", false, "(422): invalid 缺少 合同编号"},
		{"RefusedHTML", 403, `<h1>Forbidden</h1>`, "refused", "", false, "(403): the answer is not a problem document: <h1>Forbidden</h1>"},
		{"RefusedEmpty", 404, ``, "refused", "", false, "(404): the answer is not a problem document: (no body)"},
		{"Unavailable", 503, `{"type":"down","title":"维护中"}`, "retry", "", true, "503: down 维护中"},
		{"TooMany", 429, ``, "retry", "", true, "the bank answered 429"},
		{"Redirect", 302, ``, "retry", "", false, "the bank answered 302"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := interpret(tt.status, "", []byte(tt.body))
			if r.outcome != tt.outcome || r.reference != tt.ref || r.troubled != tt.troubled || !strings.Contains(r.detail, tt.detail) || r.status != tt.status {
				t.Errorf("interpret(%d, %q) = %+v; want %s, reference %q, troubled %v, detail holding %q",
					tt.status, tt.body, r, tt.outcome, tt.ref, tt.troubled, tt.detail)
			}
		})
	}
	// 330 characters of 3 bytes (990 bytes) of detail: 500 bytes kept,
	// 497 for the text, cut to 495 on a character boundary (165
	// characters), then "…".
	long := interpret(422, "", []byte(`{"detail":"`+strings.Repeat("拒", 330)+`"}`))
	if want := "the bank refused the message (422): " + strings.Repeat("拒", 165) + "…"; long.detail != want {
		t.Errorf("a long detail is kept as %q, want %q", long.detail, want)
	}
}

// FuzzBankAnswer: whatever a bank answers, interpret never panics, and
// what it keeps (reference, detail) is clean text within its bounds.
func FuzzBankAnswer(f *testing.F) {
	f.Add(202, "", []byte(`{"bank_reference":"REF\u0000X"}`))
	f.Add(200, "", []byte("\x00\xff<html>"))
	f.Add(422, "", []byte(`{"type":"x","title":"t","detail":"`+strings.Repeat("申请材料不完整，", 40)+`"}`))
	f.Add(503, "120", []byte(`{"detail":"\ud800"}`))
	f.Add(429, "Wed, 21 Oct 2015 07:28:00 GMT", []byte(nil))
	f.Add(409, "-1", []byte(`[]`))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		r := interpret(status, retryAfter, body)
		switch r.outcome {
		case "delivered", "refused", "conflict", "retry":
		default:
			t.Fatalf("outcome %q for %d %q", r.outcome, status, body)
		}
		if !text.Valid(r.reference) || len(r.reference) > maxReference {
			t.Fatalf("reference %q", r.reference)
		}
		if !text.Valid(r.detail) || !utf8.ValidString(r.detail) || len(r.detail) > maxError {
			t.Fatalf("detail %q", r.detail)
		}
		if r.outcome == "delivered" && status != http.StatusOK && status != http.StatusAccepted {
			t.Fatalf("%d taken for an acceptance", status)
		}
	})
}
