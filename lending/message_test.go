package lending_test

import (
	"strings"
	"testing"
	"time"

	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/money"
)

// TestApplicationMessageIsTheProtocols: the body queued for the bank is,
// byte for byte, the credit application of bank-protocol.md ("Platform to
// bank"), with a credit line, a purchaser's name and payment terms (a
// term's condition is not sent), times in whole seconds, the purpose
// trimmed.
func TestApplicationMessageIsTheProtocols(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	src := contracts.Source{Kind: "signed", KeyID: "k1", MessageID: "C9", Actor: "issuer:jinan-pprc"}
	if _, _, err := w.contracts.SubmitAwardNotice(ctx, "jinan-pprc", contracts.AwardNoticeDoc{
		NoticeNo: "N-C9", ProjectNo: "P-9", ProjectName: "Network", Purchaser: contracts.Party{ID: "sdu", Name: "SDU"},
		Supplier: contracts.SupplierRef{USCC: uscc}, Amount: money.MustAmount("1200000.00"), Currency: "CNY",
		AwardedOn: money.MustDate("2026-10-08"), ProcurementMethod: "open_tender", Status: "active"}, src); err != nil {
		t.Fatal(err)
	}
	c, _, err := w.contracts.SubmitContract(ctx, "jinan-pprc", contracts.ContractDoc{
		ContractNo: "C9", NoticeNo: "N-C9", Purchaser: contracts.Party{ID: "sdu", Name: "SDU"}, Supplier: contracts.SupplierRef{USCC: uscc},
		Amount: money.MustAmount("1180000.00"), SignedOn: money.MustDate("2026-10-20"),
		Period: contracts.Period{Start: money.MustDate("2026-11-01"), End: money.MustDate("2027-04-30")},
		PaymentTerms: []contracts.PaymentTerm{
			{DueOn: money.MustDate("2027-01-31"), Amount: money.MustAmount("380000.00"), Condition: "on delivery"},
			{DueOn: money.MustDate("2027-05-31"), Amount: money.MustAmount("800000.00")}},
		Status: "active"}, src)
	if err != nil {
		t.Fatal(err)
	}
	w.contractID = c.ID
	w.now = w.now.Add(123456789 * time.Nanosecond)
	a, days := money.MustAmount("400000.00"), 180
	app, err := w.lending.Apply(ctx, w.who, lending.ApplyInput{ContractID: c.ID, BankID: "qilu-bank", Amount: &a, TermDays: &days,
		CreditLineID: &w.lineID, Purpose: "  materials \n"})
	if err != nil {
		t.Fatal(err)
	}
	var payload []byte
	must(t, func() error {
		return w.db.Get(&payload, `SELECT payload FROM deliveries WHERE application_id = $1 AND bank_id = 'qilu-bank'`, app.ID)
	})
	want := strings.Join([]string{
		`{"application_id":"` + app.ID + `","submitted_at":"2026-11-20T10:00:00Z",`,
		`"supplier":{"uscc":"91350100M000100Y43","name":"Firm 9135","size_class":"small"},`,
		`"purchaser":{"id":"sdu","name":"SDU"},`,
		`"award":{"notice_no":"N-C9","project_no":"P-9","issuer":"jinan-pprc","amount":"1200000.00","awarded_on":"2026-10-08"},`,
		`"contract":{"contract_no":"C9","amount":"1180000.00","signed_on":"2026-10-20","period":{"start":"2026-11-01","end":"2027-04-30"},`,
		`"payment_terms":[{"due_on":"2027-01-31","amount":"380000.00"},{"due_on":"2027-05-31","amount":"800000.00"}]},`,
		`"request":{"amount":"400000.00","currency":"CNY","term_days":180,"credit_line_id":"L1","purpose":"materials"},`,
		`"verification":{"verified_at":"2026-11-20T10:00:00Z","checks":[`,
		`{"name":"issuer.signature","result":"pass"},{"name":"award.active","result":"pass"},`,
		`{"name":"supplier.uscc_valid","result":"pass"},{"name":"supplier.is_applicant","result":"pass"},`,
		`{"name":"supplier.sme_eligible","result":"pass"},{"name":"contract.references_award","result":"pass"},`,
		`{"name":"contract.parties_match_award","result":"pass"},{"name":"contract.amount_within_award","result":"pass"},`,
		`{"name":"contract.active","result":"pass"},{"name":"contract.no_pending_amendment","result":"pass"},`,
		`{"name":"contract.in_period","result":"pass"},{"name":"financing.headroom","result":"pass"},`,
		`{"name":"supplier.not_overdue","result":"pass"},{"name":"contract.single_bank","result":"pass"},`,
		`{"name":"credit_line.available","result":"pass"}]}}`,
	}, "")
	if string(payload) != want {
		t.Fatalf("the delivery's body\n%s\nwant\n%s", payload, want)
	}
}
