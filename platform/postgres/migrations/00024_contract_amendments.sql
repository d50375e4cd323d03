-- +goose Up
-- Contracts changed under a loan (domain.md 1.1, "Closing and contract
-- amendments"). A new version of a financed contract that lowers its
-- financing limit below what is financed, changes its supplier or
-- purchaser, or cancels or terminates it is kept in document_versions but
-- does not replace the version the financing stands on: it waits here for
-- an officer, who adopts it (it becomes current) or keeps the current one.
-- While one waits, contracts.amendment_pending is true and no application
-- is accepted on the contract (check contract.no_pending_amendment); the
-- flag is read and changed under the contract's row lock, as financed is.
ALTER TABLE contracts ADD COLUMN amendment_pending boolean NOT NULL DEFAULT false;
CREATE INDEX contracts_amendment_pending ON contracts (seq) WHERE amendment_pending;

CREATE TABLE contract_amendments (
    contract_id uuid          NOT NULL REFERENCES contracts,
    version     int           NOT NULL,  -- the document_versions row of kind 'contract'
    reasons     text[]        NOT NULL,  -- limit_below_financed, supplier_changed, purchaser_changed, cancelled, terminated
    new_limit   numeric(17,2) NOT NULL,  -- the version's financing limit
    financed    numeric(17,2) NOT NULL,  -- what was financed when it arrived
    status      text          NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'adopted', 'kept')),
    reason      text          NOT NULL DEFAULT '', -- the officer's, when resolved
    decided_by  text          NOT NULL DEFAULT '',
    decided_at  timestamptz,
    created_at  timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (contract_id, version),
    CHECK ((status = 'pending') = (decided_at IS NULL))
);

-- +goose Down
DROP TABLE contract_amendments;
DROP INDEX contracts_amendment_pending;
ALTER TABLE contracts DROP COLUMN amendment_pending;
