package lending

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"procfin/contracts"
	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// The repayment lock on the bank's side of the purchaser's confirmation
// (domain.md 1.1, "Confirmation", "One bank per contract"): the contract's
// receivable made at the bank's approval, the one bank financing a
// contract, and a disbursement before the confirmation.

// receivableOutcome is what an approval did to its contract's receivable.
type receivableOutcome string

const (
	receivableCreated   receivableOutcome = "created"    // none yet: made pending for this bank
	receivableMoved     receivableOutcome = "moved"      // another bank's, with no live application: pending for this bank
	receivableOtherBank receivableOutcome = "other_bank" // another bank's, still financing (data from before contract.single_bank): kept
	receivableCovered   receivableOutcome = "covered"    // confirmed, and the confirmation covers this approval too: its lock is confirmed
	receivablePending   receivableOutcome = "pending"    // pending already: it waits for the purchaser
	receivableRepended  receivableOutcome = "repended"   // confirmed or refused before: a new confirmation is needed
)

// receivableAtApproval makes the contract's receivable answer application
// a's approval, whose repayment account is acct: none yet, or one of a
// bank with no live application on the contract, becomes pending for a's
// bank, without any earlier confirmation or refusal; one at a's bank stays
// at a's bank. If it is confirmed, into acct (account numbers compared
// without spaces), for at least what the bank approved on the contract's
// live applications with this one, a's lock is confirmed at once (the
// purchaser confirmed paying that account that much) and the bank is sent
// receivable.confirmed for a, with the recorded confirmation; otherwise it
// goes back to pending (the applications confirmed before keep their
// locks).
//
// The receivable's row is taken in the first statement (made or locked),
// so that two approvals of one contract queue on it; the second
// statement, with a new snapshot, sees what the first approval committed.
// A first approval of a contract costs one statement; a later one two.
// The contract's receivable is locked after the application and whatever
// the approval released (contract, credit line).
func (s *Service) receivableAtApproval(ctx context.Context, tx *postgres.Tx, a Application, acct RepaymentAccount, actor string) error {
	var cur struct {
		BankID          string        `db:"bank_id"`
		Status          string        `db:"status"`
		ConfirmedAmount *money.Amount `db:"confirmed_amount"`
		AccountNo       *string       `db:"account_no"`
		Account         []byte        `db:"repayment_account"`
		PaymentTerms    []byte        `db:"payment_terms"`
		ConfirmedBy     string        `db:"confirmed_by"`
		ConfirmedAt     *time.Time    `db:"confirmed_at"`
		ContractNo      string        `db:"contract_no"`
		PurchaserID     string        `db:"purchaser_id"`
		Created         bool          `db:"created"`
	}
	err := tx.GetContext(ctx, &cur, `
		INSERT INTO receivables AS r (contract_id, bank_id) VALUES ($1, $2)
		ON CONFLICT (contract_id) DO UPDATE SET contract_id = r.contract_id
		RETURNING r.bank_id, r.status, r.confirmed_amount, r.repayment_account->>'account_no' AS account_no,
			r.repayment_account, r.payment_terms, r.confirmed_by, r.confirmed_at,
			(SELECT c.contract_no FROM contracts c WHERE c.id = r.contract_id) AS contract_no,
			(SELECT c.purchaser_id FROM contracts c WHERE c.id = r.contract_id) AS purchaser_id,
			r.xmax = 0 AS created`,
		a.ContractID, a.BankID)
	if err != nil {
		return postgres.Translate(err)
	}
	outcome := receivableCreated
	if !cur.Created {
		confirmed := money.Zero
		if cur.ConfirmedAmount != nil {
			confirmed = *cur.ConfirmedAmount
		}
		accountNo := ""
		if cur.AccountNo != nil {
			accountNo = *cur.AccountNo
		}
		err := tx.GetContext(ctx, &outcome, `
			WITH d AS (
				SELECT CASE
					WHEN $2 <> $5 AND EXISTS (SELECT FROM applications o
						WHERE o.contract_id = $1 AND o.bank_id = $5 AND o.status IN `+liveSetSQL+`) THEN 'other_bank'
					WHEN $2 <> $5 THEN 'moved'
					WHEN $6 = 'confirmed' AND replace($7, ' ', '') = replace($4, ' ', '')
						AND (SELECT coalesce(sum(a.approved_amount), 0) FROM applications a
							WHERE a.contract_id = $1 AND a.bank_id = $2 AND a.status IN `+liveSetSQL+`) <= $8::numeric THEN 'covered'
					WHEN $6 = 'pending' THEN 'pending'
					ELSE 'repended' END AS outcome
			), pend AS (
				UPDATE receivables SET bank_id = $2, status = 'pending', confirmed_amount = NULL, payment_terms = NULL,
					repayment_account = NULL, confirmed_by = '', confirmed_at = NULL, refusal_reason = '', refused_by = '',
					refused_at = NULL, updated_at = now()
				FROM d WHERE contract_id = $1 AND d.outcome IN ('moved', 'repended')
			), lock AS (
				UPDATE repayment_accounts SET status = 'confirmed', confirmed_at = $9, updated_at = now()
				FROM d WHERE application_id = $3 AND d.outcome = 'covered'
			)
			SELECT outcome FROM d`,
			a.ContractID, a.BankID, a.ID, acct.AccountNo, cur.BankID, cur.Status, accountNo, confirmed, tx.Now())
		if err != nil {
			return postgres.Translate(err)
		}
	}
	entry := audit.Entry{Actor: actor, Action: "receivable.pending", EntityType: "contract", EntityID: a.ContractID,
		After: map[string]string{"bank_id": a.BankID, "status": ReceivablePending}}
	switch outcome {
	case receivableCreated:
		entry.Reason = cause(CauseReceivableNeeded, "bank", a.BankID, "application", a.ID).String()
	case receivableMoved:
		entry.Before = map[string]string{"bank_id": cur.BankID, "status": cur.Status}
		entry.Reason = cause(CauseReceivableMoved, "bank", a.BankID, "application", a.ID, "previous_bank", cur.BankID).String()
	case receivableRepended:
		entry.Before = map[string]string{"bank_id": cur.BankID, "status": cur.Status}
		entry.Reason = cause(CauseReceivableRepended, "bank", a.BankID, "application", a.ID, "receivable_status", cur.Status).String()
	case receivableCovered:
		before := acct
		before.Status = "proposed"
		after := acct
		after.Status = "confirmed"
		entry = audit.Entry{Actor: actor, Action: "repayment_account.confirmed", EntityType: "application", EntityID: a.ID,
			Before: before, After: after,
			Reason: cause(CauseReceivableCovers, "amount", amountText(cur.ConfirmedAmount), "account", acct.AccountNo).String()}
		// The bank hears of the confirmation for this application too.
		data := ReceivableConfirmedData{ConfirmedAmount: *cur.ConfirmedAmount, PaymentTerms: cur.PaymentTerms, ConfirmedBy: cur.ConfirmedBy}
		if cur.ConfirmedAt != nil {
			data.ConfirmedAt = *cur.ConfirmedAt
		}
		if err := json.Unmarshal(cur.Account, &data.RepaymentAccount); err != nil {
			return errs.Wrap(errs.Internal, err, "the confirmed repayment account of contract %s", a.ContractID)
		}
		if err := s.outbox.ContractEvents(ctx, tx, ContractEvent{EventID: uuid.NewString(), Type: EventReceivableConfirmed, OccurredAt: tx.Now(),
			ContractID: a.ContractID, ContractNo: cur.ContractNo, PurchaserID: cur.PurchaserID, ApplicationID: a.ID, BankID: a.BankID,
			Data: data}); err != nil {
			return err
		}
	case receivablePending, receivableOtherBank:
		return nil
	default:
		return errs.E(errs.Internal, "the receivable of contract %s: outcome %q", a.ContractID, outcome)
	}
	return audit.Record(ctx, tx, entry)
}

