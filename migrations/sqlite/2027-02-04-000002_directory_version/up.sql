-- Staff, groups and memberships change rarely and are read on most staff
-- pages: `serve` keeps one copy of them and checks it against this
-- counter, which every change bumps in its own transaction, whichever
-- process makes it (the CLI, another server).
CREATE TABLE directory_version (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    n BIGINT NOT NULL
);
-- 1, not 0: a copy labelled 0 is never trusted (see people::directory).
INSERT INTO directory_version (id, n) VALUES (1, 1);

CREATE TRIGGER users_directory_insert AFTER INSERT ON users
BEGIN UPDATE directory_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER users_directory_update AFTER UPDATE ON users
BEGIN UPDATE directory_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER users_directory_delete AFTER DELETE ON users
BEGIN UPDATE directory_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER groups_directory_insert AFTER INSERT ON groups
BEGIN UPDATE directory_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER groups_directory_update AFTER UPDATE ON groups
BEGIN UPDATE directory_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER groups_directory_delete AFTER DELETE ON groups
BEGIN UPDATE directory_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER group_members_directory_insert AFTER INSERT ON group_members
BEGIN UPDATE directory_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER group_members_directory_update AFTER UPDATE ON group_members
BEGIN UPDATE directory_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER group_members_directory_delete AFTER DELETE ON group_members
BEGIN UPDATE directory_version SET n = n + 1 WHERE id = 1; END;
