package contracts

import (
	"context"

	"procfin/platform/money"
	"procfin/platform/postgres"
)

// VersionArrived is a new version of a financed contract, as its issuer
// sent it: made current, or held for an officer's review (amendments.go).
// Package lending tells the banks financing the contract of it
// (contract.amended, bank-protocol.md 1.1).
type VersionArrived struct {
	ContractID  string
	ContractNo  string
	PurchaserID string // the contract's purchaser as it stands after (the financing's version's, when held)
	Version     int
	Amount      money.Amount // the new version's
	Status      string       // the new version's
	// FinancingLimit is the new version's limit (ratio × (amount −
	// retention)); Financed what live applications hold of the contract.
	FinancingLimit money.Amount
	Financed       money.Amount
	// Held: the version was not made current and waits for an officer.
	Held bool
}

// ExceedsLimit reports whether what is financed is above the new
// version's financing limit.
func (v VersionArrived) ExceedsLimit() bool { return v.FinancingLimit.LessThan(v.Financed) }

// OnNewVersion registers what a new version of a financed contract sets
// off: called in the submission's transaction, under the contract's row
// lock, only when something of the contract is financed (contracts.financed
// above zero), whether the version was made current or held for review.
// An officer's later adoption of a held version calls nothing: its
// version was told when it arrived. Call it before the service is used.
func (s *Service) OnNewVersion(f func(ctx context.Context, tx *postgres.Tx, v VersionArrived) error) {
	s.onNewVersion = f
}

// newVersion tells the registered hook of version of cur (the contract as
// it stood before), whose figures next carries, when cur is financed.
func (s *Service) newVersion(ctx context.Context, tx *postgres.Tx, cur, next Contract, version int, held bool) error {
	if s.onNewVersion == nil || !cur.Financed.IsPositive() {
		return nil
	}
	next.Financed = cur.Financed
	purchaser := next.PurchaserID
	if held {
		purchaser = cur.PurchaserID
	}
	return s.onNewVersion(ctx, tx, VersionArrived{
		ContractID: cur.ID, ContractNo: cur.ContractNo, PurchaserID: purchaser, Version: version,
		Amount: next.Amount, Status: next.Status, FinancingLimit: s.policy.FinancingOf(next).Limit,
		Financed: cur.Financed, Held: held,
	})
}
