-- +goose Up
-- The audit trail (全程留痕): append-only and hash-chained. Each row's hash
-- covers the previous row's hash and every column, so an edited row breaks
-- the chain; seq has no gaps, so a deleted row is a gap; audit_head holds
-- the last seq and hash, so a deleted tail is seen too.
CREATE TABLE audit_log (
    seq           bigint      PRIMARY KEY CHECK (seq > 0),
    at            timestamptz NOT NULL,
    actor         text        NOT NULL,
    action        text        NOT NULL,
    entity_type   text        NOT NULL,
    entity_id     text        NOT NULL,
    before_digest text        NOT NULL DEFAULT '',
    after_digest  text        NOT NULL DEFAULT '',
    after_state   text        NOT NULL DEFAULT '',
    reason        text        NOT NULL DEFAULT '',
    prev_hash     text        NOT NULL,
    hash          text        NOT NULL
);
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id, seq);

CREATE TABLE audit_head (
    id   boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq  bigint  NOT NULL,
    hash text    NOT NULL
);
INSERT INTO audit_head (seq, hash) VALUES (0, repeat('0', 64));

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TABLE audit_head;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
