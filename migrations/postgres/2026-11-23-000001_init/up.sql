-- Portable conventions: ids and timestamps are 64-bit integers (UTC ms).
-- Keep in step with migrations/sqlite (a test compares the two).

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('agent', 'manager', 'admin')),
    password_hash TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE customers (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE "groups" (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE group_members (
    group_id BIGINT NOT NULL REFERENCES "groups" (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE mailboxes (
    id BIGSERIAL PRIMARY KEY,
    address TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    group_id BIGINT REFERENCES "groups" (id),
    ack_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE tickets (
    id BIGSERIAL PRIMARY KEY,
    subject TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('new', 'open', 'pending', 'resolved', 'closed')),
    priority TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    group_id BIGINT REFERENCES "groups" (id),
    assignee_id BIGINT REFERENCES users (id),
    requester_id BIGINT NOT NULL REFERENCES customers (id),
    escalation_level INTEGER NOT NULL DEFAULT 0,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'web', 'agent', 'api', 'import')),
    external_id TEXT UNIQUE,
    parent_id BIGINT REFERENCES tickets (id),
    mailbox_id BIGINT REFERENCES mailboxes (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    first_responded_at BIGINT,
    resolved_at BIGINT,
    closed_at BIGINT,
    first_response_due_at BIGINT,
    resolution_due_at BIGINT
);
-- The agent queue: filter by status/group/assignee, newest update first, keyset on (updated_at, id).
CREATE INDEX tickets_updated ON tickets (updated_at, id);
CREATE INDEX tickets_status_updated ON tickets (status, updated_at, id);
CREATE INDEX tickets_group_updated ON tickets (group_id, status, updated_at, id);
CREATE INDEX tickets_assignee_updated ON tickets (assignee_id, status, updated_at, id);
CREATE INDEX tickets_requester ON tickets (requester_id, updated_at);
CREATE INDEX tickets_created ON tickets (created_at);

CREATE TABLE participants (
    ticket_id BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, customer_id)
);
CREATE INDEX participants_customer ON participants (customer_id);

CREATE TABLE raw_mails (
    id BIGSERIAL PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    data BYTEA NOT NULL,
    mailbox_id BIGINT REFERENCES mailboxes (id),
    received_at BIGINT NOT NULL
);
CREATE INDEX raw_mails_sha256 ON raw_mails (sha256);

CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('customer', 'agent', 'note', 'auto')),
    author_user_id BIGINT REFERENCES users (id),
    author_customer_id BIGINT REFERENCES customers (id),
    body_text TEXT NOT NULL,
    body_html TEXT,
    mail_message_id TEXT,
    mail_in_reply_to TEXT,
    raw_mail_id BIGINT REFERENCES raw_mails (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX messages_ticket ON messages (ticket_id, created_at, id);
-- Threading looks mail up by Message-ID; notes and imports have none.
CREATE INDEX messages_mail_message_id ON messages (mail_message_id) WHERE mail_message_id IS NOT NULL;

-- Attachment bytes are stored once per content hash.
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY NOT NULL,
    size BIGINT NOT NULL,
    data BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE attachments (
    id BIGSERIAL PRIMARY KEY,
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    blob_sha256 TEXT NOT NULL REFERENCES blobs (sha256),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content_id TEXT,
    inline BOOLEAN NOT NULL DEFAULT FALSE,
    size BIGINT NOT NULL
);
CREATE INDEX attachments_message ON attachments (message_id);

CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    actor_user_id BIGINT REFERENCES users (id),
    actor_customer_id BIGINT REFERENCES customers (id),
    from_value TEXT,
    to_value TEXT,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_ticket ON events (ticket_id, at, id);
CREATE INDEX events_kind_at ON events (kind, at);

CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT REFERENCES tickets (id) ON DELETE CASCADE,
    message_id BIGINT REFERENCES messages (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    to_addrs TEXT NOT NULL,
    cc_addrs TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL,
    mail_message_id TEXT NOT NULL UNIQUE,
    mail_in_reply_to TEXT,
    mail_references TEXT,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    claimed_at BIGINT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_ticket ON outbox (ticket_id);

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);

CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
