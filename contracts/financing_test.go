package contracts_test

import (
	"testing"

	"procfin/contracts"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// TestHoldFinancingOnePath: what live applications hold of a contract
// moves only through HoldFinancing, a hold and a release alike, and its
// limit holds in every form.
func TestHoldFinancingOnePath(t *testing.T) {
	t.Parallel()
	// C1: limit 0.85 × 1180000.00 = 1003000.00, 800000.00 held.
	s, db, c := financedContract(t, "800000.00")
	financed := func() money.Amount {
		t.Helper()
		got, err := s.Contract(ctx, contracts.All, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Financed
	}
	holdAll := func(holds map[string]money.Amount, locked bool) error {
		return postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
			var cs map[string]contracts.Contract
			if locked {
				lc, err := s.ContractForUpdate(ctx, tx, contracts.All, c.ID)
				if err != nil {
					return err
				}
				cs = map[string]contracts.Contract{c.ID: lc}
			}
			return s.HoldFinancing(ctx, tx, cs, holds)
		})
	}

	// 800000.00 + 203000.01 = 1003000.01 > 1003000.00: refused, nothing kept.
	err := holdAll(map[string]money.Amount{c.ID: money.MustAmount("203000.01")}, true)
	if !errs.Is(err, errs.Conflict) || !financed().Equal(money.MustAmount("800000.00")) {
		t.Fatalf("a hold past the limit: err=%v, financed %s; want conflict, 800000.00", err, financed())
	}
	// 800000.00 + 203000.00 = 1003000.00, the limit exactly.
	if err := holdAll(map[string]money.Amount{c.ID: money.MustAmount("203000.00")}, true); err != nil {
		t.Fatal(err)
	}
	// A hold that grows without its contract's row locked (not in cs) is
	// a bug, refused before any write.
	err = holdAll(map[string]money.Amount{c.ID: money.MustAmount("0.01")}, false)
	if !errs.Is(err, errs.Internal) || !financed().Equal(money.MustAmount("1003000.00")) {
		t.Fatalf("a hold without its lock: err=%v, financed %s; want internal, 1003000.00", err, financed())
	}
	// A release is the same path with a negative amount, and needs no
	// lock: 1003000.00 − 3000.00 = 1000000.00.
	err = postgres.Transact(ctx, db, func(tx *postgres.Tx) error {
		return s.ReleaseFinancing(ctx, tx, c.ID, money.MustAmount("3000.00"))
	})
	if err != nil || !financed().Equal(money.MustAmount("1000000.00")) {
		t.Fatalf("a release: err=%v, financed %s; want nil, 1000000.00", err, financed())
	}
}
