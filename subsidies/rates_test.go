package subsidies

import (
	"context"
	"strings"
	"testing"

	"procfin/lending"
	"procfin/platform/money"
	"procfin/platform/postgres/pgtest"
)

// ratesService is a service whose policy version 1 (from 2024-01-01)
// subsidises micro and small suppliers at ratio 0.5 with the 1-year LPR
// 3.10 % from 2024-10-21 and 3.00 % from 2025-05-20, and whose version 2
// (from 2026-01-01) has ratio 0.333333 and the LPR 3.00 %; with a small
// supplier usccS, a large one usccL and one of unknown size usccU.
func ratesService(t *testing.T) *Service {
	t.Helper()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	s := NewService(db, PolicyInput{EffectiveFrom: "2024-01-01", SubsidyRatio: "0.5", SupplierYearlyCap: "200000.00",
		ProgrammeBudget: "50000000.00", EligibleSizeClasses: []string{"micro", "small"}, FourEyesThreshold: "50000.00",
		LPR1Y: []LPRInput{{From: "2024-10-21", Rate: "0.0310"}, {From: "2025-05-20", Rate: "0.0300"}}})
	if err := s.EnsurePolicy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddPolicy(ctx, PolicyInput{EffectiveFrom: "2026-01-01", SubsidyRatio: "0.333333", SupplierYearlyCap: "200000.00",
		ProgrammeBudget: "50000000.00", EligibleSizeClasses: []string{"micro", "small"}, FourEyesThreshold: "50000.00",
		LPR1Y: []LPRInput{{From: "2026-01-01", Rate: "0.0300"}}}, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO suppliers (uscc, name, size_class) VALUES
		($1, 'Small', 'small'), ($2, 'Large', 'large'), ($3, 'Unknown', 'unknown')`, usccS, usccL, usccU); err != nil {
		t.Fatal(err)
	}
	return s
}

// The suppliers of ratesService: small, large, of unknown size; and one
// procfin does not know.
const (
	usccS = "913701009DEREMJE5A"
	usccL = "91350100M000100Y43"
	usccU = "91370100MA3C5XXX1K"
	usccX = "91110000100000000X"
)

// TestAfterSubsidy: effective_annual_rate = rate − min(rate, cap(day)) ×
// subsidy_ratio for an eligible supplier under the policy in force on
// day, else the rate, to 6 places half-up; figures by hand.
func TestAfterSubsidy(t *testing.T) {
	t.Parallel()
	s := ratesService(t)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		uscc, day, rate string
		want            string // the effective rate, 6 places
		eligible        bool
		version         int
		cap             string // "" when no policy is in force
	}{
		// 0.0345 − min(0.0345, 0.0300) × 0.5 = 0.0345 − 0.0150 = 0.019500
		"AboveCap": {usccS, "2025-06-01", "0.0345", "0.019500", true, 1, "0.03"},
		// 0.0280 − min(0.0280, 0.0300) × 0.5 = 0.0280 − 0.0140 = 0.014000
		"BelowCap": {usccS, "2025-06-01", "0.028", "0.014000", true, 1, "0.03"},
		// the day before the LPR moved to 3.00 %: cap 3.10 %:
		// 0.0345 − 0.0310 × 0.5 = 0.0345 − 0.0155 = 0.019000
		"DayBeforeLPRChange": {usccS, "2025-05-19", "0.0345", "0.019000", true, 1, "0.031"},
		// the day it moved: 0.019500, as AboveCap
		"DayOfLPRChange": {usccS, "2025-05-20", "0.0345", "0.019500", true, 1, "0.03"},
		// a large supplier: not subsidised, the rate itself
		"Large": {usccL, "2025-06-01", "0.0345", "0.034500", false, 1, "0.03"},
		// unknown size class, and a supplier procfin does not know: none
		"UnknownSize":     {usccU, "2025-06-01", "0.0345", "0.034500", false, 1, "0.03"},
		"UnknownSupplier": {usccX, "2025-06-01", "0.0345", "0.034500", false, 1, "0.03"},
		// before any policy: none
		"NoPolicy": {usccS, "2023-12-31", "0.0345", "0.034500", false, 0, ""},
		// 0.028121 × 0.5 = 0.0140605; 0.028121 − 0.0140605 = 0.0140605,
		// 7th place 5: half-up 0.014061 (half-even or cutting would give 0.014060)
		"HalfUpAt7thPlace": {usccS, "2025-06-01", "0.028121", "0.014061", true, 1, "0.03"},
		// version 2 from 2026-01-01, ratio 0.333333:
		// 0.0300 × 0.333333 = 0.0099999900; 0.0345 − 0.00999999 = 0.02450001 → 0.024500
		"Ratio333333": {usccS, "2026-01-01", "0.0345", "0.024500", true, 2, "0.03"},
		// 28121 × 333333 = (28121000000 − 28121) / 3 = 9373657293, so
		// 0.028121 × 0.333333 = 0.009373657293; 0.028121 − 0.009373657293
		// = 0.018747342707 → 0.018747 (7th place 3)
		"Ratio333333BelowCap": {usccS, "2026-03-01", "0.028121", "0.018747", true, 2, "0.03"},
		// the last day of version 1 (LPR 3.00 %, ratio 0.5): 0.019500
		"LastDayOfVersion1": {usccS, "2025-12-31", "0.0345", "0.019500", true, 1, "0.03"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := s.AfterSubsidy(ctx, tc.uscc, money.MustDate(tc.day), []money.Rate{money.MustRate(tc.rate)})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("%d answers, want 1", len(got))
			}
			r := got[0]
			if !r.Rate.Decimal().Equal(money.MustRate(tc.want).Decimal()) {
				t.Errorf("effective rate %s, want %s (steps %+v)", r.Rate, tc.want, r.Steps)
			}
			if r.Eligible != tc.eligible || r.PolicyVersion != tc.version {
				t.Errorf("eligible %v version %d, want %v %d", r.Eligible, r.PolicyVersion, tc.eligible, tc.version)
			}
			switch {
			case tc.cap == "" && r.Cap != nil:
				t.Errorf("cap %s, want none", r.Cap)
			case tc.cap != "" && (r.Cap == nil || r.Cap.String() != tc.cap):
				t.Errorf("cap %v, want %s", r.Cap, tc.cap)
			}
			if tc.eligible != (r.Ratio != nil) {
				t.Errorf("ratio %v with eligible %v", r.Ratio, tc.eligible)
			}
			if len(r.Steps) == 0 {
				t.Fatal("no steps")
			}
			last := r.Steps[len(r.Steps)-1]
			if last.Name != "effective_annual_rate" || !money.MustRate(last.Value).Decimal().Equal(r.Rate.Decimal()) {
				t.Errorf("last step %+v, want effective_annual_rate %s", last, r.Rate)
			}
			if !tc.eligible && r.Steps[0].Name != "not_eligible" {
				t.Errorf("steps %+v: the first should say why there is no subsidy", r.Steps)
			}
		})
	}
}

// TestAfterSubsidySteps: the steps of an eligible rate, as a supplier
// checks them by hand, and the reason of a large supplier's.
func TestAfterSubsidySteps(t *testing.T) {
	t.Parallel()
	s := ratesService(t)
	ctx := context.Background()
	got, err := s.AfterSubsidy(ctx, usccS, money.MustDate("2025-06-01"), []money.Rate{money.MustRate("0.0345"), money.MustRate("0.028")})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, st := range got[0].Steps {
		lines = append(lines, st.Name+"="+st.Value)
	}
	// cap 0.03; min(0.0345, 0.03) = 0.03; 0.03 × 0.5 = 0.015; 0.0345 − 0.015 = 0.019500
	if got, want := strings.Join(lines, " "), "cap=0.03 subsidised_rate=0.03 rate_off=0.015 effective_annual_rate=0.019500"; got != want {
		t.Errorf("steps %q, want %q", got, want)
	}
	if got[1].Rate.String() != "0.014" {
		t.Errorf("second rate %s, want 0.014", got[1].Rate)
	}
	large, err := s.AfterSubsidy(ctx, usccL, money.MustDate("2025-06-01"), []money.Rate{money.MustRate("0.0345")})
	if err != nil {
		t.Fatal(err)
	}
	if why := large[0].Steps[0].Formula; !strings.Contains(why, "large") || !strings.Contains(why, "micro, small") {
		t.Errorf("reason %q should name the class and the classes subsidised", why)
	}
	none, err := s.AfterSubsidy(ctx, usccS, money.MustDate("2025-06-01"), nil)
	if err != nil || len(none) != 0 {
		t.Errorf("no rates: %v %v", none, err)
	}
}

// TestEffectiveRateToTheFen: the effective rate, 6 places, makes the
// right yearly interest to the fen with money.Amount arithmetic (half-up
// to 0.01).
func TestEffectiveRateToTheFen(t *testing.T) {
	t.Parallel()
	s := ratesService(t)
	ctx := context.Background()
	for _, tc := range []struct {
		day, rate, amount string
		want              string
	}{
		// 0.019500 × 800000.00 = 15600.00
		{"2025-06-01", "0.0345", "800000.00", "15600.00"},
		// 0.014061 × 812345.67: 812345.67 × 0.014 = 11372.83938,
		// 812345.67 × 0.000061 = 49.55308587; sum 11422.39246587 → 11422.39
		{"2025-06-01", "0.028121", "812345.67", "11422.39"},
		// 0.018747 × 800000.00 = 14997.60
		{"2026-03-01", "0.028121", "800000.00", "14997.60"},
		// 0.024500 × 333333.33 = 8166.666585 → 8166.67 (3rd place 6: up)
		{"2026-01-01", "0.0345", "333333.33", "8166.67"},
	} {
		got, err := s.AfterSubsidy(ctx, usccS, money.MustDate(tc.day), []money.Rate{money.MustRate(tc.rate)})
		if err != nil {
			t.Fatal(err)
		}
		interest := money.AmountFromDecimal(money.MustAmount(tc.amount).Decimal().Mul(got[0].Rate.Decimal()))
		if interest.String() != tc.want {
			t.Errorf("a year's interest on %s at %s (effective %s) = %s, want %s", tc.amount, tc.rate, got[0].Rate, interest, tc.want)
		}
	}
}

// The service is what lending computes offers' effective rates with.
var _ lending.SubsidyRates = (*Service)(nil)
