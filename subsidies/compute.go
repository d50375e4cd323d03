package subsidies

import (
	"fmt"
	"sort"
	"strings"

	"github.com/shopspring/decimal"

	"procfin/platform/money"
)

// Inputs are the facts one repayment's subsidy is computed from.
type Inputs struct {
	// OutstandingBefore is the loan's principal outstanding when the
	// repayment was recorded (for the record; the computation uses each
	// tranche's principal day by day).
	OutstandingBefore money.Amount `json:"outstanding_before"`
	AnnualRate        money.Rate   `json:"annual_rate"` // the loan's rate (each tranche has its own, in Tranches)
	// DisbursementID is the bank's id of the tranche the repayment names
	// ("": the whole loan, all its tranches).
	DisbursementID string `json:"disbursement_id,omitempty"`
	// Tranches are the tranches the repayment covers: the one it names, or
	// all the loan's, oldest first.
	Tranches []TrancheInput `json:"tranches"`
	// EarlierPrincipal is the principal of the loan's repayments recorded
	// before this one, as it fell on those tranches (a whole-loan
	// repayment's on the oldest tranche first).
	EarlierPrincipal []PrincipalRepaid `json:"earlier_principal"`
	PeriodStart      money.Date        `json:"period_start"` // accrues
	PeriodEnd        money.Date        `json:"period_end"`   // does not accrue
	InterestPaid     money.Amount      `json:"interest_paid"`
	PaidOn           money.Date        `json:"paid_on"`
	// ClaimedThisYear is what the supplier's pending, held, approved and paid
	// claims of PaidOn's calendar year already hold of its yearly cap.
	ClaimedThisYear money.Amount `json:"supplier_claimed_this_year"`
}

// TrancheInput is one tranche a repayment covers.
type TrancheInput struct {
	DisbursementID string       `json:"disbursement_id"` // the bank's id
	Amount         money.Amount `json:"amount"`
	ValueDate      money.Date   `json:"value_date"` // counted from this day on
	AnnualRate     money.Rate   `json:"annual_rate"`
}

// PrincipalRepaid is principal repaid on a tranche by an earlier
// repayment: the tranche stops counting it from PaidOn on.
type PrincipalRepaid struct {
	DisbursementID string       `json:"disbursement_id"`
	PaidOn         money.Date   `json:"paid_on"`
	Principal      money.Amount `json:"principal"`
}

// Step is one line of a computation, as an officer checks it by hand.
type Step struct {
	Name    string `json:"step"`
	Formula string `json:"formula"`
	Value   string `json:"value"`
}

// Run is a stretch of consecutive days of one tranche with the same
// principal outstanding and the same rate cap: its interest is principal
// × rate × days / 360, rate = min(annual_rate, cap).
type Run struct {
	DisbursementID string       `json:"disbursement_id"`
	From           money.Date   `json:"from"` // accrues
	To             money.Date   `json:"to"`   // does not accrue
	Days           int          `json:"days"`
	Principal      money.Amount `json:"principal"`
	AnnualRate     money.Rate   `json:"annual_rate"`
	Cap            money.Rate   `json:"cap"`  // the 1-year LPR in force on these days
	Rate           money.Rate   `json:"rate"` // min(annual_rate, cap)
	// Interest is the run's exact interest, shown to 10 places.
	Interest string `json:"interest"`
}

