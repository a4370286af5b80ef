-- Corrections (SPEC §17): the audit trail of re-labelled intervals of a
-- system, never deleted (revoking sets revoked_at/revoked_by). Times are
-- milliseconds since the Unix epoch, UTC. `seq` orders corrections made in
-- the same millisecond: the latest made wins where they overlap.
-- `upstream_system_id` has no foreign key: the correction outlives the
-- edge and the upstream it names.

CREATE TABLE corrections (
    id                 TEXT PRIMARY KEY NOT NULL,
    seq                INTEGER NOT NULL UNIQUE,
    system_id          TEXT NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    start_ms           INTEGER NOT NULL,
    end_ms             INTEGER NOT NULL,
    kind               TEXT NOT NULL,
    upstream_system_id TEXT,
    reason             TEXT NOT NULL,
    author             TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    revoked_at         INTEGER,
    revoked_by         TEXT
);
-- The audit trail and the status read path, per system in made order.
CREATE INDEX corrections_by_system ON corrections (system_id, created_at, seq);

-- A snapshot recomputed after a correction keeps its first figures.
ALTER TABLE slo_daily_snapshots ADD COLUMN recomputed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE slo_daily_snapshots ADD COLUMN original_availability_percent REAL;
ALTER TABLE slo_daily_snapshots ADD COLUMN original_budget_consumed_minutes REAL;
ALTER TABLE slo_daily_snapshots ADD COLUMN original_budget_remaining_percent REAL;
ALTER TABLE slo_daily_snapshots ADD COLUMN original_burn_rate REAL;
ALTER TABLE slo_daily_snapshots ADD COLUMN original_streak_days INTEGER;
