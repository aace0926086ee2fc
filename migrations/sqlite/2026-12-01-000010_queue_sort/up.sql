-- The queue's computed sort keys (src/tickets/query.rs, Sort::sql), indexed
-- so "priority" and "SLA due" pages read 51 rows instead of sorting all.
-- The expressions must stay identical to the ones the queries use.
CREATE INDEX tickets_priority_key ON tickets (
    ((CASE priority WHEN 'urgent' THEN 3 WHEN 'high' THEN 2 WHEN 'normal' THEN 1 ELSE 0 END)
        * 10000000000000 + updated_at),
    id
);
CREATE INDEX tickets_due_key ON tickets (
    (COALESCE(CASE WHEN first_responded_at IS NULL THEN first_response_due_at END,
        resolution_due_at, 9000000000000000000)),
    id
);
