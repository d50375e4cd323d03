package web

import (
	"testing"

	"procfin/lending"
	"procfin/platform/money"
)

// A supplier the subsidy does not cover reads why in the page's language,
// never the service's English reason.
func TestStepFormulaNotEligible(t *testing.T) {
	t.Parallel()
	rate := money.MustRate("0.0345")
	o := lending.Offer{AnnualRate: rate, Subsidy: &lending.RateAfterSubsidy{Rate: rate, Steps: []lending.RateStep{
		{Name: "not_eligible", Formula: "the supplier is large: policy version 1 subsidises only micro, small, medium suppliers", Value: "0.0345"},
		{Name: "effective_annual_rate", Formula: "rate 0.0345, no subsidy", Value: "0.0345"},
	}}}
	for lang, want := range map[string][2]string{
		"zh-CN": {"不符合贴息条件：实际年利率即银行年利率。", "银行年利率 0.0345，不予贴息"},
		"en":    {"The subsidy does not cover you: the effective rate is the bank's rate.", "the bank's rate 0.0345, no subsidy"},
	} {
		v := &view{Lang: lang}
		for i, st := range o.Subsidy.Steps {
			if got := v.StepFormula(o, st); got != want[i] {
				t.Errorf("%s: step %s reads %q, want %q", lang, st.Name, got, want[i])
			}
		}
	}
}
