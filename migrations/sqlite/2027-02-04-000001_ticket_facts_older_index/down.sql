DROP INDEX ticket_facts_dirty_created;
DROP INDEX ticket_facts_settled;
CREATE INDEX ticket_facts_settled ON ticket_facts (settled_at);
