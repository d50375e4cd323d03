package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"procfin/banking"
	"procfin/banking/sandbox"
	"procfin/platform/safehttp"
)

// TestContractAmendedToTheBank: the issuer's signed new versions of a
// financed contract, one made current and one held for review, reach the
// bank financing it as contract.amended, over the wire through the relay,
// signed with the platform's key (the sandbox bank verifies every claim),
// with the version's figures; a new version of a contract nothing finances
// goes to no bank, and an officer's decision on the held version sends
// nothing more.
func TestContractAmendedToTheBank(t *testing.T) {
	t.Parallel()
	aw := newAmendWorld(t)
	procfin := httptest.NewServer(aw.h) // the sandbox reads procfin's keys from it
	t.Cleanup(procfin.Close)
	bank, err := sandbox.New(sandbox.Config{BankID: "qilu-bank", ProcfinURL: procfin.URL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	bankSrv := httptest.NewServer(bank.Handler()) // bank.Run is not started: it decides nothing
	t.Cleanup(bankSrv.Close)
	jwks, _ := json.Marshal(bank.JWKS())
	if r := aw.do("POST", "/v1/admin/banks", aw.admin,
		fmt.Sprintf(`{"id": "qilu-bank", "name": "Qilu Bank", "base_url": %q, "jwks": %s}`, bankSrv.URL, jwks)); r.status != 200 && r.status != 201 {
		t.Fatalf("register the bank at the sandbox: %d %s", r.status, r.body)
	}
	banks := banking.NewRegistry(aw.db)
	banks.SetURLPolicy(safehttp.Policy{AllowPrivate: true})
	relay := banking.NewRelay(aw.db, banks, aw.lending, aw.auth, nil, slog.New(slog.DiscardHandler), banking.RelayConfig{BaseBackoff: time.Millisecond})
	run := func() {
		t.Helper()
		for i := 0; i < 4; i++ {
			if _, err := relay.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}

	_, c := aw.contract("HT-QD-1", "1000000.00", usccA, "active")
	id := c["id"].(string)
	aw.contract("HT-QD-2", "1000000.00", usccA, "active")
	// Limit 0.85 × 1000000.00 = 850000.00; 800000.00 of it financed.
	app := aw.applied(aw.supplierA, id, "800000.00")
	run()
	if got := bank.Received(); len(got) != 1 || got[0].ApplicationID != app {
		t.Fatalf("the bank received %+v, want the application", got)
	}

	// Version 2, 1100000.00: limit 0.85 × 1100000.00 = 935000.00, not
	// below the 800000.00 financed: made current, exceeds_limit false.
	if outcome, _ := aw.contract("HT-QD-1", "1100000.00", usccA, "active"); outcome != "new_version" {
		t.Fatalf("version 2: %s", outcome)
	}
	// Version 3, 900000.00: limit 0.85 × 900000.00 = 765000.00, below the
	// 800000.00 financed: held for review, exceeds_limit true.
	if outcome, _ := aw.contract("HT-QD-1", "900000.00", usccA, "active"); outcome != "amendment_pending_review" {
		t.Fatalf("version 3: %s", outcome)
	}
	// Nothing finances HT-QD-2: its new version goes to no bank.
	if outcome, _ := aw.contract("HT-QD-2", "1100000.00", usccA, "active"); outcome != "new_version" {
		t.Fatalf("HT-QD-2 version 2: %s", outcome)
	}
	run()
	got := bank.ContractEvents()
	if len(got) != 2 {
		t.Fatalf("the bank took %d contract events, want 2: %+v", len(got), got)
	}
	for i, want := range []string{
		`{"version": 2, "amount": "1100000.00", "status": "active", "financing_limit": "935000.00", "financed": "800000.00", "exceeds_limit": false}`,
		`{"version": 3, "amount": "900000.00", "status": "active", "financing_limit": "765000.00", "financed": "800000.00", "exceeds_limit": true}`,
	} {
		e := got[i]
		var g, w any
		_ = json.Unmarshal(e.Data, &g)
		_ = json.Unmarshal([]byte(want), &w)
		if e.Type != "contract.amended" || e.ContractID != id || e.ContractNo != "HT-QD-1" || e.PurchaserID != "sdu" ||
			e.ApplicationID != app || e.LoanID != nil || !e.Known || e.Deliveries != 1 || !reflect.DeepEqual(g, w) {
			t.Errorf("contract event %d: %+v %s, want data %s", i, e, e.Data, want)
		}
	}
	var keys []string
	if err := aw.db.Select(&keys, `SELECT message_id FROM deliveries WHERE kind = 'contract-event' AND status = 'delivered' ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0] != got[0].EventID || keys[1] != got[1].EventID {
		t.Errorf("delivered contract events %v, want the events' ids %s, %s", keys, got[0].EventID, got[1].EventID)
	}

	// The officer keeps the financing's version: the bank heard of version
	// 3 when it arrived, and hears nothing more.
	if r := aw.resolve(aw.officer, id, "3", `{"decision": "keep", "reason": "the financing stands on version 2"}`); r.status != 200 {
		t.Fatalf("keep: %d %s", r.status, r.body)
	}
	run()
	if n := len(bank.ContractEvents()); n != 2 {
		t.Errorf("the bank took %d contract events after the decision, want still 2", n)
	}
}
