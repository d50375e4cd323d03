-- +goose Up
-- Each delivery names its kind of message (banking's registry of outbound
-- messages), from which the relay takes the path at the bank. Every row so
-- far is a credit application. A constant default is kept in the catalogue
-- and costs no rewrite; the column is in no index, so the relay's lease
-- stays a HOT update (migration 00021).
ALTER TABLE deliveries ADD COLUMN kind text NOT NULL DEFAULT 'credit-application';

-- +goose Down
ALTER TABLE deliveries DROP COLUMN kind;
