-- +goose Up
-- Stored first answers to state-changing requests, by caller and
-- Idempotency-Key. A row with no status is a request still running;
-- locked_until lets another attempt take over from a crashed one.
CREATE TABLE idempotency_keys (
    scope          text        NOT NULL,
    key            text        NOT NULL,
    request_hash   text        NOT NULL,
    status         int,
    content_type   text        NOT NULL DEFAULT '',
    location       text        NOT NULL DEFAULT '',
    body           bytea,
    created_at     timestamptz NOT NULL DEFAULT now(),
    locked_until   timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
