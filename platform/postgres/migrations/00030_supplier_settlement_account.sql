-- +goose Up
-- A supplier's settlement account (结算账户), where its interest subsidies
-- are paid (api.md 1.1: POST /v1/admin/suppliers takes settlement_account):
-- {bank_name, account_no, account_name}, all three non-empty text, or
-- NULL while an administrator has registered none. The payment files of
-- subsidy batches carry it. The rule is a domain (as in migration 00020).
CREATE DOMAIN settlement_account AS jsonb CHECK (
    jsonb_typeof(VALUE) = 'object'
    AND jsonb_typeof(VALUE -> 'bank_name') = 'string' AND VALUE ->> 'bank_name' <> ''
    AND jsonb_typeof(VALUE -> 'account_no') = 'string' AND VALUE ->> 'account_no' <> ''
    AND jsonb_typeof(VALUE -> 'account_name') = 'string' AND VALUE ->> 'account_name' <> '');
ALTER TABLE suppliers ADD COLUMN settlement_account settlement_account;

-- The account a paid claim was paid into: the supplier's when its batch
-- was closed for payment (NULL before, or when the supplier had none), so
-- a closed batch's file keeps saying where the money went.
ALTER TABLE subsidy_claims ADD COLUMN settlement_account settlement_account;

-- +goose Down
ALTER TABLE subsidy_claims DROP COLUMN settlement_account;
ALTER TABLE suppliers DROP COLUMN settlement_account;
DROP DOMAIN settlement_account;
