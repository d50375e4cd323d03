package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"procfin/banking"
	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/signature"
)

// contractEventBody is a contract event of typ on application appID as
// procfin's outbox makes it (banking.NewContractEventMessage), its event
// id id.
func contractEventBody(id, typ, appID string, data any) []byte {
	loan := "SBX-L-1"
	b, err := json.Marshal(banking.NewContractEventMessage(lending.ContractEvent{
		EventID: id, Type: typ, OccurredAt: time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC),
		ContractID: "c0ffee00-0000-4000-8000-000000000001", ContractNo: "HT-1", PurchaserID: "sdu",
		ApplicationID: appID, BankID: "sandbox-bank", BankLoanID: &loan, Data: data}))
	if err != nil {
		panic(err)
	}
	return b
}

var (
	lockedAccount = lending.Account{BankName: "Sandbox Bank", AccountNo: "6222000000000001", AccountName: "Quancheng"}
	ownAccount    = lending.Account{BankName: "Other Bank", AccountNo: "6217000000000009", AccountName: "Quancheng"}
)

// confirmedData is receivable.confirmed's data for 800,000.00.
func confirmedData() lending.ReceivableConfirmedData {
	return lending.ReceivableConfirmedData{ConfirmedAmount: money.MustAmount("800000.00"),
		PaymentTerms:     json.RawMessage(`[{"due_on":"2027-05-31","amount":"1180000.00"}]`),
		RepaymentAccount: lockedAccount, ConfirmedBy: "purchaser:sdu", ConfirmedAt: time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC)}
}

// postContractEvent posts a contract event signed by signer (nil:
// procfin's key) under key.
func (h *harness) postContractEvent(key string, body []byte, signer *signature.Signer) answer {
	h.t.Helper()
	return h.postPath("/v1/contract-events", key, body, signer, "")
}

