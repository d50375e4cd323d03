-- +goose Up
-- A dead message about a financing intent (financing-intent,
-- intent-decision) has no application: its alert names the intent's
-- contract and supplier, and no application. The view is otherwise as
-- 00035 made it.
CREATE OR REPLACE VIEW alerts AS
SELECT p.status || '_payment' AS kind, p.received_at AS raised_at, 'contract_payment' AS entity_type, p.id::text AS entity_id,
    p.contract_id, p.contract_no, NULL::uuid AS application_id, coalesce(s.name, '') AS supplier_name,
    p.bank_id, coalesce(b.name, '') AS bank_name,
    CASE p.status
        WHEN 'misdirected' THEN format('%s paid on %s into account %s, not the locked account %s',
            p.amount, p.paid_on, p.payee_account->>'account_no', p.expected_account->>'account_no')
        ELSE p.detail
    END AS detail,
    'p:' || p.id::text AS sort_key
FROM contract_payments p
LEFT JOIN contracts c ON c.id = p.contract_id
LEFT JOIN suppliers s ON s.uscc = c.supplier_uscc
LEFT JOIN banks b ON b.id = p.bank_id
WHERE p.status IN ('misdirected', 'unmatched')
UNION ALL
SELECT 'disbursed_before_confirmation', r.disbursed_unconfirmed_at, 'application', a.id::text,
    a.contract_id, c.contract_no, a.id, s.name,
    a.bank_id, b.name,
    'the bank disbursed before the purchaser confirmed the receivable; the loan''s subsidy claims are held',
    'a:' || a.id::text
FROM repayment_accounts r
JOIN applications a ON a.id = r.application_id
JOIN contracts c ON c.id = a.contract_id
JOIN suppliers s ON s.uscc = a.supplier_uscc
JOIN banks b ON b.id = a.bank_id
WHERE r.disbursed_unconfirmed_at IS NOT NULL AND r.confirmed_at IS NULL
UNION ALL
SELECT 'amendment_pending', m.created_at, 'contract', c.id::text,
    c.id, c.contract_no, NULL::uuid, s.name,
    NULL, '',
    format('version %s waits for review: %s', m.version, array_to_string(m.reasons, ', ')),
    'c:' || c.id::text || '/' || m.version
FROM contract_amendments m
JOIN contracts c ON c.id = m.contract_id
JOIN suppliers s ON s.uscc = c.supplier_uscc
WHERE m.status = 'pending'
UNION ALL
SELECT 'overdue_loan', o.recorded_at, 'loan', l.id::text,
    a.contract_id, c.contract_no, a.id, s.name,
    l.bank_id, b.name,
    format('loan %s overdue since %s, principal %s', l.bank_loan_id, o.since, o.principal),
    'o:' || o.id
FROM loan_overdues o
JOIN loans l ON l.id = o.loan_id
JOIN applications a ON a.id = l.application_id
JOIN contracts c ON c.id = a.contract_id
JOIN suppliers s ON s.uscc = a.supplier_uscc
JOIN banks b ON b.id = l.bank_id
WHERE o.cured_on IS NULL
UNION ALL
SELECT 'dead_delivery', d.next_attempt_at, 'delivery', d.id::text,
    c.id, c.contract_no, a.id, s.name,
    d.bank_id, b.name,
    format('%s message undeliverable after %s attempts: %s', d.kind, d.attempts, d.last_error),
    'd:' || d.id
FROM deliveries d
LEFT JOIN applications a ON a.id = d.application_id
LEFT JOIN financing_intents i ON i.id = d.intent_id
JOIN contracts c ON c.id = coalesce(a.contract_id, i.contract_id)
JOIN suppliers s ON s.uscc = coalesce(a.supplier_uscc, i.supplier_uscc)
JOIN banks b ON b.id = d.bank_id
WHERE d.status = 'dead';

-- +goose Down
CREATE OR REPLACE VIEW alerts AS
SELECT p.status || '_payment' AS kind, p.received_at AS raised_at, 'contract_payment' AS entity_type, p.id::text AS entity_id,
    p.contract_id, p.contract_no, NULL::uuid AS application_id, coalesce(s.name, '') AS supplier_name,
    p.bank_id, coalesce(b.name, '') AS bank_name,
    CASE p.status
        WHEN 'misdirected' THEN format('%s paid on %s into account %s, not the locked account %s',
            p.amount, p.paid_on, p.payee_account->>'account_no', p.expected_account->>'account_no')
        ELSE p.detail
    END AS detail,
    'p:' || p.id::text AS sort_key
FROM contract_payments p
LEFT JOIN contracts c ON c.id = p.contract_id
LEFT JOIN suppliers s ON s.uscc = c.supplier_uscc
LEFT JOIN banks b ON b.id = p.bank_id
WHERE p.status IN ('misdirected', 'unmatched')
UNION ALL
SELECT 'disbursed_before_confirmation', r.disbursed_unconfirmed_at, 'application', a.id::text,
    a.contract_id, c.contract_no, a.id, s.name,
    a.bank_id, b.name,
    'the bank disbursed before the purchaser confirmed the receivable; the loan''s subsidy claims are held',
    'a:' || a.id::text
FROM repayment_accounts r
JOIN applications a ON a.id = r.application_id
JOIN contracts c ON c.id = a.contract_id
JOIN suppliers s ON s.uscc = a.supplier_uscc
JOIN banks b ON b.id = a.bank_id
WHERE r.disbursed_unconfirmed_at IS NOT NULL AND r.confirmed_at IS NULL
UNION ALL
SELECT 'amendment_pending', m.created_at, 'contract', c.id::text,
    c.id, c.contract_no, NULL::uuid, s.name,
    NULL, '',
    format('version %s waits for review: %s', m.version, array_to_string(m.reasons, ', ')),
    'c:' || c.id::text || '/' || m.version
FROM contract_amendments m
JOIN contracts c ON c.id = m.contract_id
JOIN suppliers s ON s.uscc = c.supplier_uscc
WHERE m.status = 'pending'
UNION ALL
SELECT 'overdue_loan', o.recorded_at, 'loan', l.id::text,
    a.contract_id, c.contract_no, a.id, s.name,
    l.bank_id, b.name,
    format('loan %s overdue since %s, principal %s', l.bank_loan_id, o.since, o.principal),
    'o:' || o.id
FROM loan_overdues o
JOIN loans l ON l.id = o.loan_id
JOIN applications a ON a.id = l.application_id
JOIN contracts c ON c.id = a.contract_id
JOIN suppliers s ON s.uscc = a.supplier_uscc
JOIN banks b ON b.id = l.bank_id
WHERE o.cured_on IS NULL
UNION ALL
SELECT 'dead_delivery', d.next_attempt_at, 'delivery', d.id::text,
    a.contract_id, c.contract_no, a.id, s.name,
    d.bank_id, b.name,
    format('%s message undeliverable after %s attempts: %s', d.kind, d.attempts, d.last_error),
    'd:' || d.id
FROM deliveries d
JOIN applications a ON a.id = d.application_id
JOIN contracts c ON c.id = a.contract_id
JOIN suppliers s ON s.uscc = a.supplier_uscc
JOIN banks b ON b.id = d.bank_id
WHERE d.status = 'dead';
