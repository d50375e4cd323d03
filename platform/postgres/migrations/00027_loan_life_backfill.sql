-- +goose Up
-- Loans recorded before migration 00026 get the life it records: a closed
-- application's loan closed (repaid, the only way it closed then) on the
-- Asia/Shanghai day it closed, its drawdown ended then; each loan overdue
-- an episode from its overdue_since, ended on its closing day when closed.
-- A closed loan is overdue no longer, so neither is its application
-- (supplier.not_overdue reads applications.overdue_since).
UPDATE loans l SET closed_on = t.day, close_reason = 'repaid', drawdown_ended_on = coalesce(l.drawdown_ended_on, t.day)
FROM (SELECT application_id, max((at AT TIME ZONE 'Asia/Shanghai')::date) AS day
      FROM application_transitions WHERE to_status = 'closed' GROUP BY application_id) t
WHERE t.application_id = l.application_id AND l.closed_on IS NULL;

INSERT INTO loan_overdues (loan_id, since, principal, cured_on)
SELECT l.id, l.overdue_since, l.overdue_principal,
       CASE WHEN l.closed_on IS NOT NULL THEN greatest(l.closed_on, l.overdue_since) END
FROM loans l
WHERE l.overdue_since IS NOT NULL AND NOT EXISTS (SELECT FROM loan_overdues o WHERE o.loan_id = l.id);

UPDATE loans SET overdue_since = NULL, overdue_principal = 0 WHERE closed_on IS NOT NULL AND overdue_since IS NOT NULL;
UPDATE applications SET overdue_since = NULL WHERE status = 'closed' AND overdue_since IS NOT NULL;

-- +goose Down
-- The rows written stay: they describe the loans as 00026's columns do.
SELECT 1;
