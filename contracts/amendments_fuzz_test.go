package contracts

import (
	"bytes"
	"testing"

	"procfin/platform/jsonbody"
	"procfin/platform/text"
)

// FuzzResolution: an officer's resolution body, whatever its bytes, is
// decoded and checked without panicking, and a resolution that passes has
// a known decision and a reason that is valid, clean, non-blank text of at
// most 2000 bytes.
func FuzzResolution(f *testing.F) {
	for _, s := range []string{
		`{"decision": "keep", "reason": "the issuer posted a draft"}`, `{"decision": "adopt", "reason": "范围缩小"}`,
		`{"decision": "maybe"}`, `{"reason": "   "}`, `{"decision": "keep", "reason": "a\u0007b\u200f"}`,
		`{"decision": "keep", "reason": "\ud800"}`, `{"decision": 1}`, `{}`, `[]`, `{"decision": "keep", "reason": "x", "x": 1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r Resolution
		if err := jsonbody.Decode(bytes.NewReader(body), &r); err != nil {
			return
		}
		fe := r.validate()
		if len(fe) > 0 {
			for _, e := range fe {
				if e.Field != "decision" && e.Field != "reason" {
					t.Fatalf("unexpected field %q", e.Field)
				}
			}
			return
		}
		if r.Decision != AmendmentAdopt && r.Decision != AmendmentKeep {
			t.Fatalf("decision %q passed", r.Decision)
		}
		if r.Reason == "" || len(r.Reason) > 2000 || !text.Valid(r.Reason) {
			t.Fatalf("reason %q passed", r.Reason)
		}
	})
}
