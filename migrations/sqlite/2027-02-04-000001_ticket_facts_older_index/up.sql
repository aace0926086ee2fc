-- A report reads the tickets created before its period that were active
-- in it: `settled_at IS NULL` or `settled_at >= from`, with `created_at <
-- from`. With settled_at alone in the index each candidate row was fetched
-- to test its creation (a year at a million tickets: 980,000 rows fetched
-- to find none, 0.21 s on SQLite); with created_at beside it the test is
-- made on index entries, and the still-active ones are one range.
DROP INDEX ticket_facts_settled;
CREATE INDEX ticket_facts_settled ON ticket_facts (settled_at, created_at);
-- The older dirty rows (`dirty AND created_at < from`): SQLite chose
-- `ticket_facts_created` for them and fetched every older row to test the
-- flag (30 days at a million tickets: 0.17 s for none).
CREATE INDEX ticket_facts_dirty_created ON ticket_facts (created_at) WHERE dirty;
