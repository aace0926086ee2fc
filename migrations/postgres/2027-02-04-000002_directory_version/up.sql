-- Staff, groups and memberships change rarely and are read on most staff
-- pages: `serve` keeps one copy of them and checks it against this
-- counter, which every change bumps in its own transaction, whichever
-- process makes it (the CLI, another server). Statement-level triggers:
-- a bulk change bumps it once.
CREATE TABLE directory_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
-- 1, not 0: a copy labelled 0 is never trusted (see people::directory).
INSERT INTO directory_version (id, n) VALUES (1, 1);

CREATE FUNCTION directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE directory_version SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_directory AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE TRIGGER groups_directory AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON groups
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE TRIGGER group_members_directory AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON group_members
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
