-- +goose Up
-- The inbox of bank events: one row per (bank, event_id), written in the
-- same transaction as the event's effect, so an event applies once.
CREATE TABLE bank_events (
    bank_id        text        NOT NULL REFERENCES banks,
    event_id       text        NOT NULL,
    body_hash      text        NOT NULL,
    type           text        NOT NULL,
    application_id uuid,
    occurred_at    timestamptz NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bank_id, event_id)
);
CREATE INDEX bank_events_application ON bank_events (application_id);

-- +goose Down
DROP TABLE bank_events;
