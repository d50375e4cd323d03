-- +goose Up
-- The append-only rule on audit_log, without a PL/pgSQL call per sealed
-- row. The sealer updates every row once (seq, prev_hash, hash), and the
-- row trigger ran its function for each, only to let it through. Now the
-- trigger's WHEN condition, evaluated by the executor itself, lets exactly
-- that update through (a row unsealed before, sealed after, nothing else
-- changed), and the function, which refuses, runs for anything else: any
-- other update, and every delete.
DROP TRIGGER audit_log_no_update ON audit_log;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW WHEN (NOT (OLD.seq IS NULL AND NEW.seq IS NOT NULL
        AND (NEW.id, NEW.at, NEW.actor, NEW.action, NEW.entity_type, NEW.entity_id,
             NEW.before_digest, NEW.after_digest, NEW.after_state, NEW.reason)
            IS NOT DISTINCT FROM
            (OLD.id, OLD.at, OLD.actor, OLD.action, OLD.entity_type, OLD.entity_id,
             OLD.before_digest, OLD.after_digest, OLD.after_state, OLD.reason)))
    EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TRIGGER audit_log_no_update ON audit_log;
DROP TRIGGER audit_log_no_delete ON audit_log;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
