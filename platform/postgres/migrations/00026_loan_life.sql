-- +goose Up
-- The loan's whole life (bank-protocol.md 1.1, "Closing, overdue and
-- cure"; domain.md 1.1, "Subsidy, day by day").
--
-- A loan's drawdown ends (loan.drawdown_ended, or its closing) and it
-- closes (loan.closed: repaid or written_off; or by itself when nothing
-- is outstanding and nothing more will be drawn).
-- A column's own rule is a domain (as in migration 00020).
CREATE DOMAIN loan_close_reason AS text CHECK (VALUE IN ('', 'repaid', 'written_off', 'lapsed'));
ALTER TABLE loans
    ADD COLUMN drawdown_ended_on date,
    ADD COLUMN closed_on date,
    ADD COLUMN close_reason loan_close_reason NOT NULL DEFAULT '',
    ADD CHECK ((closed_on IS NULL) = (close_reason = ''));

-- Each time a loan was overdue: from loan.overdue's since until
-- loan.overdue_cured's cured_on (NULL: still overdue) or the loan's
-- closing. A repayment paid on d was paid while overdue when
-- since <= d < coalesce(cured_on, infinity). At most one is open per loan.
CREATE TABLE loan_overdues (
    id          bigserial     PRIMARY KEY,
    loan_id     uuid          NOT NULL REFERENCES loans,
    since       date          NOT NULL,
    principal   numeric(17,2) NOT NULL CHECK (principal >= 0),
    cured_on    date          CHECK (cured_on >= since),
    recorded_at timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX loan_overdues_loan ON loan_overdues (loan_id, since);
CREATE UNIQUE INDEX loan_overdues_open ON loan_overdues (loan_id) WHERE cured_on IS NULL;

-- applications.overdue_since is the open overdue of its loan (NULL when
-- none); written_off_on the day its loan was written off. Together they
-- answer the check supplier.not_overdue for a supplier's next application.
ALTER TABLE applications ADD COLUMN written_off_on date;
CREATE INDEX applications_supplier_overdue ON applications (supplier_uscc)
    WHERE overdue_since IS NOT NULL OR written_off_on IS NOT NULL;

-- The order repayments were recorded in (domain.md 1.1, clarifications:
-- outstanding(d) counts the repayments recorded before this one; a
-- whole-loan repayment reduces the oldest tranches first, in that order).
-- created_at is the transaction's instant, shared by a batch's rows.
ALTER TABLE repayments ADD COLUMN seq bigserial;

-- +goose Down
ALTER TABLE repayments DROP COLUMN seq;
DROP INDEX applications_supplier_overdue;
ALTER TABLE applications DROP COLUMN written_off_on;
DROP TABLE loan_overdues;
ALTER TABLE loans
    DROP COLUMN close_reason,
    DROP COLUMN closed_on,
    DROP COLUMN drawdown_ended_on;
DROP DOMAIN loan_close_reason;
