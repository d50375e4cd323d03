package banking_test

import (
	"testing"

	"procfin/banking"
	"procfin/platform/safehttp"
)

// TestRelayDialsOnlyAllowedAddresses: the relay's client checks the address
// it connects to, not only the URL registered: a bank registered where
// private addresses were allowed (or whose name came to resolve to one) is
// never called by a relay under the strict policy; the delivery waits for a
// retry instead. The same bank, private addresses allowed, is called.
func TestRelayDialsOnlyAllowedAddresses(t *testing.T) {
	t.Parallel()
	bank := newFakeBank(t, 202)
	w := newWorld(t, bank.srv.URL) // registered with private addresses allowed
	id := w.apply(t)
	w.banks.SetURLPolicy(safehttp.Policy{})
	if _, err := w.relay(banking.RelayConfig{}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if d, _ := w.state(t, id); d != "pending" || bank.count() != 0 {
		t.Fatalf("strict relay: delivery %s, bank called %d times; want pending, never called", d, bank.count())
	}
	w.due()
	w.banks.SetURLPolicy(safehttp.Policy{AllowPrivate: true})
	if _, err := w.relay(banking.RelayConfig{}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if d, _ := w.state(t, id); d != "delivered" || bank.count() != 1 {
		t.Fatalf("relay with private addresses allowed: delivery %s, bank called %d times", d, bank.count())
	}
}
