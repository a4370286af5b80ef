-- Maintenance windows (SPEC §12): a plan per system, one row per window.
-- Times are milliseconds since the Unix epoch, UTC. `recurrence` is the
-- canonical RRULE text, NULL for a one-off window. The derived status
-- (scheduled / in progress / completed) is computed when read, never stored.

CREATE TABLE maintenance_windows (
    id         TEXT PRIMARY KEY NOT NULL,
    system_id  TEXT NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    start_ms   INTEGER NOT NULL,
    end_ms     INTEGER NOT NULL,
    recurrence TEXT,
    cancelled  INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- A system's windows, oldest start first; and the status read path.
CREATE INDEX maintenance_windows_by_system ON maintenance_windows (system_id, start_ms);
