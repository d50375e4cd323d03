-- +goose Up
-- contract.single_bank reads the banks of a contract's live applications
-- at every intake batch: the lowest and the highest bank id, two probes of
-- this index per contract, however many applications the contract has.
-- The list is lending.liveSet's.
CREATE INDEX applications_contract_live ON applications (contract_id, bank_id)
    WHERE status IN ('submitted', 'delivered', 'received', 'approved', 'disbursed', 'repaid');

-- +goose Down
DROP INDEX applications_contract_live;