// TestContractEventsTaken: each of the five contract events, signed by
// procfin, is taken (202), recorded as sent, and a resend answered 200;
// one not signed by procfin's key, or not a contract event, or under
// another key than its event_id, is refused and not recorded.
func TestContractEventsTaken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	const app = "0b5e6f7a-0000-4000-8000-0000000000c1"
	payment := lending.PaymentData{PaymentID: "TP-1", Amount: money.MustAmount("500000.00"), PaidOn: money.MustDate("2026-11-20"), PayeeAccount: lockedAccount}
	misdirected := payment
	misdirected.PaymentID, misdirected.PayeeAccount, misdirected.ExpectedAccount = "TP-2", ownAccount, &lockedAccount
	events := []struct {
		id, typ string
		data    any
	}{
		{"e-1", TypeReceivableConfirmed, confirmedData()},
		{"e-2", TypeReceivableRefused, lending.ReceivableRefusedData{Reason: "the goods were not delivered"}},
		{"e-3", TypeContractAmended, lending.ContractAmendedData{Version: 2, Amount: money.MustAmount("100000.00"), Status: "active",
			FinancingLimit: money.MustAmount("85000.00"), Financed: money.MustAmount("800000.00"), ExceedsLimit: true}},
		{"e-4", TypePaymentReceived, payment},
		{"e-5", TypePaymentMisdirected, misdirected},
	}
	bodies := map[string][]byte{}
	for _, e := range events {
		bodies[e.id] = contractEventBody(e.id, e.typ, app, e.data)
	}

	// Refused first, so that nothing refused is recorded.
	other := h.procfin.signer
	other.ID = "mallory"
	if a := h.postContractEvent("e-1", bodies["e-1"], &other); a.status != http.StatusUnauthorized || a.body["type"] != string(errs.SignatureInvalid) {
		t.Errorf("signed by another: %d %v, want 401", a.status, a.body)
	}
	for name, c := range map[string]struct {
		key    string
		body   []byte
		status int
	}{
		"no key":            {"", bodies["e-1"], http.StatusBadRequest},
		"key not event_id":  {"e-9", bodies["e-1"], http.StatusUnprocessableEntity},
		"not JSON":          {"e-1", []byte(`{"event_id":`), http.StatusBadRequest},
		"unknown type":      {"e-6", contractEventBody("e-6", "payment.cancelled", app, payment), http.StatusUnprocessableEntity},
		"data of another":   {"e-7", contractEventBody("e-7", TypeContractAmended, app, payment), http.StatusUnprocessableEntity},
		"unknown field":     {"e-8", bytes.Replace(bodies["e-2"], []byte(`"event_id":"e-2"`), []byte(`"event_id":"e-8","extra":1`), 1), http.StatusUnprocessableEntity},
		"misdirected, none": {"e-10", contractEventBody("e-10", TypePaymentMisdirected, app, payment), http.StatusUnprocessableEntity},
	} {
		if a := h.postContractEvent(c.key, c.body, nil); a.status != c.status {
			t.Errorf("%s: %d %v, want %d", name, a.status, a.body, c.status)
		}
	}
	if got := h.bank.ContractEvents(); len(got) != 0 {
		t.Fatalf("refused events were recorded: %+v", got)
	}

	for _, e := range events {
		if a := h.postContractEvent(e.id, bodies[e.id], nil); a.status != http.StatusAccepted || a.body["event_id"] != e.id {
			t.Errorf("%s: %d %v, want 202", e.typ, a.status, a.body)
		}
	}
	if a := h.postContractEvent("e-4", bodies["e-4"], nil); a.status != http.StatusOK {
		t.Errorf("resent: %d %v, want 200", a.status, a.body)
	}
	if a := h.postContractEvent("e-4", bodies["e-5"], nil); a.status != http.StatusConflict || a.body["type"] != string(errs.IdempotencyReused) {
		t.Errorf("same key, other body: %d %v, want 409", a.status, a.body)
	}
	got := h.bank.ContractEvents()
	if len(got) != len(events) {
		t.Fatalf("%d events recorded, want %d: %+v", len(got), len(events), got)
	}
	for i, e := range events {
		r := got[i]
		want, _ := json.Marshal(e.data)
		if r.EventID != e.id || r.Type != e.typ || r.ApplicationID != app || r.ContractID != "c0ffee00-0000-4000-8000-000000000001" ||
			r.ContractNo != "HT-1" || r.PurchaserID != "sdu" || r.LoanID == nil || *r.LoanID != "SBX-L-1" || r.Known ||
			!r.OccurredAt.Equal(time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)) || r.BodyHash != signature.BodyHash(bodies[e.id]) {
			t.Errorf("recorded %d: %+v", i, r)
		}
		if !sameJSON(t, r.Data, string(want)) {
			t.Errorf("%s data %s, want %s", e.typ, r.Data, want)
		}
		if wantN := map[bool]int{true: 2, false: 1}[e.id == "e-4"]; r.Deliveries != wantN {
			t.Errorf("%s: %d deliveries, want %d", e.id, r.Deliveries, wantN)
		}
	}
}

// TestAwaitConfirmation: a bank waiting for confirmation approves and
// disburses only after procfin's receivable.confirmed of the application:
// no disbursement reaches procfin before the confirmation was posted.
func TestAwaitConfirmation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.AwaitConfirmation = true })
	var confirmed atomic.Bool
	h.procfin.setOnEvent(func(e gotEvent) {
		if e.Type == TypeDisbursed && !confirmed.Load() {
			t.Errorf("disbursed before the confirmation: %s", e.EventID)
		}
	})
	const id = "0b5e6f7a-0000-4000-8000-0000000000c2"
	if a := h.post(id, message(id, "800000.00", 180), nil); a.status != http.StatusAccepted {
		t.Fatalf("status %d %v", a.status, a.body)
	}
	if ev := h.procfin.waitEvents(2); !slices.Equal(types(ev), []string{TypeReceived, TypeApproved}) {
		t.Fatalf("events %v, want received and approved", types(ev))
	}
	// Another contract event of it changes nothing.
	amended := contractEventBody("e-a", TypeContractAmended, id, lending.ContractAmendedData{Version: 2, Amount: money.MustAmount("1180000.00"),
		Status: "active", FinancingLimit: money.MustAmount("1003000.00"), Financed: money.MustAmount("800000.00")})
	if a := h.postContractEvent("e-a", amended, nil); a.status != http.StatusAccepted {
		t.Fatalf("amended: %d %v", a.status, a.body)
	}
	confirmed.Store(true)
	if a := h.postContractEvent("e-c", contractEventBody("e-c", TypeReceivableConfirmed, id, confirmedData()), nil); a.status != http.StatusAccepted {
		t.Fatalf("confirmation: %d %v", a.status, a.body)
	}
	ev := h.procfin.waitEvents(4)
	if got, want := types(ev), []string{TypeReceived, TypeApproved, TypeDisbursed, TypeDisbursed}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if r := h.bank.ContractEvents(); len(r) != 2 || !r[0].Known || !r[1].Known {
		t.Errorf("ContractEvents() = %+v, want two of a known application", r)
	}
}

