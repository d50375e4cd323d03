package web

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// Charts are drawn here as inline SVG: a few lines of Go, no JavaScript,
// nothing to download, and allowed by the strict CSP (presentation
// attributes, no inline styles). Floats are used only for geometry; every
// figure shown as text is formatted from the exact amount by the caller.

var palette = []string{"#1f6feb", "#d97706", "#16a34a", "#9333ea", "#dc2626", "#0891b2"}

// series is one coloured set of bars (a bank).
type series struct {
	Name   string
	Values []float64 // one per group
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// niceMax rounds up to 1, 2 or 5 times a power of ten, for the axis.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// compact writes an axis figure: 1.2M, 350K, 40.
func compact(v float64) string {
	switch {
	case v >= 1e6:
		return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e6), "0"), ".") + "M"
	case v >= 1e3:
		return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e3), "0"), ".") + "K"
	}
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", v), "0"), ".")
}

// groupedBars draws one group of bars per label (a month), one bar per
// series (a bank) in each, with a y axis, gridlines and a legend.
func groupedBars(title string, groups []string, ss []series) template.HTML {
	const w, h, left, right, top, bottom = 960.0, 300.0, 56.0, 12.0, 16.0, 64.0
	var max float64
	for _, s := range ss {
		for _, v := range s.Values {
			max = math.Max(max, v)
		}
	}
	max = niceMax(max)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg"><title>%s</title>`, w, h, esc(title), esc(title))
	plotH := h - top - bottom
	for i := 0; i <= 4; i++ {
		y := top + plotH - plotH*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#e5e7eb"/>`, left, y, w-right, y)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end" font-size="11" fill="#6b7280">%s</text>`, left-6, y+4, compact(max*float64(i)/4))
	}
	if len(groups) > 0 && len(ss) > 0 {
		gw := (w - left - right) / float64(len(groups))
		bw := math.Min(36, gw*0.8/float64(len(ss)))
		for gi, g := range groups {
			x0 := left + gw*float64(gi) + (gw-bw*float64(len(ss)))/2
			for si, s := range ss {
				v := s.Values[gi]
				bh := plotH * v / max
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="2" fill="%s"><title>%s %s: %s</title></rect>`,
					x0+bw*float64(si), top+plotH-bh, bw-2, bh, palette[si%len(palette)], esc(s.Name), esc(g), compact(v))
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

// budgetBar draws one year's budget as a bar: used, and left.
func budgetBar(title, usedLabel, leftLabel string, used, total float64) template.HTML {
	const w, h = 640.0, 70.0
	frac := 0.0
	if total > 0 {
		frac = math.Min(1, used/total)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg"><title>%s</title>`, w, h, esc(title), esc(title))
	fmt.Fprintf(&b, `<rect x="0" y="8" width="%.0f" height="28" rx="4" fill="#dbeafe"/>`, w)
	fmt.Fprintf(&b, `<rect x="0" y="8" width="%.1f" height="28" rx="4" fill="#1f6feb"/>`, w*frac)
	fmt.Fprintf(&b, `<text x="0" y="58" font-size="13" fill="#1f6feb">%s</text>`, esc(usedLabel))
	fmt.Fprintf(&b, `<text x="%.0f" y="58" text-anchor="end" font-size="13" fill="#374151">%s</text>`, w, esc(leftLabel))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
