package handlers

import (
	"testing"

	"procfin/platform/errs"
)

// TestProblemStatusIsTheTables: the API answers every code with the status
// and title of errs' one table, the web pages' (web.TestFailAnswersTheTablesStatus).
func TestProblemStatusIsTheTables(t *testing.T) {
	t.Parallel()
	for _, code := range errs.Codes() {
		p := problemOf(errs.E(code, "refused for a reason"))
		if p.Status != errs.Status(code) || p.Type != string(code) || p.Title != errs.Title(code) {
			t.Errorf("%s: problem %+v, want status %d, title %q", code, p, errs.Status(code), errs.Title(code))
		}
	}
}
