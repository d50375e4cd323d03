-- +goose Up
-- The rules of single columns on the tables every repayment writes
-- (applications, loans, repayments, subsidy_claims and the suppliers'
-- years) become domains: the same rules, held by the columns' types.
--
-- PostgreSQL rebuilds a table's CHECK constraints from their stored text
-- for every statement that inserts or updates the table, and checks all
-- of them whatever the statement changes: a repayment's update of its
-- application's two totals checked its eleven constraints, rebuilt from
-- 7.5 KB of text. Under bank-event load that was 6 % of all the CPU
-- (docs/performance-log.md, seventh round). A domain's rule is read once
-- per connection and checked only where a value of the column is written.
--
-- Rules across columns stay CHECK constraints. Each ALTER TABLE rewrites
-- its table once.
CREATE DOMAIN amount_positive AS numeric(17,2) CHECK (VALUE > 0);
CREATE DOMAIN amount_nonnegative AS numeric(17,2) CHECK (VALUE >= 0);
CREATE DOMAIN application_status AS text CHECK (VALUE IN ('submitted', 'delivered', 'received', 'approved',
    'rejected', 'disbursed', 'repaid', 'closed', 'cancelled', 'delivery_failed'));
CREATE DOMAIN claim_status AS text CHECK (VALUE IN ('pending', 'approved', 'rejected', 'ineligible', 'paid'));
CREATE DOMAIN claim_approvals AS int CHECK (VALUE >= 0 AND VALUE <= 2);
CREATE DOMAIN claim_approvals_required AS int CHECK (VALUE IN (1, 2));
CREATE DOMAIN days_positive AS int CHECK (VALUE > 0);

ALTER TABLE applications
    DROP CONSTRAINT applications_amount_check,
    DROP CONSTRAINT applications_term_days_check,
    DROP CONSTRAINT applications_status_check,
    DROP CONSTRAINT applications_financing_held_check,
    DROP CONSTRAINT applications_line_held_check,
    DROP CONSTRAINT applications_approved_amount_check,
    DROP CONSTRAINT applications_disbursed_check,
    DROP CONSTRAINT applications_repaid_principal_check,
    DROP CONSTRAINT applications_interest_paid_check,
    ALTER COLUMN amount TYPE amount_positive,
    ALTER COLUMN term_days TYPE days_positive,
    ALTER COLUMN status TYPE application_status,
    ALTER COLUMN financing_held TYPE amount_nonnegative,
    ALTER COLUMN line_held TYPE amount_nonnegative,
    ALTER COLUMN approved_amount TYPE amount_positive,
    ALTER COLUMN disbursed TYPE amount_nonnegative,
    ALTER COLUMN repaid_principal TYPE amount_nonnegative,
    ALTER COLUMN interest_paid TYPE amount_nonnegative;

ALTER TABLE loans
    DROP CONSTRAINT loans_disbursed_check,
    DROP CONSTRAINT loans_check,
    DROP CONSTRAINT loans_interest_paid_check,
    ALTER COLUMN disbursed TYPE amount_nonnegative,
    ALTER COLUMN repaid_principal TYPE amount_nonnegative,
    ALTER COLUMN interest_paid TYPE amount_nonnegative,
    ADD CONSTRAINT loans_check CHECK (repaid_principal <= disbursed);

ALTER TABLE repayments
    DROP CONSTRAINT repayments_principal_check,
    DROP CONSTRAINT repayments_interest_check,
    ALTER COLUMN principal TYPE amount_nonnegative,
    ALTER COLUMN interest TYPE amount_nonnegative;

ALTER TABLE subsidy_claims
    DROP CONSTRAINT subsidy_claims_interest_paid_check,
    DROP CONSTRAINT subsidy_claims_amount_check,
    DROP CONSTRAINT subsidy_claims_status_check,
    DROP CONSTRAINT subsidy_claims_approvals_check,
    DROP CONSTRAINT subsidy_claims_approvals_required_check,
    ALTER COLUMN interest_paid TYPE amount_nonnegative,
    ALTER COLUMN amount TYPE amount_nonnegative,
    ALTER COLUMN status TYPE claim_status,
    ALTER COLUMN approvals TYPE claim_approvals,
    ALTER COLUMN approvals_required TYPE claim_approvals_required;

