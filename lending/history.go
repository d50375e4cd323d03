package lending

import (
	"context"
	"encoding/json"
	"time"

	"github.com/lib/pq"

	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// LoanHistory is what a loan's subsidy is computed from: its tranches, in
// the order a whole-loan repayment reduces them (oldest first: value date,
// then recorded), its repayments in the order they were recorded, and the
// times it was overdue.
type LoanHistory struct {
	LoanID     string           `json:"loan_id"`
	Tranches   []TrancheRecord  `json:"tranches"`
	Repayments []RepaymentEntry `json:"repayments"`
	Overdues   []OverdueEpisode `json:"overdues"`
}

// TrancheRecord is one tranche (disbursement) of a loan.
type TrancheRecord struct {
	ID                 string       `json:"id"`              // procfin's
	BankDisbursementID string       `json:"disbursement_id"` // the bank's
	Amount             money.Amount `json:"amount"`
	ValueDate          money.Date   `json:"value_date"`
	AnnualRate         money.Rate   `json:"annual_rate"`
	// RecordedAt is when it was written, by the database's clock at the
	// insert (not the transaction's start), so that it orders the loan's
	// tranches and repayments as recorded, even within one transaction.
	RecordedAt time.Time `json:"recorded_at"`
}

// RepaymentEntry is one recorded repayment of a loan. TrancheID is the
// procfin id of the tranche it names ("": the loan as a whole); a
// repayment without interest may have no period.
type RepaymentEntry struct {
	ID          string       `json:"id"`
	Seq         int64        `json:"seq"`
	TrancheID   string       `json:"tranche_id"`
	Principal   money.Amount `json:"principal"`
	Interest    money.Amount `json:"interest"`
	PaidOn      money.Date   `json:"paid_on"`
	PeriodStart *money.Date  `json:"period_start"`
	PeriodEnd   *money.Date  `json:"period_end"`
	RecordedAt  time.Time    `json:"recorded_at"` // as TrancheRecord's
}

// OverdueEpisode is one time a loan was overdue: from Since until CuredOn
// (nil: still overdue).
type OverdueEpisode struct {
	Since   money.Date  `json:"since"`
	CuredOn *money.Date `json:"cured_on"`
}

// OverdueOn reports the episode a loan was overdue in on day d (since ≤ d
// < cured_on, or no cure yet), if any.
func (h LoanHistory) OverdueOn(d money.Date) (OverdueEpisode, bool) {
	for _, o := range h.Overdues {
		if !d.Before(o.Since) && (o.CuredOn == nil || d.Before(*o.CuredOn)) {
			return o, true
		}
	}
	return OverdueEpisode{}, false
}

// LoanHistories reads the histories of the loans loanIDs (procfin's ids),
// in one statement, by loan id; a loan with nothing recorded has an empty
// history, one not found none. It reads what tx sees, so the repayments
// written in tx are in it.
func LoanHistories(ctx context.Context, tx *postgres.Tx, loanIDs []string) (map[string]LoanHistory, error) {
	out := make(map[string]LoanHistory, len(loanIDs))
	if len(loanIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		ID      string `db:"id"`
		History []byte `db:"history"`
	}
	err := tx.SelectContext(ctx, &rows, `
		SELECT l.id, json_build_object(
			'loan_id', l.id,
			'tranches', coalesce((SELECT json_agg(json_build_object('id', d.id, 'disbursement_id', d.bank_disbursement_id,
					'amount', d.amount::text, 'value_date', d.value_date, 'annual_rate', d.annual_rate::text, 'recorded_at', d.created_at)
					ORDER BY d.value_date, d.created_at, d.id)
				FROM disbursements d WHERE d.loan_id = l.id), '[]'),
			'repayments', coalesce((SELECT json_agg(json_build_object('id', r.id, 'seq', r.seq,
					'tranche_id', coalesce(r.disbursement_id::text, ''), 'principal', r.principal::text, 'interest', r.interest::text,
					'paid_on', r.paid_on, 'period_start', r.period_start, 'period_end', r.period_end, 'recorded_at', r.created_at) ORDER BY r.seq)
				FROM repayments r WHERE r.loan_id = l.id), '[]'),
			'overdues', coalesce((SELECT json_agg(json_build_object('since', o.since, 'cured_on', o.cured_on) ORDER BY o.since, o.id)
				FROM loan_overdues o WHERE o.loan_id = l.id), '[]')
		)::text AS history
		FROM loans l WHERE l.id = ANY($1::uuid[])`, pq.Array(loanIDs))
	if err != nil {
		return nil, postgres.Translate(err)
	}
	for _, r := range rows {
		var h LoanHistory
		if err := json.Unmarshal(r.History, &h); err != nil {
			return nil, errs.Wrap(errs.Internal, err, "read the history of loan %s", r.ID)
		}
		out[r.ID] = h
	}
	return out, nil
}
