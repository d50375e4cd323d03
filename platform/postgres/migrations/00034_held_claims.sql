-- +goose Up
-- The held subsidy claims of an application, found when its purchaser
-- confirms the receivable (subsidies.Service.ReleaseHeld).
CREATE INDEX subsidy_claims_held ON subsidy_claims (application_id) WHERE status = 'held';

-- +goose Down
DROP INDEX subsidy_claims_held;
