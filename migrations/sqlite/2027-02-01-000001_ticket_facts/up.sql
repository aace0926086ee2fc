-- One row per ticket: what the reports read from its history, so a report
-- over a million tickets reads one row per ticket instead of its events
-- (src/reports/facts.rs). Every recorded event marks the row dirty and
-- bumps `gen`; a job recomputes dirty rows (and all rows when an SLA policy
-- or calendar changes: `book`), and the reports read dirty rows' events
-- meanwhile. Codes are indexes into the text enums' ALL lists; times in
-- `stretches` and `resolutions` are offsets from `created_at`.
CREATE TABLE ticket_facts (
    ticket_id INTEGER PRIMARY KEY NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    gen BIGINT NOT NULL DEFAULT 0,
    dirty BOOLEAN NOT NULL DEFAULT TRUE,
    book BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    channel INTEGER NOT NULL DEFAULT 0,
    priority INTEGER NOT NULL DEFAULT 1,
    group_id BIGINT,
    assignee_id BIGINT,
    last_at BIGINT NOT NULL DEFAULT 0,
    status INTEGER NOT NULL DEFAULT 0,
    first_reply_at BIGINT,
    first_resolved_at BIGINT,
    replies INTEGER NOT NULL DEFAULT 0,
    customer_messages INTEGER NOT NULL DEFAULT 0,
    flags INTEGER NOT NULL DEFAULT 0,
    fr_business_ms BIGINT,
    res_business_ms BIGINT,
    sla_fr INTEGER NOT NULL DEFAULT 0,
    sla_fr_due BIGINT,
    sla_fr_stopped BIGINT,
    sla_res INTEGER NOT NULL DEFAULT 0,
    sla_res_due BIGINT,
    sla_res_stopped BIGINT,
    settled_at BIGINT,
    stretches TEXT NOT NULL DEFAULT '',
    resolutions TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ticket_facts_created ON ticket_facts (created_at);
CREATE INDEX ticket_facts_settled ON ticket_facts (settled_at);
CREATE INDEX ticket_facts_dirty ON ticket_facts (ticket_id) WHERE dirty;

INSERT INTO ticket_facts (ticket_id, created_at, dirty)
    SELECT id, created_at, TRUE FROM tickets;
