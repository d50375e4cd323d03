package contracts

import (
	"github.com/shopspring/decimal"

	"procfin/platform/errs"
	"procfin/platform/money"
)

// SizeClass is an enterprise size class (企业规模) under the SME
// classification rules (中小企业划型标准规定, 工信部联企业〔2011〕300号).
// Medium, small and micro firms are the programme's SMEs (中小微企业).
type SizeClass string

const (
	SizeMicro   SizeClass = "micro"
	SizeSmall   SizeClass = "small"
	SizeMedium  SizeClass = "medium"
	SizeLarge   SizeClass = "large"
	SizeUnknown SizeClass = "unknown" // the firm's figures cannot be classified
)

// Industry is an industry of the SME classification rules; each has its own
// size thresholds.
type Industry string

const (
	IndustryAgriculture             Industry = "agriculture" // agriculture, forestry, animal husbandry, fishery
	IndustryIndustry                Industry = "industry"    // mining, manufacturing, utilities
	IndustryConstruction            Industry = "construction"
	IndustryWholesale               Industry = "wholesale"
	IndustryRetail                  Industry = "retail"
	IndustryTransport               Industry = "transport"
	IndustryWarehousing             Industry = "warehousing"
	IndustryPostal                  Industry = "postal"
	IndustryAccommodation           Industry = "accommodation"
	IndustryCatering                Industry = "catering"
	IndustryInformationTransmission Industry = "information_transmission"
	IndustrySoftwareIT              Industry = "software_it"
	IndustryRealEstate              Industry = "real_estate" // real-estate development
	IndustryPropertyManagement      Industry = "property_management"
	IndustryLeasingBusiness         Industry = "leasing_business" // leasing and business services
	IndustryOther                   Industry = "other"
)

// ParseIndustry reads an industry name such as "software_it". Returns
// invalid (field "industry", code unknown_industry) for any other name.
func ParseIndustry(s string) (Industry, error) {
	if _, ok := sizeRuleOf(Industry(s)); !ok {
		return "", errs.InvalidFields(industryFault(s))
	}
	return Industry(s), nil
}

func industryFault(s string) errs.FieldError {
	if s == "" {
		return errs.Field("industry", errs.FieldRequired)
	}
	return errs.FieldError{Field: "industry", Code: "unknown_industry",
		Message: "must be one of " + industryList()}
}

func industryList() string {
	var s string
	for i, r := range sizeRules {
		if i > 0 {
			s += ", "
		}
		s += string(r.industry)
	}
	return s
}

// Firm is what the size rules look at: the industry, the number of
// employees and the annual operating revenue and total assets in CNY.
type Firm struct {
	Industry  Industry
	Employees int
	Revenue   money.Amount // annual operating revenue (营业收入)
	Assets    money.Amount // total assets (资产总额)
}

// Validate returns the firm's field problems: an unknown industry
// (unknown_industry) or a negative figure (negative), on the fields
// industry, employees, annual_revenue and total_assets.
func (f Firm) Validate() []errs.FieldError {
	var fields []errs.FieldError
	if _, ok := sizeRuleOf(f.Industry); !ok {
		fields = append(fields, industryFault(string(f.Industry)))
	}
	if f.Employees < 0 {
		fields = append(fields, errs.Field("employees", errs.FieldNegative))
	}
	if f.Revenue.IsNegative() {
		fields = append(fields, errs.Field("annual_revenue", errs.FieldNegative))
	}
	if f.Assets.IsNegative() {
		fields = append(fields, errs.Field("total_assets", errs.FieldNegative))
	}
	return fields
}

// Classify returns the firm's size class by the rules of its industry: large
// when it is at or above every SME ceiling, else medium when it meets every
// medium lower bound, else small when it meets every small lower bound, else
// micro. A firm that fails Validate is SizeUnknown.
func Classify(f Firm) SizeClass {
	rule, ok := sizeRuleOf(f.Industry)
	if !ok || len(f.Validate()) > 0 {
		return SizeUnknown
	}
	switch {
	case !anyBelow(f, rule.smeCeilings):
		return SizeLarge
	case allReach(f, rule.medium):
		return SizeMedium
	case allReach(f, rule.small):
		return SizeSmall
	default:
		return SizeMicro
	}
}

// measure is one of the figures the size rules compare.
type measure int

