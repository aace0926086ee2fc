DROP INDEX tickets_updated;
CREATE INDEX tickets_updated ON tickets (updated_at, id);
