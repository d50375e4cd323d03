package contracts

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"procfin/platform/errs"
	"procfin/platform/money"
)

// sizeCase is one firm of the hand-written boundary table. e is employees;
// r and a are revenue and assets in 万元 as the rules write them, with a
// trailing "-" meaning 0.01 yuan less ("1000-" is 9,999,999.99 CNY). An
// empty field is zero.
type sizeCase struct {
	industry Industry
	e, r, a  string
	want     SizeClass
}

// wan converts the table notation to CNY by writing out the four zeros, so
// that the test does not share the code's conversion.
func wan(t *testing.T, s string) money.Amount {
	t.Helper()
	if s == "" {
		return money.Zero
	}
	below := strings.HasSuffix(s, "-")
	amt := money.MustAmount(strings.TrimSuffix(s, "-") + "0000.00")
	if below {
		amt = amt.Sub(money.MustAmount("0.01"))
	}
	return amt
}

func (c sizeCase) firm(t *testing.T) Firm {
	t.Helper()
	f := Firm{Industry: c.industry, Revenue: wan(t, c.r), Assets: wan(t, c.a)}
	if c.e != "" {
		n, err := strconv.Atoi(c.e)
		if err != nil {
			t.Fatal(err)
		}
		f.Employees = n
	}
	return f
}

func (c sizeCase) name() string {
	var parts []string
	for _, m := range []struct{ label, v, unit string }{{"E", c.e, ""}, {"R", c.r, "万"}, {"A", c.a, "万"}} {
		if m.v == "" {
			continue
		}
		v := m.v
		if strings.HasSuffix(v, "-") {
			v = strings.TrimSuffix(v, "-") + m.unit + "-0.01"
		} else {
			v += m.unit
		}
		parts = append(parts, m.label+"="+v)
	}
	if len(parts) == 0 {
		parts = []string{"zero"}
	}
	return string(c.industry) + "/" + strings.Join(parts, ",") + "/" + string(c.want)
}

