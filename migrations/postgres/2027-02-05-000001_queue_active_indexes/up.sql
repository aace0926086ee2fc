-- The queue's default tab (new, open and pending) merges one index range
-- per part of the agent's scope: their groups, no group, assigned to them
-- elsewhere. With only (group, status, updated) indexes each part needs
-- an arm per status, nine for an agent in one group, and PostgreSQL's
-- executor start and the merge of nine ranges were most of the listing's
-- cost. These hold each part's active tickets in update order, so a part
-- is one range. The predicate is written exactly as the query writes it
-- (`query::ACTIVE_STATUSES_SQL`): a generic plan uses a partial index only
-- when the query's text implies its predicate. SQLite keeps one arm per
-- status (its merge is cheap, and its ingest pays for every index).
CREATE INDEX tickets_active_group_updated ON tickets (group_id, updated_at, id)
    WHERE status IN ('new', 'open', 'pending');
CREATE INDEX tickets_active_no_group_updated ON tickets (updated_at, id)
    WHERE group_id IS NULL AND status IN ('new', 'open', 'pending');
-- group_id included: the "assigned to them elsewhere" arm tests it.
CREATE INDEX tickets_active_assignee_updated ON tickets (assignee_id, updated_at, id)
    INCLUDE (group_id) WHERE status IN ('new', 'open', 'pending');
