-- +goose Up
-- The audit trail's chain moves to a table of its own. Until now the
-- sealer gave each committed row its place by updating it: a copy of the
-- whole row (its state is often 1 KB or more), three index entries, a row
-- lock, and a dead row for vacuum, for every change procfin recorded; under
-- intake load the seal cost PostgreSQL about 100 µs an application. Now
-- audit_log is only ever inserted into, and the sealer appends one small
-- row per sealed row to audit_chain: its place (seq), the audit row it
-- seals, the previous row's hash and its own hash, computed exactly as
-- before, so rows sealed before this migration verify unchanged.
--
-- audit_unsealed is the queue of rows not yet sealed: a statement trigger
-- on audit_log puts every inserted row's id in it, whoever inserts, and the
-- sealer takes what it finds there. It is small (the sealer empties it
-- every 250 ms) and has no index: the sealer reads it whole.
CREATE TABLE audit_chain (
    seq       bigint PRIMARY KEY CHECK (seq > 0),
    audit_id  bigint NOT NULL UNIQUE,
    prev_hash text   NOT NULL,
    hash      text   NOT NULL
);
INSERT INTO audit_chain (seq, audit_id, prev_hash, hash)
    SELECT seq, id, prev_hash, hash FROM audit_log WHERE seq IS NOT NULL;

CREATE TABLE audit_unsealed (id bigint NOT NULL);
INSERT INTO audit_unsealed (id) SELECT id FROM audit_log WHERE seq IS NULL;

DROP TRIGGER audit_log_no_update ON audit_log;
DROP INDEX audit_log_unsealed;
DROP INDEX audit_log_seq;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_sealed_whole;
ALTER TABLE audit_log DROP COLUMN seq, DROP COLUMN prev_hash, DROP COLUMN hash;

-- +goose StatementBegin
-- Append-only, with no exception now: nothing ever updates a row of the
-- trail or of its chain.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE FUNCTION audit_log_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_unsealed (id) SELECT id FROM inserted;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_queue AFTER INSERT ON audit_log
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_queue();
CREATE TRIGGER audit_chain_no_change BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TRIGGER audit_log_queue ON audit_log;
DROP FUNCTION audit_log_queue();
DROP TRIGGER audit_log_no_update ON audit_log;
ALTER TABLE audit_log ADD COLUMN seq bigint, ADD COLUMN prev_hash text, ADD COLUMN hash text;
UPDATE audit_log AS a SET seq = c.seq, prev_hash = c.prev_hash, hash = c.hash
    FROM audit_chain c WHERE c.audit_id = a.id;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_sealed_whole
    CHECK ((seq IS NULL) = (hash IS NULL) AND (seq IS NULL) = (prev_hash IS NULL));
CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq);
CREATE INDEX audit_log_unsealed ON audit_log (id) WHERE seq IS NULL;
DROP TABLE audit_unsealed;
DROP TABLE audit_chain;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW WHEN (NOT (OLD.seq IS NULL AND NEW.seq IS NOT NULL
        AND (NEW.id, NEW.at, NEW.actor, NEW.action, NEW.entity_type, NEW.entity_id,
             NEW.before_digest, NEW.after_digest, NEW.after_state, NEW.reason)
            IS NOT DISTINCT FROM
            (OLD.id, OLD.at, OLD.actor, OLD.action, OLD.entity_type, OLD.entity_id,
             OLD.before_digest, OLD.after_digest, OLD.after_state, OLD.reason)))
    EXECUTE FUNCTION audit_log_append_only();
