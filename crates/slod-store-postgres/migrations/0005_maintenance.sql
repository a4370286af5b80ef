-- Maintenance windows (SPEC §12), the PostgreSQL twin of the SQLite
-- backend's 0005_maintenance.sql: a plan per system, one row per window.
-- Times are BIGINT milliseconds since the Unix epoch, UTC. `recurrence` is
-- the canonical RRULE text, NULL for a one-off window. The derived status is
-- computed when read, never stored.

CREATE TABLE maintenance_windows (
    id         TEXT COLLATE "C" PRIMARY KEY,
    system_id  TEXT COLLATE "C" NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    start_ms   BIGINT NOT NULL,
    end_ms     BIGINT NOT NULL,
    recurrence TEXT,
    cancelled  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- A system's windows, oldest start first; and the status read path.
CREATE INDEX maintenance_windows_by_system ON maintenance_windows (system_id, start_ms);
