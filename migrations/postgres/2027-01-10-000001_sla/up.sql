-- SLA policies and each ticket's live SLA clock (src/sla, src/tickets/sla.rs).
-- Keep in step with the other backend's folder (a test compares).

-- Business hours. `hours`: 7 lines, Monday first, each "HH:MM-HH:MM, ..." or
-- "closed"; `holidays`: lines "YYYY-MM-DD name" (src/sla/calendar.rs).
-- A policy without a calendar runs around the clock in UTC.
CREATE TABLE calendars (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    time_zone TEXT NOT NULL,
    hours TEXT NOT NULL,
    holidays TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A policy applies to one group's tickets, or (group_id NULL) to every
-- ticket whose group has no policy of its own. What happens on a breach is
-- configurable per policy.
CREATE TABLE sla_policies (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    group_id BIGINT REFERENCES "groups" (id) ON DELETE CASCADE,
    calendar_id BIGINT REFERENCES calendars (id),
    breach_raise_level BOOLEAN NOT NULL,
    breach_group_id BIGINT REFERENCES "groups" (id) ON DELETE SET NULL,
    breach_raise_priority BOOLEAN NOT NULL,
    breach_notify BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX sla_policies_one_per_group ON sla_policies ((COALESCE(group_id, 0)));

-- Targets in business minutes, per priority; a missing row or NULL means no target.
CREATE TABLE sla_targets (
    policy_id BIGINT NOT NULL REFERENCES sla_policies (id) ON DELETE CASCADE,
    priority TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    first_response_minutes BIGINT CHECK (first_response_minutes > 0),
    resolution_minutes BIGINT CHECK (resolution_minutes > 0),
    PRIMARY KEY (policy_id, priority)
);

-- The ticket's clock. Due and warning (80 % used) instants are recomputed by
-- tickets::sla on every change that moves them; `*_breached_at` is set once,
-- by the breach job, at the due instant. `resolution_remaining_ms`: business
-- time left while the resolution clock is paused (pending). `sla_next_at`:
-- the next instant the breach job must look at the ticket (NULL: never).
ALTER TABLE tickets ADD COLUMN sla_policy_id BIGINT REFERENCES sla_policies (id) ON DELETE SET NULL;
ALTER TABLE tickets ADD COLUMN first_response_warn_at BIGINT;
ALTER TABLE tickets ADD COLUMN first_response_breached_at BIGINT;
ALTER TABLE tickets ADD COLUMN resolution_warn_at BIGINT;
ALTER TABLE tickets ADD COLUMN resolution_breached_at BIGINT;
ALTER TABLE tickets ADD COLUMN resolution_remaining_ms BIGINT;
ALTER TABLE tickets ADD COLUMN sla_next_at BIGINT;
CREATE INDEX tickets_sla_next ON tickets (sla_next_at) WHERE sla_next_at IS NOT NULL;
CREATE INDEX tickets_sla_policy ON tickets (sla_policy_id) WHERE sla_policy_id IS NOT NULL;

-- Agents can turn SLA-breach notifications off like the others.
ALTER TABLE notification_prefs DROP CONSTRAINT notification_prefs_kind_check;
ALTER TABLE notification_prefs ADD CONSTRAINT notification_prefs_kind_check
    CHECK (kind IN ('new_ticket', 'customer_reply', 'assigned', 'sla_breach'));
