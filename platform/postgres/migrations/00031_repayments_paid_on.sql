-- +goose Up
-- A claim's read of its loan's history (lending.LoanHistories) finds the
-- few earlier repayments paid inside its interest period, and sums those
-- paid before it, by this index, however many repayments the loan has.
CREATE INDEX repayments_paid_on ON repayments (loan_id, paid_on);

-- +goose Down
DROP INDEX repayments_paid_on;
