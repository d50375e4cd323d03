package contracts_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"procfin/contracts"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// financedContract is contract C1 of 1180000.00 (limit 0.85 × 1180000.00
// = 1003000.00) with held of it financed, as lending holds it: under the
// contract's row lock.
func financedContract(t *testing.T, held string) (*contracts.Service, *sqlx.DB, contracts.Contract) {
	t.Helper()
	s, db := newService(t, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	mustIssuer(t, s, "jinan-pprc")
	mustSupplier(t, s, usccSmall)
	if _, _, err := s.SubmitAwardNotice(ctx, "jinan-pprc", notice("N1", usccSmall), signed); err != nil {
		t.Fatal(err)
	}
	c, _, err := s.SubmitContract(ctx, "jinan-pprc", contract("C1", "N1", usccSmall), signed)
	if err != nil {
		t.Fatal(err)
	}
	hold(t, s, db, c.ID, held)
	c, err = s.Contract(ctx, contracts.All, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return s, db, c
}

// hold adds delta (negative: releases) to what is financed of the contract.
func hold(t *testing.T, s *contracts.Service, db *sqlx.DB, id, delta string) {
	t.Helper()
	err := postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
		c, err := s.ContractForUpdate(ctx, tx, contracts.All, id)
		if err != nil {
			return err
		}
		return s.HoldFinancing(ctx, tx, map[string]contracts.Contract{c.ID: c}, map[string]money.Amount{c.ID: money.MustAmount(delta)})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAmendmentUnderFinancing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		held    string
		mod     func(*contracts.ContractDoc)
		reasons string // "": the version replaces the current one
	}{
		// 0.85 × 100000.00 = 85000.00 < 800000.00
		{"AmountCut", "800000.00", func(d *contracts.ContractDoc) { d.Amount, d.PaymentTerms = money.MustAmount("100000.00"), nil }, "limit_below_financed"},
		// 0.85 × 940000.00 = 799000.00 < 800000.00
		{"JustBelow", "800000.00", func(d *contracts.ContractDoc) { d.Amount, d.PaymentTerms = money.MustAmount("940000.00"), nil }, "limit_below_financed"},
		// 0.85 × 941176.48 = 800000.008, floored to 800000.00 = financed: still whole
		{"Exactly", "800000.00", func(d *contracts.ContractDoc) { d.Amount, d.PaymentTerms = money.MustAmount("941176.48"), nil }, ""},
		// 0.85 × 950000.00 = 807500.00 ≥ 800000.00
		{"CutAboveFinanced", "800000.00", func(d *contracts.ContractDoc) { d.Amount, d.PaymentTerms = money.MustAmount("950000.00"), nil }, ""},
		// 0.85 × (1180000.00 − 300000.00) = 748000.00 < 800000.00
		{"Retention", "800000.00", func(d *contracts.ContractDoc) { d.Retention = amt("300000.00") }, "limit_below_financed"},
		{"Supplier", "0.01", func(d *contracts.ContractDoc) { d.Supplier.USCC = usccOther }, "supplier_changed"},
		{"Purchaser", "0.01", func(d *contracts.ContractDoc) { d.Purchaser.ID = "other-agency" }, "purchaser_changed"},
		{"Cancelled", "0.01", func(d *contracts.ContractDoc) { d.Status = "cancelled" }, "cancelled"},
		{"Terminated", "0.01", func(d *contracts.ContractDoc) { d.Status = "terminated" }, "terminated"},
		{"TerminatedAndCut", "800000.00", func(d *contracts.ContractDoc) {
			d.Status, d.Amount, d.PaymentTerms = "terminated", money.MustAmount("100000.00"), nil
		}, "limit_below_financed,terminated"},
		{"Completed", "800000.00", func(d *contracts.ContractDoc) { d.Status = "completed" }, ""},
		{"NewTerms", "800000.00", func(d *contracts.ContractDoc) { d.PaymentTerms[0].DueOn = money.MustDate("2027-06-30") }, ""},
		// Unfinanced: replaced as before, whatever it changes.
		{"UnfinancedCut", "0", func(d *contracts.ContractDoc) { d.Amount, d.PaymentTerms = money.MustAmount("100000.00"), nil }, ""},
		{"UnfinancedSupplier", "0", func(d *contracts.ContractDoc) { d.Supplier.USCC = usccOther }, ""},
		{"UnfinancedCancelled", "0", func(d *contracts.ContractDoc) { d.Status = "cancelled" }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, db, before := financedContract(t, tc.held)
			doc := contract("C1", "N1", usccSmall)
			tc.mod(&doc)
			after, outcome, err := s.SubmitContract(ctx, "jinan-pprc", doc, signed)
			if err != nil {
				t.Fatal(err)
			}
			versions := count(t, db, `SELECT count(*) FROM document_versions WHERE kind = 'contract' AND document_id = $1`, before.ID)
			if versions != 2 {
				t.Fatalf("%d versions stored, want 2", versions)
			}
			if tc.reasons == "" {
				if outcome != contracts.NewVersion || after.Version != 2 || after.AmendmentPending || after.Digest == before.Digest {
					t.Fatalf("outcome %s, version %d, flagged %v: want the new version current", outcome, after.Version, after.AmendmentPending)
				}
				return
			}
			if outcome != contracts.AmendmentHeld || !after.AmendmentPending {
				t.Fatalf("outcome %s, flagged %v, want %s and flagged", outcome, after.AmendmentPending, contracts.AmendmentHeld)
			}
			if after.Version != 1 || after.Digest != before.Digest || after.Amount.String() != before.Amount.String() ||
				after.Financed.String() != before.Financed.String() ||
				after.Financing.Limit.String() != "1003000.00" ||
				after.SupplierUSCC != before.SupplierUSCC || after.PurchaserID != before.PurchaserID || after.Status != before.Status {
				t.Fatalf("the financing's version was replaced: version %d, amount %s, financed %s, limit %s, %s, %s, %s",
					after.Version, after.Amount, after.Financed, after.Financing.Limit, after.SupplierUSCC, after.PurchaserID, after.Status)
			}
			if len(after.PendingAmendments) != 1 || strings.Join(after.PendingAmendments[0].Reasons, ",") != tc.reasons ||
				after.PendingAmendments[0].Version != 2 || after.PendingAmendments[0].Status != "pending" {
				t.Fatalf("pending amendments %+v, want version 2 for %s", after.PendingAmendments, tc.reasons)
			}
			if n := count(t, db, `SELECT count(*) FROM audit_log WHERE action = 'contract.amendment_flagged' AND entity_id = $1`, before.ID); n != 1 {
				t.Fatalf("%d audit rows for the flag, want 1", n)
			}
			r, err := s.Verify(ctx, contracts.All, before.ID, contracts.VerifyRequest{})
			if err != nil || r.Passed || checks(r)[contracts.CheckNoPendingAmendment] != "fail" {
				t.Fatalf("verification of a flagged contract: %+v %v", r, err)
			}
			// The same amendment again changes nothing; a further one is held too.
			if _, o, err := s.SubmitContract(ctx, "jinan-pprc", doc, signed); err != nil || o != contracts.Unchanged {
				t.Fatalf("the same amendment again: %s %v", o, err)
			}
			doc.SignedOn = money.MustDate("2026-10-21")
			if c, o, err := s.SubmitContract(ctx, "jinan-pprc", doc, signed); err != nil || o != contracts.AmendmentHeld ||
				len(c.PendingAmendments) != 2 || c.PendingAmendments[1].Version != 3 || c.Version != 1 {
				t.Fatalf("a second amendment: %s %+v %v", o, c.PendingAmendments, err)
			}
		})
	}
}

