package subsidies

import (
	"fmt"
	"math/big"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lib/pq"
	"pgregory.net/rapid"

	"procfin/platform/money"
)

// defaultPolicy is configs/defaults.yaml's subsidy section.
func defaultPolicy() Policy {
	return Policy{Version: 1, EffectiveFrom: money.MustDate("2020-01-01"), SubsidyRatio: money.MustRate("0.5"),
		RateCap: money.MustRate("0.0310"), LPR1Y: LPRTable{{From: money.MustDate("2020-01-01"), Rate: money.MustRate("0.0310")}},
		SupplierYearlyCap: money.MustAmount("200000.00"),
		ProgrammeBudget:   money.MustAmount("50000000.00"), EligibleSizeClasses: pq.StringArray{"micro", "small", "medium"},
		FourEyesThreshold: money.MustAmount("50000.00")}
}

// Each case is worked out by hand in its comment; the code must agree to the 分.
func TestComputeGolden(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		in        Inputs
		policy    func(*Policy)
		days      int
		subsidy   string
		amount    string
		limitedBy []string
	}{{
		// Rate 3.45% above the 3.10% cap; the period crosses the year end.
		// days: 2026-11-22 → 2027-02-20, the start accrues and the end does
		//   not: Nov 22..30 = 9, Dec = 31, Jan = 31, Feb 1..19 = 19 → 90.
		// eligible = 800000.00 × 0.031 × 90 / 360 = 24800 × 90 / 360 = 6200.00
		// interest paid 6900.00 (= 800000 × 0.0345 × 90 / 360) is more: no cap.
		// subsidy = 6200.00 × 0.5 = 3100.00
		name: "RateAboveCapAcrossYearEnd",
		in: Inputs{OutstandingBefore: money.MustAmount("800000.00"), AnnualRate: money.MustRate("0.0345"),
			PeriodStart: money.MustDate("2026-11-22"), PeriodEnd: money.MustDate("2027-02-20"),
			InterestPaid: money.MustAmount("6900.00"), PaidOn: money.MustDate("2027-02-20"), ClaimedThisYear: money.Zero},
		days: 90, subsidy: "3100.00", amount: "3100.00", limitedBy: []string{},
	}, {
		// Rate 2.90% below the cap; February of the leap year 2028 has 29 days.
		// days: 2028-02-01 → 2028-03-01 = 29
		// eligible = 500000.00 × 0.029 × 29 / 360 = 14500 × 29 / 360 = 420500 / 360 = 1168.0555…
		// interest paid 1168.06 is more (the bank rounded up): no cap.
		// subsidy = 1168.0555… × 0.5 = 584.02777… → 584.03
		name: "RateBelowCapLeapFebruary",
		in: Inputs{OutstandingBefore: money.MustAmount("500000.00"), AnnualRate: money.MustRate("0.0290"),
			PeriodStart: money.MustDate("2028-02-01"), PeriodEnd: money.MustDate("2028-03-01"),
			InterestPaid: money.MustAmount("1168.06"), PaidOn: money.MustDate("2028-03-01"), ClaimedThisYear: money.Zero},
		days: 29, subsidy: "584.03", amount: "584.03", limitedBy: []string{},
	}, {
		// The whole leap year 2028: 366 days.
		// eligible = 360000.00 × 0.03 × 366 / 360 = 10800 × 366 / 360 = 10980.00
		// subsidy = 10980.00 × 0.5 = 5490.00
		name: "LeapYear366Days",
		in: Inputs{OutstandingBefore: money.MustAmount("360000.00"), AnnualRate: money.MustRate("0.03"),
			PeriodStart: money.MustDate("2028-01-01"), PeriodEnd: money.MustDate("2029-01-01"),
			InterestPaid: money.MustAmount("10980.00"), PaidOn: money.MustDate("2029-01-01"), ClaimedThisYear: money.Zero},
		days: 366, subsidy: "5490.00", amount: "5490.00", limitedBy: []string{},
	}, {
		// Interest paid below the eligible amount: eligible 6200.00 (as in
		// the first case) but only 5000.00 was paid.
		// subsidy = 5000.00 × 0.5 = 2500.00
		name: "InterestPaidBelowEligible",
		in: Inputs{OutstandingBefore: money.MustAmount("800000.00"), AnnualRate: money.MustRate("0.0345"),
			PeriodStart: money.MustDate("2026-11-22"), PeriodEnd: money.MustDate("2027-02-20"),
			InterestPaid: money.MustAmount("5000.00"), PaidOn: money.MustDate("2027-02-20"), ClaimedThisYear: money.Zero},
		days: 90, subsidy: "2500.00", amount: "2500.00", limitedBy: []string{"interest_paid"},
	}, {
		// Supplier cap reached exactly: 196900.00 already claimed in 2027,
		// room = 200000.00 − 196900.00 = 3100.00 = the subsidy: paid in full.
		name: "SupplierCapReachedExactly",
		in: Inputs{OutstandingBefore: money.MustAmount("800000.00"), AnnualRate: money.MustRate("0.0345"),
			PeriodStart: money.MustDate("2026-11-22"), PeriodEnd: money.MustDate("2027-02-20"),
			InterestPaid: money.MustAmount("6900.00"), PaidOn: money.MustDate("2027-02-20"), ClaimedThisYear: money.MustAmount("196900.00")},
		days: 90, subsidy: "3100.00", amount: "3100.00", limitedBy: []string{},
	}, {
		// One 分 over: 196900.01 claimed, room 3099.99.
		name: "SupplierCapOneFenShort",
		in: Inputs{OutstandingBefore: money.MustAmount("800000.00"), AnnualRate: money.MustRate("0.0345"),
			PeriodStart: money.MustDate("2026-11-22"), PeriodEnd: money.MustDate("2027-02-20"),
			InterestPaid: money.MustAmount("6900.00"), PaidOn: money.MustDate("2027-02-20"), ClaimedThisYear: money.MustAmount("196900.01")},
		days: 90, subsidy: "3100.00", amount: "3099.99", limitedBy: []string{"supplier_yearly_cap"},
	}, {
		// Cap used up: nothing left.
		name: "SupplierCapUsedUp",
		in: Inputs{OutstandingBefore: money.MustAmount("800000.00"), AnnualRate: money.MustRate("0.0345"),
			PeriodStart: money.MustDate("2026-11-22"), PeriodEnd: money.MustDate("2027-02-20"),
			InterestPaid: money.MustAmount("6900.00"), PaidOn: money.MustDate("2027-02-20"), ClaimedThisYear: money.MustAmount("200000.00")},
		days: 90, subsidy: "3100.00", amount: "0.00", limitedBy: []string{"supplier_yearly_cap"},
	}, {
		// Rounded once, at the end: eligible = 120006.00 × 0.03 × 10 / 360
		// = 36001.8 / 360 = 100.005; × 0.5 = 50.0025 → 50.00. (Rounding the
		// eligible interest first would give 100.01 × 0.5 = 50.005 → 50.01.)
		name: "RoundedOnceAtTheEnd",
		in: Inputs{OutstandingBefore: money.MustAmount("120006.00"), AnnualRate: money.MustRate("0.03"),
			PeriodStart: money.MustDate("2027-03-01"), PeriodEnd: money.MustDate("2027-03-11"),
			InterestPaid: money.MustAmount("100.01"), PaidOn: money.MustDate("2027-03-11"), ClaimedThisYear: money.Zero},
		days: 10, subsidy: "50.00", amount: "50.00", limitedBy: []string{},
	}, {
		// Half-up: 36.00 × 0.01 × 10 / 360 = 0.01; × 0.5 = 0.005 → 0.01.
		name: "HalfUp",
		in: Inputs{OutstandingBefore: money.MustAmount("36.00"), AnnualRate: money.MustRate("0.01"),
			PeriodStart: money.MustDate("2027-03-01"), PeriodEnd: money.MustDate("2027-03-11"),
			InterestPaid: money.MustAmount("0.01"), PaidOn: money.MustDate("2027-03-11"), ClaimedThisYear: money.Zero},
		days: 10, subsidy: "0.01", amount: "0.01", limitedBy: []string{},
	}, {
		// A policy with ratio 0.6 and cap 0.0385: 3.45% is below it.
		// eligible = 800000.00 × 0.0345 × 90 / 360 = 6900.00; × 0.6 = 4140.00
		name: "OtherPolicyVersion",
		in: Inputs{OutstandingBefore: money.MustAmount("800000.00"), AnnualRate: money.MustRate("0.0345"),
			PeriodStart: money.MustDate("2026-11-22"), PeriodEnd: money.MustDate("2027-02-20"),
			InterestPaid: money.MustAmount("6900.00"), PaidOn: money.MustDate("2027-02-20"), ClaimedThisYear: money.Zero},
		policy: func(p *Policy) {
			p.Version, p.SubsidyRatio, p.RateCap = 2, money.MustRate("0.6"), money.MustRate("0.0385")
			p.LPR1Y = LPRTable{{From: money.MustDate("2020-01-01"), Rate: money.MustRate("0.0385")}}
		},
		days: 90, subsidy: "4140.00", amount: "4140.00", limitedBy: []string{},
	}, {
		// An empty period accrues nothing.
		name: "ZeroDays",
		in: Inputs{OutstandingBefore: money.MustAmount("800000.00"), AnnualRate: money.MustRate("0.0345"),
			PeriodStart: money.MustDate("2027-02-20"), PeriodEnd: money.MustDate("2027-02-20"),
			InterestPaid: money.MustAmount("10.00"), PaidOn: money.MustDate("2027-02-20"), ClaimedThisYear: money.Zero},
		days: 0, subsidy: "0.00", amount: "0.00", limitedBy: []string{},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := defaultPolicy()
			if tc.policy != nil {
				tc.policy(&p)
			}
			c := Compute(oneTranche(tc.in), p)
			got := []any{c.Days, c.Subsidy.String(), c.Amount.String(), c.LimitedBy, c.PolicyVersion}
			want := []any{tc.days, tc.subsidy, tc.amount, tc.limitedBy, p.Version}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s\nsteps: %+v", diff, c.Steps)
			}
			if last := c.Steps[len(c.Steps)-1]; last.Value != tc.amount {
				t.Fatalf("the last step shows %s, not the amount %s", last.Value, tc.amount)
			}
		})
	}
}

