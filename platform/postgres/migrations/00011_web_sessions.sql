-- +goose Up
-- Package web: server-side sessions of the browser interface. The cookie
-- carries a random 256-bit id; only its SHA-256 is stored, so a copy of the
-- table does not let anyone in. Each session has its own CSRF token.
CREATE TABLE web_sessions (
    id_hash    bytea       PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- +goose Down
DROP TABLE web_sessions;
