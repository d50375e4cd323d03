package jsonbody_test

import (
	"slices"
	"strings"
	"testing"

	"procfin/platform/errs"
	"procfin/platform/jsonbody"
	"procfin/platform/money"
)

type term struct {
	DueOn  money.Date   `json:"due_on"`
	Amount money.Amount `json:"amount"`
}

type embedded struct {
	Note string `json:"note"`
}

type body struct {
	embedded
	Amount  *money.Amount        `json:"amount"`
	Rate    money.Rate           `json:"rate"`
	Days    *int                 `json:"days"`
	Name    string               `json:"name"`
	Terms   []term               `json:"terms"`
	Period  struct{ End string } `json:"period"`
	Labels  map[string]int       `json:"labels"`
	Flag    bool                 `json:"flag"`
	Ignored string               `json:"-"`
}

func fieldsOf(err error) []string {
	e, ok := err.(*errs.Error)
	if !ok {
		return nil
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field+":"+f.Code)
	}
	slices.Sort(out)
	return out
}

// TestDecodeNamesEveryField: each bad field of a well-formed body is
// named, with its kind; the good ones are read, a bad one left zero.
func TestDecodeNamesEveryField(t *testing.T) {
	t.Parallel()
	var b body
	err := jsonbody.Decode(strings.NewReader(`{"note": "hi", "amount": "1.234", "rate": "2", "days": "x", "name": "ok",
		"terms": [{"due_on": "2026-01-01", "amount": "5.00"}, {"due_on": "soon", "amount": 5, "extra": 1}],
		"period": {"End": 3}, "labels": {"a": 1, "b": "two"}, "flag": "yes", "colour": "red", "Ignored": "x"}`), &b)
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("%v", err)
	}
	want := []string{"Ignored:unknown_field", "amount:invalid_amount", "colour:unknown_field", "days:wrong_type", "flag:wrong_type",
		"labels.b:wrong_type", "period.End:wrong_type", "rate:invalid_rate", "terms[1].amount:invalid_amount",
		"terms[1].due_on:invalid_date", "terms[1].extra:unknown_field"}
	if got := fieldsOf(err); !slices.Equal(got, want) {
		t.Fatalf("named %v\nwant  %v", got, want)
	}
	if b.Note != "hi" || b.Name != "ok" || b.Amount != nil || b.Days != nil || len(b.Terms) != 2 ||
		b.Terms[0].Amount.String() != "5.00" || b.Labels["a"] != 1 {
		t.Fatalf("good fields not read: %+v", b)
	}
}

// TestDecodeKinds: too large an amount is too_large however long it is;
// a syntax error, trailing data or a body that is no object are
// malformed_request, not fields.
func TestDecodeKinds(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		`{"amount": "1000000000000000.00"}`:         {"amount:too_large"},
		`{"amount": "100000000000000000000000000"}`: {"amount:too_large"},
		`{"amount": "-1000000000000000"}`:           {"amount:too_large"},
		`{"amount": "1,000.00"}`:                    {"amount:invalid_amount"},
		`{"amount": 1000}`:                          {"amount:invalid_amount"},
	} {
		var b body
		if got := fieldsOf(jsonbody.Decode(strings.NewReader(in), &b)); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", in, got, want)
		}
	}
	for _, in := range []string{`{"amount": "1.00",`, `{"days": "x"} {}`, `["x"]`, `"x"`, ``, `{"a": 1}x`} {
		var b body
		if err := jsonbody.Decode(strings.NewReader(in), &b); !errs.Is(err, errs.MalformedRequest) {
			t.Errorf("%q: %v, want malformed_request", in, err)
		}
	}
}

// FuzzDecode: whatever the bytes, Decode does not panic and answers nil or
// a client error; every field it names has a kind and a message.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"amount": "1.00", "terms": [{"amount": 1}]}`, `{"labels": {"a": "b"}, "period": []}`,
		`{"note": 1, "Note": 2}`, `{"terms": {"0": 1}}`, `null`, `{"days": 1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var b body
		err := jsonbody.Decode(strings.NewReader(string(in)), &b)
		if err == nil {
			return
		}
		switch errs.CodeOf(err) {
		case errs.Invalid:
			e := err.(*errs.Error)
			if len(e.Fields) == 0 {
				t.Fatalf("invalid without fields: %v", err)
			}
			for _, fe := range e.Fields {
				if fe.Field == "" || fe.Code == "" || fe.Message == "" {
					t.Fatalf("field problem %+v", fe)
				}
			}
		case errs.MalformedRequest:
		default:
			t.Fatalf("%q: %v", in, err)
		}
	})
}
