package lending

import (
	"context"

	"github.com/lib/pq"

	"procfin/contracts"
	"procfin/platform/postgres"
)

// liveStatuses are the statuses of an application financing its contract
// whose bank knows of it, or will before anything else of it: submitted
// (its credit application goes first; the relay sends an application's
// messages in order), delivered, received, approved, disbursed and repaid
// (a loan not yet closed). Rejected, cancelled and closed ones hold nothing
// of the contract; one whose delivery failed never reached the bank.
var liveStatuses = []string{string(Submitted), string(Delivered), string(Received), string(Approved), string(Disbursed), string(Repaid)}

// liveOnContract is a live application on a contract, with its bank and
// the bank's id of its loan, if any.
type liveOnContract struct {
	ID         string  `db:"id"`
	BankID     string  `db:"bank_id"`
	BankLoanID *string `db:"bank_loan_id"`
}

// liveApplications lists the contract's live applications (liveStatuses)
// holding a share of it, oldest first, in one statement.
func liveApplications(ctx context.Context, tx *postgres.Tx, contractID string) ([]liveOnContract, error) {
	var list []liveOnContract
	err := tx.SelectContext(ctx, &list, `
		SELECT a.id, a.bank_id, (SELECT l.bank_loan_id FROM loans l WHERE l.application_id = a.id ORDER BY l.created_at LIMIT 1) AS bank_loan_id
		FROM applications a
		WHERE a.contract_id = $1 AND a.status = ANY($2::text[]) AND a.financing_held > 0
		ORDER BY a.seq`, contractID, pq.Array(liveStatuses))
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
