-- One row per ticket: what the reports read from its history, so a report
-- over a million tickets reads one row per ticket instead of its events
-- (src/reports/facts.rs). Every recorded event marks the row dirty and
-- bumps `gen`; a job recomputes dirty rows (and all rows when an SLA policy
-- or calendar changes: `book`), and the reports read dirty rows' events
-- meanwhile. `summary` holds the facts in a compact binary form (one
-- column to read per ticket); the other columns are what queries select
-- and filter by. Codes are indexes into the text enums' ALL lists.
CREATE TABLE ticket_facts (
    ticket_id BIGINT PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    gen BIGINT NOT NULL DEFAULT 0,
    dirty BOOLEAN NOT NULL DEFAULT TRUE,
    book BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    channel INTEGER NOT NULL DEFAULT 0,
    priority INTEGER NOT NULL DEFAULT 1,
    group_id BIGINT,
    assignee_id BIGINT,
    -- After this instant the ticket is neither active nor resolved again;
    -- NULL while active.
    settled_at BIGINT,
    summary BYTEA NOT NULL DEFAULT ''
);
CREATE INDEX ticket_facts_created ON ticket_facts (created_at);
CREATE INDEX ticket_facts_settled ON ticket_facts (settled_at);
CREATE INDEX ticket_facts_dirty ON ticket_facts (ticket_id) WHERE dirty;

INSERT INTO ticket_facts (ticket_id, created_at, dirty)
    SELECT id, created_at, TRUE FROM tickets;