ALTER TABLE subsidy_supplier_years
    DROP CONSTRAINT subsidy_supplier_years_claimed_check,
    ALTER COLUMN claimed TYPE amount_nonnegative;

-- +goose Down
ALTER TABLE subsidy_supplier_years
    ALTER COLUMN claimed TYPE numeric(17,2),
    ADD CONSTRAINT subsidy_supplier_years_claimed_check CHECK (claimed >= 0);

ALTER TABLE subsidy_claims
    ALTER COLUMN interest_paid TYPE numeric(17,2),
    ALTER COLUMN amount TYPE numeric(17,2),
    ALTER COLUMN status TYPE text,
    ALTER COLUMN approvals TYPE int,
    ALTER COLUMN approvals_required TYPE int,
    ADD CONSTRAINT subsidy_claims_interest_paid_check CHECK (interest_paid >= 0),
    ADD CONSTRAINT subsidy_claims_amount_check CHECK (amount >= 0),
    ADD CONSTRAINT subsidy_claims_status_check CHECK (status IN ('pending', 'approved', 'rejected', 'ineligible', 'paid')),
    ADD CONSTRAINT subsidy_claims_approvals_check CHECK (approvals >= 0 AND approvals <= 2),
    ADD CONSTRAINT subsidy_claims_approvals_required_check CHECK (approvals_required IN (1, 2));

ALTER TABLE repayments
    ALTER COLUMN principal TYPE numeric(17,2),
    ALTER COLUMN interest TYPE numeric(17,2),
    ADD CONSTRAINT repayments_principal_check CHECK (principal >= 0),
    ADD CONSTRAINT repayments_interest_check CHECK (interest >= 0);

ALTER TABLE loans
    DROP CONSTRAINT loans_check,
    ALTER COLUMN disbursed TYPE numeric(17,2),
    ALTER COLUMN repaid_principal TYPE numeric(17,2),
    ALTER COLUMN interest_paid TYPE numeric(17,2),
    ADD CONSTRAINT loans_disbursed_check CHECK (disbursed >= 0),
    ADD CONSTRAINT loans_check CHECK (repaid_principal >= 0 AND repaid_principal <= disbursed),
    ADD CONSTRAINT loans_interest_paid_check CHECK (interest_paid >= 0);

ALTER TABLE applications
    ALTER COLUMN amount TYPE numeric(17,2),
    ALTER COLUMN term_days TYPE int,
    ALTER COLUMN status TYPE text,
    ALTER COLUMN financing_held TYPE numeric(17,2),
    ALTER COLUMN line_held TYPE numeric(17,2),
    ALTER COLUMN approved_amount TYPE numeric(17,2),
    ALTER COLUMN disbursed TYPE numeric(17,2),
    ALTER COLUMN repaid_principal TYPE numeric(17,2),
    ALTER COLUMN interest_paid TYPE numeric(17,2),
    ADD CONSTRAINT applications_amount_check CHECK (amount > 0),
    ADD CONSTRAINT applications_term_days_check CHECK (term_days > 0),
    ADD CONSTRAINT applications_status_check CHECK (status IN ('submitted', 'delivered', 'received', 'approved',
        'rejected', 'disbursed', 'repaid', 'closed', 'cancelled', 'delivery_failed')),
    ADD CONSTRAINT applications_financing_held_check CHECK (financing_held >= 0),
    ADD CONSTRAINT applications_line_held_check CHECK (line_held >= 0),
    ADD CONSTRAINT applications_approved_amount_check CHECK (approved_amount > 0),
    ADD CONSTRAINT applications_disbursed_check CHECK (disbursed >= 0),
    ADD CONSTRAINT applications_repaid_principal_check CHECK (repaid_principal >= 0),
    ADD CONSTRAINT applications_interest_paid_check CHECK (interest_paid >= 0);

DROP DOMAIN days_positive;
DROP DOMAIN claim_approvals_required;
DROP DOMAIN claim_approvals;
DROP DOMAIN claim_status;
DROP DOMAIN application_status;
DROP DOMAIN amount_nonnegative;
DROP DOMAIN amount_positive;
