package lending_test

import (
	"strings"
	"testing"
)

// TestHotPathsUseIndexes: every query on the hot paths (intake, reads,
// bank events, the relay's claim) can be answered from an index. With
// sequential scans disabled the planner still picks one when no index
// fits, so a "Seq Scan" in the plan means a missing index. The audit
// sealer's queue (audit_unsealed) is read whole on purpose: it holds only
// the rows committed since the last seal, a quarter of a second ago.
func TestHotPathsUseIndexes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	app, err := w.apply("1000.00", true)
	if err != nil {
		t.Fatal(err)
	}
	queries := map[string]string{
		"application by id":        `SELECT * FROM applications WHERE id = '` + app.ID + `' FOR UPDATE`,
		"applications of supplier": `SELECT * FROM applications WHERE supplier_uscc = '` + uscc + `' AND seq < 1000 ORDER BY seq DESC LIMIT 51`,
		"applications of bank":     `SELECT * FROM applications WHERE bank_id = 'qilu-bank' ORDER BY seq DESC LIMIT 51`,
		"applications by status":   `SELECT * FROM applications WHERE status = 'submitted' ORDER BY seq DESC LIMIT 51`,
		"history":                  `SELECT * FROM application_transitions WHERE application_id = '` + app.ID + `' ORDER BY n`,
		"contract by id":           `SELECT * FROM contracts WHERE id = '` + w.contractID + `' FOR UPDATE`,
		"contracts of supplier":    `SELECT * FROM contracts WHERE supplier_uscc = '` + uscc + `' ORDER BY seq DESC LIMIT 51`,
		"line by id":               `SELECT * FROM credit_lines WHERE id = '` + w.lineID + `' FOR UPDATE`,
		"line by bank id":          `SELECT * FROM credit_lines WHERE bank_id = 'qilu-bank' AND bank_line_id = 'L1'`,
		"loan by bank id":          `SELECT * FROM loans WHERE bank_id = 'qilu-bank' AND bank_loan_id = 'LN-1'`,
		"loans of application":     `SELECT * FROM loans WHERE application_id = '` + app.ID + `'`,
		"bank event inbox":         `SELECT body_hash FROM bank_events WHERE bank_id = 'qilu-bank' AND event_id = 'e1'`,
		"due deliveries":           `SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT 16 FOR UPDATE SKIP LOCKED`,
		"delivery of application":  `SELECT * FROM deliveries WHERE application_id = '` + app.ID + `'`,
		"due deliveries in order": `SELECT id FROM deliveries AS n WHERE status = 'pending' AND next_attempt_at <= now()
			AND (kind = 'credit-application' OR NOT EXISTS (SELECT FROM deliveries AS e WHERE e.application_id = n.application_id AND e.id < n.id
				AND (e.status = 'pending' OR e.locked_until >= now())))
			ORDER BY next_attempt_at LIMIT 16 FOR UPDATE SKIP LOCKED`,
		"consents of supplier": `SELECT c.id FROM applications a JOIN consents c ON c.application_id = a.id LEFT JOIN banks b ON b.id = c.bank_id
			WHERE a.supplier_uscc = '` + uscc + `' AND a.seq < 1000 ORDER BY a.seq DESC LIMIT 51`,
		"consent by id": `SELECT c.id FROM applications a JOIN consents c ON c.application_id = a.id LEFT JOIN banks b ON b.id = c.bank_id
			WHERE c.id = '` + app.ID + `'`,
		"idempotency key":       `SELECT * FROM idempotency_keys WHERE scope = 'user:1' AND key = 'k'`,
		"audit of entity":       `SELECT * FROM audit_log WHERE entity_type = 'application' AND entity_id = '` + app.ID + `' AND id > 0 ORDER BY id LIMIT 51`,
		"audit chain from seq":  `SELECT * FROM audit_chain c LEFT JOIN audit_log a ON a.id = c.audit_id WHERE c.seq > 0 ORDER BY c.seq LIMIT 5000`,
		"audit rows to seal":    `SELECT * FROM audit_log a WHERE a.id = ANY(ARRAY[1, 2]::bigint[])`,
		"audit rows with links": `SELECT * FROM audit_log a LEFT JOIN audit_chain c ON c.audit_id = a.id WHERE a.entity_type = 'application' AND a.entity_id = '` + app.ID + `' AND a.id > 0 ORDER BY a.id LIMIT 51`,
		"batch of applications": `SELECT * FROM applications WHERE id = ANY(ARRAY['` + app.ID + `']::uuid[]) ORDER BY id FOR UPDATE`,
		"batch of events' loans": `SELECT a.*, l.* FROM applications a
			LEFT JOIN unnest(ARRAY['` + app.ID + `']::uuid[], ARRAY['LN-1']) AS v(application_id, bank_loan_id) ON v.application_id = a.id
			LEFT JOIN loans l ON l.bank_id = a.bank_id AND l.bank_loan_id = v.bank_loan_id
			LEFT JOIN credit_lines cl ON cl.id = a.credit_line_id
			WHERE a.id = ANY(ARRAY['` + app.ID + `']::uuid[]) ORDER BY a.id FOR UPDATE OF a`,
		"batch's barred suppliers": `SELECT supplier_uscc, min(overdue_since), max(written_off_on) FROM applications
			WHERE supplier_uscc = ANY(ARRAY['` + uscc + `']) AND (overdue_since IS NOT NULL OR written_off_on > '2025-11-20'::date)
			GROUP BY supplier_uscc`,
		"repayments paid in a period": `SELECT seq, principal FROM repayments WHERE loan_id = '` + app.ID + `' AND seq < 100
			AND paid_on > '2026-10-01'::date AND paid_on < '2026-10-02'::date AND principal > 0`,
		"repayments paid before a period": `SELECT disbursement_id, sum(principal), max(paid_on) FROM repayments WHERE loan_id = '` + app.ID + `'
			AND seq < 100 AND paid_on <= '2026-10-01'::date AND principal > 0 GROUP BY disbursement_id`,
		"open overdue of loan": `SELECT * FROM loan_overdues WHERE loan_id = '` + app.ID + `' AND cured_on IS NULL`,
		"batch's supplier years": `SELECT * FROM unnest(ARRAY['` + uscc + `'], ARRAY[2026]) AS v(supplier_uscc, year)
			JOIN subsidy_supplier_years y ON y.supplier_uscc = v.supplier_uscc AND y.year = v.year
			LEFT JOIN suppliers s ON s.uscc = v.supplier_uscc`,
		"batch of contracts":     `SELECT * FROM contracts WHERE id = ANY(ARRAY['` + w.contractID + `']::uuid[]) ORDER BY id FOR UPDATE`,
		"batch of lines":         `SELECT * FROM credit_lines WHERE id = ANY(ARRAY['` + w.lineID + `']::uuid[]) ORDER BY id FOR UPDATE`,
		"batch holds":            `UPDATE contracts AS c SET financed = c.financed + v.delta FROM unnest(ARRAY['` + w.contractID + `']::uuid[], ARRAY[1]::numeric[]) AS v(id, delta) WHERE c.id = v.id`,
		"evidence of contracts":  `SELECT n.id FROM unnest(ARRAY['` + w.contractID + `']::uuid[]) AS v(notice_id) JOIN award_notices n ON n.id = v.notice_id JOIN suppliers s ON s.uscc = n.supplier_uscc`,
		"policy in force":        `SELECT * FROM subsidy_policies WHERE effective_from <= '2026-12-01' ORDER BY effective_from DESC, version DESC LIMIT 1`,
		"supplier year":          `SELECT * FROM subsidy_supplier_years WHERE supplier_uscc = '` + uscc + `' AND year = 2026`,
		"seen message":           `SELECT * FROM seen_messages WHERE sender = 'qilu-bank' AND jti = 'j'`,
		"user by name":           `SELECT * FROM users WHERE username = 'alice'`,
		"award notice by number": `SELECT * FROM award_notices WHERE issuer_id = 'jinan-pprc' AND notice_no = 'N-C1'`,
		"consent of application": `SELECT * FROM consents WHERE application_id = '` + app.ID + `'`,
		"account of application": `SELECT * FROM repayment_accounts WHERE application_id = '` + app.ID + `'`,
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
