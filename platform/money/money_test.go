package money

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseAmount(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"0": "0.00", "1": "1.00", "1.5": "1.50", "1200000.00": "1200000.00", "-3.20": "-3.20",
		"1.000": "1.00", "999999999999999.99": "999999999999999.99", "0.01": "0.01",
	} {
		a, err := ParseAmount(in)
		if err != nil || a.String() != want {
			t.Errorf("ParseAmount(%q) = %s, %v; want %s", in, a, err, want)
		}
	}
	for _, in := range []string{"", "1.001", "1e3", "1E3", "+1", " 1", "1,000.00", ".5", "5.", "abc", "0x10",
		"1000000000000000.00", "NaN", "Infinity", "1_000"} {
		if a, err := ParseAmount(in); err == nil {
			t.Errorf("ParseAmount(%q) = %s, want an error", in, a)
		}
	}
}

func TestAmountJSONIsAString(t *testing.T) {
	t.Parallel()
	var v struct{ A Amount }
	if err := json.Unmarshal([]byte(`{"A": "800000.00"}`), &v); err != nil || v.A.String() != "800000.00" {
		t.Fatalf("string: %v %v", v.A, err)
	}
	if err := json.Unmarshal([]byte(`{"A": 800000.00}`), &v); err == nil {
		t.Fatal("a JSON number was accepted as an amount")
	}
	b, _ := json.Marshal(struct{ A Amount }{MustAmount("5")})
	if string(b) != `{"A":"5.00"}` {
		t.Fatalf("marshal: %s", b)
	}
	// Rates and dates are strings too, a zero date null, a missing value
	// null; in a map as in a struct.
	var none *Amount
	b, _ = json.Marshal(map[string]any{"a": MustAmount("-1200.5"), "r": MustRate("0.0345"), "d": MustDate("2026-11-26"),
		"zero": Date{}, "none": none, "p": &v.A})
	if string(b) != `{"a":"-1200.50","d":"2026-11-26","none":null,"p":"800000.00","r":"0.0345","zero":null}` {
		t.Fatalf("marshal: %s", b)
	}
}

func TestAmountRoundsHalfUpOnce(t *testing.T) {
	t.Parallel()
	// 分 rounding is half-up, away from zero, at the end only.
	a := AmountFromDecimal(MustAmount("0.01").Decimal().Div(MustAmount("2.00").Decimal())) // 0.005
	if a.String() != "0.01" {
		t.Fatalf("0.005 rounds to %s, want 0.01", a)
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"0", "0.0345", "1", "0.000001"} {
		if _, err := ParseRate(ok); err != nil {
			t.Errorf("ParseRate(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1.01", "-0.01", "0.0000001", "3.45%", "1e-2"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) accepted", bad)
		}
	}
}

func TestDate(t *testing.T) {
	t.Parallel()
	d := MustDate("2024-02-28")
	if d.AddDays(1).String() != "2024-02-29" || d.DaysUntil(MustDate("2024-03-01")) != 2 {
		t.Fatal("leap-year arithmetic")
	}
	// 16:30 UTC on 31 Dec is already 1 Jan in Shanghai.
	if got := DateOf(time.Date(2026, 12, 31, 16, 30, 0, 0, time.UTC)).String(); got != "2027-01-01" {
		t.Fatalf("DateOf = %s, want 2027-01-01", got)
	}
	for _, bad := range []string{"2026-02-30", "2026/01/01", "20260101", ""} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) accepted", bad)
		}
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"1.00", "-0.5", "1e5", "999999999999999.99", "0.001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAmount(s)
		if err != nil {
			return
		}
		b, err := ParseAmount(a.String())
		if err != nil || !b.Equal(a) {
			t.Fatalf("%q → %s does not round-trip (%v)", s, a, err)
		}
	})
}

// TestParseKinds: an amount too large is one kind, too_large with the
// maximum, however many digits it has; any other text that is no amount
// is invalid_amount; rates and dates have a kind each.
func TestParseKinds(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"1000000000000000.00":         "too_large", // 16 integer digits
		"-1000000000000000":           "too_large",
		"100000000000000000000000000": "too_large", // 27 digits: over the length cap too
		"999999999999999.99":          "",
		"1.234":                       "invalid_amount",
		"abc":                         "invalid_amount",
		"1e5":                         "invalid_amount",
		"0000000000000000000000001":   "invalid_amount",
	}
	for in, want := range cases {
		_, err := ParseAmount(in)
		got := ""
		if err != nil {
			got = Problem("amount", err).Code
		}
		if got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	_, e1 := ParseAmount("1000000000000000.00")
	_, e2 := ParseAmount("100000000000000000000000000")
	if m1, m2 := Problem("a", e1).Message, Problem("a", e2).Message; m1 != m2 || m1 != "is above the maximum of 999999999999999.99" {
		t.Errorf("too large worded %q and %q", m1, m2)
	}
	if _, err := ParseRate("1.5"); Problem("r", err).Code != "invalid_rate" {
		t.Errorf("rate: %v", err)
	}
	if _, err := ParseDate("2026-02-30"); Problem("d", err).Code != "invalid_date" {
		t.Errorf("date: %v", err)
	}
}
