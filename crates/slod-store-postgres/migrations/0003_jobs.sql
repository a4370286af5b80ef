-- The scheduled jobs' own tables (SPEC §5, §6, §10), the PostgreSQL twin of
-- the SQLite backend's 0003_jobs.sql. Snapshots, streaks and achievements
-- live in 0001_core.sql under their seed names.

-- One row per period of a job: the lease that lets only one replica run it
-- at a time, and the record that it completed. `period` is the key (a date
-- `2026-03-02`, an ISO week `2026-W10`); `period_start` the instant the run
-- is about, for ordering. A holder that dies leaves `status = 'running'`
-- with an expired lease, which the next attempt takes over.
CREATE TABLE job_runs (
    kind             TEXT COLLATE "C" NOT NULL,
    period           TEXT COLLATE "C" NOT NULL,
    period_start     BIGINT NOT NULL,
    status           TEXT NOT NULL,
    lease_owner      TEXT NOT NULL,
    lease_expires_at BIGINT NOT NULL,
    started_at       BIGINT NOT NULL,
    completed_at     BIGINT,
    -- What the run did, as JSON.
    result           TEXT,
    PRIMARY KEY (kind, period)
);
CREATE INDEX job_runs_by_start ON job_runs (kind, period_start);

-- Every weekly digest produced, scheduled or manual; `payload` is the
-- slo.weekly.digest JSON.
CREATE TABLE slo_digests (
    id         TEXT COLLATE "C" PRIMARY KEY,
    week_of    TEXT NOT NULL,
    manual     BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    payload    TEXT NOT NULL,
    -- Insertion order, to break ties between digests created in one
    -- millisecond.
    pos        BIGSERIAL NOT NULL
);
CREATE INDEX slo_digests_by_created ON slo_digests (created_at, pos);
