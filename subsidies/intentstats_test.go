package subsidies

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"procfin/platform/postgres/pgtest"
)

// TestIntentStatsEmpty: without intents the figures are empty arrays,
// not null.
func TestIntentStatsEmpty(t *testing.T) {
	t.Parallel()
	s := NewService(pgtest.NewDB(t), PolicyInput{})
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"offers":[]`) || !strings.Contains(string(b), `"intents":[]`) {
		t.Fatalf("stats %s: want offers and intents as empty arrays", b)
	}
}

// TestIntentStats: each bank's answers to the needs of a month, and the
// month's needs, from intents and offers written with SQL; figures by
// hand.
func TestIntentStats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	const uscc = "913701009DEREMJE5A"
	contract := uuid.NewString()
	if _, err := db.Exec(`
		INSERT INTO issuers (id, name, jwks, algorithms, version) VALUES ('ccgp', 'CCGP', '{}', '{EdDSA}', 'v1');
		INSERT INTO purchasers (issuer_id, id, name) VALUES ('ccgp', 'p1', 'Purchaser');
		INSERT INTO suppliers (uscc, name, size_class) VALUES ('` + uscc + `', 'Qilu', 'small');
		INSERT INTO banks (id, name, base_url, jwks, algorithms, version) VALUES
			('bank-a', 'Alpha', 'http://127.0.0.1:9', '{}', '{EdDSA}', 'v1'),
			('bank-b', 'Beta', 'http://127.0.0.1:9', '{}', '{EdDSA}', 'v1'),
			('bank-c', 'Gamma', 'http://127.0.0.1:9', '{}', '{EdDSA}', 'v1'),
			('bank-d', 'Delta', 'http://127.0.0.1:9', '{}', '{EdDSA}', 'v1');
		INSERT INTO award_notices (id, issuer_id, notice_no, project_no, project_name, purchaser_id, supplier_uscc,
			amount, currency, awarded_on, procurement_method, status, version, digest, source)
		VALUES ('` + contract + `', 'ccgp', 'N1', 'P1', 'Project', 'p1', '` + uscc + `', 1000000, 'CNY', '2026-10-01', 'open', 'active', 1, 'd', 'signed');
		INSERT INTO contracts (id, issuer_id, contract_no, notice_id, purchaser_id, supplier_uscc, amount, currency,
			signed_on, period_start, period_end, status, version, digest, source)
		VALUES ('` + contract + `', 'ccgp', 'C1', '` + contract + `', 'p1', '` + uscc + `', 1000000, 'CNY',
			'2026-10-01', '2026-10-01', '2027-10-01', 'active', 1, 'd', 'signed')`); err != nil {
		t.Fatal(err)
	}
	intent := func(status, publishedAt string, banks ...string) string {
		t.Helper()
		id := uuid.NewString()
		var app any
		if status == "accepted" {
			a := uuid.NewString()
			if _, err := db.Exec(`INSERT INTO applications (id, supplier_uscc, contract_id, bank_id, amount, term_days, purpose,
				status, financing_held, verification, submitted_by) VALUES ($1, $2, $3, $4, 100000, 90, 'x', 'submitted', 0, '{}', 'test')`,
				a, uscc, contract, banks[0]); err != nil {
				t.Fatal(err)
			}
			app = a
		}
		closed := any(nil)
		if status != "open" {
			closed = publishedAt
		}
		if _, err := db.Exec(`INSERT INTO financing_intents (id, supplier_uscc, contract_id, amount, term_days, purpose, status,
			published_at, respond_by, published_by, verification, application_id, closed_at)
			VALUES ($1, $2, $3, 100000, 90, 'x', $4, $5, $5::timestamptz + interval '3 days', 'test', '{}', $6, $7)`,
			id, uscc, contract, status, publishedAt, app, closed); err != nil {
			t.Fatal(err)
		}
		for _, b := range banks {
			if _, err := db.Exec(`INSERT INTO intent_banks (intent_id, bank_id, consent_id) VALUES ($1, $2, $3)`,
				id, b, uuid.NewString()); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	offer := func(intent, bank, rate, status string) {
		t.Helper()
		id := uuid.NewString()
		if _, err := db.Exec(`INSERT INTO offers (id, intent_id, bank_id, bank_offer_id, amount, annual_rate, term_days,
			valid_until, status, event_id) VALUES ($1, $2, $3, 'o', 100000, $4, 90, now(), $5, $6)`,
			id, intent, bank, rate, status, "e-"+id); err != nil {
			t.Fatal(err)
		}
	}
	// November 2026 (Asia/Shanghai): six needs, I1 to I7 but I5.
	i1 := intent("accepted", "2026-11-02T10:00:00+08:00", "bank-a", "bank-b", "bank-c")
	offer(i1, "bank-a", "0.0345", "replaced")
	offer(i1, "bank-a", "0.0330", "accepted")
	offer(i1, "bank-b", "0.0350", "declined")
	i2 := intent("expired", "2026-11-05T10:00:00+08:00", "bank-a", "bank-b")
	offer(i2, "bank-a", "0.0361", "declined")
	i3 := intent("cancelled", "2026-11-10T10:00:00+08:00", "bank-b", "bank-c")
	offer(i3, "bank-c", "0.0310", "withdrawn")
	intent("open", "2026-11-20T10:00:00+08:00", "bank-a")    // I4
	intent("open", "2026-11-21T10:00:00+08:00", "bank-b")    // I6
	intent("expired", "2026-11-22T10:00:00+08:00", "bank-c") // I7
	// 2026-11-30 16:30 UTC is 2026-12-01 00:30 in Shanghai: December.
	i5 := intent("open", "2026-11-30T16:30:00Z", "bank-a", "bank-c")
	offer(i5, "bank-c", "0.0299", "made")

	st, err := NewService(db, PolicyInput{}).Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range st.Offers {
		line := fmt.Sprintf("%s %s %s asked %d answered %d offers %d accepted %d", o.Month, o.BankID, o.BankName,
			o.Asked, o.Answered, o.Offers, o.Accepted)
		if o.LowestRate != nil {
			line += fmt.Sprintf(" rates %s/%s/%s", o.LowestRate.Decimal().StringFixed(6), o.AverageRate.Decimal().StringFixed(6),
				o.HighestRate.Decimal().StringFixed(6))
		} else if o.AverageRate != nil || o.HighestRate != nil {
			line += " rates partly nil"
		}
		if o.MonthLowestRate != nil {
			line += " month lowest " + o.MonthLowestRate.Decimal().StringFixed(6)
		}
		got = append(got, line)
	}
	want := []string{
		// Alpha asked I1, I2, I4; answered I1, I2; offers 0.0345 (replaced),
		// 0.0330 (accepted), 0.0361: average (0.0345 + 0.0330 + 0.0361) / 3
		// = 0.1036 / 3 = 0.0345333… → 0.034533. Lowest of the month, any
		// bank: min(0.0345, 0.0330, 0.0350, 0.0361, 0.0310) = 0.0310.
		"2026-11 bank-a Alpha asked 3 answered 2 offers 3 accepted 1 rates 0.033000/0.034533/0.036100 month lowest 0.031000",
		// Beta asked I1, I2, I3, I6; answered I1 (0.0350, declined).
		"2026-11 bank-b Beta asked 4 answered 1 offers 1 accepted 0 rates 0.035000/0.035000/0.035000 month lowest 0.031000",
		// Gamma asked I1, I3, I7; answered I3 (0.0310, withdrawn).
		"2026-11 bank-c Gamma asked 3 answered 1 offers 1 accepted 0 rates 0.031000/0.031000/0.031000 month lowest 0.031000",
		// December: I5 asked of Alpha (no offer) and Gamma (0.0299).
		"2026-12 bank-a Alpha asked 1 answered 0 offers 0 accepted 0 month lowest 0.029900",
		"2026-12 bank-c Gamma asked 1 answered 1 offers 1 accepted 0 rates 0.029900/0.029900/0.029900 month lowest 0.029900",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("offers per bank and month:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got = got[:0]
	for _, m := range st.Intents {
		got = append(got, fmt.Sprintf("%s published %d answering %s open %d accepted %d expired %d cancelled %d",
			m.Month, m.Published, m.AverageAnswering, m.Open, m.Accepted, m.Expired, m.Cancelled))
	}
	want = []string{
		// Banks answering each November need: I1 2 (Alpha, Beta), I2 1,
		// I3 1, I4 0, I6 0, I7 0: 4 / 6 = 0.666… → 0.67.
		"2026-11 published 6 answering 0.67 open 2 accepted 1 expired 2 cancelled 1",
		"2026-12 published 1 answering 1.00 open 1 accepted 0 expired 0 cancelled 0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("intents per month:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