// sizeCases: for every row of domain.md's table, each SME ceiling (at it:
// large; one unit under it: an SME), each medium bound and each small bound
// (at it: that class; one unit under it: the class below), written by hand
// from the table.
var sizeCases = []sizeCase{
	// agriculture: SME if R < 20000; medium R ≥ 500; small R ≥ 50.
	{"agriculture", "", "20000", "", SizeLarge},
	{"agriculture", "", "20000-", "", SizeMedium},
	{"agriculture", "", "500", "", SizeMedium},
	{"agriculture", "", "500-", "", SizeSmall},
	{"agriculture", "", "50", "", SizeSmall},
	{"agriculture", "", "50-", "", SizeMicro},
	{"agriculture", "", "", "", SizeMicro},
	{"agriculture", "100000", "50", "1000000", SizeSmall}, // E and A do not count
	{"agriculture", "100000", "20000-", "1000000", SizeMedium},

	// industry: SME if E < 1000 or R < 40000; medium E ≥ 300, R ≥ 2000;
	// small E ≥ 20, R ≥ 300.
	{"industry", "1000", "40000", "", SizeLarge},
	{"industry", "999", "40000", "", SizeMedium},
	{"industry", "1000", "40000-", "", SizeMedium},
	{"industry", "1000", "300", "", SizeSmall},
	{"industry", "1000", "300-", "", SizeMicro},
	{"industry", "300", "2000", "", SizeMedium},
	{"industry", "299", "2000", "", SizeSmall},
	{"industry", "300", "2000-", "", SizeSmall},
	{"industry", "20", "300", "", SizeSmall},
	{"industry", "19", "300", "", SizeMicro},
	{"industry", "20", "300-", "", SizeMicro},
	{"industry", "19", "40000", "", SizeMicro},
	{"industry", "", "", "", SizeMicro},
	{"industry", "1000", "40000", "1", SizeLarge}, // A does not count
	{"industry", "999", "40000", "1000000", SizeMedium},

	// construction: SME if R < 80000 or A < 80000; medium R ≥ 6000,
	// A ≥ 5000; small R ≥ 300, A ≥ 300.
	{"construction", "", "80000", "80000", SizeLarge},
	{"construction", "", "80000-", "80000", SizeMedium},
	{"construction", "", "80000", "80000-", SizeMedium},
	{"construction", "", "6000", "5000", SizeMedium},
	{"construction", "", "6000-", "5000", SizeSmall},
	{"construction", "", "6000", "5000-", SizeSmall},
	{"construction", "", "300", "300", SizeSmall},
	{"construction", "", "300-", "300", SizeMicro},
	{"construction", "", "300", "300-", SizeMicro},
	{"construction", "", "80000", "300-", SizeMicro},
	{"construction", "100000", "300", "300", SizeSmall}, // E does not count
	{"construction", "1", "80000", "80000", SizeLarge},

	// wholesale: SME if E < 200 or R < 40000; medium E ≥ 20, R ≥ 5000;
	// small E ≥ 5, R ≥ 1000.
	{"wholesale", "200", "40000", "", SizeLarge},
	{"wholesale", "199", "40000", "", SizeMedium},
	{"wholesale", "200", "40000-", "", SizeMedium},
	{"wholesale", "20", "5000", "", SizeMedium},
	{"wholesale", "19", "5000", "", SizeSmall},
	{"wholesale", "20", "5000-", "", SizeSmall},
	{"wholesale", "5", "1000", "", SizeSmall},
	{"wholesale", "4", "1000", "", SizeMicro},
	{"wholesale", "5", "1000-", "", SizeMicro},
	{"wholesale", "200", "1000-", "", SizeMicro},

	// retail: SME if E < 300 or R < 20000; medium E ≥ 50, R ≥ 500; small
	// E ≥ 10, R ≥ 100.
	{"retail", "300", "20000", "", SizeLarge},
	{"retail", "299", "20000", "", SizeMedium},
	{"retail", "300", "20000-", "", SizeMedium},
	{"retail", "50", "500", "", SizeMedium},
	{"retail", "49", "500", "", SizeSmall},
	{"retail", "50", "500-", "", SizeSmall},
	{"retail", "10", "100", "", SizeSmall},
	{"retail", "9", "100", "", SizeMicro},
	{"retail", "10", "100-", "", SizeMicro},

	// transport: SME if E < 1000 or R < 30000; medium E ≥ 300, R ≥ 3000;
	// small E ≥ 20, R ≥ 200.
	{"transport", "1000", "30000", "", SizeLarge},
	{"transport", "999", "30000", "", SizeMedium},
	{"transport", "1000", "30000-", "", SizeMedium},
	{"transport", "300", "3000", "", SizeMedium},
	{"transport", "299", "3000", "", SizeSmall},
	{"transport", "300", "3000-", "", SizeSmall},
	{"transport", "20", "200", "", SizeSmall},
	{"transport", "19", "200", "", SizeMicro},
	{"transport", "20", "200-", "", SizeMicro},

	// warehousing: SME if E < 200 or R < 30000; medium E ≥ 100, R ≥ 1000;
	// small E ≥ 20, R ≥ 100.
	{"warehousing", "200", "30000", "", SizeLarge},
	{"warehousing", "199", "30000", "", SizeMedium},
	{"warehousing", "200", "30000-", "", SizeMedium},
	{"warehousing", "100", "1000", "", SizeMedium},
	{"warehousing", "99", "1000", "", SizeSmall},
	{"warehousing", "100", "1000-", "", SizeSmall},
	{"warehousing", "20", "100", "", SizeSmall},
	{"warehousing", "19", "100", "", SizeMicro},
	{"warehousing", "20", "100-", "", SizeMicro},

	// postal: SME if E < 1000 or R < 30000; medium E ≥ 300, R ≥ 2000;
	// small E ≥ 20, R ≥ 100.
	{"postal", "1000", "30000", "", SizeLarge},
	{"postal", "999", "30000", "", SizeMedium},
	{"postal", "1000", "30000-", "", SizeMedium},
	{"postal", "300", "2000", "", SizeMedium},
	{"postal", "299", "2000", "", SizeSmall},
	{"postal", "300", "2000-", "", SizeSmall},
	{"postal", "20", "100", "", SizeSmall},
	{"postal", "19", "100", "", SizeMicro},
	{"postal", "20", "100-", "", SizeMicro},

	// accommodation: SME if E < 300 or R < 10000; medium E ≥ 100,
	// R ≥ 2000; small E ≥ 10, R ≥ 100.
	{"accommodation", "300", "10000", "", SizeLarge},
	{"accommodation", "299", "10000", "", SizeMedium},
	{"accommodation", "300", "10000-", "", SizeMedium},
	{"accommodation", "100", "2000", "", SizeMedium},
	{"accommodation", "99", "2000", "", SizeSmall},
	{"accommodation", "100", "2000-", "", SizeSmall},
	{"accommodation", "10", "100", "", SizeSmall},
	{"accommodation", "9", "100", "", SizeMicro},
	{"accommodation", "10", "100-", "", SizeMicro},

	// catering: the same figures as accommodation.
	{"catering", "300", "10000", "", SizeLarge},
	{"catering", "299", "10000", "", SizeMedium},
	{"catering", "300", "10000-", "", SizeMedium},
	{"catering", "100", "2000", "", SizeMedium},
	{"catering", "99", "2000", "", SizeSmall},
	{"catering", "100", "2000-", "", SizeSmall},
	{"catering", "10", "100", "", SizeSmall},
	{"catering", "9", "100", "", SizeMicro},
	{"catering", "10", "100-", "", SizeMicro},

	// information_transmission: SME if E < 2000 or R < 100000; medium
	// E ≥ 100, R ≥ 1000; small E ≥ 10, R ≥ 100.
	{"information_transmission", "2000", "100000", "", SizeLarge},
	{"information_transmission", "1999", "100000", "", SizeMedium},
	{"information_transmission", "2000", "100000-", "", SizeMedium},
	{"information_transmission", "100", "1000", "", SizeMedium},
	{"information_transmission", "99", "1000", "", SizeSmall},
	{"information_transmission", "100", "1000-", "", SizeSmall},
	{"information_transmission", "10", "100", "", SizeSmall},
	{"information_transmission", "9", "100", "", SizeMicro},
	{"information_transmission", "10", "100-", "", SizeMicro},

	// software_it: SME if E < 300 or R < 10000; medium E ≥ 100, R ≥ 1000;
	// small E ≥ 10, R ≥ 50.
	{"software_it", "300", "10000", "", SizeLarge},
	{"software_it", "299", "10000", "", SizeMedium},
	{"software_it", "300", "10000-", "", SizeMedium},
	{"software_it", "100", "1000", "", SizeMedium},
	{"software_it", "99", "1000", "", SizeSmall},
	{"software_it", "100", "1000-", "", SizeSmall},
	{"software_it", "10", "50", "", SizeSmall},
	{"software_it", "9", "50", "", SizeMicro},
	{"software_it", "10", "50-", "", SizeMicro},
	{"software_it", "42", "800", "500", SizeSmall}, // api.md's example supplier

	// real_estate: SME if R < 200000 or A < 10000; medium R ≥ 1000,
	// A ≥ 5000; small R ≥ 100, A ≥ 2000.
	{"real_estate", "", "200000", "10000", SizeLarge},
	{"real_estate", "", "200000-", "10000", SizeMedium},
	{"real_estate", "", "200000", "10000-", SizeMedium},
	{"real_estate", "", "1000", "5000", SizeMedium},
	{"real_estate", "", "1000-", "5000", SizeSmall},
	{"real_estate", "", "1000", "5000-", SizeSmall},
	{"real_estate", "", "100", "2000", SizeSmall},
	{"real_estate", "", "100-", "2000", SizeMicro},
	{"real_estate", "", "100", "2000-", SizeMicro},
	{"real_estate", "100000", "100", "2000", SizeSmall}, // E does not count

	// property_management: SME if E < 1000 or R < 5000; medium E ≥ 300,
	// R ≥ 1000; small E ≥ 100, R ≥ 500.
	{"property_management", "1000", "5000", "", SizeLarge},
	{"property_management", "999", "5000", "", SizeMedium},
	{"property_management", "1000", "5000-", "", SizeMedium},
	{"property_management", "300", "1000", "", SizeMedium},
	{"property_management", "299", "1000", "", SizeSmall},
	{"property_management", "300", "1000-", "", SizeSmall},
	{"property_management", "100", "500", "", SizeSmall},
	{"property_management", "99", "500", "", SizeMicro},
	{"property_management", "100", "500-", "", SizeMicro},

	// leasing_business: SME if E < 300 or A < 120000; medium E ≥ 100,
	// A ≥ 8000; small E ≥ 10, A ≥ 100. R does not count.
	{"leasing_business", "300", "", "120000", SizeLarge},
	{"leasing_business", "299", "", "120000", SizeMedium},
	{"leasing_business", "300", "", "120000-", SizeMedium},
	{"leasing_business", "100", "", "8000", SizeMedium},
	{"leasing_business", "99", "", "8000", SizeSmall},
	{"leasing_business", "100", "", "8000-", SizeSmall},
	{"leasing_business", "10", "", "100", SizeSmall},
	{"leasing_business", "9", "", "100", SizeMicro},
	{"leasing_business", "10", "", "100-", SizeMicro},
	{"leasing_business", "10", "1000000", "100-", SizeMicro},

	// other: SME if E < 300; medium E ≥ 100; small E ≥ 10.
	{"other", "300", "", "", SizeLarge},
	{"other", "299", "", "", SizeMedium},
	{"other", "100", "", "", SizeMedium},
	{"other", "99", "", "", SizeSmall},
	{"other", "10", "", "", SizeSmall},
	{"other", "9", "", "", SizeMicro},
	{"other", "", "", "", SizeMicro},
	{"other", "299", "1000000", "1000000", SizeMedium}, // R and A do not count
}

