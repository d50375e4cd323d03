package subsidies

import (
	"fmt"
	"testing"
)

// TestIneligibleText: every reason a claim keeps reads in Chinese with its
// figures and size classes, and in English; an unknown one as it is.
func TestIneligibleText(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ reason, zh, en string }{
		{fmt.Sprintf(reasonNoPolicy, "2026-01-05"), "2026-01-05 没有生效的贴息政策", "no subsidy policy is in force on 2026-01-05"},
		{fmt.Sprintf(reasonSizeUnknown, "micro, small, medium"), "企业规模未知：只有微型企业、小型企业、中型企业可获贴息",
			"the supplier's size class is unknown: only micro enterprise, small enterprise, medium enterprise are subsidised"},
		{fmt.Sprintf(reasonSizeNotEligible, "large", 2, "micro, small"), "该企业为大型企业：第 2 版政策只贴息微型企业、小型企业",
			"the supplier is a large enterprise: policy version 2 subsidises only micro enterprise, small enterprise"},
		{fmt.Sprintf(reasonYearlyCapUsed, "200000.00", 2026), "每户每年贴息上限 200000.00 元（2026 年）已用完",
			"the supplier's yearly cap of 200000.00 yuan for 2026 is used up"},
		{reasonZero, "计算出的贴息为 0.00 元", "the computed subsidy is 0.00"},
		{"something else", "something else", "something else"},
	} {
		if got := IneligibleText(c.reason, "zh-CN"); got != c.zh {
			t.Errorf("%q in zh-CN: %q, want %q", c.reason, got, c.zh)
		}
		if got := IneligibleText(c.reason, "en"); got != c.en {
			t.Errorf("%q in en: %q, want %q", c.reason, got, c.en)
		}
	}
}
