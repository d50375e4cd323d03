-- +goose Up
-- Banks and subsidy policy versions are permanent: a trigger refuses to
-- delete one or change its key. Rows that name them therefore keep no
-- foreign key to them. A foreign-key check locks the referenced row
-- (FOR KEY SHARE), and every application, delivery, bank event and subsidy
-- claim names one of a handful of bank and policy rows, so concurrent
-- transactions kept building MultiXacts on those few rows (15 WAL records
-- and 5 KB of WAL per application; intake +10 %, events +6 % without).
-- Each writer checks the row it names exists: an application in the
-- statement that inserts it (lending), an event's bank by its signature,
-- a claim's policy by reading it; a permanent row cannot vanish after.

-- +goose StatementBegin
CREATE FUNCTION refuse_removal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are permanent: they are never deleted and their key never changes', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER banks_permanent BEFORE DELETE OR UPDATE OF id ON banks
    FOR EACH ROW EXECUTE FUNCTION refuse_removal();
CREATE TRIGGER banks_no_truncate BEFORE TRUNCATE ON banks
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_removal();
CREATE TRIGGER subsidy_policies_permanent BEFORE DELETE OR UPDATE OF version ON subsidy_policies
    FOR EACH ROW EXECUTE FUNCTION refuse_removal();
CREATE TRIGGER subsidy_policies_no_truncate BEFORE TRUNCATE ON subsidy_policies
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_removal();

ALTER TABLE applications   DROP CONSTRAINT applications_bank_id_fkey;
ALTER TABLE consents       DROP CONSTRAINT consents_bank_id_fkey;
ALTER TABLE deliveries     DROP CONSTRAINT deliveries_bank_id_fkey;
ALTER TABLE bank_events    DROP CONSTRAINT bank_events_bank_id_fkey;
ALTER TABLE loans          DROP CONSTRAINT loans_bank_id_fkey;
ALTER TABLE credit_lines   DROP CONSTRAINT credit_lines_bank_id_fkey;
ALTER TABLE subsidy_claims DROP CONSTRAINT subsidy_claims_policy_version_fkey;

-- +goose Down
ALTER TABLE applications   ADD CONSTRAINT applications_bank_id_fkey FOREIGN KEY (bank_id) REFERENCES banks(id);
ALTER TABLE consents       ADD CONSTRAINT consents_bank_id_fkey FOREIGN KEY (bank_id) REFERENCES banks(id);
ALTER TABLE deliveries     ADD CONSTRAINT deliveries_bank_id_fkey FOREIGN KEY (bank_id) REFERENCES banks(id);
ALTER TABLE bank_events    ADD CONSTRAINT bank_events_bank_id_fkey FOREIGN KEY (bank_id) REFERENCES banks(id);
ALTER TABLE loans          ADD CONSTRAINT loans_bank_id_fkey FOREIGN KEY (bank_id) REFERENCES banks(id);
ALTER TABLE credit_lines   ADD CONSTRAINT credit_lines_bank_id_fkey FOREIGN KEY (bank_id) REFERENCES banks(id);
ALTER TABLE subsidy_claims ADD CONSTRAINT subsidy_claims_policy_version_fkey FOREIGN KEY (policy_version) REFERENCES subsidy_policies(version);
DROP TRIGGER subsidy_policies_no_truncate ON subsidy_policies;
DROP TRIGGER subsidy_policies_permanent ON subsidy_policies;
DROP TRIGGER banks_no_truncate ON banks;
DROP TRIGGER banks_permanent ON banks;
DROP FUNCTION refuse_removal();
