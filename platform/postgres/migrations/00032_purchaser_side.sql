-- +goose Up
-- The purchaser's side (domain.md 1.1, "The purchaser (采购人) and the
-- repayment lock (回款控制)"; api.md 1.1).

-- A purchaser may act through its own signing system, signed exactly as
-- issuers sign, with iss = the purchaser's id: a purchaser with keys has an
-- id no other purchaser with keys has.
ALTER TABLE purchasers
    ADD COLUMN jwks       jsonb,
    ADD COLUMN jwks_url   text,
    ADD COLUMN algorithms text[],
    ADD COLUMN version    text,   -- digest of the keys' registration; null: no signing system
    ADD COLUMN created_at timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT purchasers_keys CHECK ((version IS NULL) = (jwks IS NULL AND jwks_url IS NULL)),
    ADD CONSTRAINT purchasers_one_key_source CHECK (jwks IS NULL OR jwks_url IS NULL);
CREATE UNIQUE INDEX purchasers_signing_id ON purchasers (id) WHERE version IS NOT NULL;

-- Users of role purchaser act for one purchaser.
ALTER TABLE users
    ADD COLUMN purchaser_issuer_id text,
    ADD COLUMN purchaser_id        text,
    ADD CONSTRAINT users_purchaser FOREIGN KEY (purchaser_issuer_id, purchaser_id) REFERENCES purchasers,
    DROP CONSTRAINT users_role_known,
    ADD CONSTRAINT users_role_known CHECK (role IN ('supplier', 'officer', 'admin', 'purchaser')),
    ADD CONSTRAINT users_purchaser_has_id CHECK ((role = 'purchaser') = (purchaser_id IS NOT NULL AND purchaser_issuer_id IS NOT NULL));

-- Treasury payment systems (国库集中支付), registered by administrators.
CREATE TABLE payment_systems (
    id          text        PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    name        text        NOT NULL CHECK (name <> ''),
    jwks        jsonb,
    jwks_url    text,
    algorithms  text[]      NOT NULL,
    version     text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((jwks IS NULL) <> (jwks_url IS NULL))
);

-- The receivable (应收账款) of a financed contract, as its purchaser
-- confirms (确权) or refuses it: one per contract, for the one bank that
-- finances it (contract.single_bank). Created pending at the first
-- approval; a confirmation covers every approved application of the
-- contract at that bank. The lock itself stays per application
-- (repayment_accounts), moved together by the confirmation.
CREATE TABLE receivables (
    contract_id       uuid          PRIMARY KEY REFERENCES contracts,
    seq               bigserial     UNIQUE,
    bank_id           text          NOT NULL REFERENCES banks,
    status            text          NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'refused')),
    confirmed_amount  numeric(17,2) CHECK (confirmed_amount > 0),
    payment_terms     jsonb,        -- as the purchaser gave them
    repayment_account jsonb,        -- {bank_name, account_no, account_name} as confirmed
    confirmed_by      text          NOT NULL DEFAULT '',
    confirmed_at      timestamptz,
    refusal_reason    text          NOT NULL DEFAULT '',
    refused_by        text          NOT NULL DEFAULT '',
    refused_at        timestamptz,
    created_at        timestamptz   NOT NULL DEFAULT now(),
    updated_at        timestamptz   NOT NULL DEFAULT now(),
    CHECK (status <> 'confirmed' OR (confirmed_at IS NOT NULL AND confirmed_amount IS NOT NULL AND repayment_account IS NOT NULL)),
    CHECK (status <> 'refused' OR (refused_at IS NOT NULL AND refusal_reason <> ''))
);
CREATE INDEX receivables_status ON receivables (status, seq);

-- The lock of each application's repayment account: refused by the
-- purchaser; confirmed_at once the purchaser confirmed it (a lock locked by
-- a disbursement before that raised the alert disbursed_before_confirmation
-- at disbursed_unconfirmed_at, and its claims are held until then); a new
-- account the bank consented to (account.change_consented) waits in new_*
-- for the purchaser's confirmation while the old one stays locked.
ALTER TABLE repayment_accounts
    DROP CONSTRAINT repayment_accounts_status_check,
    ADD CONSTRAINT repayment_accounts_status_check CHECK (status IN ('proposed', 'confirmed', 'locked', 'released', 'refused')),
    ADD COLUMN confirmed_at             timestamptz,
    ADD COLUMN disbursed_unconfirmed_at timestamptz,
    ADD COLUMN new_account              jsonb,       -- {bank_name, account_no, account_name}
    ADD COLUMN change_consented_at      timestamptz,
    ADD CONSTRAINT repayment_accounts_change CHECK ((new_account IS NULL) = (change_consented_at IS NULL));
