-- Mail ingestion: deduplication of stored raw mail, the quarantine for mail
-- that could not be processed, and delivery failures (bounces).
-- Keep in step with the other backend's folder (a test compares).

-- `dedupe_key` is `mid:<Message-ID>` or, without one, `sha256:<hash>`; a mail
-- is stored once per (mailbox, key). The unique index, not a pre-check, is
-- what holds under concurrent deliveries. Rows written before this migration
-- have no key.
ALTER TABLE raw_mails ADD COLUMN dedupe_key TEXT;
ALTER TABLE raw_mails ADD COLUMN mail_message_id TEXT;
CREATE UNIQUE INDEX raw_mails_dedupe ON raw_mails (COALESCE(mailbox_id, 0), dedupe_key)
    WHERE dedupe_key IS NOT NULL;

CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY,
    raw_mail_id BIGINT NOT NULL UNIQUE REFERENCES raw_mails (id),
    error TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retried_at BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0,
    resolved_at BIGINT
);
CREATE INDEX quarantine_open ON quarantine (resolved_at, created_at);

CREATE TABLE delivery_failures (
    id INTEGER PRIMARY KEY,
    ticket_id BIGINT REFERENCES tickets (id) ON DELETE CASCADE,
    raw_mail_id BIGINT NOT NULL REFERENCES raw_mails (id),
    recipient TEXT,
    status TEXT,
    diagnostic TEXT NOT NULL,
    original_message_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX delivery_failures_ticket ON delivery_failures (ticket_id, created_at);
