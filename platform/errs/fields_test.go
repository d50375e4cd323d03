package errs_test

import (
	"regexp"
	"strings"
	"testing"

	"procfin/platform/errs"
	"procfin/platform/i18n"
)

var verb = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)

// TestFieldKindsInCatalogue: every kind of field problem in the one table
// has its words in the catalogue (fe.<code>), in every language, taking
// the same number of arguments; every error code has its words (err.<code>).
func TestFieldKindsInCatalogue(t *testing.T) {
	t.Parallel()
	for _, code := range errs.FieldCodes() {
		for _, lang := range i18n.Langs {
			if !i18n.HasIn(lang, "fe."+code) {
				t.Errorf("no fe.%s in %s", code, lang)
				continue
			}
			if n := len(verb.FindAllString(i18n.T(lang, "fe."+code), -1)); n != errs.FieldArgs(code) {
				t.Errorf("fe.%s in %s takes %d arguments, the table's message %d", code, lang, n, errs.FieldArgs(code))
			}
		}
	}
	for _, code := range errs.Codes() {
		if !i18n.Has("err." + string(code)) {
			t.Errorf("no err.%s in the catalogue", code)
		}
	}
}

// TestOneMessagePerKind: a problem of a kind in the table reads the
// table's message, whatever words its finder gave.
func TestOneMessagePerKind(t *testing.T) {
	t.Parallel()
	e := errs.InvalidFields(
		errs.FieldError{Field: "purpose", Code: errs.FieldRequired, Message: "say what the money is for"},
		errs.Field("amount", errs.FieldTooLarge, "50000000.00"),
		errs.FieldError{Field: "uscc", Code: "uscc_checksum", Message: "its own words"},
	)
	want := []string{"is required", "is above the maximum of 50000000.00", "its own words"}
	for i, f := range e.Fields {
		if f.Message != want[i] {
			t.Errorf("%s: %q, want %q", f.Field, f.Message, want[i])
		}
	}
}

// TestMerge: a field that could not be read is not also reported missing,
// nor a field within it.
func TestMerge(t *testing.T) {
	t.Parallel()
	got := errs.Merge(
		[]errs.FieldError{errs.Field("amount", errs.FieldInvalidAmount), errs.Field("period", errs.FieldWrongType, "object")},
		[]errs.FieldError{errs.Field("amount", errs.FieldRequired), errs.Field("period.end", errs.FieldRequired),
			errs.Field("purpose", errs.FieldRequired), errs.Field("amounts", errs.FieldRequired)})
	var fields []string
	for _, f := range got {
		fields = append(fields, f.Field+":"+f.Code)
	}
	if s := strings.Join(fields, ","); s != "amount:invalid_amount,period:wrong_type,purpose:required,amounts:required" {
		t.Fatal(s)
	}
}
