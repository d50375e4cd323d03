-- +goose Up
-- A delivery row (its 1.3 KB signed payload) is written three times: by
-- the intake, by the relay's claim (the lease) and when the bank accepted
-- it. Full pages left the claim no room to write the new version beside
-- the old one, so each claim wrote a new page and an entry in each of the
-- table's three indexes. With pages filled to half, the claim finds room
-- and is a HOT update (no index entry): under intake load at 32 clients
-- its statement went from 23 to 12 µs per application, and the delivered
-- mark's from 19 to 12 (docs/performance-log.md, eighth round). The table
-- takes about twice the pages. Rows already written keep their pages.
ALTER TABLE deliveries SET (fillfactor = 50);

-- +goose Down
ALTER TABLE deliveries RESET (fillfactor);
