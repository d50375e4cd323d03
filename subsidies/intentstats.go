package subsidies

import (
	"context"

	"procfin/platform/money"
	"procfin/platform/postgres"
)

// The figures of competing offers (融资意向) read package lending's
// financing_intents, intent_banks and offers; an intent and its offers
// count in the month (Asia/Shanghai) the intent was published.

// OfferMonth is one bank's answers to the needs published in one month.
// The rates are those of every offer the bank made on them (a replaced or
// withdrawn offer was offered too); nil when it made none.
type OfferMonth struct {
	BankID   string `db:"bank_id" json:"bank_id"`
	BankName string `db:"bank_name" json:"bank_name"`
	Month    string `db:"month" json:"month"` // YYYY-MM
	// Asked: the needs sent to the bank; Answered: those it made at
	// least one offer on; Offers: the offers it made; Accepted: its
	// offers the supplier accepted.
	Asked       int         `db:"asked" json:"needs_asked"`
	Answered    int         `db:"answered" json:"needs_answered"`
	Offers      int         `db:"offers" json:"offers_made"`
	Accepted    int         `db:"accepted" json:"offers_accepted"`
	LowestRate  *money.Rate `db:"lowest_rate" json:"lowest_rate"`
	AverageRate *money.Rate `db:"average_rate" json:"average_rate"` // rounded half-up to 6 places
	HighestRate *money.Rate `db:"highest_rate" json:"highest_rate"`
	// MonthLowestRate is the lowest rate any bank offered on the month's
	// needs, so the bank's rates compare with the best.
	MonthLowestRate *money.Rate `db:"month_lowest_rate" json:"month_lowest_rate"`
}

// IntentMonth is the needs published in one month: how many, the
// average number of banks that made an offer on one (a decimal string,
// rounded half-up to 2 places), and how many are open, accepted, expired
// and cancelled now.
type IntentMonth struct {
	Month            string `db:"month" json:"month"` // YYYY-MM
	Published        int    `db:"published" json:"published"`
	AverageAnswering string `db:"average_answering" json:"average_banks_answering"`
	Open             int    `db:"open" json:"open"`
	Accepted         int    `db:"accepted" json:"accepted"`
	Expired          int    `db:"expired" json:"expired"`
	Cancelled        int    `db:"cancelled" json:"cancelled"`
}

// NUMERIC's round() rounds halves away from zero: half-up for these
// figures, which are never negative.
const offerMonths = `
	WITH i AS (
		SELECT id, to_char(published_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS m FROM financing_intents
	), o AS (
		SELECT o.bank_id, i.m, o.annual_rate, o.status FROM offers o JOIN i ON i.id = o.intent_id
	), asked AS (
		SELECT ib.bank_id, i.m, count(*) AS asked,
			count(*) FILTER (WHERE EXISTS (SELECT 1 FROM offers o WHERE o.intent_id = ib.intent_id AND o.bank_id = ib.bank_id)) AS answered
		FROM intent_banks ib JOIN i ON i.id = ib.intent_id GROUP BY ib.bank_id, i.m
	), made AS (
		SELECT bank_id, m, count(*) AS offers, count(*) FILTER (WHERE status = 'accepted') AS accepted,
			min(annual_rate) AS lowest_rate, round(avg(annual_rate), 6) AS average_rate, max(annual_rate) AS highest_rate
		FROM o GROUP BY bank_id, m
	), low AS (
		SELECT m, min(annual_rate) AS month_lowest_rate FROM o GROUP BY m
	)
	SELECT a.bank_id, b.name AS bank_name, a.m AS month, a.asked, a.answered,
		coalesce(made.offers, 0) AS offers, coalesce(made.accepted, 0) AS accepted,
		made.lowest_rate, made.average_rate, made.highest_rate, low.month_lowest_rate
	FROM asked a JOIN banks b ON b.id = a.bank_id
	LEFT JOIN made ON made.bank_id = a.bank_id AND made.m = a.m
	LEFT JOIN low ON low.m = a.m
	ORDER BY a.m, a.bank_id`

const intentMonths = `
	WITH i AS (
		SELECT i.status, to_char(i.published_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS m,
			(SELECT count(DISTINCT o.bank_id) FROM offers o WHERE o.intent_id = i.id) AS answering
		FROM financing_intents i
	)
	SELECT m AS month, count(*) AS published, round(avg(answering), 2)::text AS average_answering,
		count(*) FILTER (WHERE status = 'open') AS open,
		count(*) FILTER (WHERE status = 'accepted') AS accepted,
		count(*) FILTER (WHERE status = 'expired') AS expired,
		count(*) FILTER (WHERE status = 'cancelled') AS cancelled
	FROM i GROUP BY m ORDER BY m`

// intentStats fills the figures of competing offers into st.
func (s *Service) intentStats(ctx context.Context, st *Stats) error {
	st.Offers, st.Intents = []OfferMonth{}, []IntentMonth{}
	if err := s.db.SelectContext(ctx, &st.Offers, offerMonths); err != nil {
		return postgres.Translate(err)
	}
	return postgres.Translate(s.db.SelectContext(ctx, &st.Intents, intentMonths))
}
