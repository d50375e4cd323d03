-- +goose Up
-- The sandbox banks' own state (banking/sandbox, Config.DB), so that a
-- sandbox bank restarted mid-loan carries on: the applications it took
-- and where each one's life stands, the events it built (sent again with
-- the same bodies after a restart), its credit lines, the messages it took
-- (their idempotency) and its answers to financing intents. Every row is
-- keyed by the sandbox bank's id, so several sandbox banks share the
-- tables. The sandbox is a test double of a bank: procfin's business code
-- never reads these tables.

-- An application the bank accepted. body is the message as accepted;
-- decision, null until decided, is what the bank decided and its loan's
-- plan; receivable is the first of receivable.confirmed or
-- receivable.refused procfin sent of it. batches_sent counts the batches
-- of events procfin took; the next is due at next_at; done: its life is
-- over (finished, withdrawn, or its events refused).
CREATE TABLE sandbox_applications (
    bank_id         text        NOT NULL,
    idempotency_key text        NOT NULL,
    seq             bigserial,
    application_id  text        NOT NULL,
    body            bytea       NOT NULL,
    body_hash       text        NOT NULL,
    bank_reference  text        NOT NULL,
    received_at     timestamptz NOT NULL,
    deliveries      int         NOT NULL DEFAULT 1,
    life            text        NOT NULL,
    decision        jsonb,
    receivable      text        NOT NULL DEFAULT '',
    batches_sent    int         NOT NULL DEFAULT 0 CHECK (batches_sent >= 0),
    next_at         timestamptz NOT NULL,
    done            boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (bank_id, idempotency_key)
);

-- The events of an application, by batch, each body fixed when the batch
-- was built.
CREATE TABLE sandbox_events (
    bank_id         text    NOT NULL,
    idempotency_key text    NOT NULL,
    batch           int     NOT NULL CHECK (batch >= 0),
    seq             int     NOT NULL CHECK (seq >= 0),
    event_id        text    NOT NULL,
    type            text    NOT NULL,
    body            bytea   NOT NULL,
    PRIMARY KEY (bank_id, idempotency_key, batch, seq)
);

-- The credit lines the bank granted; revoked ones are kept, marked.
CREATE TABLE sandbox_credit_lines (
    bank_id       text          NOT NULL,
    id            text          NOT NULL,
    supplier_uscc text          NOT NULL,
    credit_limit  numeric(18,2) NOT NULL CHECK (credit_limit >= 0),
    used          numeric(18,2) NOT NULL DEFAULT 0 CHECK (used >= 0),
    revolving     boolean       NOT NULL,
    valid_from    date          NOT NULL,
    valid_until   date          NOT NULL,
    changes       int           NOT NULL DEFAULT 0,
    revoked       boolean       NOT NULL DEFAULT false,
    PRIMARY KEY (bank_id, id)
);

-- The other messages the bank took from procfin, by kind and
-- Idempotency-Key, in the order taken: record is what the bank keeps of
-- each (WithdrawalReceived, ContractEventReceived, IntentReceived,
-- DecisionReceived).
CREATE TABLE sandbox_messages (
    bank_id    text    NOT NULL,
    kind       text    NOT NULL CHECK (kind IN ('withdrawal', 'contract_event', 'intent', 'decision')),
    message_id text    NOT NULL,
    seq        bigserial,
    body_hash  text    NOT NULL,
    deliveries int     NOT NULL DEFAULT 1,
    record     jsonb   NOT NULL,
    PRIMARY KEY (bank_id, kind, message_id)
);

-- How the bank answered each financing intent, and its offer, if any:
-- offer_event is the offer.made as built (sent again after a restart
-- until procfin answers); offer_status is procfin's answer (0: none yet).
CREATE TABLE sandbox_intents (
    bank_id      text  NOT NULL,
    intent_id    text  NOT NULL,
    seq          bigserial,
    answer       text  NOT NULL,
    offer        jsonb,
    offer_event  bytea,
    offer_status int   NOT NULL DEFAULT 0,
    PRIMARY KEY (bank_id, intent_id)
);

-- +goose Down
DROP TABLE sandbox_intents;
DROP TABLE sandbox_messages;
DROP TABLE sandbox_credit_lines;
DROP TABLE sandbox_events;
DROP TABLE sandbox_applications;
