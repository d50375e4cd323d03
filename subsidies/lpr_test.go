package subsidies

import (
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"

	"procfin/platform/errs"
	"procfin/platform/money"
)

// goodPolicy is a valid policy input with a dated LPR.
func goodPolicy() PolicyInput {
	return PolicyInput{EffectiveFrom: "2024-01-01", SubsidyRatio: "0.5", SupplierYearlyCap: "200000.00",
		ProgrammeBudget: "50000000.00", EligibleSizeClasses: []string{"micro", "small"}, FourEyesThreshold: "50000.00",
		LPR1Y: []LPRInput{{From: "2023-08-21", Rate: "0.0345"}, {From: "2024-07-22", Rate: "0.0335"}}}
}

// TestPolicyLPRValidate: a policy's lpr_1y, and rate_cap in its place;
// every bad field is named.
func TestPolicyLPRValidate(t *testing.T) {
	t.Parallel()
	p, err := goodPolicy().Validate()
	if err != nil {
		t.Fatal(err)
	}
	// rate_cap is the entry in force on effective_from (2024-01-01: 3.45 %).
	if len(p.LPR1Y) != 2 || p.RateCap.Decimal().String() != "0.0345" {
		t.Fatalf("policy %+v", p)
	}
	one := goodPolicy()
	one.LPR1Y, one.RateCap = nil, "0.0310"
	if p, err := one.Validate(); err != nil || len(p.LPR1Y) != 1 || p.LPR1Y[0].From.String() != "2024-01-01" || p.RateCap.Decimal().String() != "0.031" {
		t.Fatalf("rate_cap alone: %+v %v", p, err)
	}
	for name, tc := range map[string]struct {
		mod    func(*PolicyInput)
		fields []string
	}{
		"Neither":      {func(p *PolicyInput) { p.LPR1Y = nil }, []string{"lpr_1y"}},
		"Empty":        {func(p *PolicyInput) { p.LPR1Y = []LPRInput{} }, []string{"lpr_1y"}},
		"Both":         {func(p *PolicyInput) { p.RateCap = "0.031" }, []string{"rate_cap"}},
		"BadRateCap":   {func(p *PolicyInput) { p.LPR1Y, p.RateCap = nil, "1.2" }, []string{"rate_cap"}},
		"BadDate":      {func(p *PolicyInput) { p.LPR1Y[0].From = "2023-02-30" }, []string{"lpr_1y[0].from"}},
		"RateAboveOne": {func(p *PolicyInput) { p.LPR1Y[1].Rate = "1.5" }, []string{"lpr_1y[1].rate"}},
		"NegativeRate": {func(p *PolicyInput) { p.LPR1Y[0].Rate = "-0.01" }, []string{"lpr_1y[0].rate"}},
		"Unsorted": {func(p *PolicyInput) {
			p.LPR1Y[0], p.LPR1Y[1] = p.LPR1Y[1], p.LPR1Y[0]
		}, []string{"lpr_1y[1].from"}},
		"Repeated": {func(p *PolicyInput) { p.LPR1Y[1].From = p.LPR1Y[0].From }, []string{"lpr_1y[1].from"}},
		"EveryBadField": {func(p *PolicyInput) {
			p.SubsidyRatio = "2"
			p.LPR1Y = []LPRInput{{From: "x", Rate: "y"}, {From: "2024-01-01", Rate: "0.03"}, {From: "2023-01-01", Rate: "3"}}
		}, []string{"lpr_1y[0].from", "lpr_1y[0].rate", "lpr_1y[2].from", "lpr_1y[2].rate", "subsidy_ratio"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := goodPolicy()
			in.LPR1Y = append([]LPRInput(nil), in.LPR1Y...)
			tc.mod(&in)
			_, err := in.Validate()
			var e *errs.Error
			if !errors.As(err, &e) || e.Code != errs.Invalid {
				t.Fatalf("%+v: %v, want invalid", in, err)
			}
			var got []string
			for _, f := range e.Fields {
				got = append(got, f.Field)
			}
			sort.Strings(got)
			if strings.Join(got, " ") != strings.Join(tc.fields, " ") {
				t.Fatalf("fields %v, want %v", got, tc.fields)
			}
		})
	}
}

// FuzzPolicyInput: whatever JSON an administrator sends as a policy,
// Validate never panics; what it accepts has an LPR table of at least one
// entry, dates increasing, rates from 0 to 1, and rate_cap its entry in
// force on effective_from; what it refuses is invalid naming fields.
func FuzzPolicyInput(f *testing.F) {
	seed, _ := json.Marshal(goodPolicy())
	f.Add(seed)
	f.Add([]byte(`{"effective_from": "2024-01-01", "subsidy_ratio": "0.5", "rate_cap": "0.031", "supplier_yearly_cap": "1.00",
		"programme_budget": "1.00", "eligible_size_classes": ["micro"], "four_eyes_threshold": "1.00"}`))
	f.Add([]byte(`{"lpr_1y": [{"from": "2024-01-01", "rate": "0.03"}, {"from": "2024-01-01", "rate": "1e3"}]}`))
	f.Add([]byte(`{"lpr_1y": [], "rate_cap": ""}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var in PolicyInput
		if json.Unmarshal(body, &in) != nil {
			return
		}
		p, err := in.Validate()
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || e.Code != errs.Invalid || len(e.Fields) == 0 {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		if len(p.LPR1Y) == 0 {
			t.Fatalf("accepted without an LPR: %+v", in)
		}
		for i, e := range p.LPR1Y {
			if e.Rate.Decimal().IsNegative() || e.Rate.Decimal().GreaterThan(money.MustRate("1").Decimal()) {
				t.Fatalf("entry %d rate %s", i, e.Rate)
			}
			if i > 0 && !e.From.After(p.LPR1Y[i-1].From) {
				t.Fatalf("entry %d not after the one before: %v", i, p.LPR1Y)
			}
		}
		if !p.RateCap.Decimal().Equal(p.LPR1Y.On(p.EffectiveFrom).Decimal()) {
			t.Fatalf("rate_cap %s, LPR on %s %s", p.RateCap, p.EffectiveFrom, p.LPR1Y.On(p.EffectiveFrom))
		}
	})
}
