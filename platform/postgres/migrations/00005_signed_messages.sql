-- +goose Up
-- Signed messages already accepted (package signature), by sender and jti:
-- a message whose (sender, jti) is here and not expired is a replay. Rows
-- past expires_at are dead; PurgeSeen deletes them.
CREATE TABLE seen_messages (
    sender     text        NOT NULL,
    jti        text        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (sender, jti)
);
CREATE INDEX seen_messages_expires ON seen_messages (expires_at);

-- +goose Down
DROP TABLE seen_messages;
