package lending_test

import (
	"strings"
	"testing"
)

// TestPaymentsAndAlertsUseIndexes: the treasury payment's queries and the
// alerts' pages are answered from indexes (as TestHotPathsUseIndexes).
func TestPaymentsAndAlertsUseIndexes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	app, err := w.apply("1000.00", true)
	if err != nil {
		t.Fatal(err)
	}
	alerts := `SELECT kind, raised_at, entity_type, entity_id, contract_id, contract_no, application_id, supplier_name,
			bank_id, bank_name, detail, sort_key FROM alerts WHERE %s
		ORDER BY raised_at DESC, sort_key DESC LIMIT 51`
	queries := map[string]string{
		"payment by system and id": `SELECT * FROM contract_payments WHERE system_id = 'sd-treasury' AND payment_id = 'TP-1'`,
		"contract by number":       `SELECT id FROM contracts WHERE issuer_id = 'jinan-pprc' AND contract_no = 'HT-1'`,
		"locks in force of contract": `SELECT a.id, r.account_no FROM applications a JOIN repayment_accounts r ON r.application_id = a.id
			WHERE a.contract_id = '` + w.contractID + `' AND r.status IN ('confirmed', 'locked') ORDER BY a.seq FOR SHARE OF r`,
		"payments of contract": `SELECT * FROM contract_payments WHERE contract_id = '` + w.contractID + `' AND seq < 100 ORDER BY seq DESC LIMIT 51`,
		"payments of application": `SELECT * FROM contract_payments WHERE contract_id = (SELECT contract_id FROM applications WHERE id = '` + app.ID + `')
			AND '` + app.ID + `' = ANY(application_ids) ORDER BY seq DESC`,
		"alerts, first page": strings.Replace(alerts, "%s", "true", 1),
		"alerts of a kind":   strings.Replace(alerts, "%s", "kind = 'overdue_loan'", 1),
		"alerts, next page":  strings.Replace(alerts, "%s", "(raised_at, sort_key) < (now(), 'p:"+app.ID+"')", 1),
		"misdirected of bank in month": `SELECT count(*), sum(amount) FROM contract_payments WHERE bank_id = 'qilu-bank'
			AND status = 'misdirected' AND paid_on >= '2026-11-01' AND paid_on < '2026-12-01'`,
	}
	conn, err := w.db.Connx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.ExecContext(ctx, `SET enable_seqscan = off`)
	for name, q := range queries {
		var plan []string
		if err := conn.SelectContext(ctx, &plan, `EXPLAIN `+q); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if text := strings.Join(plan, "\n"); strings.Contains(text, "Seq Scan") {
			t.Errorf("%s scans a whole table:\n%s", name, text)
		}
	}
}
