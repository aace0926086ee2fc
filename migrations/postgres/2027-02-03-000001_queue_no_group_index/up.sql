-- The queue's "no group" arm (tickets of one status without a group, newest
-- update first). PostgreSQL does not read `tickets_group_updated` in
-- update order under `group_id IS NULL` (only equalities drop a leading
-- column from the order), so it sorted every such ticket; this index holds
-- them in that order. SQLite treats IS NULL as an equality and needs none.
CREATE INDEX tickets_no_group_updated ON tickets (status, updated_at, id) WHERE group_id IS NULL;
