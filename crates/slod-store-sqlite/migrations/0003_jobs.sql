-- The scheduled jobs' own tables (SPEC §5, §6, §10). Snapshots, streaks and
-- achievements live in 0001_core.sql under their seed names.

-- One row per period of a job: the lease that lets only one replica run it
-- at a time, and the record that it completed. `period` is the key (a date
-- `2026-03-02`, an ISO week `2026-W10`); `period_start` the instant the run
-- is about, for ordering. A holder that dies leaves `status = 'running'`
-- with an expired lease, which the next attempt takes over.
CREATE TABLE job_runs (
    kind             TEXT NOT NULL,
    period           TEXT NOT NULL,
    period_start     INTEGER NOT NULL,
    status           TEXT NOT NULL,
    lease_owner      TEXT NOT NULL,
    lease_expires_at INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    completed_at     INTEGER,
    -- What the run did, as JSON.
    result           TEXT,
    PRIMARY KEY (kind, period)
);
CREATE INDEX job_runs_by_start ON job_runs (kind, period_start);

-- Every weekly digest produced, scheduled or manual; `payload` is the
-- slo.weekly.digest JSON.
CREATE TABLE slo_digests (
    id         TEXT PRIMARY KEY NOT NULL,
    week_of    TEXT NOT NULL,
    manual     INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    payload    TEXT NOT NULL
);
CREATE INDEX slo_digests_by_created ON slo_digests (created_at);
