DROP TABLE delivery_failures;
DROP TABLE quarantine;
DROP INDEX raw_mails_dedupe;
ALTER TABLE raw_mails DROP COLUMN mail_message_id;
ALTER TABLE raw_mails DROP COLUMN dedupe_key;
