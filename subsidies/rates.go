package subsidies

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/lib/pq"
	"github.com/shopspring/decimal"

	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// ratePlaces is how many decimal places an effective rate has.
const ratePlaces = 6

// AfterSubsidy is each rate after the programme's interest subsidy for
// the supplier on day (bank-protocol.md 1.1, "Clarifications"):
// rate − min(rate, cap(day)) × subsidy_ratio under the policy in force on
// day when it subsidises the supplier's size class, else the rate, to 6
// decimal places, with the computation's steps (lending.SubsidyRates).
// The policy is the one a claim of a repayment paid on day would use (the
// newest version from day or before), cap(day) its 1-year LPR on day, and
// a supplier of unknown size class is not subsidised, as for claims. One
// statement reads the policy and the supplier, whatever the number of
// rates.
func (s *Service) AfterSubsidy(ctx context.Context, supplierUSCC string, day money.Date, rates []money.Rate) ([]lending.RateAfterSubsidy, error) {
	out := make([]lending.RateAfterSubsidy, len(rates))
	if len(rates) == 0 {
		return out, nil
	}
	var row struct {
		Version             sql.NullInt64  `db:"version"`
		SubsidyRatio        *money.Rate    `db:"subsidy_ratio"`
		LPR1Y               *LPRTable      `db:"lpr_1y"`
		EligibleSizeClasses pq.StringArray `db:"eligible_size_classes"`
		SizeClass           sql.NullString `db:"size_class"`
	}
	err := s.db.GetContext(ctx, &row, `
		SELECT p.version, p.subsidy_ratio, p.lpr_1y, p.eligible_size_classes, s.size_class
		FROM (SELECT 1) AS one
		LEFT JOIN LATERAL (`+selectPolicy+` WHERE effective_from <= $2
			ORDER BY effective_from DESC, version DESC LIMIT 1) AS p ON true
		LEFT JOIN suppliers s ON s.uscc = $1`, supplierUSCC, day)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	var p *Policy
	if row.Version.Valid && row.SubsidyRatio != nil && row.LPR1Y != nil {
		p = &Policy{Version: int(row.Version.Int64), SubsidyRatio: *row.SubsidyRatio, LPR1Y: *row.LPR1Y,
			EligibleSizeClasses: row.EligibleSizeClasses}
	}
	sizeClass := "unknown"
	if row.SizeClass.Valid && row.SizeClass.String != "" {
		sizeClass = row.SizeClass.String
	}
	for i, r := range rates {
		out[i], err = afterSubsidy(r, day, sizeClass, p)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// afterSubsidy is rate after the subsidy of policy p (nil: none in force)
// on day for a supplier of the size class. Rounded half-up (away from
// zero; rates are never negative) to 6 places, once, at the end, as the
// rest of the money code rounds.
func afterSubsidy(rate money.Rate, day money.Date, sizeClass string, p *Policy) (lending.RateAfterSubsidy, error) {
	res := lending.RateAfterSubsidy{Rate: rate, Steps: []lending.RateStep{}}
	step := func(name, formula, value string) {
		res.Steps = append(res.Steps, lending.RateStep{Name: name, Formula: formula, Value: value})
	}
	notEligible := func(reason string) (lending.RateAfterSubsidy, error) {
		step("not_eligible", reason, rate.String())
		step("effective_annual_rate", "rate "+rate.String()+", no subsidy", rate.String())
		return res, nil
	}
	if p == nil {
		return notEligible(fmt.Sprintf("no subsidy policy is in force on %s", day))
	}
	res.PolicyVersion = p.Version
	capRate := p.LPR1Y.On(day)
	res.Cap = &capRate
	switch {
	case sizeClass == "unknown":
		return notEligible("the supplier's size class is unknown: only " + strings.Join(p.EligibleSizeClasses, ", ") + " suppliers are subsidised")
	case !p.eligible(sizeClass):
		return notEligible(fmt.Sprintf("the supplier is %s: policy version %d subsidises only %s suppliers",
			sizeClass, p.Version, strings.Join(p.EligibleSizeClasses, ", ")))
	}
	ratio := p.SubsidyRatio
	res.Eligible, res.Ratio = true, &ratio
	subsidised := decimal.Min(rate.Decimal(), capRate.Decimal())
	off := subsidised.Mul(ratio.Decimal())
	effective := rate.Decimal().Sub(off).Round(ratePlaces)
	step("cap", fmt.Sprintf("1-year LPR on %s (policy version %d)", day, p.Version), capRate.String())
	step("subsidised_rate", fmt.Sprintf("min(rate %s, cap %s)", rate, capRate), subsidised.String())
	step("rate_off", fmt.Sprintf("subsidised_rate %s × subsidy_ratio %s", subsidised, ratio), off.String())
	step("effective_annual_rate", fmt.Sprintf("rate %s − rate_off %s, rounded half-up to %d places", rate, off, ratePlaces),
		effective.StringFixed(ratePlaces))
	r, err := money.ParseRate(effective.StringFixed(ratePlaces))
	if err != nil {
		return res, errs.Wrap(errs.Internal, err, "effective rate of %s", rate)
	}
	res.Rate = r
	return res, nil
}
