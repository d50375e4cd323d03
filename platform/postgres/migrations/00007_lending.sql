-- +goose Up
-- Packages lending and banking: partner banks, credit lines, applications
-- with their state history and the supplier's consent, loans with their
-- disbursements and repayments, repayment-account locks, and the outbox of
-- messages to banks. Every limit is also a CHECK, the last guard behind the
-- row locks the code takes.

CREATE TABLE banks (
    id          text        PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    name        text        NOT NULL CHECK (name <> ''),
    base_url    text        NOT NULL,
    jwks        jsonb,
    jwks_url    text,
    algorithms  text[]      NOT NULL,
    version     text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((jwks IS NULL) <> (jwks_url IS NULL))
);

CREATE TABLE credit_lines (
    id            uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    seq           bigserial     UNIQUE,
    bank_id       text          NOT NULL REFERENCES banks,
    bank_line_id  text          NOT NULL,
    supplier_uscc text          NOT NULL REFERENCES suppliers,
    limit_amount  numeric(17,2) NOT NULL CHECK (limit_amount >= 0),
    used          numeric(17,2) NOT NULL DEFAULT 0 CHECK (used >= 0),
    valid_from    date          NOT NULL,
    valid_until   date          NOT NULL CHECK (valid_until >= valid_from),
    revolving     boolean       NOT NULL,
    rate_ceiling  numeric(9,6)  CHECK (rate_ceiling >= 0 AND rate_ceiling <= 1),
    status        text          NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    revoked_reason text         NOT NULL DEFAULT '',
    created_at    timestamptz   NOT NULL DEFAULT now(),
    updated_at    timestamptz   NOT NULL DEFAULT now(),
    UNIQUE (bank_id, bank_line_id),
    CHECK (used <= limit_amount)
);
CREATE INDEX credit_lines_supplier ON credit_lines (supplier_uscc, seq);

CREATE TABLE applications (
    id                uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    seq               bigserial     UNIQUE,
    supplier_uscc     text          NOT NULL REFERENCES suppliers,
    contract_id       uuid          NOT NULL REFERENCES contracts,
    bank_id           text          NOT NULL REFERENCES banks,
    credit_line_id    uuid          REFERENCES credit_lines,
    amount            numeric(17,2) NOT NULL CHECK (amount > 0),
    term_days         int           NOT NULL CHECK (term_days > 0),
    purpose           text          NOT NULL,
    status            text          NOT NULL CHECK (status IN ('submitted', 'delivered', 'received', 'approved',
                          'rejected', 'disbursed', 'repaid', 'closed', 'cancelled', 'delivery_failed')),
    -- What this application holds of its contract's financing and of its
    -- credit line; released when it no longer needs them.
    financing_held    numeric(17,2) NOT NULL CHECK (financing_held >= 0),
    line_held         numeric(17,2) NOT NULL DEFAULT 0 CHECK (line_held >= 0),
    bank_reference    text          NOT NULL DEFAULT '',
    approved_amount   numeric(17,2) CHECK (approved_amount > 0),
    annual_rate       numeric(9,6),
    approved_term_days int,
    rejection_reason  text          NOT NULL DEFAULT '',
    disbursed         numeric(17,2) NOT NULL DEFAULT 0 CHECK (disbursed >= 0),
    repaid_principal  numeric(17,2) NOT NULL DEFAULT 0 CHECK (repaid_principal >= 0),
    interest_paid     numeric(17,2) NOT NULL DEFAULT 0 CHECK (interest_paid >= 0),
    overdue_since     date,
    verification      jsonb         NOT NULL, -- the report it passed at submission
    submitted_by      text          NOT NULL,
    created_at        timestamptz   NOT NULL DEFAULT now(),
    updated_at        timestamptz   NOT NULL DEFAULT now(),
    CHECK (disbursed <= coalesce(approved_amount, 0)),
    CHECK (repaid_principal <= disbursed)
);
CREATE INDEX applications_supplier ON applications (supplier_uscc, seq);
CREATE INDEX applications_bank ON applications (bank_id, seq);
CREATE INDEX applications_contract ON applications (contract_id);
CREATE INDEX applications_status ON applications (status, seq);

-- Every state change, with time, actor and cause.
CREATE TABLE application_transitions (
    application_id uuid        NOT NULL REFERENCES applications,
    n              int         NOT NULL,
    at             timestamptz NOT NULL DEFAULT now(),
    from_status    text        NOT NULL,
    to_status      text        NOT NULL,
    actor          text        NOT NULL,
    cause          text        NOT NULL,
    PRIMARY KEY (application_id, n)
);

