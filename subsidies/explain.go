package subsidies

import (
	"fmt"
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