// microIf is domain.md's micro column, written out separately from the
// code's table: one condition suffices.
var microIf = map[Industry]func(f Firm) bool{
	"agriculture":              func(f Firm) bool { return below(f.Revenue, "50") },
	"industry":                 func(f Firm) bool { return f.Employees < 20 || below(f.Revenue, "300") },
	"construction":             func(f Firm) bool { return below(f.Revenue, "300") || below(f.Assets, "300") },
	"wholesale":                func(f Firm) bool { return f.Employees < 5 || below(f.Revenue, "1000") },
	"retail":                   func(f Firm) bool { return f.Employees < 10 || below(f.Revenue, "100") },
	"transport":                func(f Firm) bool { return f.Employees < 20 || below(f.Revenue, "200") },
	"warehousing":              func(f Firm) bool { return f.Employees < 20 || below(f.Revenue, "100") },
	"postal":                   func(f Firm) bool { return f.Employees < 20 || below(f.Revenue, "100") },
	"accommodation":            func(f Firm) bool { return f.Employees < 10 || below(f.Revenue, "100") },
	"catering":                 func(f Firm) bool { return f.Employees < 10 || below(f.Revenue, "100") },
	"information_transmission": func(f Firm) bool { return f.Employees < 10 || below(f.Revenue, "100") },
	"software_it":              func(f Firm) bool { return f.Employees < 10 || below(f.Revenue, "50") },
	"real_estate":              func(f Firm) bool { return below(f.Revenue, "100") || below(f.Assets, "2000") },
	"property_management":      func(f Firm) bool { return f.Employees < 100 || below(f.Revenue, "500") },
	"leasing_business":         func(f Firm) bool { return f.Employees < 10 || below(f.Assets, "100") },
	"other":                    func(f Firm) bool { return f.Employees < 10 },
}

