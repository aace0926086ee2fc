DROP INDEX events_kind_at;
CREATE INDEX events_kind_at ON events (kind, at);
