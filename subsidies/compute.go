package subsidies

import (
	"fmt"

	"github.com/shopspring/decimal"

	"procfin/platform/money"
)

// Inputs are the facts one repayment's subsidy is computed from.
type Inputs struct {
	OutstandingBefore money.Amount `json:"outstanding_before"` // principal outstanding over the period
	AnnualRate        money.Rate   `json:"annual_rate"`        // the loan's rate
	PeriodStart       money.Date   `json:"period_start"`       // accrues
	PeriodEnd         money.Date   `json:"period_end"`         // does not accrue
	InterestPaid      money.Amount `json:"interest_paid"`
	PaidOn            money.Date   `json:"paid_on"`
	// ClaimedThisYear is what the supplier's pending, approved and paid
	// claims of PaidOn's calendar year already hold of its yearly cap.
	ClaimedThisYear money.Amount `json:"supplier_claimed_this_year"`
}

// Step is one line of a computation, as an officer checks it by hand.
type Step struct {
	Name    string `json:"step"`
	Formula string `json:"formula"`
	Value   string `json:"value"`
}

// Computation is a claim's computation: its inputs, the policy terms it
// used and each step, kept on the claim.
type Computation struct {
	PolicyVersion     int          `json:"policy_version"`
	Inputs            Inputs       `json:"inputs"`
	SubsidyRatio      money.Rate   `json:"subsidy_ratio"`
	RateCap           money.Rate   `json:"rate_cap"`
	SupplierYearlyCap money.Amount `json:"supplier_yearly_cap"`
	Year              int          `json:"year"`
	Days              int          `json:"days"`
	Steps             []Step       `json:"steps"`
	// Subsidy is the amount before the supplier's yearly cap; Amount after it.
	Subsidy money.Amount `json:"subsidy"`
	Amount  money.Amount `json:"amount"`
	// LimitedBy names what lowered the amount: "interest_paid",
	// "supplier_yearly_cap", or "" (nothing).
	LimitedBy []string `json:"limited_by"`
}

var (
	dayBasis = decimal.NewFromInt(360) // ACT/360
	// shown is how many places an exact intermediate is shown with; the
	// computation itself keeps it exact and rounds once, at the end.
	shown int32 = 10
)

// Compute works out the subsidy of one repayment under policy p:
//
//	rate              = min(annual_rate, rate_cap)
//	days              = period_end − period_start (start accrues, end does not)
//	eligible_interest = outstanding_before × rate × days / 360
//	capped            = min(eligible_interest, interest_paid)
//	subsidy           = capped × subsidy_ratio, rounded half-up to the 分 once
//	amount            = min(subsidy, supplier_yearly_cap − claimed this year), never below 0
//
// Division by 360 is done last and exactly (DivRound), so nothing is
// rounded before the end.
func Compute(in Inputs, p Policy) Computation {
	c := Computation{
		PolicyVersion: p.Version, Inputs: in, SubsidyRatio: p.SubsidyRatio, RateCap: p.RateCap,
		SupplierYearlyCap: p.SupplierYearlyCap, Year: in.PaidOn.Year(), LimitedBy: []string{},
	}
	step := func(name, formula string, value string) {
		c.Steps = append(c.Steps, Step{Name: name, Formula: formula, Value: value})
	}
	rate := in.AnnualRate.Decimal()
	if p.RateCap.Decimal().LessThan(rate) {
		rate = p.RateCap.Decimal()
	}
	step("rate", fmt.Sprintf("min(annual_rate %s, rate_cap %s)", in.AnnualRate, p.RateCap), rate.String())
	c.Days = in.PeriodStart.DaysUntil(in.PeriodEnd)
	if c.Days < 0 {
		c.Days = 0
	}
	step("days", fmt.Sprintf("%s − %s (the start day accrues, the end day does not)", in.PeriodEnd, in.PeriodStart), fmt.Sprint(c.Days))
	// numerator = outstanding × rate × days: exact; eligible = numerator / 360.
	numerator := in.OutstandingBefore.Decimal().Mul(rate).Mul(decimal.NewFromInt(int64(c.Days)))
	step("eligible_interest", fmt.Sprintf("%s × %s × %d / 360 = %s / 360 (shown to %d places, kept exact)",
		in.OutstandingBefore, rate, c.Days, numerator, shown), numerator.DivRound(dayBasis, shown).String())
	// capped × ratio, rounded once. Compare numerator/360 with interest
	// without dividing: numerator ≤ interest × 360.
	ratio := p.SubsidyRatio.Decimal()
	var subsidy decimal.Decimal
	if numerator.GreaterThan(in.InterestPaid.Decimal().Mul(dayBasis)) {
		c.LimitedBy = append(c.LimitedBy, "interest_paid")
		step("capped_by_interest_paid", fmt.Sprintf("min(eligible_interest, interest_paid %s)", in.InterestPaid), in.InterestPaid.String())
		subsidy = in.InterestPaid.Decimal().Mul(ratio).Round(2)
		step("subsidy", fmt.Sprintf("%s × subsidy_ratio %s, rounded half-up to 0.01", in.InterestPaid, p.SubsidyRatio), subsidy.StringFixed(2))
	} else {
		step("capped_by_interest_paid", fmt.Sprintf("min(eligible_interest, interest_paid %s)", in.InterestPaid), numerator.DivRound(dayBasis, shown).String())
		subsidy = numerator.Mul(ratio).DivRound(dayBasis, 2)
		step("subsidy", fmt.Sprintf("%s × subsidy_ratio %s / 360, rounded half-up to 0.01", numerator, p.SubsidyRatio), subsidy.StringFixed(2))
	}
	c.Subsidy = money.AmountFromDecimal(subsidy)
	room := p.SupplierYearlyCap.Sub(in.ClaimedThisYear)
	if room.IsNegative() {
		room = money.Zero
	}
	c.Amount = c.Subsidy
	if room.LessThan(c.Amount) {
		c.Amount = room
		c.LimitedBy = append(c.LimitedBy, "supplier_yearly_cap")
	}
	step("supplier_yearly_cap", fmt.Sprintf("min(subsidy %s, cap %s − already claimed in %d %s)",
		c.Subsidy, p.SupplierYearlyCap, c.Year, in.ClaimedThisYear), c.Amount.String())
	return c
}