// oneTranche is in with one tranche of its outstanding_before at its
// annual rate, from the period's start, when it names none.
func oneTranche(in Inputs) Inputs {
	if len(in.Tranches) == 0 {
		in.Tranches = []TrancheInput{{DisbursementID: "D1", Amount: in.OutstandingBefore, ValueDate: in.PeriodStart, AnnualRate: in.AnnualRate}}
	}
	return in
}

// TestComputeShowsEachStep checks the steps an officer reads.
func TestComputeShowsEachStep(t *testing.T) {
	t.Parallel()
	c := Compute(oneTranche(Inputs{OutstandingBefore: money.MustAmount("500000.00"), AnnualRate: money.MustRate("0.0290"),
		PeriodStart: money.MustDate("2028-02-01"), PeriodEnd: money.MustDate("2028-03-01"),
		InterestPaid: money.MustAmount("1168.06"), PaidOn: money.MustDate("2028-03-01"), ClaimedThisYear: money.Zero}), defaultPolicy())
	var got []string
	for _, s := range c.Steps {
		got = append(got, s.Name+"="+s.Value)
	}
	want := []string{"days=29", "rate=0.029", "eligible_interest=1168.0555555556", "capped_by_interest_paid=1168.0555555556",
		"subsidy=584.03", "supplier_yearly_cap=584.03"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("steps (-want +got):\n%s", diff)
	}
}

