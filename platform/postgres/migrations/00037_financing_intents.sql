-- +goose Up
-- Competing offers (融资意向, bank-protocol.md 1.1): a supplier publishes
-- one financing need to several banks, each bank may answer with an offer,
-- and the supplier accepts one, which becomes a credit application to that
-- bank. The contract's headroom is held at acceptance, not at publication.
CREATE TABLE financing_intents (
    id                uuid          PRIMARY KEY,
    seq               bigserial     UNIQUE,
    supplier_uscc     text          NOT NULL,
    contract_id       uuid          NOT NULL REFERENCES contracts,
    amount            numeric(18,2) NOT NULL CHECK (amount > 0),
    term_days         int           NOT NULL CHECK (term_days > 0),
    purpose           text          NOT NULL,
    status            text          NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'accepted', 'cancelled', 'expired')),
    published_at      timestamptz   NOT NULL DEFAULT now(),
    respond_by        timestamptz   NOT NULL,
    published_by      text          NOT NULL,
    request_key       text,
    -- The data sent to the banks (the verification report at publication).
    verification      jsonb         NOT NULL,
    accepted_offer_id uuid,
    application_id    uuid          REFERENCES applications,
    closed_at         timestamptz,
    closed_by         text          NOT NULL DEFAULT '',
    CHECK ((status = 'open') = (closed_at IS NULL)),
    CHECK ((status = 'accepted') = (application_id IS NOT NULL))
);
CREATE UNIQUE INDEX financing_intents_request_key ON financing_intents (published_by, request_key)
    WHERE request_key IS NOT NULL;
CREATE INDEX financing_intents_supplier ON financing_intents (supplier_uscc, seq);
CREATE INDEX financing_intents_open ON financing_intents (respond_by) WHERE status = 'open';

-- The banks an intent was sent to, each under the supplier's consent to
-- that bank. out_at: the bank was taken out of an open intent (its
-- consent revoked). decision: what the bank was told when the intent
-- closed for it (accepted, declined, expired, cancelled).
CREATE TABLE intent_banks (
    intent_id  uuid        NOT NULL REFERENCES financing_intents,
    bank_id    text        NOT NULL REFERENCES banks,
    consent_id uuid        NOT NULL,
    out_at     timestamptz,
    decision   text        CHECK (decision IN ('accepted', 'declined', 'expired', 'cancelled')),
    decided_at timestamptz,
    PRIMARY KEY (intent_id, bank_id)
);
CREATE INDEX intent_banks_bank ON intent_banks (bank_id, intent_id);

-- A bank's offers. Each offer.made is a row of its own, with procfin's id:
-- a new offer from the bank on the intent replaces its earlier one
-- (status replaced), so the supplier accepts exactly the terms it saw.
-- bank_offer_id is the bank's own offer_id.
CREATE TABLE offers (
    id            uuid          PRIMARY KEY,
    intent_id     uuid          NOT NULL,
    bank_id       text          NOT NULL,
    bank_offer_id text          NOT NULL,
    amount        numeric(18,2) NOT NULL CHECK (amount > 0),
    annual_rate   numeric(9,6)  NOT NULL CHECK (annual_rate > 0 AND annual_rate < 1),
    term_days     int           NOT NULL CHECK (term_days > 0),
    valid_until   timestamptz   NOT NULL,
    conditions    text          NOT NULL DEFAULT '',
    status        text          NOT NULL DEFAULT 'made'
                  CHECK (status IN ('made', 'replaced', 'withdrawn', 'accepted', 'declined')),
    made_at       timestamptz   NOT NULL DEFAULT now(),
    event_id      text          NOT NULL,
    closed_at     timestamptz,
    FOREIGN KEY (intent_id, bank_id) REFERENCES intent_banks
);
CREATE INDEX offers_intent ON offers (intent_id, bank_id);
-- At most one current offer per bank and intent.
CREATE UNIQUE INDEX offers_current ON offers (intent_id, bank_id) WHERE status = 'made';
CREATE INDEX offers_month ON offers (made_at);

ALTER TABLE financing_intents ADD CONSTRAINT financing_intents_accepted_offer_fkey
    FOREIGN KEY (accepted_offer_id) REFERENCES offers;

-- The application an accepted offer became: the bank's approval may not
-- exceed the offer's amount or rate.
ALTER TABLE applications ADD COLUMN offer_id uuid REFERENCES offers;

-- A consent is given for an application or, first, for an intent's bank;
-- the accepted bank's becomes its application's consent.
ALTER TABLE consents ALTER COLUMN application_id DROP NOT NULL;
ALTER TABLE consents ADD COLUMN intent_id uuid REFERENCES financing_intents;
ALTER TABLE consents ADD CONSTRAINT consents_subject CHECK (application_id IS NOT NULL OR intent_id IS NOT NULL);
CREATE UNIQUE INDEX consents_intent_bank ON consents (intent_id, bank_id) WHERE intent_id IS NOT NULL;

-- Messages about an intent (financing-intent, intent-decision) have no
-- application: they name their intent, and are delivered in order per
-- intent and bank.
ALTER TABLE deliveries ALTER COLUMN application_id DROP NOT NULL;
ALTER TABLE deliveries ADD COLUMN intent_id uuid;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_subject CHECK (application_id IS NOT NULL OR intent_id IS NOT NULL);
CREATE INDEX deliveries_intent ON deliveries (intent_id, bank_id, id) WHERE intent_id IS NOT NULL;

-- +goose Down
DROP INDEX deliveries_intent;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_subject;
DELETE FROM deliveries WHERE application_id IS NULL;
ALTER TABLE deliveries DROP COLUMN intent_id;
ALTER TABLE deliveries ALTER COLUMN application_id SET NOT NULL;
DROP INDEX consents_intent_bank;
ALTER TABLE consents DROP CONSTRAINT consents_subject;
DELETE FROM consents WHERE application_id IS NULL;
ALTER TABLE consents DROP COLUMN intent_id;
ALTER TABLE consents ALTER COLUMN application_id SET NOT NULL;
ALTER TABLE applications DROP COLUMN offer_id;
ALTER TABLE financing_intents DROP CONSTRAINT financing_intents_accepted_offer_fkey;
DROP TABLE offers;
DROP TABLE intent_banks;
DROP TABLE financing_intents;
