-- Tickets per (group, assignee, status), kept by triggers so every way a
-- ticket row changes (operations, import, deletion) keeps them exact: the
-- queue's status tabs sum a few of these rows instead of counting up to a
-- million tickets on every page. 0 stands for "no group" / "unassigned"
-- (a NULL would never conflict, so the upsert would add rows).
CREATE TABLE ticket_counts (
    group_id BIGINT NOT NULL,
    assignee_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (group_id, assignee_id, status)
);

INSERT INTO ticket_counts (group_id, assignee_id, status, n)
    SELECT COALESCE(group_id, 0), COALESCE(assignee_id, 0), status, COUNT(*)
    FROM tickets GROUP BY 1, 2, 3;

-- Statement-level with transition tables: a bulk import (COPY) adds one
-- grouped upsert per statement, not one per row. Keys are upserted in
-- order, so concurrent changes lock counter rows in the same order and
-- cannot deadlock on them.
CREATE FUNCTION ticket_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO ticket_counts (group_id, assignee_id, status, n)
            SELECT COALESCE(group_id, 0), COALESCE(assignee_id, 0), status, COUNT(*)
            FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            ON CONFLICT (group_id, assignee_id, status)
            DO UPDATE SET n = ticket_counts.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO ticket_counts (group_id, assignee_id, status, n)
            SELECT COALESCE(group_id, 0), COALESCE(assignee_id, 0), status, -COUNT(*)
            FROM old_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            ON CONFLICT (group_id, assignee_id, status)
            DO UPDATE SET n = ticket_counts.n + EXCLUDED.n;
    ELSE
        INSERT INTO ticket_counts (group_id, assignee_id, status, n)
            SELECT g, a, s, SUM(d) FROM (
                SELECT COALESCE(group_id, 0) AS g, COALESCE(assignee_id, 0) AS a,
                       status AS s, 1 AS d FROM new_rows
                UNION ALL
                SELECT COALESCE(group_id, 0), COALESCE(assignee_id, 0), status, -1
                FROM old_rows
            ) AS changes
            GROUP BY g, a, s HAVING SUM(d) <> 0 ORDER BY g, a, s
            ON CONFLICT (group_id, assignee_id, status)
            DO UPDATE SET n = ticket_counts.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER ticket_counts_insert AFTER INSERT ON tickets
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ticket_counts_apply();
CREATE TRIGGER ticket_counts_update AFTER UPDATE ON tickets
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ticket_counts_apply();
CREATE TRIGGER ticket_counts_delete AFTER DELETE ON tickets
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ticket_counts_apply();