// cents draws an amount of 0.00 to max.
func cents(t *rapid.T, label string, max int64) money.Amount {
	n := rapid.Int64Range(0, max).Draw(t, label)
	return money.MustAmount(fmt.Sprintf("%d.%02d", n/100, n%100))
}

func rate(t *rapid.T, label string, maxMicro int64) money.Rate {
	n := rapid.Int64Range(0, maxMicro).Draw(t, label)
	return money.MustRate(fmt.Sprintf("%d.%06d", n/1000000, n%1000000))
}

func ratOf(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}

// roundHalfUp rounds a non-negative rational to cents, as text.
func roundHalfUp(r *big.Rat) string {
	c := new(big.Rat).Mul(r, big.NewRat(100, 1))
	c.Add(c, big.NewRat(1, 2))
	q := new(big.Int).Quo(c.Num(), c.Denom()) // floor for non-negative
	return fmt.Sprintf("%d.%02d", new(big.Int).Quo(q, big.NewInt(100)), new(big.Int).Rem(q, big.NewInt(100)))
}

// TestComputeProperties checks the computation against an independent
// exact one (math/big) and the caps, for random inputs.
func TestComputeProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		p := defaultPolicy()
		p.SubsidyRatio = rate(t, "ratio", 1000000)
		p.RateCap = rate(t, "rate_cap", 100000)
		p.LPR1Y = LPRTable{{From: money.MustDate("2020-01-01"), Rate: p.RateCap}}
		p.SupplierYearlyCap = cents(t, "supplier_cap", 50000000)
		start := money.MustDate("2027-01-01").AddDays(rapid.IntRange(-800, 800).Draw(t, "start"))
		in := Inputs{
			OutstandingBefore: cents(t, "outstanding", 100000000000),
			AnnualRate:        rate(t, "annual_rate", 200000),
			PeriodStart:       start,
			PeriodEnd:         start.AddDays(rapid.IntRange(0, 400).Draw(t, "days")),
			InterestPaid:      cents(t, "interest", 1000000000),
			ClaimedThisYear:   cents(t, "claimed", 60000000),
		}
		in.PaidOn = in.PeriodEnd
		c := Compute(oneTranche(in), p)

		// The oracle: exact rationals, rounded half-up once.
		r := ratOf(in.AnnualRate.String())
		if capR := ratOf(p.RateCap.String()); capR.Cmp(r) < 0 {
			r = capR
		}
		eligible := new(big.Rat).Mul(ratOf(in.OutstandingBefore.String()), r)
		eligible.Mul(eligible, big.NewRat(int64(c.Days), 360))
		if paid := ratOf(in.InterestPaid.String()); paid.Cmp(eligible) < 0 {
			eligible = paid
		}
		want := roundHalfUp(new(big.Rat).Mul(eligible, ratOf(p.SubsidyRatio.String())))
		if c.Subsidy.String() != want {
			t.Fatalf("subsidy %s, exact computation says %s", c.Subsidy, want)
		}
		if c.Days != in.PeriodStart.DaysUntil(in.PeriodEnd) {
			t.Fatalf("days %d", c.Days)
		}
		// Never negative; never more than interest × ratio (rounded); cap never exceeded.
		if c.Amount.IsNegative() || c.Subsidy.IsNegative() {
			t.Fatalf("negative: %s %s", c.Subsidy, c.Amount)
		}
		maxByInterest := roundHalfUp(new(big.Rat).Mul(ratOf(in.InterestPaid.String()), ratOf(p.SubsidyRatio.String())))
		if c.Amount.GreaterThan(money.MustAmount(maxByInterest)) || c.Amount.GreaterThan(in.InterestPaid) {
			t.Fatalf("amount %s is more than interest %s × ratio %s", c.Amount, in.InterestPaid, p.SubsidyRatio)
		}
		if c.Amount.GreaterThan(c.Subsidy) {
			t.Fatalf("amount %s above the subsidy %s", c.Amount, c.Subsidy)
		}
		if !in.ClaimedThisYear.GreaterThan(p.SupplierYearlyCap) && in.ClaimedThisYear.Add(c.Amount).GreaterThan(p.SupplierYearlyCap) {
			t.Fatalf("claimed %s + %s passes the cap %s", in.ClaimedThisYear, c.Amount, p.SupplierYearlyCap)
		}
		// The amount is the subsidy unless the cap's room is smaller.
		room := p.SupplierYearlyCap.Sub(in.ClaimedThisYear)
		if room.IsNegative() {
			room = money.Zero
		}
		wantAmount := c.Subsidy
		if room.LessThan(wantAmount) {
			wantAmount = room
		}
		if !c.Amount.Equal(wantAmount) {
			t.Fatalf("amount %s, want min(%s, %s)", c.Amount, c.Subsidy, room)
		}
	})
}

