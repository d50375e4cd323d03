package subsidies

import (
	"context"

	"procfin/platform/money"
	"procfin/platform/postgres"
)

// The finance bureau's figures read package lending's tables (banks,
// applications and their transitions, disbursements, repayments, loans);
// they only read them. Months are calendar months in Asia/Shanghai.

// BankMonth is one bank's figures for one month.
type BankMonth struct {
	BankID       string       `db:"bank_id" json:"bank_id"`
	Month        string       `db:"month" json:"month"` // YYYY-MM
	Applications int          `db:"applications" json:"applications"`
	Approvals    int          `db:"approvals" json:"approvals"`
	Financed     money.Amount `db:"financed" json:"financed"`       // disbursed in the month
	Outstanding  money.Amount `db:"outstanding" json:"outstanding"` // at the month's end
}

// ApprovalTimes are the percentiles of the time from submission to the
// bank's approval, in whole seconds (nil when nothing was approved).
type ApprovalTimes struct {
	Count      int    `db:"n" json:"count"`
	P50Seconds *int64 `db:"p50" json:"p50_seconds"`
	P90Seconds *int64 `db:"p90" json:"p90_seconds"`
}

// SubsidyFigures are the programme's money: what was paid (claims in
// closed batches), what is approved and waits for payment, and each
// year's budget with what is left of it.
type SubsidyFigures struct {
	Paid     money.Amount `db:"paid" json:"paid"`
	Approved money.Amount `db:"approved" json:"approved_unpaid"`
	Pending  money.Amount `db:"pending" json:"pending"`
	Budgets  []Budget     `db:"-" json:"budgets"`
}

// Stats are the officers' overview (GET /v1/stats).
type Stats struct {
	Banks         []BankMonth    `json:"banks"`
	ApprovalTimes ApprovalTimes  `json:"approval_times"`
	Subsidy       SubsidyFigures `json:"subsidy"`
	Payments      PaymentFigures `json:"payments"`
	// Competing offers (融资意向): each bank's answers, and the needs, per month.
	Offers  []OfferMonth  `json:"offers"`
	Intents []IntentMonth `json:"intents"`
}

// PaymentFigures count the treasury's payments that went wrong: paid
// into an account other than the locked one (misdirected, with their sum)
// or naming no contract procfin knows (unmatched).
type PaymentFigures struct {
	Misdirected       int          `db:"misdirected" json:"misdirected"`
	MisdirectedAmount money.Amount `db:"misdirected_amount" json:"misdirected_amount"`
	Unmatched         int          `db:"unmatched" json:"unmatched"`
}

// The month's end is the start of the next month: dates before it count.
const bankMonths = `
	WITH months AS (
		SELECT DISTINCT bank_id, m FROM (
			SELECT bank_id, to_char(created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS m FROM applications
			UNION SELECT a.bank_id, to_char(t.at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')
				FROM application_transitions t JOIN applications a ON a.id = t.application_id WHERE t.to_status = 'approved'
			UNION SELECT bank_id, to_char(value_date, 'YYYY-MM') FROM disbursements
			UNION SELECT bank_id, to_char(paid_on, 'YYYY-MM') FROM repayments
		) x
	)
	SELECT mo.bank_id, mo.m AS month,
		(SELECT count(*) FROM applications a WHERE a.bank_id = mo.bank_id
			AND to_char(a.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') = mo.m) AS applications,
		(SELECT count(*) FROM application_transitions t JOIN applications a ON a.id = t.application_id
			WHERE a.bank_id = mo.bank_id AND t.to_status = 'approved'
			AND to_char(t.at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') = mo.m) AS approvals,
		(SELECT coalesce(sum(amount), 0) FROM disbursements d WHERE d.bank_id = mo.bank_id
			AND to_char(d.value_date, 'YYYY-MM') = mo.m) AS financed,
		(SELECT coalesce(sum(amount), 0) FROM disbursements d WHERE d.bank_id = mo.bank_id
			AND d.value_date < (mo.m || '-01')::date + interval '1 month')
		- (SELECT coalesce(sum(principal), 0) FROM repayments r WHERE r.bank_id = mo.bank_id
			AND r.paid_on < (mo.m || '-01')::date + interval '1 month') AS outstanding
	FROM months mo ORDER BY month, bank_id`