const (
	employees measure = iota // E, people
	revenue                  // R, 万元 in the table
	assets                   // A, 万元 in the table
)

// threshold is one comparison of the table: a measure against a limit in
// people (E) or in units of 10,000 CNY (万元; R and A), as the rules write
// it.
type threshold struct {
	m     measure
	limit int64
}

// sizeRule is one row of the classification table.
type sizeRule struct {
	industry Industry
	// smeCeilings: the firm is an SME when any measure is below its limit
	// (the "SME if … or …" column), else large.
	smeCeilings []threshold
	// medium and small: lower bounds that must all hold for the class.
	// Micro is what fails a small bound.
	medium, small []threshold
}

// sizeRules is the table of specs/domain.md, one row per industry. These
// are the figures of the regulation, not local policy, so they are not
// configuration.
var sizeRules = func() []sizeRule {
	e := func(n int64) threshold { return threshold{employees, n} }
	r := func(n int64) threshold { return threshold{revenue, n} }
	a := func(n int64) threshold { return threshold{assets, n} }
	ts := func(t ...threshold) []threshold { return t }
	return []sizeRule{
		{IndustryAgriculture, ts(r(20000)), ts(r(500)), ts(r(50))},
		{IndustryIndustry, ts(e(1000), r(40000)), ts(e(300), r(2000)), ts(e(20), r(300))},
		{IndustryConstruction, ts(r(80000), a(80000)), ts(r(6000), a(5000)), ts(r(300), a(300))},
		{IndustryWholesale, ts(e(200), r(40000)), ts(e(20), r(5000)), ts(e(5), r(1000))},
		{IndustryRetail, ts(e(300), r(20000)), ts(e(50), r(500)), ts(e(10), r(100))},
		{IndustryTransport, ts(e(1000), r(30000)), ts(e(300), r(3000)), ts(e(20), r(200))},
		{IndustryWarehousing, ts(e(200), r(30000)), ts(e(100), r(1000)), ts(e(20), r(100))},
		{IndustryPostal, ts(e(1000), r(30000)), ts(e(300), r(2000)), ts(e(20), r(100))},
		{IndustryAccommodation, ts(e(300), r(10000)), ts(e(100), r(2000)), ts(e(10), r(100))},
		{IndustryCatering, ts(e(300), r(10000)), ts(e(100), r(2000)), ts(e(10), r(100))},
		{IndustryInformationTransmission, ts(e(2000), r(100000)), ts(e(100), r(1000)), ts(e(10), r(100))},
		{IndustrySoftwareIT, ts(e(300), r(10000)), ts(e(100), r(1000)), ts(e(10), r(50))},
		{IndustryRealEstate, ts(r(200000), a(10000)), ts(r(1000), a(5000)), ts(r(100), a(2000))},
		{IndustryPropertyManagement, ts(e(1000), r(5000)), ts(e(300), r(1000)), ts(e(100), r(500))},
		{IndustryLeasingBusiness, ts(e(300), a(120000)), ts(e(100), a(8000)), ts(e(10), a(100))},
		{IndustryOther, ts(e(300)), ts(e(100)), ts(e(10))},
	}
}()

func sizeRuleOf(ind Industry) (sizeRule, bool) {
	for _, rule := range sizeRules {
		if rule.industry == ind {
			return rule, true
		}
	}
	return sizeRule{}, false
}

// cmp compares the firm's figure for t.m with t.limit: -1, 0 or +1. Money
// limits are converted exactly from 万元 to CNY.
func (t threshold) cmp(f Firm) int {
	switch t.m {
	case employees:
		switch {
		case int64(f.Employees) < t.limit:
			return -1
		case int64(f.Employees) > t.limit:
			return 1
		}
		return 0
	case revenue:
		return f.Revenue.Decimal().Cmp(decimal.New(t.limit, 4))
	default:
		return f.Assets.Decimal().Cmp(decimal.New(t.limit, 4))
	}
}

func anyBelow(f Firm, ts []threshold) bool {
	for _, t := range ts {
		if t.cmp(f) < 0 {
			return true
		}
	}
	return false
}

func allReach(f Firm, ts []threshold) bool {
	for _, t := range ts {
		if t.cmp(f) < 0 {
			return false
		}
	}
	return true
}
