DELETE FROM notification_prefs WHERE kind = 'sla_breach';
ALTER TABLE notification_prefs DROP CONSTRAINT notification_prefs_kind_check;
ALTER TABLE notification_prefs ADD CONSTRAINT notification_prefs_kind_check
    CHECK (kind IN ('new_ticket', 'customer_reply', 'assigned'));
DROP INDEX tickets_sla_policy;
DROP INDEX tickets_sla_next;
ALTER TABLE tickets DROP COLUMN sla_next_at;
ALTER TABLE tickets DROP COLUMN resolution_remaining_ms;
ALTER TABLE tickets DROP COLUMN resolution_breached_at;
ALTER TABLE tickets DROP COLUMN resolution_warn_at;
ALTER TABLE tickets DROP COLUMN first_response_breached_at;
ALTER TABLE tickets DROP COLUMN first_response_warn_at;
ALTER TABLE tickets DROP COLUMN sla_policy_id;
DROP TABLE sla_targets;
DROP TABLE sla_policies;
DROP TABLE calendars;