// Stats computes the overview. Returns internal on database failure.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Banks: []BankMonth{}}
	if err := s.db.SelectContext(ctx, &st.Banks, bankMonths); err != nil {
		return st, postgres.Translate(err)
	}
	// Submission is the application's creation; approval its first move to approved.
	err := s.db.GetContext(ctx, &st.ApprovalTimes, `
		WITH d AS (
			SELECT min(t.at) - a.created_at AS took
			FROM applications a JOIN application_transitions t ON t.application_id = a.id AND t.to_status = 'approved'
			GROUP BY a.id, a.created_at
		)
		SELECT count(*) AS n,
			round(extract(epoch FROM percentile_disc(0.5) WITHIN GROUP (ORDER BY took)))::bigint AS p50,
			round(extract(epoch FROM percentile_disc(0.9) WITHIN GROUP (ORDER BY took)))::bigint AS p90
		FROM d`)
	if err != nil {
		return st, postgres.Translate(err)
	}
	if err := s.db.GetContext(ctx, &st.Subsidy, `
		SELECT coalesce(sum(amount) FILTER (WHERE status = 'paid'), 0) AS paid,
			coalesce(sum(amount) FILTER (WHERE status = 'approved'), 0) AS approved,
			coalesce(sum(amount) FILTER (WHERE status = 'pending'), 0) AS pending
		FROM subsidy_claims`); err != nil {
		return st, postgres.Translate(err)
	}
	if err := s.db.GetContext(ctx, &st.Payments, `
		SELECT count(*) FILTER (WHERE status = 'misdirected') AS misdirected,
			coalesce(sum(amount) FILTER (WHERE status = 'misdirected'), 0) AS misdirected_amount,
			count(*) FILTER (WHERE status = 'unmatched') AS unmatched
		FROM contract_payments WHERE status IN ('misdirected', 'unmatched')`); err != nil {
		return st, postgres.Translate(err)
	}
	st.Subsidy.Budgets = []Budget{}
	if err := s.db.SelectContext(ctx, &st.Subsidy.Budgets, `SELECT year, budget, used FROM subsidy_budgets ORDER BY year`); err != nil {
		return st, postgres.Translate(err)
	}
	for i := range st.Subsidy.Budgets {
		b := &st.Subsidy.Budgets[i]
		b.Left = b.Budget.Sub(b.Used)
	}
	if err := s.intentStats(ctx, &st); err != nil {
		return st, err
	}
	return st, nil
}

// BankReportLine is one bank's line of the monthly report to the finance
// bureau.
type BankReportLine struct {
	BankID       string       `db:"bank_id"`
	BankName     string       `db:"bank_name"`
	Applications int          `db:"applications"`
	Approvals    int          `db:"approvals"`
	Disbursed    money.Amount `db:"disbursed"`   // in the month
	Outstanding  money.Amount `db:"outstanding"` // at the month's end
	Overdue      money.Amount `db:"overdue"`     // overdue principal at the month's end (loan_overdues)
	// Misdirected payments of the bank's contracts paid in the month
	// (contract_payments), and their sum.
	Misdirected       int          `db:"misdirected"`
	MisdirectedAmount money.Amount `db:"misdirected_amount"`
}

// BankReport returns every bank's figures for the month (first day of the
// month given), as they were at its end: overdue is the principal of the
// overdue episodes begun by the month's last day and not cured by then, of
// loans not closed by then. Returns internal on database failure.
func (s *Service) BankReport(ctx context.Context, month money.Date) ([]BankReportLine, error) {
	lines := []BankReportLine{}
	err := s.db.SelectContext(ctx, &lines, `
		WITH p AS (SELECT $1::date AS m0, ($1::date + interval '1 month')::date AS m1)
		SELECT b.id AS bank_id, b.name AS bank_name,
			(SELECT count(*) FROM applications a WHERE a.bank_id = b.id
				AND a.created_at >= p.m0::timestamp AT TIME ZONE 'Asia/Shanghai'
				AND a.created_at < p.m1::timestamp AT TIME ZONE 'Asia/Shanghai') AS applications,
			(SELECT count(*) FROM application_transitions t JOIN applications a ON a.id = t.application_id
				WHERE a.bank_id = b.id AND t.to_status = 'approved'
				AND t.at >= p.m0::timestamp AT TIME ZONE 'Asia/Shanghai'
				AND t.at < p.m1::timestamp AT TIME ZONE 'Asia/Shanghai') AS approvals,
			(SELECT coalesce(sum(amount), 0) FROM disbursements d WHERE d.bank_id = b.id
				AND d.value_date >= p.m0 AND d.value_date < p.m1) AS disbursed,
			(SELECT coalesce(sum(amount), 0) FROM disbursements d WHERE d.bank_id = b.id AND d.value_date < p.m1)
			- (SELECT coalesce(sum(principal), 0) FROM repayments r WHERE r.bank_id = b.id AND r.paid_on < p.m1) AS outstanding,
			(SELECT coalesce(sum(o.principal), 0) FROM loan_overdues o JOIN loans l ON l.id = o.loan_id
				WHERE l.bank_id = b.id AND o.since < p.m1 AND (o.cured_on IS NULL OR o.cured_on >= p.m1)
				AND (l.closed_on IS NULL OR l.closed_on >= p.m1)) AS overdue,
			(SELECT count(*) FROM contract_payments cp WHERE cp.bank_id = b.id AND cp.status = 'misdirected'
				AND cp.paid_on >= p.m0 AND cp.paid_on < p.m1) AS misdirected,
			(SELECT coalesce(sum(cp.amount), 0) FROM contract_payments cp WHERE cp.bank_id = b.id AND cp.status = 'misdirected'
				AND cp.paid_on >= p.m0 AND cp.paid_on < p.m1) AS misdirected_amount
		FROM banks b, p ORDER BY b.id`, month)
	return lines, postgres.Translate(err)
}
