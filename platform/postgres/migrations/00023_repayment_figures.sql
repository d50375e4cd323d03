-- +goose Up
-- Repayments name their tranche, and their figures are checked
-- (bank-protocol.md 1.1). A tranche (a disbursement row) keeps what it
-- has outstanding. A repayment names its tranche (disbursements.id; NULL: the loan as a
-- whole, which repays the oldest tranches first), and a repayment with
-- interest 0 may come without an interest period (NULL start and end).
-- What a tranche has outstanding is kept on it (amount − the principal
-- repaid on it), never below zero. Its rules are domains, not CHECK
-- constraints: every repayment now writes its tranche, and PostgreSQL
-- rebuilds a table's CHECK constraints for every statement writing it
-- (migration 00020; one more CHECK here cost a repayment about 0.2 ms).
ALTER TABLE disbursements
    DROP CONSTRAINT disbursements_amount_check,
    ALTER COLUMN amount TYPE amount_positive,
    ADD COLUMN outstanding amount_nonnegative;

-- What loans repaid so far, on their tranches oldest first (earliest value
-- date, then earliest recorded).
WITH t AS (
    SELECT d.id, d.amount, l.repaid_principal AS repaid,
        coalesce(sum(d.amount) OVER (PARTITION BY d.loan_id ORDER BY d.value_date, d.created_at, d.id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
    FROM disbursements d JOIN loans l ON l.id = d.loan_id
)
UPDATE disbursements d SET outstanding = d.amount - least(t.amount, greatest(t.repaid - t.before, 0))
FROM t WHERE d.id = t.id;
ALTER TABLE disbursements ALTER COLUMN outstanding SET NOT NULL;
-- Every repayment updates its tranche's outstanding, which no index holds:
-- with room on the page the update is a HOT one (as for deliveries,
-- migration 00021), not a new entry in each of the table's three indexes.
ALTER TABLE disbursements SET (fillfactor = 50);

-- No foreign key: the tranche is one of the repayment's own loan, checked
-- in the statement that writes the repayment, under its application's lock.
ALTER TABLE repayments
    ADD COLUMN disbursement_id uuid,
    ALTER COLUMN period_start DROP NOT NULL,
    ALTER COLUMN period_end DROP NOT NULL;

-- The overlap check: per loan and tranche (NULL: the whole loan), the
-- period starting last before the new one ends. It serves every lookup of
-- a loan's repayments, as repayments_loan did.
CREATE INDEX repayments_periods ON repayments (loan_id, disbursement_id, period_start);
DROP INDEX repayments_loan;

-- +goose Down
ALTER TABLE disbursements RESET (fillfactor);
CREATE INDEX repayments_loan ON repayments (loan_id);
DROP INDEX repayments_periods;
UPDATE repayments SET period_start = paid_on, period_end = paid_on WHERE period_start IS NULL;
ALTER TABLE repayments
    ALTER COLUMN period_end SET NOT NULL,
    ALTER COLUMN period_start SET NOT NULL,
    DROP COLUMN disbursement_id;
ALTER TABLE disbursements
    DROP COLUMN outstanding,
    ALTER COLUMN amount TYPE numeric(17,2),
    ADD CONSTRAINT disbursements_amount_check CHECK (amount > 0);
