-- IMAP sync state: per account and folder, the UIDVALIDITY we saw and how
-- far we got. Keep in step with the other backend's folder (a test compares).
--
-- `last_uid`: every message up to it is committed (ingested); the next pass
-- fetches UIDs above it. `acked_uid`: every message up to it has also been
-- marked, moved or deleted on the server as configured; a pass first
-- finishes (acked_uid, last_uid], so a crash between the commit and the
-- acknowledgement only delays the acknowledgement.
-- A different UIDVALIDITY on the server means the UIDs changed meaning: both
-- start again from 0 and deduplication recognises what is already stored.
CREATE TABLE imap_folders (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    folder TEXT NOT NULL,
    uidvalidity BIGINT NOT NULL,
    last_uid BIGINT NOT NULL,
    acked_uid BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (account, folder)
);
