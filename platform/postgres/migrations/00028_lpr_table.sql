-- +goose Up
-- The subsidy's rate cap is the 1-year LPR, which changes on published
-- dates (domain.md 1.1, "Subsidy, day by day"): each policy version names
-- it as a dated table, a JSON array of {"from": date, "rate": decimal
-- text}, sorted by from, at least one entry. A day before the first entry
-- uses the first. rate_cap stays: the entry in force on effective_from.
-- Versions recorded before keep the one cap they computed with.
ALTER TABLE subsidy_policies ADD COLUMN lpr_1y jsonb;
UPDATE subsidy_policies
    SET lpr_1y = jsonb_build_array(jsonb_build_object('from', effective_from, 'rate', rate_cap::text));
ALTER TABLE subsidy_policies
    ALTER COLUMN lpr_1y SET NOT NULL,
    ADD CHECK (jsonb_typeof(lpr_1y) = 'array' AND jsonb_array_length(lpr_1y) > 0);

-- +goose Down
ALTER TABLE subsidy_policies DROP COLUMN lpr_1y;