// below reports whether x is under n 万元.
func below(x money.Amount, n string) bool { return x.LessThan(money.MustAmount(n + "0000")) }

// checkMicro asserts that Classify says micro exactly when the micro column
// holds (large firms are at or above every ceiling, which lie above the
// small bounds, so no large firm meets a micro condition either).
func checkMicro(t *testing.T, f Firm, got SizeClass) {
	t.Helper()
	micro, ok := microIf[f.Industry]
	if !ok {
		t.Fatalf("no micro condition for %q", f.Industry)
	}
	if (got == SizeMicro) != micro(f) {
		t.Errorf("Classify(%+v) = %s, but the micro condition is %v", f, got, micro(f))
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	seen := map[Industry]map[SizeClass]bool{}
	for _, tc := range sizeCases {
		t.Run(tc.name(), func(t *testing.T) {
			f := tc.firm(t)
			if fields := f.Validate(); fields != nil {
				t.Fatalf("Validate: %v", fields)
			}
			got := Classify(f)
			if got != tc.want {
				t.Errorf("Classify(%+v) = %s, want %s", f, got, tc.want)
			}
			checkMicro(t, f, got)
		})
		if seen[tc.industry] == nil {
			seen[tc.industry] = map[SizeClass]bool{}
		}
		seen[tc.industry][tc.want] = true
	}
	// Every industry of api.md, every class.
	for ind := range microIf {
		for _, c := range []SizeClass{SizeLarge, SizeMedium, SizeSmall, SizeMicro} {
			if !seen[ind][c] {
				t.Errorf("no case for %s/%s", ind, c)
			}
		}
	}
}

// Random firms, half of their figures on or just under a limit of the
// table: micro exactly when the micro column holds, and more of any figure
// never makes a firm smaller.
func TestClassifyMicroAndMonotone(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(2011, 300))
	order := map[SizeClass]int{SizeMicro: 0, SizeSmall: 1, SizeMedium: 2, SizeLarge: 3}
	var limits []int64 // every number of the table, as people or 万元
	for _, rule := range sizeRules {
		for _, th := range append(append(append([]threshold{}, rule.smeCeilings...), rule.medium...), rule.small...) {
			limits = append(limits, th.limit)
		}
	}
	people := func() int {
		if rng.IntN(2) == 0 {
			return int(limits[rng.IntN(len(limits))]) - rng.IntN(2)
		}
		return rng.IntN(2500)
	}
	yuan := func() money.Amount {
		if rng.IntN(2) == 0 {
			at := money.MustAmount(strconv.FormatInt(limits[rng.IntN(len(limits))], 10) + "0000")
			if rng.IntN(2) == 0 {
				at = at.Sub(money.MustAmount("0.01"))
			}
			return at
		}
		return money.MustAmount(fmt.Sprintf("%d.%02d", rng.Int64N(250000*10000), rng.IntN(100)))
	}
	for ind := range microIf {
		for range 3000 {
			f := Firm{Industry: ind, Employees: people(), Revenue: yuan(), Assets: yuan()}
			got := Classify(f)
			checkMicro(t, f, got)
			bigger := f
			switch rng.IntN(3) {
			case 0:
				bigger.Employees += rng.IntN(3)
			case 1:
				bigger.Revenue = bigger.Revenue.Add(money.MustAmount("0.01"))
			default:
				bigger.Assets = bigger.Assets.Add(yuan())
			}
			if gotBigger := Classify(bigger); order[gotBigger] < order[got] {
				t.Fatalf("Classify(%+v) = %s but Classify(%+v) = %s", f, got, bigger, gotBigger)
			}
		}
	}
}

