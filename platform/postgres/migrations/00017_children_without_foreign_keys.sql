-- +goose Up
-- Applications, loans and repayments are permanent, as banks and policies
-- are (00015): a trigger refuses to delete one or change its id. The rows
-- procfin writes only together with their parent, in the parent's own
-- transaction and from the parent's row, keep no foreign key to it:
--
--   consents, the first transition   with their application, in its INSERT
--   transitions                      with the UPDATE of their application
--   deliveries                       in the application's transaction
--   repayments                       with the UPDATE of their loan
--   subsidy claims                   in their repayment's transaction
--
-- Each such key cost a query and a row lock per row written (an
-- application +3 %, a repayment +7 % without; docs/performance-log.md,
-- fifth round), to check a parent the same transaction had just
-- written or locked; a permanent parent cannot vanish after. Rows with
-- keys from outside (an application's contract, line and supplier; a
-- loan's application) keep theirs.

CREATE TRIGGER applications_permanent BEFORE DELETE OR UPDATE OF id ON applications
    FOR EACH ROW EXECUTE FUNCTION refuse_removal();
CREATE TRIGGER applications_no_truncate BEFORE TRUNCATE ON applications
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_removal();
CREATE TRIGGER loans_permanent BEFORE DELETE OR UPDATE OF id ON loans
    FOR EACH ROW EXECUTE FUNCTION refuse_removal();
CREATE TRIGGER loans_no_truncate BEFORE TRUNCATE ON loans
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_removal();
CREATE TRIGGER repayments_permanent BEFORE DELETE OR UPDATE OF id ON repayments
    FOR EACH ROW EXECUTE FUNCTION refuse_removal();
CREATE TRIGGER repayments_no_truncate BEFORE TRUNCATE ON repayments
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_removal();

ALTER TABLE consents DROP CONSTRAINT consents_application_id_fkey;
ALTER TABLE application_transitions DROP CONSTRAINT application_transitions_application_id_fkey;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_application_id_fkey;
ALTER TABLE repayments DROP CONSTRAINT repayments_loan_id_fkey;
ALTER TABLE subsidy_claims DROP CONSTRAINT subsidy_claims_repayment_id_fkey;
ALTER TABLE subsidy_claims DROP CONSTRAINT subsidy_claims_application_id_fkey;
ALTER TABLE subsidy_claims DROP CONSTRAINT subsidy_claims_loan_id_fkey;

-- +goose Down
ALTER TABLE subsidy_claims ADD CONSTRAINT subsidy_claims_loan_id_fkey FOREIGN KEY (loan_id) REFERENCES loans (id);
ALTER TABLE subsidy_claims ADD CONSTRAINT subsidy_claims_application_id_fkey FOREIGN KEY (application_id) REFERENCES applications (id);
ALTER TABLE subsidy_claims ADD CONSTRAINT subsidy_claims_repayment_id_fkey FOREIGN KEY (repayment_id) REFERENCES repayments (id);
ALTER TABLE repayments ADD CONSTRAINT repayments_loan_id_fkey FOREIGN KEY (loan_id) REFERENCES loans (id);
ALTER TABLE deliveries ADD CONSTRAINT deliveries_application_id_fkey FOREIGN KEY (application_id) REFERENCES applications (id);
ALTER TABLE application_transitions ADD CONSTRAINT application_transitions_application_id_fkey FOREIGN KEY (application_id) REFERENCES applications (id);
ALTER TABLE consents ADD CONSTRAINT consents_application_id_fkey FOREIGN KEY (application_id) REFERENCES applications (id);
DROP TRIGGER repayments_no_truncate ON repayments;
DROP TRIGGER repayments_permanent ON repayments;
DROP TRIGGER loans_no_truncate ON loans;
DROP TRIGGER loans_permanent ON loans;
DROP TRIGGER applications_no_truncate ON applications;
DROP TRIGGER applications_permanent ON applications;
