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

CREATE TRIGGER ticket_counts_insert AFTER INSERT ON tickets
BEGIN
    INSERT INTO ticket_counts (group_id, assignee_id, status, n)
        VALUES (COALESCE(NEW.group_id, 0), COALESCE(NEW.assignee_id, 0), NEW.status, 1)
        ON CONFLICT (group_id, assignee_id, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER ticket_counts_delete AFTER DELETE ON tickets
BEGIN
    UPDATE ticket_counts SET n = n - 1
        WHERE group_id = COALESCE(OLD.group_id, 0)
          AND assignee_id = COALESCE(OLD.assignee_id, 0)
          AND status = OLD.status;
END;

CREATE TRIGGER ticket_counts_update AFTER UPDATE OF status, group_id, assignee_id ON tickets
    WHEN OLD.status IS NOT NEW.status
      OR OLD.group_id IS NOT NEW.group_id
      OR OLD.assignee_id IS NOT NEW.assignee_id
BEGIN
    UPDATE ticket_counts SET n = n - 1
        WHERE group_id = COALESCE(OLD.group_id, 0)
          AND assignee_id = COALESCE(OLD.assignee_id, 0)
          AND status = OLD.status;
    INSERT INTO ticket_counts (group_id, assignee_id, status, n)
        VALUES (COALESCE(NEW.group_id, 0), COALESCE(NEW.assignee_id, 0), NEW.status, 1)
        ON CONFLICT (group_id, assignee_id, status) DO UPDATE SET n = n + 1;
END;
