-- Which agent notifications a staff user has turned off or on. No row means
-- the default (on). Keep in step with the other backend's folder (a test compares).
CREATE TABLE notification_prefs (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('new_ticket', 'customer_reply', 'assigned')),
    enabled BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, kind)
);
