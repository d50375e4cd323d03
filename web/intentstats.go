package web

import (
	"strings"

	"procfin/platform/money"
)

// ratePercent shows a rate of up to 6 places as a percentage, exactly:
// 2 places at least, 4 at most ("3.30%", "3.4533%"); "—" for none.
func ratePercent(r *money.Rate) string {
	if r == nil {
		return "—"
	}
	s := r.Decimal().Shift(2).StringFixed(4)
	for strings.HasSuffix(s, "0") && len(s)-strings.IndexByte(s, '.') > 3 {
		s = s[:len(s)-1]
	}
	return s + "%"
}
