-- +goose Up
-- Loans get a sequence for keyset paging, like the other lists.
ALTER TABLE loans ADD COLUMN seq bigserial UNIQUE;

-- +goose Down
ALTER TABLE loans DROP COLUMN seq;
