-- +goose Up
-- Messages to banks other than the credit application (bank-protocol.md
-- 1.1, "Platform to bank: more signed messages"): an application may have
-- several deliveries, each with a message id of its own, its
-- Idempotency-Key. The credit application's message id is its
-- application's id, as it always was.
ALTER TABLE deliveries ADD COLUMN message_id uuid;
UPDATE deliveries SET message_id = application_id;
ALTER TABLE deliveries ALTER COLUMN message_id SET NOT NULL;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_message_id_key UNIQUE (message_id);
ALTER TABLE deliveries DROP CONSTRAINT deliveries_application_id_key;
-- The relay holds an application's later message back while an earlier
-- one is pending or leased: one probe of this index per such message.
CREATE INDEX deliveries_application ON deliveries (application_id, id);

-- The language of the statement the supplier saw (domain.md 1.1,
-- "Consent"); the consents given before were stated in English.
ALTER TABLE consents ADD COLUMN lang text NOT NULL DEFAULT 'en';
ALTER TABLE consents ALTER COLUMN lang SET DEFAULT 'zh-CN';

-- +goose Down
ALTER TABLE consents DROP COLUMN lang;
DROP INDEX deliveries_application;
DELETE FROM deliveries WHERE message_id <> application_id;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_application_id_key UNIQUE (application_id);
ALTER TABLE deliveries DROP CONSTRAINT deliveries_message_id_key;
ALTER TABLE deliveries DROP COLUMN message_id;
