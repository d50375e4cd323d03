package web

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"procfin/platform/money"
	"procfin/subsidies"
)

func TestAxisFigure(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ v, zh, en string }{
		{"0", "0", "0"},
		{"40", "40", "40"},
		{"9999.99", "9999.99", "10K"}, // 9.99999K rounds to 10K
		{"10000", "1万", "10K"},
		{"125000", "12.5万", "125K"},
		{"500000", "50万", "500K"},
		{"1200000", "120万", "1.2M"},
		{"375000.00", "37.5万", "375K"},
		{"100000000", "1亿", "100M"},
		{"250000000", "2.5亿", "250M"},
		{"2000000000", "20亿", "2B"},
	} {
		v := decimal.RequireFromString(c.v)
		if got := axisFigure("zh-CN", v); got != c.zh {
			t.Errorf("zh-CN %s: %q, want %q", c.v, got, c.zh)
		}
		if got := axisFigure("en", v); got != c.en {
			t.Errorf("en %s: %q, want %q", c.v, got, c.en)
		}
	}
}

func TestNiceMax(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]string{"0": "1", "0.3": "0.5", "1": "1", "7": "10", "120": "200", "450000": "500000", "500000": "500000", "500001": "1000000"} {
		if got := niceMax(decimal.RequireFromString(v)); !got.Equal(decimal.RequireFromString(want)) {
			t.Errorf("niceMax(%s) = %s, want %s", v, got, want)
		}
	}
}

var tickText = regexp.MustCompile(`class="tick">([^<]*)<`)
var monthText = regexp.MustCompile(`fill="#374151">(\d{4}-\d{2})<`)

// TestFinancingChart: the months run from the first with money disbursed
// to the last, a month between with nothing shows 0 (not a blank), a
// month at either end with nothing is not drawn; the axis is in 万 (zh-CN)
// and K (en).
func TestFinancingChart(t *testing.T) {
	t.Parallel()
	months := []subsidies.BankMonth{
		{BankID: "qilu", Month: "2026-07", Financed: money.MustAmount("0.00")}, // applications only: not drawn
		{BankID: "qilu", Month: "2026-08", Financed: money.MustAmount("300000.00")},
		{BankID: "jnrcb", Month: "2026-08", Financed: money.MustAmount("150000.00")},
		// 2026-09: nothing at all, shown as 0
		{BankID: "qilu", Month: "2026-10", Financed: money.MustAmount("450000.00")},
		{BankID: "qilu", Month: "2026-11", Financed: money.MustAmount("0.00")}, // not drawn
	}
	names := map[string]string{"qilu": "齐鲁银行", "jnrcb": "济南农商银行"}
	svg := string(financingChart(&view{Lang: "zh-CN"}, months, names))
	var got []string
	for _, m := range monthText.FindAllStringSubmatch(svg, -1) {
		got = append(got, m[1])
	}
	if want := []string{"2026-08", "2026-09", "2026-10"}; !slices.Equal(got, want) {
		t.Fatalf("months %v, want %v", got, want)
	}
	// 2026-09 has a 0 for both banks; 2026-08 none; 2026-10 jnrcb's 0.
	if n := strings.Count(svg, `class="zero">0<`); n != 3 {
		t.Fatalf("%d zeros drawn, want 3:\n%s", n, svg)
	}
	// The largest bar, 450000, under a nice maximum of 500000: ticks of
	// 500000 / 4 = 125000 (12.5万).
	var ticks []string
	for _, m := range tickText.FindAllStringSubmatch(svg, -1) {
		ticks = append(ticks, m[1])
	}
	if want := []string{"0", "12.5万", "25万", "37.5万", "50万"}; !slices.Equal(ticks, want) {
		t.Fatalf("ticks %v, want %v", ticks, want)
	}
	// qilu's 2026-10 bar: 450000 / 500000 × 220 (the plot's height) = 198.0.
	if !strings.Contains(svg, `height="198.0" rx="2" fill="#d97706"><title>齐鲁银行 2026-10: 450,000.00</title>`) {
		t.Fatalf("qilu's bar of 2026-10:\n%s", svg)
	}
	en := string(financingChart(&view{Lang: "en"}, months, names))
	if !strings.Contains(en, `class="tick">125K<`) || !strings.Contains(en, `class="tick">500K<`) {
		t.Fatalf("the English axis:\n%s", en)
	}
	if empty := string(financingChart(&view{Lang: "zh-CN"}, months[:1], names)); monthText.MatchString(empty) {
		t.Fatalf("a chart of nothing disbursed draws months:\n%s", empty)
	}
}

// TestBudgetBar: the bar says the total beside what is used; its filled
// width is exact: 1,250,000.00 of 5,000,000.00 over 640 = 160.0.
func TestBudgetBar(t *testing.T) {
	t.Parallel()
	v := &view{Lang: "zh-CN"}
	used, total := money.MustAmount("1250000.00"), money.MustAmount("5000000.00")
	svg := string(budgetBar("2026", v.T("dash.used_of", 2026, formatMoney(used), formatMoney(total)), "", used, total))
	for _, want := range []string{`width="160.0" height="28" rx="4" fill="#1f6feb" class="used"`, "2026 年已用 1,250,000.00 元，预算共 5,000,000.00 元"} {
		if !strings.Contains(svg, want) {
			t.Fatalf("budget bar lacks %q:\n%s", want, svg)
		}
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	zh, en := &view{Lang: "zh-CN"}, &view{Lang: "en"}
	for s, want := range map[int64][2]string{
		0:      {"0 秒", "0 s"},
		1:      {"1 秒", "1 s"},
		125:    {"2 分 5 秒", "2 min 5 s"},
		3600:   {"1 小时", "1 h"},
		12000:  {"3 小时 20 分", "3 h 20 min"}, // 3 × 3600 + 20 × 60
		187200: {"2 天 4 小时", "2 d 4 h"},     // 2 × 86400 + 4 × 3600
		172805: {"2 天", "2 d"},              // 5 seconds past: below the second unit
	} {
		if got := duration(zh, s); got != want[0] {
			t.Errorf("%d s in zh-CN: %q, want %q", s, got, want[0])
		}
		if got := duration(en, s); got != want[1] {
			t.Errorf("%d s in en: %q, want %q", s, got, want[1])
		}
	}
}
