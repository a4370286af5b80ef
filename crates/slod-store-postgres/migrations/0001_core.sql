-- slod core schema (SPEC §10), the PostgreSQL twin of the SQLite backend's
-- 0001_core.sql: same tables, keys, cascades and indexes.
--
-- Times are BIGINT milliseconds since the Unix epoch, UTC, exactly as on
-- SQLite; every other integer is BIGINT too, so both backends decode the
-- same Rust types. Ids use the "C" collation: byte order, which is how Rust
-- orders them and how SQLite sorts them, whatever the database's locale.

CREATE TABLE systems (
    id                 TEXT COLLATE "C" PRIMARY KEY,
    name               TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    healthcheck_status TEXT NOT NULL DEFAULT 'healthy',
    incident_status    TEXT NOT NULL DEFAULT 'healthy',
    down_since         BIGINT,
    down_source        TEXT,
    last_report_at     BIGINT
);

-- "downstream depends on upstream"
CREATE TABLE dependencies (
    downstream_id TEXT COLLATE "C" NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    upstream_id   TEXT COLLATE "C" NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    PRIMARY KEY (downstream_id, upstream_id)
);
CREATE INDEX dependencies_by_upstream ON dependencies (upstream_id);

-- The report log: every change of one source's status.
CREATE TABLE health_reports (
    id        BIGSERIAL PRIMARY KEY,
    system_id TEXT COLLATE "C" NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    source    TEXT NOT NULL,
    status    TEXT NOT NULL,
    at        BIGINT NOT NULL
);
CREATE INDEX health_reports_by_system_at ON health_reports (system_id, at);

-- System-level outages (effective status down), derived from the log.
CREATE TABLE system_outages (
    id         BIGSERIAL PRIMARY KEY,
    system_id  TEXT COLLATE "C" NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    start_time BIGINT NOT NULL,
    end_time   BIGINT
);
CREATE INDEX system_outages_by_system_start ON system_outages (system_id, start_time);

CREATE TABLE slo_objectives (
    id                            TEXT COLLATE "C" PRIMARY KEY,
    system_id                     TEXT COLLATE "C" NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    health_check_configuration_id TEXT,
    target                        DOUBLE PRECISION NOT NULL,
    window_days                   BIGINT NOT NULL,
    dependency_exclusion          TEXT NOT NULL,
    excluded_dependency_ids       TEXT[] NOT NULL DEFAULT '{}',
    exclude_maintenance_windows   BOOLEAN NOT NULL DEFAULT FALSE,
    warning_percent               DOUBLE PRECISION NOT NULL,
    critical_percent              DOUBLE PRECISION NOT NULL,
    fast_burn_multiplier          DOUBLE PRECISION NOT NULL,
    created_at                    BIGINT NOT NULL,
    updated_at                    BIGINT NOT NULL
);
CREATE INDEX slo_objectives_by_system ON slo_objectives (system_id);

CREATE TABLE slo_downtime_events (
    id                   TEXT COLLATE "C" PRIMARY KEY,
    objective_id         TEXT COLLATE "C" NOT NULL REFERENCES slo_objectives (id) ON DELETE CASCADE,
    system_id            TEXT COLLATE "C" NOT NULL,
    start_time           BIGINT NOT NULL,
    end_time             BIGINT,
    attribution_type     TEXT NOT NULL,
    upstream_system_id   TEXT COLLATE "C",
    upstream_system_name TEXT,
    source               TEXT NOT NULL
);
CREATE INDEX slo_downtime_events_by_objective_start ON slo_downtime_events (objective_id, start_time);
-- At most one open event per objective, enforced by the database itself:
-- the backstop behind the row locks that serialise replicas (SPEC §10).
CREATE UNIQUE INDEX slo_downtime_events_open_by_objective
    ON slo_downtime_events (objective_id) WHERE end_time IS NULL;
CREATE INDEX slo_downtime_events_open_by_system
    ON slo_downtime_events (system_id) WHERE end_time IS NULL;
-- PostgreSQL only: the status read ("events that end after the window
-- starts, or are open") as one index range per objective. Open events sort
-- last, as if they ended at the end of time.
CREATE INDEX slo_downtime_events_by_objective_end
    ON slo_downtime_events (objective_id, (COALESCE(end_time, 9223372036854775807)));

CREATE TABLE slo_streaks (
    objective_id    TEXT COLLATE "C" PRIMARY KEY REFERENCES slo_objectives (id) ON DELETE CASCADE,
    current_streak  BIGINT NOT NULL DEFAULT 0,
    best_streak     BIGINT NOT NULL DEFAULT 0,
    streak_start    BIGINT,
    best_streak_end BIGINT,
    last_run_date   BIGINT
);

CREATE TABLE slo_daily_snapshots (
    objective_id             TEXT COLLATE "C" NOT NULL REFERENCES slo_objectives (id) ON DELETE CASCADE,
    date                     BIGINT NOT NULL,
    availability_percent     DOUBLE PRECISION NOT NULL,
    budget_consumed_minutes  DOUBLE PRECISION NOT NULL,
    budget_remaining_percent DOUBLE PRECISION NOT NULL,
    burn_rate                DOUBLE PRECISION,
    streak_days              BIGINT NOT NULL,
    PRIMARY KEY (objective_id, date)
);

CREATE TABLE slo_achievements (
    system_id   TEXT COLLATE "C" NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    achievement TEXT NOT NULL,
    unlocked_at BIGINT NOT NULL,
    PRIMARY KEY (system_id, achievement)
);
CREATE INDEX slo_achievements_by_time ON slo_achievements (unlocked_at);
