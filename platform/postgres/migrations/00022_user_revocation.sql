-- +goose Up
-- Package platform/auth: revoking a user's access tokens and web sessions.
--
-- token_generation is carried by every access token (claim "gen") and by
-- every web session; disabling a user or changing their password adds one,
-- so everything issued before stops working. A notification on channel
-- procfin_users (payload: the user's id) tells every procfin process to
-- forget what it remembered of the user, whoever changed the row (procfin
-- or an operator's SQL).
ALTER TABLE users ADD COLUMN token_generation bigint NOT NULL DEFAULT 0;
ALTER TABLE web_sessions ADD COLUMN token_generation bigint NOT NULL DEFAULT 0;
CREATE INDEX web_sessions_user ON web_sessions (user_id);

-- +goose StatementBegin
CREATE FUNCTION users_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('procfin_users', OLD.id::text);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER users_notify AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_notify();

-- +goose Down
DROP TRIGGER users_notify ON users;
DROP FUNCTION users_notify();
DROP INDEX web_sessions_user;
ALTER TABLE web_sessions DROP COLUMN token_generation;
ALTER TABLE users DROP COLUMN token_generation;