func TestClassifyUnknown(t *testing.T) {
	t.Parallel()
	for _, f := range []Firm{
		{},
		{Industry: "mining", Employees: 10},
		{Industry: "software_it", Employees: -1},
		{Industry: "software_it", Employees: 10, Revenue: money.MustAmount("-0.01")},
		{Industry: "real_estate", Assets: money.MustAmount("-1.00")},
	} {
		if got := Classify(f); got != SizeUnknown {
			t.Errorf("Classify(%+v) = %s, want unknown", f, got)
		}
	}
}

func TestFirmValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		firm Firm
		want []errs.FieldError
	}{
		{"OK", Firm{Industry: "software_it", Employees: 42, Revenue: money.MustAmount("8000000.00"), Assets: money.MustAmount("5000000.00")}, nil},
		{"OKZero", Firm{Industry: "other"}, nil},
		{"ErrNoIndustry", Firm{}, []errs.FieldError{{Field: "industry", Code: "required"}}},
		{"ErrUnknownIndustry", Firm{Industry: "Software_IT"}, []errs.FieldError{{Field: "industry", Code: "unknown_industry"}}},
		{"ErrNegatives", Firm{Industry: "retail", Employees: -1, Revenue: money.MustAmount("-0.01"), Assets: money.MustAmount("-5")},
			[]errs.FieldError{{Field: "employees", Code: "negative"}, {Field: "annual_revenue", Code: "negative"}, {Field: "total_assets", Code: "negative"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.firm.Validate()
			for i := range got {
				if got[i].Message == "" {
					t.Errorf("field %s has no message", got[i].Field)
				}
				got[i].Message = ""
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseIndustry(t *testing.T) {
	t.Parallel()
	for ind := range microIf {
		got, err := ParseIndustry(string(ind))
		if err != nil || got != ind {
			t.Errorf("ParseIndustry(%q) = %q, %v", ind, got, err)
		}
	}
	for _, s := range []string{"", "Software_IT", "software", "mining", " retail"} {
		got, err := ParseIndustry(s)
		var e *errs.Error
		if !errors.As(err, &e) || e.Code != errs.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "industry" {
			t.Errorf("ParseIndustry(%q) = %q, %v; want invalid industry", s, got, err)
			continue
		}
		want := "unknown_industry"
		if s == "" {
			want = "required"
		}
		if e.Fields[0].Code != want {
			t.Errorf("ParseIndustry(%q) code %s, want %s", s, e.Fields[0].Code, want)
		}
	}
	if len(sizeRules) != len(microIf) {
		t.Errorf("%d rows in the size table, %d industries in api.md", len(sizeRules), len(microIf))
	}
}
