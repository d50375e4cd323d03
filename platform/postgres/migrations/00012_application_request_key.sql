-- +goose Up
-- The Idempotency-Key an application was submitted under, committed with
-- the application itself: a retry after a crash between the application's
-- commit and the stored answer finds it instead of applying twice.
ALTER TABLE applications ADD COLUMN request_key text;
CREATE UNIQUE INDEX applications_request_key ON applications (submitted_by, request_key) WHERE request_key IS NOT NULL;

-- +goose Down
DROP INDEX applications_request_key;
ALTER TABLE applications DROP COLUMN request_key;
