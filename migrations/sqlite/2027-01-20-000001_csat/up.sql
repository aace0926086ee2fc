-- Satisfaction surveys after resolution (one per ticket), the customers'
-- opt-out, a mail body in HTML for outbox rows that carry their own, and
-- the managers' notification about a low rating.
CREATE TABLE csat_surveys (
    id INTEGER PRIMARY KEY,
    ticket_id BIGINT NOT NULL UNIQUE REFERENCES tickets (id) ON DELETE CASCADE,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    -- SHA-256 of the link token, set when the survey is sent; never the token.
    token_hash TEXT UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('scheduled', 'sent', 'answered', 'cancelled')),
    due_at BIGINT NOT NULL,
    sent_at BIGINT,
    reminded_at BIGINT,
    expires_at BIGINT,
    rating INTEGER CHECK (rating BETWEEN 1 AND 5),
    comment TEXT,
    answered_at BIGINT,
    -- A low rating waits on the follow-up view until an agent marks it done.
    followed_up_at BIGINT,
    followed_up_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX csat_surveys_due ON csat_surveys (state, due_at);
CREATE INDEX csat_surveys_follow_up ON csat_surveys (rating, followed_up_at);

ALTER TABLE customers ADD COLUMN csat_opt_out BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE outbox ADD COLUMN body_html TEXT;

-- SQLite cannot change a CHECK constraint: the table is rebuilt.
CREATE TABLE notification_prefs_next (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('new_ticket', 'customer_reply', 'assigned', 'sla_breach', 'csat_low')),
    enabled BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, kind)
);
INSERT INTO notification_prefs_next (user_id, kind, enabled)
    SELECT user_id, kind, enabled FROM notification_prefs;
DROP TABLE notification_prefs;
ALTER TABLE notification_prefs_next RENAME TO notification_prefs;