func amountText(a *money.Amount) string {
	if a == nil {
		return "?"
	}
	return a.String()
}

// lockOnDisbursement locks application appID's repayment account for a
// disbursement: proposed, confirmed or refused becomes locked, never
// refused (bank-protocol.md 1.1, "Disbursing before confirmation": the
// money has moved, and procfin records what happened); a lock locked
// before the purchaser confirmed it records when
// (disbursed_unconfirmed_at: the alert disbursed_before_confirmation, and
// the loan's subsidy claims are held). A lock locked already is left as
// it is; a released one is invalid_transition. One statement.
func (s *Service) lockOnDisbursement(ctx context.Context, tx *postgres.Tx, appID, actor string) error {
	var rows []struct {
		RepaymentAccount
		ConfirmedAt *time.Time `db:"confirmed_at"`
		Moved       bool       `db:"moved"`
	}
	err := tx.SelectContext(ctx, &rows, `
		WITH old AS (
			SELECT application_id, bank_name, account_no, account_name, status, updated_at, confirmed_at
			FROM repayment_accounts WHERE application_id = $1 FOR UPDATE
		), moved AS (
			UPDATE repayment_accounts r SET status = 'locked', updated_at = now(),
				disbursed_unconfirmed_at = CASE WHEN old.confirmed_at IS NULL THEN coalesce(r.disbursed_unconfirmed_at, $2)
					ELSE r.disbursed_unconfirmed_at END
			FROM old WHERE r.application_id = old.application_id AND old.status IN ('proposed', 'confirmed', 'refused')
			RETURNING r.application_id
		)
		SELECT old.bank_name, old.account_no, old.account_name, old.status, old.updated_at, old.confirmed_at,
			moved.application_id IS NOT NULL AS moved
		FROM old LEFT JOIN moved ON true`, appID, tx.Now())
	if err != nil {
		return postgres.Translate(err)
	}
	if len(rows) == 0 {
		return nil // no account to lock (an approval without one is refused earlier)
	}
	r := rows[0]
	switch {
	case r.Status == "locked":
		return nil
	case !r.Moved:
		return errs.E(errs.InvalidTransition, "the repayment account is %s and cannot become locked", r.Status)
	}
	why := cause(CauseAccountLocked)
	if r.ConfirmedAt == nil {
		why = cause(CauseAccountLockedUnconfirmed)
	}
	before := r.RepaymentAccount
	after := before
	after.Status = "locked"
	after.UpdatedAt = tx.Now()
	return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "repayment_account.locked", EntityType: "application",
		EntityID: appID, Before: before, After: after, Reason: why.String()})
}