// Computation is a claim's computation: its inputs, the policy terms it
// used, the runs of days it summed and each step, kept on the claim.
type Computation struct {
	PolicyVersion int        `json:"policy_version"`
	Inputs        Inputs     `json:"inputs"`
	SubsidyRatio  money.Rate `json:"subsidy_ratio"`
	// RateCap is the policy's rate_cap (the LPR in force on its first day);
	// the computation uses LPR1Y, day by day.
	RateCap           money.Rate   `json:"rate_cap"`
	LPR1Y             LPRTable     `json:"lpr_1y"`
	SupplierYearlyCap money.Amount `json:"supplier_yearly_cap"`
	Year              int          `json:"year"`
	Days              int          `json:"days"`
	Runs              []Run        `json:"runs"`
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

// Compute works out the subsidy of one repayment under policy p, day by
// day over the interest period (domain.md 1.1, "Subsidy, day by day"):
//
//	outstanding_t(d)  = tranche t's amount from its value date on, less the
//	                    earlier principal on t paid on or before d
//	eligible_interest = Σ_{d ∈ [start, end)} Σ_t outstanding_t(d) × min(rate_t, lpr_1y(d)) / 360
//	capped            = min(eligible_interest, interest_paid)
//	subsidy           = capped × subsidy_ratio, rounded half-up to the 分 once
//	amount            = min(subsidy, supplier_yearly_cap − claimed this year), never below 0
//
// The days are summed in runs of equal principal and cap (Runs). Division
// by 360 is done last and exactly (DivRound), so nothing is rounded before
// the end.
func Compute(in Inputs, p Policy) Computation {
	c := Computation{
		PolicyVersion: p.Version, Inputs: in, SubsidyRatio: p.SubsidyRatio, RateCap: p.RateCap, LPR1Y: p.LPR1Y,
		SupplierYearlyCap: p.SupplierYearlyCap, Year: in.PaidOn.Year(), Runs: []Run{}, LimitedBy: []string{},
	}
	if c.Inputs.Tranches == nil {
		c.Inputs.Tranches = []TrancheInput{}
	}
	if c.Inputs.EarlierPrincipal == nil {
		c.Inputs.EarlierPrincipal = []PrincipalRepaid{}
	}
	step := func(name, formula string, value string) {
		c.Steps = append(c.Steps, Step{Name: name, Formula: formula, Value: value})
	}
	c.Days = in.PeriodStart.DaysUntil(in.PeriodEnd)
	if c.Days < 0 {
		c.Days = 0
	}
	step("days", fmt.Sprintf("%s − %s (the start day accrues, the end day does not)", in.PeriodEnd, in.PeriodStart), fmt.Sprint(c.Days))
	c.Runs = runs(in, p.LPR1Y)
	// numerator = Σ principal × rate × days: exact; eligible = numerator / 360.
	numerator := decimal.Zero
	var terms, rates []string
	seen := map[string]bool{}
	for i := range c.Runs {
		r := &c.Runs[i]
		n := r.Principal.Decimal().Mul(r.Rate.Decimal()).Mul(decimal.NewFromInt(int64(r.Days)))
		r.Interest = n.DivRound(dayBasis, shown).String()
		numerator = numerator.Add(n)
		terms = append(terms, fmt.Sprintf("%s × %s × %d", r.Principal, r.Rate.Decimal(), r.Days))
		if k := r.Rate.Decimal().String(); !seen[k] {
			seen[k] = true
			rates = append(rates, k)
		}
	}
	if len(terms) == 0 {
		terms = []string{"0"}
	}
	step("rate", "min(tranche's annual_rate, the 1-year LPR in force that day), per run", strings.Join(rates, ", "))
	step("eligible_interest", fmt.Sprintf("Σ runs principal × rate × days / 360 = (%s) / 360 = %s / 360 (shown to %d places, kept exact)",
		strings.Join(terms, " + "), numerator, shown), numerator.DivRound(dayBasis, shown).String())
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

// runs cuts the interest period into the maximal runs of days in which a
// tranche's principal and the cap stay the same, tranche by tranche in
// in.Tranches' order, in date order. Days a tranche has nothing
// outstanding (before its value date, or all repaid) are in no run.
func runs(in Inputs, lpr LPRTable) []Run {
	out := []Run{}
	if !in.PeriodStart.Before(in.PeriodEnd) {
		return out
	}
	// The days on which something may change: the period's ends, value
	// dates, earlier repayments and the LPR's dates inside the period.
	cuts := []money.Date{in.PeriodStart, in.PeriodEnd}
	inside := func(d money.Date) {
		if d.After(in.PeriodStart) && d.Before(in.PeriodEnd) {
			cuts = append(cuts, d)
		}
	}
	for _, t := range in.Tranches {
		inside(t.ValueDate)
	}
	for _, e := range in.EarlierPrincipal {
		inside(e.PaidOn)
	}
	for _, e := range lpr {
		inside(e.From)
	}
	sort.Slice(cuts, func(i, j int) bool { return cuts[i].Before(cuts[j]) })
	for _, t := range in.Tranches {
		var last *Run
		for i := 0; i+1 < len(cuts); i++ {
			from, to := cuts[i], cuts[i+1]
			if !from.Before(to) {
				continue // a day named twice
			}
			principal := outstandingOn(t, in.EarlierPrincipal, from)
			if !principal.IsPositive() {
				last = nil
				continue
			}
			lprCap := lpr.On(from)
			if last != nil && last.To.Equal(from) && last.Principal.Equal(principal) && last.Cap.Decimal().Equal(lprCap.Decimal()) {
				last.To = to
				last.Days = last.From.DaysUntil(to)
				continue
			}
			rate := t.AnnualRate
			if lprCap.Decimal().LessThan(rate.Decimal()) {
				rate = lprCap
			}
			out = append(out, Run{DisbursementID: t.DisbursementID, From: from, To: to, Days: from.DaysUntil(to),
				Principal: principal, AnnualRate: t.AnnualRate, Cap: lprCap, Rate: rate})
			last = &out[len(out)-1]
		}
	}
	return out
}

// outstandingOn is tranche t's principal outstanding on day d: its amount
// from its value date on, less the earlier principal on it paid on or
// before d (the day of a repayment does not accrue), never below 0.
func outstandingOn(t TrancheInput, earlier []PrincipalRepaid, d money.Date) money.Amount {
	if d.Before(t.ValueDate) {
		return money.Zero
	}
	o := t.Amount
	for _, e := range earlier {
		if e.DisbursementID == t.DisbursementID && !d.Before(e.PaidOn) {
			o = o.Sub(e.Principal)
		}
	}
	if o.IsNegative() {
		return money.Zero
	}
	return o
}
