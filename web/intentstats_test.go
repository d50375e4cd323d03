package web

import (
	"net/http"
	"testing"

	"github.com/google/uuid"

	"procfin/platform/money"
)

// TestDashboardIntentStats: the statistics page shows the needs of each
// month and each bank's offers on them, rates as exact percentages.
func TestDashboardIntentStats(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	c.login("officer")
	p := c.get("/console")
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, "融资意向与银行报价", "还没有融资意向。")

	e.db.MustExec(`INSERT INTO banks (id, name, base_url, jwks, algorithms, version) VALUES
		('bank-a', '齐鲁银行', 'http://127.0.0.1:9', '{}', '{EdDSA}', 'v1'), ('bank-b', '泰安银行', 'http://127.0.0.1:9', '{}', '{EdDSA}', 'v1')`)
	intent := uuid.NewString()
	e.db.MustExec(`INSERT INTO financing_intents (id, supplier_uscc, contract_id, amount, term_days, purpose,
		published_at, respond_by, published_by, verification)
		VALUES ($1, $2, $3, 100000, 90, 'x', '2026-11-02T10:00:00+08:00', '2026-11-05T10:00:00+08:00', 'test', '{}')`,
		intent, quancheng, e.contract[quancheng])
	for _, b := range []string{"bank-a", "bank-b"} {
		e.db.MustExec(`INSERT INTO intent_banks (intent_id, bank_id, consent_id) VALUES ($1, $2, $3)`, intent, b, uuid.NewString())
	}
	for i, r := range []struct{ rate, status string }{{"0.0345", "replaced"}, {"0.0330", "replaced"}, {"0.0361", "made"}} {
		id := uuid.NewString()
		e.db.MustExec(`INSERT INTO offers (id, intent_id, bank_id, bank_offer_id, amount, annual_rate, term_days,
			valid_until, status, event_id) VALUES ($1, $2, 'bank-a', $3, 100000, $4, 90, now(), $5, $6)`,
			id, intent, "o"+string(rune('1'+i)), money.MustRate(r.rate), r.status, "e-"+id)
	}
	p = c.get("/console")
	wantStatus(t, p, http.StatusOK)
	// One need in 2026-11, one bank of two offering: 1.00 on average.
	// 齐鲁银行's rates: lowest 3.30 %, average (3.45 + 3.30 + 3.61) / 3 =
	// 10.36 / 3 = 3.45333… → 0.034533 = 3.4533 %, highest 3.61 %; 泰安银行
	// made none: "—".
	wantContains(t, p, `id="intents-by-month"`, `<td>2026-11</td><td class="num">1</td><td class="num">1.00</td>`,
		`<td>齐鲁银行 <span class="muted">bank-a</span></td><td class="num">1</td><td class="num">1</td><td class="num">3</td><td class="num">0</td><td class="num">3.30%</td><td class="num">3.4533%</td><td class="num">3.61%</td><td class="num">3.30%</td>`,
		`<td>泰安银行 <span class="muted">bank-b</span></td><td class="num">1</td><td class="num">0</td><td class="num">0</td><td class="num">0</td><td class="num">—</td><td class="num">—</td><td class="num">—</td><td class="num">3.30%</td>`)
}