func TestResolveAmendment(t *testing.T) {
	t.Parallel()
	s, db, c := financedContract(t, "800000.00")
	cut := contract("C1", "N1", usccSmall)
	cut.Amount, cut.PaymentTerms = money.MustAmount("100000.00"), nil
	if _, o, err := s.SubmitContract(ctx, "jinan-pprc", cut, signed); err != nil || o != contracts.AmendmentHeld {
		t.Fatalf("cut: %s %v", o, err)
	}
	other := contract("C1", "N1", usccSmall)
	other.Status = "terminated"
	if _, o, err := s.SubmitContract(ctx, "jinan-pprc", other, signed); err != nil || o != contracts.AmendmentHeld {
		t.Fatalf("terminated: %s %v", o, err)
	}

	// Bad decisions are refused naming every bad field, and change nothing.
	_, err := s.ResolveAmendment(ctx, c.ID, 2, contracts.Resolution{Decision: "maybe", Reason: " \x00 "}, "officer:olga")
	var e *errs.Error
	if !asErr(err, &e) || e.Code != errs.Invalid || len(e.Fields) != 2 || e.Fields[0].Field != "decision" || e.Fields[1].Field != "reason" {
		t.Fatalf("bad resolution: %v", err)
	}
	if _, err := s.ResolveAmendment(ctx, c.ID, 2, contracts.Resolution{Decision: "keep", Reason: strings.Repeat("长", 667)}, "officer:olga"); !errs.Is(err, errs.Invalid) {
		t.Fatalf("a reason of 2001 bytes: %v", err) // 667 × 3 bytes
	}
	for _, v := range []int{1, 4, 0} {
		if _, err := s.ResolveAmendment(ctx, c.ID, v, contracts.Resolution{Decision: "keep", Reason: "x"}, "officer:olga"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("version %d: %v", v, err)
		}
	}
	if _, err := s.ResolveAmendment(ctx, "00000000-0000-0000-0000-000000000000", 2, contracts.Resolution{Decision: "keep", Reason: "x"}, "officer:olga"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("no contract: %v", err)
	}

	// Adopting the cut is refused while 800000.00 is financed (its limit is
	// 0.85 × 100000.00 = 85000.00).
	_, err = s.ResolveAmendment(ctx, c.ID, 2, contracts.Resolution{Decision: "adopt", Reason: "the purchaser cut the scope"}, "officer:olga")
	if !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), "85000.00") {
		t.Fatalf("adopt under financing: %v", err)
	}
	// Keeping the termination leaves version 3 pending: still flagged.
	got, err := s.ResolveAmendment(ctx, c.ID, 3, contracts.Resolution{Decision: "keep", Reason: "the issuer posted it by mistake"}, "officer:olga")
	if err != nil || !got.AmendmentPending || got.Version != 1 || len(got.PendingAmendments) != 1 || got.PendingAmendments[0].Version != 2 {
		t.Fatalf("keep 3: %+v %v", got, err)
	}
	if _, err := s.ResolveAmendment(ctx, c.ID, 3, contracts.Resolution{Decision: "adopt", Reason: "changed my mind"}, "officer:olga"); !errs.Is(err, errs.Conflict) {
		t.Fatalf("a decided version again: %v", err)
	}
	var reason string
	if err := db.Get(&reason, `SELECT reason FROM audit_log WHERE action = 'contract.amendment_kept' AND entity_id = $1`, c.ID); err != nil ||
		reason != "the issuer posted it by mistake" {
		t.Fatalf("audit of keep: %q %v", reason, err)
	}

	// Released to 85000.00 (800000.00 − 715000.00), the cut fits: adopted.
	hold(t, s, db, c.ID, "-715000.00")
	got, err = s.ResolveAmendment(ctx, c.ID, 2, contracts.Resolution{Decision: "adopt", Reason: "the purchaser cut the scope"}, "officer:olga")
	if err != nil {
		t.Fatal(err)
	}
	if got.AmendmentPending || got.Version != 2 || got.Amount.String() != "100000.00" || got.Financing.Limit.String() != "85000.00" ||
		got.Financed.String() != "85000.00" || len(got.PendingAmendments) != 0 {
		t.Fatalf("adopted: %+v", got)
	}
	if n := count(t, db, `SELECT count(*) FROM audit_log WHERE action = 'contract.amendment_adopted' AND entity_id = $1 AND reason <> ''`, c.ID); n != 1 {
		t.Fatalf("%d audit rows for the adoption", n)
	}
	if r, _ := s.Verify(ctx, contracts.All, c.ID, contracts.VerifyRequest{}); checks(r)[contracts.CheckNoPendingAmendment] != "pass" {
		t.Fatalf("after the adoption: %+v", r.Checks)
	}
	// A new version after them all is numbered after the last.
	next := cut
	next.SignedOn = money.MustDate("2026-10-22")
	if c, o, err := s.SubmitContract(ctx, "jinan-pprc", next, signed); err != nil || o != contracts.NewVersion || c.Version != 4 {
		t.Fatalf("after: %s %d %v", o, c.Version, err)
	}
}
