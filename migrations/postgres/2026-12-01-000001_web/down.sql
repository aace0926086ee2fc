ALTER TABLE outbox DROP COLUMN body_text;
DROP TABLE canned_responses;
DROP TABLE portal_links;
DROP TABLE login_failures;
DROP TABLE sessions;
