-- +goose Up
-- Package subsidies: interest-subsidy (贴息) policies, claims computed from
-- repayments, their approvals, the yearly programme budget and payment
-- batches. Every limit is also a CHECK, the last guard behind the locks the
-- code takes.

-- Versioned policies: a repayment is subsidised under the newest policy in
-- force on its paid_on date; a claim records the version.
CREATE TABLE subsidy_policies (
    version               serial        PRIMARY KEY,
    effective_from        date          NOT NULL,
    subsidy_ratio         numeric(9,6)  NOT NULL CHECK (subsidy_ratio >= 0 AND subsidy_ratio <= 1),
    rate_cap              numeric(9,6)  NOT NULL CHECK (rate_cap >= 0 AND rate_cap <= 1),
    supplier_yearly_cap   numeric(17,2) NOT NULL CHECK (supplier_yearly_cap >= 0),
    programme_budget      numeric(17,2) NOT NULL CHECK (programme_budget >= 0),
    eligible_size_classes text[]        NOT NULL,
    four_eyes_threshold   numeric(17,2) NOT NULL CHECK (four_eyes_threshold >= 0),
    created_by            text          NOT NULL,
    created_at            timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX subsidy_policies_effective ON subsidy_policies (effective_from, version);

-- The programme budget of each calendar year and what approvals took of it.
-- Approval adds to used under the row lock; the CHECK is the last guard.
CREATE TABLE subsidy_budgets (
    year   int           PRIMARY KEY,
    budget numeric(17,2) NOT NULL CHECK (budget >= 0),
    used   numeric(17,2) NOT NULL DEFAULT 0 CHECK (used >= 0),
    CHECK (used <= budget)
);

CREATE TABLE subsidy_batches (
    id         uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    seq        bigserial     UNIQUE,
    status     text          NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    claims     int           NOT NULL DEFAULT 0 CHECK (claims >= 0),
    total      numeric(17,2) NOT NULL DEFAULT 0 CHECK (total >= 0),
    created_by text          NOT NULL,
    created_at timestamptz   NOT NULL DEFAULT now(),
    closed_by  text          NOT NULL DEFAULT '',
    closed_at  timestamptz,
    CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);

-- One claim per repayment with interest: pending → approved → paid (in a
-- closed batch), or rejected; ineligible claims keep the reason.
CREATE TABLE subsidy_claims (
    id                 uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    seq                bigserial     UNIQUE,
    repayment_id       uuid          NOT NULL UNIQUE REFERENCES repayments,
    application_id     uuid          NOT NULL REFERENCES applications,
    loan_id            uuid          NOT NULL REFERENCES loans,
    bank_id            text          NOT NULL,
    supplier_uscc      text          NOT NULL,
    policy_version     int           REFERENCES subsidy_policies,
    year               int           NOT NULL, -- calendar year of paid_on (Asia/Shanghai)
    paid_on            date          NOT NULL,
    interest_paid      numeric(17,2) NOT NULL CHECK (interest_paid >= 0),
    amount             numeric(17,2) NOT NULL CHECK (amount >= 0),
    status             text          NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'ineligible', 'paid')),
    ineligible_reason  text          NOT NULL DEFAULT '',
    rejection_reason   text          NOT NULL DEFAULT '',
    approvals          int           NOT NULL DEFAULT 0 CHECK (approvals BETWEEN 0 AND 2),
    approvals_required int           NOT NULL DEFAULT 1 CHECK (approvals_required IN (1, 2)),
    computation        jsonb         NOT NULL,
    batch_id           uuid          REFERENCES subsidy_batches,
    decided_at         timestamptz,
    created_at         timestamptz   NOT NULL DEFAULT now(),
    updated_at         timestamptz   NOT NULL DEFAULT now(),
    CHECK (status <> 'ineligible' OR ineligible_reason <> ''),
    CHECK (status <> 'rejected' OR rejection_reason <> ''),
    CHECK (status <> 'paid' OR batch_id IS NOT NULL),
    CHECK (status NOT IN ('approved', 'paid') OR approvals = approvals_required)
);
CREATE INDEX subsidy_claims_status ON subsidy_claims (status, seq);
CREATE INDEX subsidy_claims_supplier_year ON subsidy_claims (supplier_uscc, year);
CREATE INDEX subsidy_claims_batch ON subsidy_claims (batch_id);

-- Each officer's approval of a claim: the key makes "the same officer
-- twice" impossible, which four-eyes claims rely on.
CREATE TABLE subsidy_claim_approvals (
    claim_id    uuid        NOT NULL REFERENCES subsidy_claims,
    officer     text        NOT NULL,
    approved_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (claim_id, officer)
);

-- +goose Down
DROP TABLE subsidy_claim_approvals;
DROP TABLE subsidy_claims;
DROP TABLE subsidy_batches;
DROP TABLE subsidy_budgets;
DROP TABLE subsidy_policies;
