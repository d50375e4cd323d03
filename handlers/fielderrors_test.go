package handlers

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestEveryFieldErrorAtOnce: a body with four or more bad fields, to each
// main route, is one 422 naming every one of them, each with its kind's
// code: values that cannot be read (wrong types, amounts, dates, rates,
// unknown fields) and, beside them, what the route's own checks find in
// the rest (missing, out of range). Nothing is written.
func TestEveryFieldErrorAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu := e.bank("qilu-bank")
	appID, supplier := e.applied(qilu)
	_, officer := e.user("fe-officer", "officer", "")
	_, admin := e.user("fe-admin", "admin", "")
	is := e.issuer("fe-issuer")
	key := 0
	idem := func() []string { key++; return []string{"Idempotency-Key", fmt.Sprintf("fe-%d", key)} }
	before := e.count("applications") + e.count("financing_intents") + e.count("subsidy_policies") + e.count("contracts") + e.count("suppliers")

	cases := []struct {
		name string
		send func(body string) resp
		body string
		want []string // field:code, in any order
	}{
		{"CreditApplication", func(b string) resp { return e.do("POST", "/v1/credit-applications", supplier, b, idem()...) },
			// 26 digits: too large however written; "ninety" is no number.
			`{"contract_id": "nope", "amount": "10000000000000000000000000", "term_days": "ninety", "colour": "red"}`,
			[]string{"amount:too_large", "term_days:wrong_type", "colour:unknown_field", "contract_id:invalid", "bank_id:required", "purpose:required"}},
		{"CreditApplicationOverProgramme", func(b string) resp { return e.do("POST", "/v1/credit-applications", supplier, b, idem()...) },
			// Readable, but above the programme's maximum and out of range: the same code as a value too large to read.
			`{"contract_id": 7, "amount": "999999999999.00", "term_days": 0, "credit_line_id": false}`,
			[]string{"contract_id:wrong_type", "credit_line_id:wrong_type", "amount:too_large", "term_days:out_of_range", "bank_id:required", "purpose:required"}},
		{"FinancingIntent", func(b string) resp { return e.do("POST", "/v1/financing-intents", supplier, b, idem()...) },
			`{"contract_id": 5, "amount": "12.345", "term_days": 0, "bank_ids": "qilu-bank", "respond_by": "tomorrow", "extra": true}`,
			[]string{"contract_id:wrong_type", "amount:invalid_amount", "bank_ids:wrong_type", "extra:unknown_field",
				"term_days:out_of_range", "respond_by:invalid_instant", "purpose:required"}},
		{"SubsidyPolicy", func(b string) resp { return e.do("POST", "/v1/admin/subsidy-policies", admin, b, idem()...) },
			`{"effective_from": "2026-13-01", "subsidy_ratio": 0.5, "rate_cap": "0.03", "programme_budget": "lots", "colour": 1}`,
			[]string{"subsidy_ratio:wrong_type", "colour:unknown_field", "effective_from:invalid_date", "programme_budget:invalid_amount",
				"supplier_yearly_cap:invalid_amount", "four_eyes_threshold:invalid_amount", "eligible_size_classes:required"}},
		{"ClaimRejection", func(b string) resp {
			return e.do("POST", "/v1/subsidy-claims/"+uuid.NewString()+"/reject", officer, b, idem()...)
		}, `{"reason": 7, "a": 1, "b": 2, "c": 3}`,
			[]string{"reason:wrong_type", "a:unknown_field", "b:unknown_field", "c:unknown_field"}},
		{"SupplierRegistration", func(b string) resp { return e.do("POST", "/v1/admin/suppliers", admin, b, idem()...) },
			`{"uscc": "91350100M000100Y43", "name": "", "employees": "many", "annual_revenue": "1e5", "total_assets": "-", "colour": "x"}`,
			[]string{"employees:wrong_type", "annual_revenue:invalid_amount", "total_assets:invalid_amount", "colour:unknown_field",
				"name:required", "industry:required"}},
		{"BankRegistration", func(b string) resp { return e.do("POST", "/v1/admin/banks", admin, b, idem()...) },
			`{"id": "Bad Id!", "name": " ", "base_url": 5, "algorithms": "EdDSA", "colour": 1}`,
			[]string{"base_url:wrong_type", "algorithms:wrong_type", "colour:unknown_field", "id:invalid_format", "name:required"}},
		{"AmendmentResolution", func(b string) resp {
			return e.do("POST", "/v1/contracts/"+uuid.NewString()+"/amendments/1/resolve", officer, b, idem()...)
		}, `{"decision": 1, "reason": ["x"], "x": 1, "y": 2}`,
			[]string{"decision:wrong_type", "reason:wrong_type", "x:unknown_field", "y:unknown_field"}},
		{"IssuerContract", func(b string) resp { return is.post("/v1/contracts", b) },
			strings.NewReplacer(`"amount": "1180000.00", "signed_on": "2026-10-20"`, `"amount": 1180000, "signed_on": "2026-02-30", "colour": "red"`,
				`"end": "2099-04-30"`, `"end": 20990430`).Replace(contractBody),
			[]string{"amount:invalid_amount", "signed_on:invalid_date", "colour:unknown_field", "period.end:invalid_date"}},
		{"BankEvent", func(b string) resp { return qilu.send("fe-event", "application.approved", appID, b) },
			// A bank's data may carry fields procfin does not know: they are not named.
			`{"approved_amount": 5, "annual_rate": "2", "term_days": "x", "colour": 1}`,
			[]string{"data.approved_amount:invalid_amount", "data.annual_rate:invalid_rate", "data.term_days:wrong_type", "data.repayment_account:required"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := wantProblem(t, tc.send(tc.body), 422, "invalid")
			var got []string
			list, _ := p["errors"].([]any)
			for _, fe := range list {
				m := fe.(map[string]any)
				got = append(got, fmt.Sprint(m["field"], ":", m["code"]))
				if m["message"] == "" {
					t.Errorf("%v has no message", m)
				}
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("named %v\nwant  %v", got, want)
			}
		})
	}
	if after := e.count("applications") + e.count("financing_intents") + e.count("subsidy_policies") + e.count("contracts") + e.count("suppliers"); after != before {
		t.Fatal("a refused body changed something")
	}
}

// TestMalformedStays400: a body that is not JSON is malformed_request
// (400), not a list of fields.
func TestMalformedStays400(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, supplier := e.user("quancheng", "supplier", usccA)
	for _, body := range []string{`{"amount": "1.00",`, `{"amount": 1.00} {}`, `["amount"]`, ``} {
		wantProblem(t, e.do("POST", "/v1/credit-applications", supplier, body, "Idempotency-Key", uuid.NewString()), 400, "malformed_request")
	}
}
