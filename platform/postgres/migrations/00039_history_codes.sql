-- +goose Up
-- An application's history entry says why in a stable code (cause; the
-- catalogue's words are cause.<code>) and the code's arguments
-- (cause_args: figures as decimal strings, days as YYYY-MM-DD, ids as
-- they are). The rows written before are given theirs: each English
-- sentence procfin wrote maps to its code, its figures read from the
-- sentence, and what the sentence did not name (the tranche a repayment
-- paid, a closed loan's id and day) from the loan. A cause that matches
-- none stays as it is, with no arguments.
ALTER TABLE application_transitions ADD COLUMN cause_args jsonb NOT NULL DEFAULT '{}';

UPDATE application_transitions SET cause = 'submitted' WHERE cause = 'application submitted and verified';
UPDATE application_transitions SET cause = 'requeued' WHERE cause = 'delivery re-queued by an administrator';
UPDATE application_transitions SET cause = 'received_before_delivery' WHERE cause = 'the bank reported the application received';
UPDATE application_transitions SET cause = 'received' WHERE cause = 'the bank registered the application';
UPDATE application_transitions SET cause = 'answered_before_delivery' WHERE cause = 'the bank answered before the delivery was recorded';

UPDATE application_transitions SET cause = 'delivered',
    cause_args = jsonb_build_object('reference', substring(cause FROM '^the bank accepted the application \(reference (.*)\)$'))
WHERE cause ~ '^the bank accepted the application \(reference .*\)$';

UPDATE application_transitions t SET cause = 'approved',
    cause_args = jsonb_build_object('amount', m.v[1], 'rate', m.v[2], 'term_days', m.v[3])
FROM (SELECT application_id, n, regexp_match(cause, '^approved (\S+) at (\S+) for (\d+) days$') AS v FROM application_transitions) m
WHERE m.application_id = t.application_id AND m.n = t.n AND m.v IS NOT NULL;

UPDATE application_transitions t SET cause = 'rejected',
    cause_args = jsonb_build_object('code', m.v[1], 'reason', m.v[2])
FROM (SELECT application_id, n, regexp_match(cause, '^rejected: ([^:]*): (.*)$') AS v FROM application_transitions) m
WHERE m.application_id = t.application_id AND m.n = t.n AND m.v IS NOT NULL AND t.to_status = 'rejected';

UPDATE application_transitions t SET cause = 'disbursed',
    cause_args = jsonb_build_object('tranche', m.v[1], 'amount', m.v[2], 'value_date', m.v[3],
        'loan', coalesce((SELECT l.bank_loan_id FROM loans l WHERE l.application_id = t.application_id LIMIT 1), ''))
FROM (SELECT application_id, n, regexp_match(cause, '^tranche (.*) of (\S+) disbursed on (\S+)$') AS v FROM application_transitions) m
WHERE m.application_id = t.application_id AND m.n = t.n AND m.v IS NOT NULL;

UPDATE application_transitions t SET cause = 'repayment',
    cause_args = jsonb_build_object('repayment', m.v[1], 'principal', m.v[2], 'interest', m.v[3], 'paid_on', m.v[4],
        'loan', coalesce((SELECT l.bank_loan_id FROM loans l WHERE l.application_id = t.application_id LIMIT 1), ''),
        'tranche', coalesce((SELECT d.bank_disbursement_id FROM loans l JOIN repayments r ON r.loan_id = l.id
            JOIN disbursements d ON d.id = r.disbursement_id
            WHERE l.application_id = t.application_id AND r.bank_repayment_id = m.v[1] LIMIT 1), ''))
FROM (SELECT application_id, n, regexp_match(cause, '^repayment (.*): principal (\S+), interest (\S+), paid on (\S+)$') AS v
    FROM application_transitions) m
WHERE m.application_id = t.application_id AND m.n = t.n AND m.v IS NOT NULL;

UPDATE application_transitions t SET cause = 'drawdown_ended_repaid',
    cause_args = jsonb_build_object('loan', m.v[1], 'on', m.v[2])
FROM (SELECT application_id, n, regexp_match(cause, '^the drawdown of loan (.*) ended on (\S+), all disbursed principal repaid$') AS v
    FROM application_transitions) m
WHERE m.application_id = t.application_id AND m.n = t.n AND m.v IS NOT NULL;

UPDATE application_transitions t SET cause = 'loan_closed_repaid',
    cause_args = jsonb_build_object('loan', m.v[1], 'on', m.v[2])
FROM (SELECT application_id, n, regexp_match(cause, '^loan (.*) closed on (\S+), repaid$') AS v FROM application_transitions) m
WHERE m.application_id = t.application_id AND m.n = t.n AND m.v IS NOT NULL;

UPDATE application_transitions t SET cause = CASE t.cause WHEN 'written_off' THEN 'loan_written_off' ELSE 'loan_closed_repaid' END,
    cause_args = jsonb_build_object('loan', coalesce(l.bank_loan_id, ''), 'on', coalesce(l.closed_on::text, ''))
FROM application_transitions o LEFT JOIN loans l ON l.application_id = o.application_id
WHERE o.application_id = t.application_id AND o.n = t.n AND t.to_status = 'closed' AND t.cause IN ('written_off', 'repaid in full');

UPDATE application_transitions SET cause = 'lapsed', cause_args = jsonb_build_object('reason', cause)
WHERE to_status = 'closed' AND cause IN ('expired', 'receivable_refused', 'declined_by_supplier');

UPDATE application_transitions SET cause = 'delivery_failed', cause_args = jsonb_build_object('detail', cause)
WHERE to_status = 'delivery_failed' AND cause <> 'consent_expired';

-- +goose Down
ALTER TABLE application_transitions DROP COLUMN cause_args;
