package lending

import (
	"encoding/json"
	"strings"
	"testing"

	"procfin/contracts"
)

// TestApplicationAPI: the API's application keeps every check's name,
// result and reason, and leaves out the reason's code and arguments.
func TestApplicationAPI(t *testing.T) {
	t.Parallel()
	var r contracts.Report
	r.Add("award.active", true, "notice_status", "JNCG-1", "active")
	stored, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(stored), `"code":"notice_status"`) {
		t.Fatalf("the stored report has no code: %s", stored)
	}
	a := Application{ID: "a1", Verification: stored}
	got := a.API()
	var back contracts.Report
	if err := json.Unmarshal(got.Verification, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Checks) != 1 || back.Checks[0].Name != "award.active" || back.Checks[0].Result != "pass" || back.Checks[0].Reason != r.Checks[0].Reason || back.Checks[0].Reason == "" {
		t.Errorf("API report %s, want the check with its reason %q", got.Verification, r.Checks[0].Reason)
	}
	if strings.Contains(string(got.Verification), `"code"`) || strings.Contains(string(got.Verification), `"args"`) {
		t.Errorf("API report %s keeps the code or the arguments", got.Verification)
	}
	if string(a.Verification) != string(stored) {
		t.Error("API changed the application it was called on")
	}
}
