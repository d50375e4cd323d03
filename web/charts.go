package web

import (
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/shopspring/decimal"

	"procfin/platform/i18n"
	"procfin/platform/money"
)

// Charts are drawn here as inline SVG: a few lines of Go, no JavaScript,
// nothing to download, and allowed by the strict CSP (presentation
// attributes, no inline styles). Figures are exact decimals (amounts in
// 元) from the data to the axis labels and the bars' heights; only the
// layout's fixed positions are floats.

var palette = []string{"#1f6feb", "#d97706", "#16a34a", "#9333ea", "#dc2626", "#0891b2"}

// series is one coloured set of bars (a bank).
type series struct {
	Name   string
	Values []money.Amount // one per group
}

func esc(s string) string { return template.HTMLEscapeString(s) }

var ten = decimal.NewFromInt(10)

// niceMax rounds up to 1, 2 or 5 times a power of ten, for the axis (1
// for nothing).
func niceMax(v decimal.Decimal) decimal.Decimal {
	if !v.IsPositive() {
		return decimal.NewFromInt(1)
	}
	p := decimal.NewFromInt(1)
	for p.Mul(ten).LessThanOrEqual(v) {
		p = p.Mul(ten)
	}
	for p.GreaterThan(v) { // below 1
		p = p.Div(ten)
	}
	for _, m := range []int64{1, 2, 5, 10} {
		if top := p.Mul(decimal.NewFromInt(m)); v.LessThanOrEqual(top) {
			return top
		}
	}
	return p.Mul(ten)
}

// The units an axis figure is written in: 万 and 亿 in Chinese, K, M and B
// (thousand, million, billion) in English.
var (
	wan, yi           = decimal.New(1, 4), decimal.New(1, 8)
	thousand, million = decimal.New(1, 3), decimal.New(1, 6)
	billion           = decimal.New(1, 9)
	unitsZH           = []struct {
		size decimal.Decimal
		name string
	}{{yi, "亿"}, {wan, "万"}}
	unitsEN = []struct {
		size decimal.Decimal
		name string
	}{{billion, "B"}, {million, "M"}, {thousand, "K"}}
)

// axisFigure writes an amount of 元 for an axis in the reader's units:
// 12.5万, 1.2亿 (zh-CN); 125K, 1.2M (en). Up to two decimals, no trailing
// zeros.
func axisFigure(lang string, v decimal.Decimal) string {
	units := unitsZH
	if lang == i18n.EN {
		units = unitsEN
	}
	for _, u := range units {
		if v.Abs().GreaterThanOrEqual(u.size) {
			return trimZeros(v.Div(u.size).Round(2).StringFixed(2)) + u.name
		}
	}
	return trimZeros(v.Round(2).StringFixed(2))
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// scaled is v / max × length, as an SVG length (one decimal).
func scaled(v, max decimal.Decimal, length float64) string {
	if !max.IsPositive() {
		return "0.0"
	}
	return v.Mul(decimal.NewFromFloat(length)).Div(max).StringFixed(1)
}

// groupedBars draws one group of bars per label (a month), one bar per
// series (a bank) in each, with a y axis in the reader's units, gridlines
// and a legend. A bar of nothing is drawn as a 0 on the axis, not left
// blank.
func groupedBars(lang, title string, groups []string, ss []series) template.HTML {
	const w, h, left, right, top, bottom = 960.0, 300.0, 56.0, 12.0, 16.0, 64.0
	max := decimal.Zero
	for _, s := range ss {
		for _, v := range s.Values {
			max = decimal.Max(max, v.Decimal())
		}
	}
	max = niceMax(max)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg"><title>%s</title>`, w, h, esc(title), esc(title))
	plotH := h - top - bottom
	for i := int64(0); i <= 4; i++ {
		y := top + plotH - plotH*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#e5e7eb"/>`, left, y, w-right, y)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end" font-size="11" fill="#6b7280" class="tick">%s</text>`,
			left-6, y+4, axisFigure(lang, max.Mul(decimal.NewFromInt(i)).Div(decimal.NewFromInt(4))))
	}
	if len(groups) > 0 && len(ss) > 0 {
		gw := (w - left - right) / float64(len(groups))
		bw := math.Min(36, gw*0.8/float64(len(ss)))
		for gi, g := range groups {
			x0 := left + gw*float64(gi) + (gw-bw*float64(len(ss)))/2
			for si, s := range ss {
				v := s.Values[gi]
				bh := scaled(v.Decimal(), max, plotH)
				fmt.Fprintf(&b, `<rect x="%.1f" y="%s" width="%.1f" height="%s" rx="2" fill="%s"><title>%s %s: %s</title></rect>`,
					x0+bw*float64(si), decimal.NewFromFloat(top+plotH).Sub(decimal.RequireFromString(bh)).StringFixed(1), bw-2, bh,
					palette[si%len(palette)], esc(s.Name), esc(g), esc(formatMoney(v)))
				if v.IsZero() {
					fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle" font-size="10" fill="#6b7280" class="zero">0</text>`,
						x0+bw*float64(si)+(bw-2)/2, top+plotH-3)
				}
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle" font-size="12" fill="#374151">%s</text>`, left+gw*float64(gi)+gw/2, top+plotH+18, esc(g))
		}
	}
	x := left
	for si, s := range ss {
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="12" height="12" rx="2" fill="%s"/>`, x, h-22, palette[si%len(palette)])
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="12" fill="#374151">%s</text>`, x+18, h-12, esc(s.Name))
		x += 30 + 7.5*float64(len([]rune(s.Name)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// histogram draws counts per bucket as bars labelled with the count.
func histogram(title string, labels []string, counts []int) template.HTML {
	const w, h, left, top, bottom = 640.0, 220.0, 16.0, 20.0, 40.0
	max := 1
	for _, c := range counts {
		max = int(math.Max(float64(max), float64(c)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg"><title>%s</title>`, w, h, esc(title), esc(title))
	plotH := h - top - bottom
	gw := (w - 2*left) / float64(max1(len(labels)))
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#9ca3af"/>`, left, top+plotH, w-left, top+plotH)
	for i, l := range labels {
		bh := plotH * float64(counts[i]) / float64(max)
		x := left + gw*float64(i) + gw*0.15
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="2" fill="#16a34a"/>`, x, top+plotH-bh, gw*0.7, bh)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="12" fill="#111827">%d</text>`, x+gw*0.35, top+plotH-bh-5, counts[i])
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle" font-size="12" fill="#374151">%s</text>`, x+gw*0.35, h-18, esc(l))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// budgetBar draws one year's budget as a bar: used, and left; the labels
// say the figures (with the total).
func budgetBar(title, usedLabel, leftLabel string, used, total money.Amount) template.HTML {
	const w, h = 640.0, 70.0
	width := decimal.Zero
	if total.IsPositive() {
		width = decimal.Min(used.Decimal(), total.Decimal()).Mul(decimal.NewFromFloat(w)).Div(total.Decimal())
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg"><title>%s</title>`, w, h, esc(title), esc(title))
	fmt.Fprintf(&b, `<rect x="0" y="8" width="%.0f" height="28" rx="4" fill="#dbeafe"/>`, w)
	fmt.Fprintf(&b, `<rect x="0" y="8" width="%s" height="28" rx="4" fill="#1f6feb" class="used"/>`, width.StringFixed(1))
	fmt.Fprintf(&b, `<text x="0" y="58" font-size="13" fill="#1f6feb">%s</text>`, esc(usedLabel))
	fmt.Fprintf(&b, `<text x="%.0f" y="58" text-anchor="end" font-size="13" fill="#374151">%s</text>`, w, esc(leftLabel))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
