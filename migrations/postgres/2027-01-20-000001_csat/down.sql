DELETE FROM notification_prefs WHERE kind = 'csat_low';
ALTER TABLE notification_prefs DROP CONSTRAINT notification_prefs_kind_check;
ALTER TABLE notification_prefs ADD CONSTRAINT notification_prefs_kind_check
    CHECK (kind IN ('new_ticket', 'customer_reply', 'assigned', 'sla_breach'));
ALTER TABLE outbox DROP COLUMN body_html;
ALTER TABLE customers DROP COLUMN csat_opt_out;
DROP INDEX csat_surveys_follow_up;
DROP INDEX csat_surveys_due;
DROP TABLE csat_surveys;