// otherBanks reads, in one statement, the banks that finance each of the
// contracts contractIDs, by contract id: of the banks of the contract's
// live applications (contract.single_bank), the lowest and the highest id,
// which are one bank exactly when one bank finances it; two probes of the
// index applications_contract_live per contract, however many
// applications it has. Called under the contracts' row locks, after they
// were taken, so that it sees every application committed before.
var contractBanksSQL = `
	SELECT c.id AS contract_id, lo.bank_id AS low, hi.bank_id AS high
	FROM unnest($1::uuid[]) AS c(id)
	CROSS JOIN LATERAL (SELECT bank_id FROM applications
		WHERE contract_id = c.id AND status IN ` + liveSetSQL + ` ORDER BY bank_id LIMIT 1) lo
	CROSS JOIN LATERAL (SELECT bank_id FROM applications
		WHERE contract_id = c.id AND status IN ` + liveSetSQL + ` ORDER BY bank_id DESC LIMIT 1) hi`

func otherBanks(ctx context.Context, tx *postgres.Tx, contractIDs []string) (map[string][]string, error) {
	var rows []struct {
		ContractID string `db:"contract_id"`
		Low        string `db:"low"`
		High       string `db:"high"`
	}
	err := tx.SelectContext(ctx, &rows, contractBanksSQL, pq.Array(contractIDs))
	if err != nil {
		return nil, postgres.Translate(err)
	}
	banks := make(map[string][]string, len(rows))
	for _, r := range rows {
		banks[r.ContractID] = append(banks[r.ContractID], r.Low)
		if r.High != r.Low {
			banks[r.ContractID] = append(banks[r.ContractID], r.High)
		}
	}
	return banks, nil
}

// singleBank is the check contract.single_bank of an application at bank
// on a contract financed by the banks financing (its live applications'
// banks).
func singleBank(bank string, financing []string) (bool, contracts.Reason) {
	var others []string
	for _, b := range financing {
		if b != bank {
			others = append(others, b)
		}
	}
	if len(others) == 0 {
		if len(financing) > 0 {
			return true, contracts.Because("financed_by_this_bank", bank)
		}
		return true, contracts.Because("no_other_bank")
	}
	return false, contracts.Because("other_bank_finances", strings.Join(others, ", "))
}

// checkSingleBank refuses, with invalid_transition, making application a
// live again (an administrator's re-queue of its failed delivery) while
// another bank finances its contract (contract.single_bank): it locks the
// contract's row first, as the intake does, then reads.
func (s *Service) checkSingleBank(ctx context.Context, tx *postgres.Tx, a Application) error {
	if _, err := tx.ExecContext(ctx, `SELECT FROM contracts WHERE id = $1 FOR UPDATE`, a.ContractID); err != nil {
		return postgres.Translate(err)
	}
	banks, err := otherBanks(ctx, tx, []string{a.ContractID})
	if err != nil {
		return err
	}
	if ok, reason := singleBank(a.BankID, banks[a.ContractID]); !ok {
		return errs.E(errs.InvalidTransition, "the application cannot be sent again: %s", reason.String())
	}
	return nil
}
