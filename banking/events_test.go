package banking

import (
	"strings"
	"testing"
	"time"

	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/text"
)

func TestParseEvent(t *testing.T) {
	t.Parallel()
	const app = `"application_id": "0b5e1c4e-7a51-4b2f-9d3e-1f2a3b4c5d6e"`
	env := func(typ, data string) string {
		return `{"event_id": "e1", "type": "` + typ + `", "occurred_at": "2026-11-21T02:00:00Z", ` + app + `, "bank_reference": "R", "data": ` + data + `}`
	}
	ok := map[string]string{
		"Received":      env("application.received", `{}`),
		"Approved":      env("application.approved", `{"approved_amount": "800000.00", "annual_rate": "0.0345", "term_days": 180, "repayment_account": {"bank_name": "B", "account_no": "1", "account_name": "A"}}`),
		"Rejected":      env("application.rejected", `{"reason_code": "risk", "reason": "no"}`),
		"Disbursed":     env("loan.disbursed", `{"loan_id": "L", "disbursement_id": "D", "amount": "1.00", "value_date": "2026-11-22", "maturity_date": "2027-05-21", "annual_rate": "0.0345"}`),
		"Repaid":        env("loan.repaid", `{"loan_id": "L", "repayment_id": "R", "principal": "0.00", "interest": "2.00", "paid_on": "2027-01-01", "interest_period": {"start": "2026-12-01", "end": "2027-01-01"}}`),
		"RepaidTranche": env("loan.repaid", `{"loan_id": "L", "repayment_id": "R", "disbursement_id": "D1", "principal": "1.00", "interest": "2.00", "paid_on": "2027-01-01", "interest_period": {"start": "2026-12-01", "end": "2027-01-01"}}`),
		// Without interest, no period (version-1 banks send one: above).
		"RepaidNoInterestNoPeriod": env("loan.repaid", `{"loan_id": "L", "repayment_id": "R", "principal": "1.00", "interest": "0.00", "paid_on": "2027-01-01"}`),
		"Overdue":                  env("loan.overdue", `{"loan_id": "L", "overdue_principal": "5.00", "since": "2027-01-01"}`),
		"OverdueCured":             env("loan.overdue_cured", `{"loan_id": "L", "cured_on": "2027-01-05"}`),
		"DrawdownEnded":            env("loan.drawdown_ended", `{"loan_id": "L", "ended_on": "2027-01-05"}`),
		"ClosedRepaid":             env("loan.closed", `{"loan_id": "L", "closed_on": "2027-01-05", "reason": "repaid"}`),
		"WrittenOff":               env("loan.closed", `{"loan_id": "L", "closed_on": "2027-01-05", "reason": "written_off"}`),
		"Lapsed":                   env("application.lapsed", `{"reason": "declined_by_supplier"}`),
		"AccountChange":            env("account.change_consented", `{"loan_id": "L", "repayment_account": {"bank_name": "B", "account_no": "6222 0200", "account_name": "A"}}`),
		"Granted":                  `{"event_id": "e1", "type": "credit_line.granted", "occurred_at": "2026-11-21T02:00:00Z", "data": {"credit_line_id": "CL", "supplier_uscc": "91350100M000100Y43", "limit": "5.00", "valid_from": "2026-01-01", "valid_until": "2027-01-01", "revolving": true, "annual_rate_ceiling": "0.05"}}`,
		"Revoked":                  `{"event_id": "e1", "type": "credit_line.revoked", "occurred_at": "2026-11-21T02:00:00Z", "data": {"credit_line_id": "CL", "reason": "r"}}`,
	}
	for name, body := range ok {
		t.Run(name, func(t *testing.T) {
			if _, _, err := ParseEvent([]byte(body)); err != nil {
				t.Fatalf("refused a good event: %v", err)
			}
		})
	}
	bad := map[string]struct{ body, field string }{
		"UnknownType":        {env("loan.forgiven", `{}`), "type"},
		"NoEventID":          {strings.Replace(env("application.received", `{}`), `"event_id": "e1", `, "", 1), "event_id"},
		"NoApplication":      {strings.Replace(env("application.received", `{}`), app+`, `, "", 1), "application_id"},
		"NegativeAmount":     {env("loan.disbursed", `{"loan_id": "L", "disbursement_id": "D", "amount": "-1.00", "value_date": "2026-11-22", "maturity_date": "2027-05-21", "annual_rate": "0.0345"}`), "data.amount"},
		"MissingAmount":      {env("loan.disbursed", `{"loan_id": "L", "disbursement_id": "D", "value_date": "2026-11-22", "maturity_date": "2027-05-21", "annual_rate": "0.0345"}`), "data.amount"},
		"AmountAsNumber":     {env("loan.disbursed", `{"loan_id": "L", "disbursement_id": "D", "amount": 1.5, "value_date": "2026-11-22", "maturity_date": "2027-05-21", "annual_rate": "0.0345"}`), "data."},
		"BadDate":            {env("loan.repaid", `{"loan_id": "L", "repayment_id": "R", "principal": "1.00", "interest": "2.00", "paid_on": "2027-02-30", "interest_period": {"start": "2026-12-01", "end": "2027-01-01"}}`), "data."},
		"NoPeriod":           {env("loan.repaid", `{"loan_id": "L", "repayment_id": "R", "principal": "1.00", "interest": "2.00", "paid_on": "2027-01-01"}`), "data.interest_period"},
		"NoPeriodEnd":        {env("loan.repaid", `{"loan_id": "L", "repayment_id": "R", "principal": "1.00", "interest": "0.00", "paid_on": "2027-01-01", "interest_period": {"start": "2026-12-01"}}`), "data.interest_period.end"},
		"EmptyTranche":       {env("loan.repaid", `{"loan_id": "L", "repayment_id": "R", "disbursement_id": "", "principal": "1.00", "interest": "2.00", "paid_on": "2027-01-01", "interest_period": {"start": "2026-12-01", "end": "2027-01-01"}}`), "data.disbursement_id"},
		"TrancheWithControl": {env("loan.repaid", `{"loan_id": "L", "repayment_id": "R", "disbursement_id": "D\u0007", "principal": "1.00", "interest": "2.00", "paid_on": "2027-01-01", "interest_period": {"start": "2026-12-01", "end": "2027-01-01"}}`), "data.disbursement_id"},
		"TrancheAsNumber":    {env("loan.repaid", `{"loan_id": "L", "repayment_id": "R", "disbursement_id": 7, "principal": "1.00", "interest": "2.00", "paid_on": "2027-01-01", "interest_period": {"start": "2026-12-01", "end": "2027-01-01"}}`), "data.disbursement_id"},
		"UnknownEnvelope":    {strings.Replace(env("application.received", `{}`), `"data"`, `"extra": 1, "data"`, 1), "extra"},
		"NoTime":             {strings.Replace(env("application.received", `{}`), `"occurred_at": "2026-11-21T02:00:00Z", `, "", 1), "occurred_at"},
		// Texts procfin stores: no control characters, bounded.
		"ControlInReason":     {env("application.rejected", `{"reason_code": "risk", "reason": "风险\u0001"}`), "data.reason"},
		"LongReason":          {env("application.rejected", `{"reason_code": "risk", "reason": "`+strings.Repeat("险", 334)+`"}`), "data.reason"}, // 1002 bytes
		"C1InReference":       {strings.Replace(env("application.received", `{}`), `"bank_reference": "R"`, `"bank_reference": "R\u0085"`, 1), "bank_reference"},
		"LongReference":       {strings.Replace(env("application.received", `{}`), `"bank_reference": "R"`, `"bank_reference": "`+strings.Repeat("R", 201)+`"`, 1), "bank_reference"},
		"EscapeInEventID":     {strings.Replace(env("application.received", `{}`), `"event_id": "e1"`, `"event_id": "e\u001b1"`, 1), "event_id"},
		"ControlInLoanID":     {env("loan.overdue", `{"loan_id": "L\u0007", "overdue_principal": "5.00", "since": "2027-01-01"}`), "data.loan_id"},
		"DeleteInAccount":     {env("application.approved", `{"approved_amount": "1.00", "annual_rate": "0.0345", "term_days": 180, "repayment_account": {"bank_name": "B", "account_no": "1", "account_name": "A\u007f"}}`), "data.repayment_account.account_name"},
		"CuredWithoutDay":     {env("loan.overdue_cured", `{"loan_id": "L"}`), "data.cured_on"},
		"CuredWithoutLoan":    {env("loan.overdue_cured", `{"cured_on": "2027-01-05"}`), "data.loan_id"},
		"EndedOnBadDate":      {env("loan.drawdown_ended", `{"loan_id": "L", "ended_on": "2027-13-01"}`), "data."},
		"EndedWithoutDay":     {env("loan.drawdown_ended", `{"loan_id": "L"}`), "data.ended_on"},
		"ClosedForgiven":      {env("loan.closed", `{"loan_id": "L", "closed_on": "2027-01-05", "reason": "forgiven"}`), "data.reason"},
		"ClosedWithoutDay":    {env("loan.closed", `{"loan_id": "L", "reason": "repaid"}`), "data.closed_on"},
		"ClosedLapsed":        {env("loan.closed", `{"loan_id": "L", "closed_on": "2027-01-05", "reason": "lapsed"}`), "data.reason"},
		"LapsedNoReason":      {env("application.lapsed", `{}`), "data.reason"},
		"LapsedOtherReason":   {env("application.lapsed", `{"reason": "Expired"}`), "data.reason"},
		"LapsedNoApplication": {strings.Replace(env("application.lapsed", `{"reason": "expired"}`), app+`, `, "", 1), "application_id"},
		"ChangeNoAccount":     {env("account.change_consented", `{"loan_id": "L"}`), "data.repayment_account"},
		"ChangeNoLoan":        {env("account.change_consented", `{"repayment_account": {"bank_name": "B", "account_no": "1", "account_name": "A"}}`), "data.loan_id"},
		"ChangeNoAccountNo":   {env("account.change_consented", `{"loan_id": "L", "repayment_account": {"bank_name": "B", "account_name": "A"}}`), "data.repayment_account.account_no"},
		"ChangeControlInName": {env("account.change_consented", `{"loan_id": "L", "repayment_account": {"bank_name": "B", "account_no": "1", "account_name": "A\u0007"}}`), "data.repayment_account.account_name"},
		"ChangeNoApplication": {strings.Replace(env("account.change_consented", `{"loan_id": "L", "repayment_account": {"bank_name": "B", "account_no": "1", "account_name": "A"}}`), app+`, `, "", 1), "application_id"},
		"ControlInRevocation": {`{"event_id": "e1", "type": "credit_line.revoked", "occurred_at": "2026-11-21T02:00:00Z", "data": {"credit_line_id": "CL", "reason": "r\u0002"}}`, "data.reason"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			_, _, err := ParseEvent([]byte(tc.body))
			var e *errs.Error
			if err == nil || !asErr(err, &e) || e.Code != errs.Invalid {
				t.Fatalf("err %v, want invalid", err)
			}
			found := false
			for _, f := range e.Fields {
				found = found || strings.HasPrefix(f.Field, tc.field)
			}
			if !found {
				t.Fatalf("fields %+v do not name %s", e.Fields, tc.field)
			}
		})
	}
	// NUL anywhere (PostgreSQL text cannot hold it) is refused before the
	// fields are read.
	if _, _, err := ParseEvent([]byte(env("application.rejected", `{"reason_code": "risk", "reason": "R\u0000X"}`))); errs.CodeOf(err) != errs.MalformedRequest {
		t.Errorf("a NUL in a reason: %v, want malformed_request", err)
	}
	for _, junk := range []string{``, `[]`, `{"event_id": 5}`, `{} {}`, `nul`} {
		if _, _, err := ParseEvent([]byte(junk)); err == nil || errs.CodeOf(err) == errs.Internal {
			t.Errorf("ParseEvent(%q) = %v, want a client error", junk, err)
		}
	}
}