-- Accounts recorded before the purchaser's side existed count as
-- confirmed when they were last moved past proposed.
UPDATE repayment_accounts SET confirmed_at = updated_at WHERE status IN ('confirmed', 'locked', 'released');
CREATE INDEX repayment_accounts_unconfirmed ON repayment_accounts (disbursed_unconfirmed_at)
    WHERE disbursed_unconfirmed_at IS NOT NULL AND confirmed_at IS NULL;

-- The treasury's payment records of contracts (api.md 1.1,
-- POST /v1/contract-payments): matched into the account in force,
-- misdirected into another while a lock is in force, unlocked (no lock in
-- force), unmatched (no such contract).
CREATE TABLE contract_payments (
    id                 uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    seq                bigserial     UNIQUE,
    system_id          text          NOT NULL REFERENCES payment_systems,
    payment_id         text          NOT NULL,
    contract_id        uuid          REFERENCES contracts,  -- null: unmatched
    contract_no        text          NOT NULL,
    issuer_id          text          NOT NULL,
    purchaser_id       text          NOT NULL,
    amount             numeric(17,2) NOT NULL CHECK (amount > 0),
    paid_on            date          NOT NULL,
    payee_account      jsonb         NOT NULL,  -- {bank_name, account_no, account_name}
    status             text          NOT NULL CHECK (status IN ('matched', 'misdirected', 'unlocked', 'unmatched')),
    expected_account   jsonb,                   -- the account in force, when misdirected
    bank_id            text,                    -- the bank told, if any
    application_ids    uuid[]        NOT NULL DEFAULT '{}', -- the live applications it was matched to or told of
    digest             text          NOT NULL,  -- of the record's figures: the same id with others is 409
    received_at        timestamptz   NOT NULL DEFAULT now(),
    UNIQUE (system_id, payment_id),
    CHECK ((status = 'unmatched') = (contract_id IS NULL))
);
CREATE INDEX contract_payments_contract ON contract_payments (contract_id, seq) WHERE contract_id IS NOT NULL;
CREATE INDEX contract_payments_alerts ON contract_payments (seq) WHERE status IN ('misdirected', 'unmatched');

-- A loan's subsidy claims wait (held) while its purchaser has not
-- confirmed the receivable (domain.md 1.1, "Confirmation").
ALTER DOMAIN claim_status DROP CONSTRAINT claim_status_check;
ALTER DOMAIN claim_status ADD CONSTRAINT claim_status_check
    CHECK (VALUE IN ('pending', 'held', 'approved', 'rejected', 'ineligible', 'paid'));

-- +goose Down
ALTER DOMAIN claim_status DROP CONSTRAINT claim_status_check;
UPDATE subsidy_claims SET status = 'pending' WHERE status = 'held';
ALTER DOMAIN claim_status ADD CONSTRAINT claim_status_check
    CHECK (VALUE IN ('pending', 'approved', 'rejected', 'ineligible', 'paid'));
DROP TABLE contract_payments;
DROP INDEX repayment_accounts_unconfirmed;
UPDATE repayment_accounts SET status = 'proposed' WHERE status = 'refused';
ALTER TABLE repayment_accounts
    DROP CONSTRAINT repayment_accounts_change,
    DROP COLUMN change_consented_at,
    DROP COLUMN new_account,
    DROP COLUMN disbursed_unconfirmed_at,
    DROP COLUMN confirmed_at,
    DROP CONSTRAINT repayment_accounts_status_check,
    ADD CONSTRAINT repayment_accounts_status_check CHECK (status IN ('proposed', 'confirmed', 'locked', 'released'));
DROP TABLE receivables;
DROP TABLE payment_systems;
DELETE FROM users WHERE role = 'purchaser';
ALTER TABLE users
    DROP CONSTRAINT users_purchaser_has_id,
    DROP CONSTRAINT users_role_known,
    ADD CONSTRAINT users_role_known CHECK (role IN ('supplier', 'officer', 'admin')),
    DROP CONSTRAINT users_purchaser,
    DROP COLUMN purchaser_id,
    DROP COLUMN purchaser_issuer_id;
DROP INDEX purchasers_signing_id;
ALTER TABLE purchasers
    DROP CONSTRAINT purchasers_one_key_source,
    DROP CONSTRAINT purchasers_keys,
    DROP COLUMN created_at,
    DROP COLUMN version,
    DROP COLUMN algorithms,
    DROP COLUMN jwks_url,
    DROP COLUMN jwks;
