package lending

import (
	"context"

	"procfin/contracts"
	"procfin/platform/postgres"
)

// liveOnContract is a live application on a contract, with its bank and
// the bank's id of its loan, if any.
type liveOnContract struct {
	ID         string  `db:"id"`
	BankID     string  `db:"bank_id"`
	BankLoanID *string `db:"bank_loan_id"`
}

// liveApplications lists the contract's live applications (Live: their
// bank knows of them or, submitted, will before anything else of them, the
// relay sending an application's messages in order), oldest first, in one
// statement.
func liveApplications(ctx context.Context, tx *postgres.Tx, contractID string) ([]liveOnContract, error) {
	var list []liveOnContract
	err := tx.SelectContext(ctx, &list, `
		SELECT a.id, a.bank_id, (SELECT l.bank_loan_id FROM loans l WHERE l.application_id = a.id ORDER BY l.created_at LIMIT 1) AS bank_loan_id
		FROM applications a
		WHERE a.contract_id = $1 AND a.status IN `+liveSetSQL+`
		ORDER BY a.seq`, contractID)
	return list, postgres.Translate(err)
}

// contractAmended queues contract.amended (bank-protocol.md 1.1, "Contract
// events") for each live application of a financed contract a new version
// of which arrived, made current or held for review (contracts'
// OnNewVersion, in the submission's transaction): each application's bank
// hears of it once, under its own event id. exceeds_limit says the new
// version's financing limit is below what is financed.
func (s *Service) contractAmended(ctx context.Context, tx *postgres.Tx, v contracts.VersionArrived) error {
	live, err := liveApplications(ctx, tx, v.ContractID)
	if err != nil || len(live) == 0 {
		return err
	}
	data := ContractAmendedData{Version: v.Version, Amount: v.Amount, Status: v.Status,
		FinancingLimit: v.FinancingLimit, Financed: v.Financed, ExceedsLimit: v.ExceedsLimit()}
	es := make([]ContractEvent, len(live))
	for i, a := range live {
		es[i] = ContractEvent{Type: EventContractAmended, OccurredAt: tx.Now(), ContractID: v.ContractID,
			ContractNo: v.ContractNo, PurchaserID: v.PurchaserID, ApplicationID: a.ID, BankID: a.BankID,
			BankLoanID: a.BankLoanID, Data: data}
	}
	return s.outbox.ContractEvents(ctx, tx, es...)
}
