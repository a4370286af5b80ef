-- Corrections (SPEC §17), the PostgreSQL twin of the SQLite backend's
-- 0010_corrections.sql: the audit trail of re-labelled intervals of a
-- system, never deleted (revoking sets revoked_at/revoked_by). Times are
-- BIGINT milliseconds since the Unix epoch, UTC. `seq` orders corrections
-- made in the same millisecond: the latest made wins where they overlap.

CREATE TABLE corrections (
    id                 TEXT COLLATE "C" PRIMARY KEY,
    seq                BIGSERIAL NOT NULL UNIQUE,
    system_id          TEXT COLLATE "C" NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    start_ms           BIGINT NOT NULL,
    end_ms             BIGINT NOT NULL,
    kind               TEXT NOT NULL,
    upstream_system_id TEXT COLLATE "C",
    reason             TEXT NOT NULL,
    author             TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    revoked_at         BIGINT,
    revoked_by         TEXT
);
CREATE INDEX corrections_by_system ON corrections (system_id, created_at, seq);

ALTER TABLE slo_daily_snapshots
    ADD COLUMN recomputed BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN original_availability_percent DOUBLE PRECISION,
    ADD COLUMN original_budget_consumed_minutes DOUBLE PRECISION,
    ADD COLUMN original_budget_remaining_percent DOUBLE PRECISION,
    ADD COLUMN original_burn_rate DOUBLE PRECISION,
    ADD COLUMN original_streak_days BIGINT;
