package lending_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"procfin/lending"
	"procfin/platform/money"
)

// Application.JSON writes what encoding/json writes (without HTML
// escaping), byte for byte, however its strings try to look like its
// verification field.
func TestApplicationJSON(t *testing.T) {
	t.Parallel()
	rate := money.MustRate("0.0345")
	line := "3f0c1b8e-7d7a-4a43-9f55-0d3c1f1f2a10"
	for _, a := range []lending.Application{
		{
			ID: "a1", SupplierUSCC: "91370100MA3C5XXX1K", ContractID: "c1", BankID: "qilu-bank", CreditLineID: &line,
			Amount: money.MustAmount("1000.00"), Currency: "CNY", TermDays: 180,
			Purpose: `materials "verification":null, <&> 采购`, Status: lending.Submitted, AnnualRate: &rate,
			Verification: json.RawMessage(`{"passed":true,"checks":[{"name":"award","ok":true,"detail":"\"verification\":null"}]}`),
			CreatedAt:    time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 11, 26, 8, 0, 1, 0, time.UTC),
			History: []lending.Transition{{N: 1, To: lending.Submitted, Actor: "user:1", Cause: "submitted"}},
		},
		{ID: "a2", Purpose: "no report", Status: lending.Delivered},
	} {
		got, err := a.JSON()
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(a); err != nil {
			t.Fatal(err)
		}
		if w := bytes.TrimSuffix(want.Bytes(), []byte("\n")); !bytes.Equal(got, w) {
			t.Errorf("JSON() =\n%s\nwant\n%s", got, w)
		}
	}
}
