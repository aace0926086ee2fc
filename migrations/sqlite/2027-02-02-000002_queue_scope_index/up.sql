-- The queue's default order (most recently updated first) with the columns
-- an agent's scope and the status tabs test, so finding a page of visible
-- tickets reads index entries, not a table row per skipped ticket (at a
-- million tickets the default view skipped thousands: 7 ms of SQLite per
-- page before, 0.5 ms after).
DROP INDEX tickets_updated;
CREATE INDEX tickets_updated ON tickets (updated_at, id, status, group_id, assignee_id);
