-- Notifications (SPEC §8), the PostgreSQL twin of the SQLite backend's
-- 0004_notify.sql: channels, one delivery per (event, subscribed channel)
-- with its attempts, and each objective's alert threshold state. Times are
-- BIGINT milliseconds since the Unix epoch, UTC.

CREATE TABLE notify_channels (
    id         TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    url        TEXT NOT NULL,
    -- The webhook signing key; never served by the API.
    secret     TEXT,
    -- The event types it receives; NULL: all.
    events     TEXT[],
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Written by the outbox's enqueue (fan-out) in the transaction of the change
-- that caused the event; claimed by delivery workers of any replica with
-- FOR UPDATE SKIP LOCKED and a lease.
CREATE TABLE notify_deliveries (
    id               BIGSERIAL PRIMARY KEY,
    channel_id       TEXT COLLATE "C" NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
    event_id         TEXT COLLATE "C" NOT NULL REFERENCES outbox_events (id) ON DELETE CASCADE,
    state            TEXT NOT NULL DEFAULT 'pending',
    -- Attempts made so far.
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT,
    lease_until      BIGINT,
    lease_token      TEXT,
    first_attempt_at BIGINT,
    -- When it was delivered or abandoned.
    finished_at      BIGINT,
    UNIQUE (channel_id, event_id)
);
-- The claim path: a channel's due deliveries, oldest first.
CREATE INDEX notify_deliveries_due
    ON notify_deliveries (channel_id, next_attempt_at) WHERE state = 'pending';
-- Pruning finished deliveries.
CREATE INDEX notify_deliveries_finished
    ON notify_deliveries (finished_at) WHERE state <> 'pending';
CREATE INDEX notify_deliveries_by_event ON notify_deliveries (event_id);
-- `GET /channels/{id}/deliveries`: newest first.
CREATE INDEX notify_deliveries_by_channel ON notify_deliveries (channel_id, id);
CREATE INDEX notify_deliveries_by_lease ON notify_deliveries (lease_token)
    WHERE lease_token IS NOT NULL;

CREATE TABLE notify_attempts (
    id          BIGSERIAL PRIMARY KEY,
    delivery_id BIGINT NOT NULL REFERENCES notify_deliveries (id) ON DELETE CASCADE,
    attempt     BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    status_code BIGINT,
    error       TEXT,
    delivered   BOOLEAN NOT NULL
);
CREATE INDEX notify_attempts_by_delivery ON notify_attempts (delivery_id, attempt);

-- Which thresholds have fired and not re-armed; goes with its objective.
CREATE TABLE alert_state (
    objective_id TEXT COLLATE "C" PRIMARY KEY REFERENCES slo_objectives (id) ON DELETE CASCADE,
    warning      BOOLEAN NOT NULL DEFAULT FALSE,
    critical     BOOLEAN NOT NULL DEFAULT FALSE,
    exhausted    BOOLEAN NOT NULL DEFAULT FALSE,
    burn_fast    BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at   BIGINT NOT NULL
);
