package main

import (
	"procfin/configs"
	"procfin/subsidies"
)

// lprInput is the configured dated 1-year LPR as the subsidy policy takes
// it (nil when the configuration names one rate_cap instead).
func lprInput(entries []configs.LPREntryConfig) []subsidies.LPRInput {
	if len(entries) == 0 {
		return nil
	}
	out := make([]subsidies.LPRInput, len(entries))
	for i, e := range entries {
		out[i] = subsidies.LPRInput{From: e.From, Rate: e.Rate}
	}
	return out
}
