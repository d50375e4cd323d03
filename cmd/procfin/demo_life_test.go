package main

import (
	"testing"

	"procfin/banking/sandbox"
	"procfin/platform/money"
)

// TestDemoLife: the demo's banks give each story's amount its life, and
// any other amount (the walk-through's 500,000.00) the default; every
// life of the sandbox but the default is some story's, each amount once.
func TestDemoLife(t *testing.T) {
	t.Parallel()
	seen := map[sandbox.Life]bool{}
	amounts := map[string]bool{}
	for _, s := range demoStories {
		if got := demoLife(sandbox.Application{Amount: money.MustAmount(s.request)}); got != s.life {
			t.Errorf("%s: life %s, want %s", s.request, got, s.life)
		}
		if amounts[s.request] {
			t.Errorf("amount %s chosen by two stories", s.request)
		}
		amounts[s.request], seen[s.life] = true, true
	}
	for _, l := range sandbox.Lives {
		if l != sandbox.LifeRepaid && !seen[l] {
			t.Errorf("no demo story lives %s", l)
		}
	}
	if got := demoLife(sandbox.Application{Amount: money.MustAmount("500000.00")}); got != sandbox.LifeRepaid {
		t.Errorf("the walk-through's 500,000.00: life %s, want %s", got, sandbox.LifeRepaid)
	}
}
