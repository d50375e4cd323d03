package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"procfin/contracts"
	"procfin/platform/money"
)

// TestListSuppliers: administrators and officers read the suppliers a page
// at a time, newest first, every supplier once; a bad limit and a bad
// cursor are one problem naming both fields.
func TestListSuppliers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	usccs := []string{"91350100M000100Y43", "91110000600037341L", "913701009DEREMJE5A"}
	for i, uscc := range usccs {
		emp, rev, assets := 10+i, money.MustAmount("8000000.00"), money.MustAmount("5000000.00")
		if _, _, err := e.contracts.RegisterSupplier(ctx, contracts.SupplierRegistration{USCC: uscc, Name: "供应商" + uscc[:4],
			Industry: "software_it", Employees: &emp, AnnualRevenue: &rev, TotalAssets: &assets}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	_, admin := e.user("ada", "admin", "")
	_, officer := e.user("olga", "officer", "")
	type page struct {
		Items      []contracts.Supplier `json:"items"`
		NextCursor *string              `json:"next_cursor"`
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("more pages than suppliers")
		}
		r := e.do("GET", "/v1/admin/suppliers?limit=2&cursor="+url.QueryEscape(cursor), admin, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var p page
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Items {
			seen = append(seen, s.USCC)
		}
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	// Registered one after another: newest (the last) first.
	want := []string{usccs[2], usccs[1], usccs[0]}
	if len(seen) != 3 || seen[0] != want[0] || seen[1] != want[1] || seen[2] != want[2] {
		t.Fatalf("listed %v, want %v", seen, want)
	}
	if r := e.do("GET", "/v1/admin/suppliers", officer, nil); r.status != http.StatusOK {
		t.Fatalf("an officer's list: %d %s", r.status, r.body)
	}
	p := wantProblem(t, e.do("GET", "/v1/admin/suppliers?limit=0&cursor=nope", admin, nil), http.StatusUnprocessableEntity, "invalid")
	fields := map[string]bool{}
	for _, f := range p["errors"].([]any) {
		fields[f.(map[string]any)["field"].(string)] = true
	}
	if !fields["limit"] || !fields["cursor"] || len(fields) != 2 {
		t.Fatalf("problem fields %v, want limit and cursor", p["errors"])
	}
}