// TestPolicyInputValidate covers the bad policies an administrator may send.
func TestPolicyInputValidate(t *testing.T) {
	t.Parallel()
	good := PolicyInput{EffectiveFrom: "2027-01-01", SubsidyRatio: "0.5", RateCap: "0.0310", SupplierYearlyCap: "200000.00",
		ProgrammeBudget: "50000000.00", EligibleSizeClasses: []string{"micro", "small"}, FourEyesThreshold: "50000.00"}
	if _, err := good.Validate(); err != nil {
		t.Fatalf("good policy: %v", err)
	}
	for name, mod := range map[string]func(*PolicyInput){
		"RatioAboveOne":    func(p *PolicyInput) { p.SubsidyRatio = "1.5" },
		"NegativeRatio":    func(p *PolicyInput) { p.SubsidyRatio = "-0.5" },
		"NegativeCap":      func(p *PolicyInput) { p.SupplierYearlyCap = "-1.00" },
		"NegativeBudget":   func(p *PolicyInput) { p.ProgrammeBudget = "-0.01" },
		"NegativeFourEyes": func(p *PolicyInput) { p.FourEyesThreshold = "-5.00" },
		"RateCapAboveOne":  func(p *PolicyInput) { p.RateCap = "2" },
		"BadDate":          func(p *PolicyInput) { p.EffectiveFrom = "2027-13-01" },
		"NoClasses":        func(p *PolicyInput) { p.EligibleSizeClasses = nil },
		"UnknownClass":     func(p *PolicyInput) { p.EligibleSizeClasses = []string{"tiny"} },
		"ThreeDecimals":    func(p *PolicyInput) { p.SupplierYearlyCap = "1.001" },
	} {
		t.Run(name, func(t *testing.T) {
			in := good
			mod(&in)
			if _, err := in.Validate(); err == nil {
				t.Fatalf("%+v was accepted", in)
			}
		})
	}
}
