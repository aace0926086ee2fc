DELETE FROM notification_prefs WHERE kind = 'csat_low';
CREATE TABLE notification_prefs_next (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('new_ticket', 'customer_reply', 'assigned', 'sla_breach')),
    enabled BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, kind)
);
INSERT INTO notification_prefs_next (user_id, kind, enabled)
    SELECT user_id, kind, enabled FROM notification_prefs;
DROP TABLE notification_prefs;
ALTER TABLE notification_prefs_next RENAME TO notification_prefs;
ALTER TABLE outbox DROP COLUMN body_html;
ALTER TABLE customers DROP COLUMN csat_opt_out;
DROP INDEX csat_surveys_follow_up;
DROP INDEX csat_surveys_due;
DROP TABLE csat_surveys;