-- The supplier's consent to send named data to one bank (given with the
-- application; revocable; it expires).
CREATE TABLE consents (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    application_id uuid        NOT NULL UNIQUE REFERENCES applications,
    supplier_uscc  text        NOT NULL,
    bank_id        text        NOT NULL REFERENCES banks,
    data_items     text[]      NOT NULL,
    statement      text        NOT NULL,
    given_by       text        NOT NULL,
    given_at       timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz
);

CREATE TABLE loans (
    id               uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    application_id   uuid          NOT NULL REFERENCES applications,
    bank_id          text          NOT NULL REFERENCES banks,
    bank_loan_id     text          NOT NULL,
    annual_rate      numeric(9,6)  NOT NULL,
    maturity_date    date          NOT NULL,
    disbursed        numeric(17,2) NOT NULL DEFAULT 0 CHECK (disbursed >= 0),
    repaid_principal numeric(17,2) NOT NULL DEFAULT 0 CHECK (repaid_principal >= 0 AND repaid_principal <= disbursed),
    interest_paid    numeric(17,2) NOT NULL DEFAULT 0 CHECK (interest_paid >= 0),
    overdue_principal numeric(17,2) NOT NULL DEFAULT 0,
    overdue_since    date,
    created_at       timestamptz   NOT NULL DEFAULT now(),
    updated_at       timestamptz   NOT NULL DEFAULT now(),
    UNIQUE (bank_id, bank_loan_id)
);
CREATE INDEX loans_application ON loans (application_id);

CREATE TABLE disbursements (
    id                uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    loan_id           uuid          NOT NULL REFERENCES loans,
    bank_id           text          NOT NULL,
    bank_disbursement_id text       NOT NULL,
    amount            numeric(17,2) NOT NULL CHECK (amount > 0),
    value_date        date          NOT NULL,
    maturity_date     date          NOT NULL,
    annual_rate       numeric(9,6)  NOT NULL,
    created_at        timestamptz   NOT NULL DEFAULT now(),
    UNIQUE (bank_id, bank_disbursement_id)
);
CREATE INDEX disbursements_loan ON disbursements (loan_id);

CREATE TABLE repayments (
    id                 uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    loan_id            uuid          NOT NULL REFERENCES loans,
    bank_id            text          NOT NULL,
    bank_repayment_id  text          NOT NULL,
    principal          numeric(17,2) NOT NULL CHECK (principal >= 0),
    interest           numeric(17,2) NOT NULL CHECK (interest >= 0),
    paid_on            date          NOT NULL,
    period_start       date          NOT NULL,
    period_end         date          NOT NULL CHECK (period_end >= period_start),
    outstanding_before numeric(17,2) NOT NULL,
    created_at         timestamptz   NOT NULL DEFAULT now(),
    UNIQUE (bank_id, bank_repayment_id)
);
CREATE INDEX repayments_loan ON repayments (loan_id);

-- The repayment (collection) account lock (回款账户): proposed on approval,
-- confirmed when the purchaser signs the change, locked before funds go
-- out, released when the loan is repaid.
CREATE TABLE repayment_accounts (
    application_id uuid        PRIMARY KEY REFERENCES applications,
    bank_name      text        NOT NULL,
    account_no     text        NOT NULL,
    account_name   text        NOT NULL,
    status         text        NOT NULL CHECK (status IN ('proposed', 'confirmed', 'locked', 'released')),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- The outbox of credit applications to banks: written in the same
-- transaction as the application, delivered by package banking's relay.
CREATE TABLE deliveries (
    id              bigserial   PRIMARY KEY,
    application_id  uuid        NOT NULL UNIQUE REFERENCES applications,
    bank_id         text        NOT NULL REFERENCES banks,
    payload         bytea       NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed', 'dead')),
    attempts        int         NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz,
    locked_by       text        NOT NULL DEFAULT '',
    last_status     int,
    last_error      text        NOT NULL DEFAULT '',
    bank_reference  text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';

-- +goose Down
DROP TABLE deliveries;
DROP TABLE repayment_accounts;
DROP TABLE repayments;
DROP TABLE disbursements;
DROP TABLE loans;
DROP TABLE consents;
DROP TABLE application_transitions;
DROP TABLE applications;
DROP TABLE credit_lines;
DROP TABLE banks;
