-- +goose Up
-- What each supplier has claimed in each calendar year (its pending,
-- approved and paid claims), kept in step with every claim: a repayment's
-- claim is capped against this one row, locked, instead of a sum over all
-- the year's claims, which grew with every repayment.
CREATE TABLE subsidy_supplier_years (
    supplier_uscc text          NOT NULL,
    year          int           NOT NULL,
    claimed       numeric(17,2) NOT NULL DEFAULT 0 CHECK (claimed >= 0),
    PRIMARY KEY (supplier_uscc, year)
);
INSERT INTO subsidy_supplier_years (supplier_uscc, year, claimed)
SELECT supplier_uscc, year, sum(amount) FROM subsidy_claims
WHERE status IN ('pending', 'approved', 'paid')
GROUP BY supplier_uscc, year;

-- +goose Down
DROP TABLE subsidy_supplier_years;
