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

// LoanHistory is what a loan's subsidy claims are computed from: its
// tranches, in the order a whole-loan repayment reduces them (oldest
// first: value date, then recorded), the repayments the claims need in the
// order they were recorded (LoanHistories says which; a sum of several
// has no id and seq 0), the times it was overdue, and whether the
// purchaser has confirmed its repayment account (its claims are held until
// then).
type LoanHistory struct {
	LoanID     string           `json:"loan_id"`
	Confirmed  bool             `json:"confirmed"` // the application's lock has its confirmed_at
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

// ClaimOf names a repayment whose subsidy claim is to be computed: its
// loan, its place in the order repayments were recorded, and its interest
// period [Start, End).
type ClaimOf struct {
	LoanID      string
	RepaymentID string
	Seq         int64
	Start, End  money.Date
}

// LoanHistories reads, in one statement, the histories of the loans of the
// repayments cs, by loan id, as far as those repayments' claims need them
// (a loan not found has none): whether the purchaser confirmed its
// repayment account, its overdue episodes, the tranches the
// claims cover (those named, or all for a whole-loan repayment or when a
// replay needs them), the repayments cs name, and the earlier repayments that may change a
// tranche's principal on a day of one of the periods. Of a loan's
// repayments of some principal paid on or before every period's start,
// those recorded before all of cs's (seq below theirs) count on all the
// periods' days: they come summed per tranche, as one entry per tranche
// (no id, seq 0, paid on the latest of them); the others come one by one,
// as do those paid inside the periods. Those paid on or after every
// period's end count on none and are left out, as are those of no
// principal. A whole-loan repayment's principal is shared among the
// tranches by replaying the loan's repayments in order, so a loan of
// several tranches with one before cs comes whole. It reads what tx sees,
// so the repayments written in tx are in it.
//
// So the read stays as small as the claims need, however many repayments
// a loan has: the index repayments_paid_on finds those paid before or
// inside a period, and the sum runs in the database.
func LoanHistories(ctx context.Context, tx *postgres.Tx, cs []ClaimOf) (map[string]LoanHistory, error) {
	out := make(map[string]LoanHistory, len(cs))
	if len(cs) == 0 {
		return out, nil
	}
	loans, seqs, starts, ends := make([]string, len(cs)), make([]int64, len(cs)), make([]string, len(cs)), make([]string, len(cs))
	repayments := make([]string, len(cs))
	for i, c := range cs {
		loans[i], seqs[i], starts[i], ends[i] = c.LoanID, c.Seq, c.Start.String(), c.End.String()
		repayments[i] = c.RepaymentID
	}
	var rows []struct {
		ID      string `db:"id"`
		History []byte `db:"history"`
	}
	err := tx.SelectContext(ctx, &rows, `
		WITH q AS (
			SELECT loan_id, min(seq) AS seq_min, max(seq) AS seq_max, min(s) AS s_min, max(e) AS e_max
			FROM unnest($1::uuid[], $2::bigint[], $3::date[], $4::date[]) AS v(loan_id, seq, s, e) GROUP BY loan_id
		), l AS MATERIALIZED (
			SELECT l.id, l.application_id, q.seq_min, q.seq_max, q.s_min, q.e_max,
				(SELECT min(d.id::text) FROM disbursements d WHERE d.loan_id = l.id
					HAVING count(*) = 1)::uuid AS single,
				(SELECT count(*) > 1 FROM disbursements d WHERE d.loan_id = l.id)
				AND EXISTS (SELECT FROM repayments r WHERE r.loan_id = l.id AND r.disbursement_id IS NULL
					AND r.principal > 0 AND r.seq < q.seq_max) AS whole,
				EXISTS (SELECT FROM repayments r WHERE r.id = ANY($5::uuid[]) AND r.loan_id = l.id
					AND r.disbursement_id IS NULL) AS whole_claim
			FROM q JOIN loans l ON l.id = q.loan_id
		)
		SELECT l.id, json_build_object(
			'loan_id', l.id,
			'confirmed', EXISTS (SELECT FROM repayment_accounts ra WHERE ra.application_id = l.application_id AND ra.confirmed_at IS NOT NULL),
			'tranches', coalesce((SELECT json_agg(json_build_object('id', d.id, 'disbursement_id', d.bank_disbursement_id,
					'amount', d.amount::text, 'value_date', d.value_date, 'annual_rate', d.annual_rate::text, 'recorded_at', d.created_at)
					ORDER BY d.value_date, d.created_at, d.id)
				FROM disbursements d WHERE d.loan_id = l.id AND (l.whole OR l.whole_claim
					OR d.id IN (SELECT r.disbursement_id FROM repayments r WHERE r.id = ANY($5::uuid[])))), '[]'),
			'repayments', coalesce((SELECT json_agg(json_build_object('id', x.id, 'seq', x.seq,
					'tranche_id', coalesce(x.disbursement_id::text, ''), 'principal', x.principal::text, 'interest', x.interest::text,
					'paid_on', x.paid_on, 'period_start', x.period_start, 'period_end', x.period_end, 'recorded_at', x.created_at) ORDER BY x.seq)
				FROM (
					SELECT r.id::text, r.seq, r.disbursement_id, r.principal, r.interest, r.paid_on, r.period_start, r.period_end, r.created_at
					FROM repayments r WHERE r.loan_id = l.id AND l.whole
					UNION ALL
					SELECT r.id::text, r.seq, r.disbursement_id, r.principal, r.interest, r.paid_on, r.period_start, r.period_end, r.created_at
					FROM repayments r WHERE r.id = ANY($5::uuid[]) AND r.loan_id = l.id AND NOT l.whole
					UNION ALL
					SELECT r.id::text, r.seq, r.disbursement_id, r.principal, r.interest, r.paid_on, r.period_start, r.period_end, r.created_at
					FROM repayments r WHERE r.loan_id = l.id AND NOT l.whole AND r.paid_on < l.e_max AND r.principal > 0
						AND (r.paid_on > l.s_min OR r.seq >= l.seq_min) AND r.seq < l.seq_max AND r.id <> ALL($5::uuid[])
					UNION ALL
					SELECT '', 0, coalesce(r.disbursement_id, l.single), sum(r.principal), 0, max(r.paid_on), NULL, NULL, min(r.created_at)
					FROM repayments r WHERE r.loan_id = l.id AND NOT l.whole AND r.paid_on <= l.s_min
						AND r.seq < l.seq_min AND r.principal > 0
					GROUP BY coalesce(r.disbursement_id, l.single)
				) x), '[]'),
			'overdues', coalesce((SELECT json_agg(json_build_object('since', o.since, 'cured_on', o.cured_on) ORDER BY o.since, o.id)
				FROM loan_overdues o WHERE o.loan_id = l.id), '[]')
		)::text AS history
		FROM l`, pq.Array(loans), pq.Array(seqs), pq.Array(starts), pq.Array(ends), pq.Array(repayments))
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