func asErr(err error, e **errs.Error) bool {
	x, ok := err.(*errs.Error)
	*e = x
	return ok
}

// TestRepaymentFigures: what CheckFigures makes of a parsed loan.repaid
// (bank-protocol.md 1.1), today being 2026-11-20 in Shanghai.
func TestRepaymentFigures(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	repaid := func(paidOn, period string) []byte {
		return []byte(`{"event_id": "e1", "type": "loan.repaid", "occurred_at": "2026-11-21T02:00:00Z", "application_id": "0b5e1c4e-7a51-4b2f-9d3e-1f2a3b4c5d6e", "data": {"loan_id": "L", "repayment_id": "R", "principal": "1.00", "interest": "2.00", "paid_on": "` + paidOn + `"` + period + `}}`)
	}
	period := func(start, end string) string {
		return `, "interest_period": {"start": "` + start + `", "end": "` + end + `"}`
	}
	for _, tc := range []struct {
		name  string
		body  []byte
		field string // "": accepted
	}{
		{"Yesterday", repaid("2026-11-19", period("2026-11-01", "2026-11-19")), ""},
		{"Tomorrow", repaid("2026-11-21", period("2026-11-01", "2026-11-21")), ""},
		{"PaidBeforeTheEnd", repaid("2026-11-18", period("2026-11-01", "2026-11-19")), "data.interest_period.end"},
		{"OneDayOfNone", repaid("2026-11-19", period("2026-11-19", "2026-11-19")), "data.interest_period.end"},
		{"Backwards", repaid("2026-11-19", period("2026-11-19", "2026-11-01")), "data.interest_period.end"},
		{"TheDayAfterTomorrow", repaid("2026-11-22", period("2026-11-01", "2026-11-19")), "data.paid_on"},
		{"In2099", repaid("2099-01-01", period("2026-11-01", "2026-11-19")), "data.paid_on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, data, err := ParseEvent(tc.body)
			if err != nil {
				t.Fatal(err)
			}
			err = lending.CheckFigures(data.(*repaidData).repayment(), now)
			var e *errs.Error
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.field == "":
			case !asErr(err, &e) || e.Code != errs.InvalidFigures || len(e.Fields) != 1 || e.Fields[0].Field != tc.field:
				t.Fatalf("%v, want invalid_figures naming %s", err, tc.field)
			}
		})
	}
}