// TestAwaitConfirmationRefused: the purchaser's refusal lets the approval
// lapse (application.lapsed, receivable_refused); nothing is disbursed.
func TestAwaitConfirmationRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.AwaitConfirmation = true })
	const id = "0b5e6f7a-0000-4000-8000-0000000000c3"
	if a := h.post(id, message(id, "800000.00", 180), nil); a.status != http.StatusAccepted {
		t.Fatalf("status %d %v", a.status, a.body)
	}
	h.procfin.waitEvents(2)
	refused := contractEventBody("e-r", TypeReceivableRefused, id, lending.ReceivableRefusedData{Reason: "not delivered"})
	if a := h.postContractEvent("e-r", refused, nil); a.status != http.StatusAccepted {
		t.Fatalf("refusal: %d %v", a.status, a.body)
	}
	ev := h.procfin.waitEvents(3)
	if got, want := types(ev), []string{TypeReceived, TypeApproved, TypeLapsed}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if !sameJSON(t, ev[2].Data, `{"reason":"receivable_refused"}`) || ev[2].ApplicationID != id {
		t.Errorf("lapsed %+v", ev[2])
	}
	// A confirmation after the refusal disburses nothing: the life is over.
	h.waitFor("over", func() bool { return h.bank.LifeOver(id) }) // then nothing more of it is sent
	if a := h.postContractEvent("e-c", contractEventBody("e-c", TypeReceivableConfirmed, id, confirmedData()), nil); a.status != http.StatusAccepted {
		t.Fatalf("confirmation: %d %v", a.status, a.body)
	}
	if got := types(h.procfin.Events()); len(got) != 3 {
		t.Errorf("events %v after a late confirmation, want still 3", got)
	}
}

// FuzzParseContractEvent: whatever the body, parsing a contract event
// never panics, and one it takes has an id, a known type, a contract, an
// application, an instant and data.
func FuzzParseContractEvent(f *testing.F) {
	f.Add(contractEventBody("e-1", TypeReceivableConfirmed, "a-1", confirmedData()))
	f.Add(contractEventBody("e-2", TypeReceivableRefused, "a-1", lending.ReceivableRefusedData{Reason: "x"}))
	f.Add(contractEventBody("e-3", TypeContractAmended, "a-1", lending.ContractAmendedData{Version: 2, Amount: money.MustAmount("1.00"), Status: "cancelled"}))
	f.Add(contractEventBody("e-4", TypePaymentReceived, "a-1", lending.PaymentData{PaymentID: "p", Amount: money.MustAmount("1.00"), PaidOn: money.MustDate("2026-01-01"), PayeeAccount: lockedAccount}))
	f.Add([]byte(`{"event_id":"e","type":"payment.misdirected","occurred_at":"2026-11-21T02:00:00Z","contract":{"id":"c","contract_no":"n","purchaser_id":"p"},"application_id":"a","loan_id":null,"data":{"payment_id":"p","amount":"-1","paid_on":"x"}}`))
	f.Add([]byte(`{"event_id":1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"data":{}} {}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, status, detail := parseContractEvent(body)
		switch status {
		case 0:
			known := []string{TypeReceivableConfirmed, TypeReceivableRefused, TypeContractAmended, TypePaymentReceived, TypePaymentMisdirected}
			if e.EventID == "" || !slices.Contains(known, e.Type) || e.Contract.ID == "" || e.ApplicationID == "" ||
				e.OccurredAt.IsZero() || !strings.HasPrefix(strings.TrimSpace(string(e.Data)), "{") || detail != "" {
				t.Fatalf("took %q: %+v", body, e)
			}
		case http.StatusBadRequest, http.StatusUnprocessableEntity:
			if detail == "" {
				t.Fatalf("refused %q with no reason", body)
			}
		default:
			t.Fatalf("status %d for %q", status, body)
		}
	})
}
