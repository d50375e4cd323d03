-- +goose Up
-- Package contracts: procurement centres (issuers), suppliers, purchasers,
-- award notices and contracts, each document with every version kept.

CREATE TABLE issuers (
    id          text        PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    name        text        NOT NULL CHECK (name <> ''),
    jwks        jsonb,
    jwks_url    text,
    algorithms  text[]      NOT NULL,
    version     text        NOT NULL, -- digest of the registration; key caches compare it
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((jwks IS NULL) <> (jwks_url IS NULL))
);

CREATE TABLE suppliers (
    uscc                 text        PRIMARY KEY CHECK (uscc ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    name                 text        NOT NULL,
    industry             text,
    employees            int         CHECK (employees >= 0),
    annual_revenue       numeric(17,2) CHECK (annual_revenue >= 0),
    total_assets         numeric(17,2) CHECK (total_assets >= 0),
    size_class           text        NOT NULL DEFAULT 'unknown'
                         CHECK (size_class IN ('micro', 'small', 'medium', 'large', 'unknown')),
    size_assessed_on     date,
    uscc_override_reason text        NOT NULL DEFAULT '',
    registered           boolean     NOT NULL DEFAULT false, -- false: known only from a document
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE purchasers (
    issuer_id  text        NOT NULL REFERENCES issuers,
    id         text        NOT NULL,
    name       text        NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer_id, id)
);

CREATE TABLE award_notices (
    id                 uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    seq                bigserial     UNIQUE,
    issuer_id          text          NOT NULL REFERENCES issuers,
    notice_no          text          NOT NULL,
    project_no         text          NOT NULL,
    project_name       text          NOT NULL,
    purchaser_id       text          NOT NULL,
    supplier_uscc      text          NOT NULL REFERENCES suppliers,
    amount             numeric(17,2) NOT NULL CHECK (amount > 0),
    currency           text          NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    awarded_on         date          NOT NULL,
    procurement_method text          NOT NULL,
    status             text          NOT NULL,
    version            int           NOT NULL,
    digest             text          NOT NULL,
    source             text          NOT NULL CHECK (source IN ('signed', 'ocds_import')),
    created_at         timestamptz   NOT NULL DEFAULT now(),
    updated_at         timestamptz   NOT NULL DEFAULT now(),
    UNIQUE (issuer_id, notice_no),
    FOREIGN KEY (issuer_id, purchaser_id) REFERENCES purchasers
);
CREATE INDEX award_notices_supplier ON award_notices (supplier_uscc, seq);

CREATE TABLE contracts (
    id            uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    seq           bigserial     UNIQUE,
    issuer_id     text          NOT NULL REFERENCES issuers,
    contract_no   text          NOT NULL,
    notice_id     uuid          NOT NULL REFERENCES award_notices,
    purchaser_id  text          NOT NULL,
    supplier_uscc text          NOT NULL REFERENCES suppliers,
    amount        numeric(17,2) NOT NULL CHECK (amount > 0),
    currency      text          NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    retention     numeric(17,2) NOT NULL DEFAULT 0 CHECK (retention >= 0 AND retention <= amount),
    signed_on     date          NOT NULL,
    period_start  date          NOT NULL,
    period_end    date          NOT NULL CHECK (period_end >= period_start),
    payment_terms jsonb         NOT NULL DEFAULT '[]',
    status        text          NOT NULL,
    version       int           NOT NULL,
    digest        text          NOT NULL,
    source        text          NOT NULL CHECK (source IN ('signed', 'ocds_import')),
    -- The amount of live applications drawn on this contract (package lending
    -- keeps it, under a row lock, never above the financing limit).
    financed      numeric(17,2) NOT NULL DEFAULT 0 CHECK (financed >= 0),
    created_at    timestamptz   NOT NULL DEFAULT now(),
    updated_at    timestamptz   NOT NULL DEFAULT now(),
    UNIQUE (issuer_id, contract_no),
    FOREIGN KEY (issuer_id, purchaser_id) REFERENCES purchasers
);
CREATE INDEX contracts_supplier ON contracts (supplier_uscc, seq);
CREATE INDEX contracts_notice ON contracts (notice_id);

-- Every version of every document, exactly as accepted.
CREATE TABLE document_versions (
    kind         text        NOT NULL CHECK (kind IN ('award_notice', 'contract')),
    document_id  uuid        NOT NULL,
    version      int         NOT NULL,
    body         jsonb       NOT NULL,
    digest       text        NOT NULL,
    source       text        NOT NULL,
    signed_kid   text        NOT NULL DEFAULT '',
    message_id   text        NOT NULL DEFAULT '',
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, document_id, version)
);

-- +goose Down
DROP TABLE document_versions;
DROP TABLE contracts;
DROP TABLE award_notices;
DROP TABLE purchasers;
DROP TABLE suppliers;
DROP TABLE issuers;