// FuzzParseEvent: no input panics; every refusal is a client error; the
// figures of a repayment parsed are judged without a panic, and refused
// only as invalid_figures.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(`{"event_id": "e1", "type": "loan.repaid", "occurred_at": "2026-11-21T02:00:00Z", "application_id": "0b5e1c4e-7a51-4b2f-9d3e-1f2a3b4c5d6e", "data": {"loan_id": "L", "repayment_id": "R", "disbursement_id": "D1", "principal": "1.00", "interest": "0.00", "paid_on": "2026-11-20"}}`))
	f.Add([]byte(`{"event_id": "e1", "type": "loan.repaid", "occurred_at": "2026-11-21T02:00:00Z", "application_id": "0b5e1c4e-7a51-4b2f-9d3e-1f2a3b4c5d6e", "data": {"loan_id": "L", "repayment_id": "R", "disbursement_id": "D1", "principal": "1.00", "interest": "2.00", "paid_on": "2099-01-01", "interest_period": {"start": "2000-01-01", "end": "2000-01-01"}}}`))
	f.Add([]byte(`{"event_id": "e1", "type": "loan.repaid", "occurred_at": "2026-11-21T02:00:00Z", "application_id": "0b5e1c4e-7a51-4b2f-9d3e-1f2a3b4c5d6e", "data": {"loan_id": "L", "repayment_id": "R", "principal": "1.00", "interest": "2.00", "paid_on": "2027-01-01", "interest_period": {"start": "2026-12-01", "end": "2027-01-01"}}}`))
	f.Add([]byte(`{"event_id": "e1", "type": "loan.closed", "occurred_at": "2026-11-21T02:00:00Z", "application_id": "0b5e1c4e-7a51-4b2f-9d3e-1f2a3b4c5d6e", "data": {"loan_id": "L", "closed_on": "2027-01-05", "reason": "written_off"}}`))
	f.Add([]byte(`{"event_id": "e1", "type": "loan.overdue_cured", "occurred_at": "2026-11-21T02:00:00Z", "application_id": "0b5e1c4e-7a51-4b2f-9d3e-1f2a3b4c5d6e", "data": {"loan_id": "L", "cured_on": "2027-01-05"}}`))
	f.Add([]byte(`{"event_id": "e1", "type": "loan.drawdown_ended", "occurred_at": "2026-11-21T02:00:00Z", "application_id": "0b5e1c4e-7a51-4b2f-9d3e-1f2a3b4c5d6e", "data": {"loan_id": "L", "ended_on": "2027-01-05"}}`))
	f.Add([]byte(`{"event_id": "e1", "type": "application.lapsed", "occurred_at": "2026-11-21T02:00:00Z", "application_id": "0b5e1c4e-7a51-4b2f-9d3e-1f2a3b4c5d6e", "data": {"reason": "expired"}}`))
	f.Add([]byte(`{"event_id": "e1", "type": "account.change_consented", "occurred_at": "2026-11-21T02:00:00Z", "application_id": "0b5e1c4e-7a51-4b2f-9d3e-1f2a3b4c5d6e", "data": {"loan_id": "L", "repayment_account": {"bank_name": "B", "account_no": "1", "account_name": "A"}}}`))
	f.Add([]byte(`{"event_id": "e1", "type": "credit_line.granted", "occurred_at": "2026-11-21T02:00:00Z", "data": {"limit": "5.00"}}`))
	f.Add([]byte(`{"type": "application.approved", "data": {"approved_amount": "x"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		env, data, err := ParseEvent(body)
		if err != nil {
			if c := errs.CodeOf(err); c != errs.Invalid && c != errs.MalformedRequest {
				t.Fatalf("code %s for %q", c, body)
			}
			return
		}
		if _, known := eventTypes[env.Type]; !known || env.EventID == "" || !text.Valid(env.EventID) || !text.Valid(env.BankReference) {
			t.Fatalf("accepted %q as %+v", body, env)
		}
		if data == nil {
			t.Fatalf("no data for %s", env.Type)
		}
		if d, ok := data.(*repaidData); ok {
			if err := lending.CheckFigures(d.repayment(), time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)); err != nil && errs.CodeOf(err) != errs.InvalidFigures {
				t.Fatalf("figures of %q: %v", body, err)
			}
		}
	})
}
