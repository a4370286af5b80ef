-- Notifications (SPEC §8): channels, one delivery per (event, subscribed
-- channel) with its attempts, and each objective's alert threshold state.
-- Times are milliseconds since the Unix epoch, UTC.

CREATE TABLE notify_channels (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    url        TEXT NOT NULL,
    -- The webhook signing key; never served by the API.
    secret     TEXT,
    -- Comma-separated event types (they contain no commas); NULL: all.
    events     TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Written by the outbox's enqueue (fan-out) in the transaction of the change
-- that caused the event; claimed by delivery workers under a lease.
CREATE TABLE notify_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id       TEXT NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL REFERENCES outbox_events (id) ON DELETE CASCADE,
    state            TEXT NOT NULL DEFAULT 'pending',
    -- Attempts made so far.
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    lease_until      INTEGER,
    lease_token      TEXT,
    first_attempt_at INTEGER,
    -- When it was delivered or abandoned.
    finished_at      INTEGER,
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
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES notify_deliveries (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    status_code INTEGER,
    error       TEXT,
    delivered   INTEGER NOT NULL
);
CREATE INDEX notify_attempts_by_delivery ON notify_attempts (delivery_id, attempt);

-- Which thresholds have fired and not re-armed; goes with its objective.
CREATE TABLE alert_state (
    objective_id TEXT PRIMARY KEY NOT NULL REFERENCES slo_objectives (id) ON DELETE CASCADE,
    warning      INTEGER NOT NULL DEFAULT 0,
    critical     INTEGER NOT NULL DEFAULT 0,
    exhausted    INTEGER NOT NULL DEFAULT 0,
    burn_fast    INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL
);
