package subsidies

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/shopspring/decimal"

	"procfin/platform/i18n"
)

// StepText is one step of a computation as a person reads it, in one
// language: its label, its name (the stored step's), its formula with the
// computation's figures, and its value.
type StepText struct {
	Label   string
	Name    string
	Formula string
	Value   string
}

// Explain writes the computation's steps in the language (platform/i18n):
// each labelled, its formula from the catalogue with the figures the
// computation kept (the stored formula, in English, is the record; a step
// the catalogue does not know is shown with it).
func (c Computation) Explain(lang string) []StepText {
	numerator := decimal.Zero
	var terms []string
	for _, r := range c.Runs {
		numerator = numerator.Add(r.Principal.Decimal().Mul(r.Rate.Decimal()).Mul(decimal.NewFromInt(int64(r.Days))))
		terms = append(terms, fmt.Sprintf("%s × %s × %d", r.Principal, r.Rate.Decimal(), r.Days))
	}
	if len(terms) == 0 {
		terms = []string{"0"}
	}
	in := c.Inputs
	out := make([]StepText, 0, len(c.Steps))
	for _, s := range c.Steps {
		t := StepText{Label: s.Name, Name: s.Name, Formula: s.Formula, Value: s.Value}
		if key := "step." + s.Name; i18n.Has(key) {
			t.Label = i18n.T(lang, key)
		}
		var args []any
		key := "step.formula." + s.Name
		switch s.Name {
		case "days":
			args = []any{in.PeriodEnd, in.PeriodStart}
		case "rate":
			// the value lists the rates; the formula has no figures
		case "eligible_interest":
			args = []any{strings.Join(terms, " + "), numerator, shown}
		case "capped_by_interest_paid":
			args = []any{in.InterestPaid}
		case "subsidy":
			if slices.Contains(c.LimitedBy, "interest_paid") {
				args = []any{in.InterestPaid, c.SubsidyRatio}
			} else {
				key, args = "step.formula.subsidy_exact", []any{numerator, c.SubsidyRatio}
			}
		case "supplier_yearly_cap":
			args = []any{c.Subsidy, c.SupplierYearlyCap, c.Year, in.ClaimedThisYear}
		default:
			key = ""
		}
		if key != "" && i18n.Has(key) {
			t.Formula = i18n.T(lang, key, args...)
		}
		out = append(out, t)
	}
	return out
}

// The reasons an ineligible claim keeps (in English, the record), and the
// catalogue's texts they are shown with (IneligibleText).
const (
	reasonNoPolicy        = "no subsidy policy is in force on %s"
	reasonSizeUnknown     = "the supplier's size class is unknown: only %s suppliers are subsidised"
	reasonSizeNotEligible = "the supplier is %s: policy version %d subsidises only %s suppliers"
	reasonYearlyCapUsed   = "the supplier's yearly cap of %s for %d is used up"
	reasonZero            = "the computed subsidy is 0.00"
)

// ineligibleReasons match a stored reason (its format's %s and %d as
// groups) to its catalogue key; sizes says which groups list size classes.
var ineligibleReasons = func() []struct {
	re    *regexp.Regexp
	key   string
	sizes []bool
} {
	type reason = struct {
		re    *regexp.Regexp
		key   string
		sizes []bool
	}
	pattern := func(format string) *regexp.Regexp {
		q := regexp.QuoteMeta(format)
		q = strings.ReplaceAll(q, "%s", "(.+?)")
		q = strings.ReplaceAll(q, "%d", "([0-9]+)")
		return regexp.MustCompile("^" + q + "$")
	}
	return []reason{
		{pattern(reasonNoPolicy), "ineligible.no_policy", []bool{false}},
		{pattern(reasonSizeUnknown), "ineligible.size_unknown", []bool{true}},
		{pattern(reasonSizeNotEligible), "ineligible.size_not_eligible", []bool{true, false, true}},
		{pattern(reasonYearlyCapUsed), "ineligible.yearly_cap_used", []bool{false, false}},
		{pattern(reasonZero), "ineligible.zero", nil},
	}
}()

// IneligibleText is an ineligible claim's reason in the language, with
// its figures and the size classes named from the catalogue; a reason
// procfin does not know is returned as it is.
func IneligibleText(reason, lang string) string {
	for _, r := range ineligibleReasons {
		m := r.re.FindStringSubmatch(reason)
		if m == nil {
			continue
		}
		args := make([]any, 0, len(m)-1)
		for i, g := range m[1:] {
			if r.sizes[i] {
				var names []string
				for _, c := range strings.Split(g, ", ") {
					if i18n.Has("size." + c) {
						c = i18n.T(lang, "size."+c)
					}
					names = append(names, c)
				}
				g = strings.Join(names, i18n.T(lang, "list.sep"))
			}
			args = append(args, g)
		}
		return i18n.T(lang, r.key, args...)
	}
	return reason
}
