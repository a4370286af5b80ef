-- slod core schema (SPEC §10). Times are milliseconds since the Unix epoch, UTC.

CREATE TABLE systems (
    id                 TEXT PRIMARY KEY NOT NULL,
    name               TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    healthcheck_status TEXT NOT NULL DEFAULT 'healthy',
    incident_status    TEXT NOT NULL DEFAULT 'healthy',
    down_since         INTEGER,
    down_source        TEXT,
    last_report_at     INTEGER
);

-- "downstream depends on upstream"
CREATE TABLE dependencies (
    downstream_id TEXT NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    upstream_id   TEXT NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    PRIMARY KEY (downstream_id, upstream_id)
);
CREATE INDEX dependencies_by_upstream ON dependencies (upstream_id);

-- The report log: every change of one source's status.
CREATE TABLE health_reports (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    system_id TEXT NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    source    TEXT NOT NULL,
    status    TEXT NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX health_reports_by_system_at ON health_reports (system_id, at);

-- System-level outages (effective status down), derived from the log.
CREATE TABLE system_outages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    system_id  TEXT NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    start_time INTEGER NOT NULL,
    end_time   INTEGER
);
CREATE INDEX system_outages_by_system_start ON system_outages (system_id, start_time);

CREATE TABLE slo_objectives (
    id                            TEXT PRIMARY KEY NOT NULL,
    system_id                     TEXT NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    health_check_configuration_id TEXT,
    target                        REAL NOT NULL,
    window_days                   INTEGER NOT NULL,
    dependency_exclusion          TEXT NOT NULL,
    -- comma-separated: system ids cannot contain commas
    excluded_dependency_ids       TEXT NOT NULL DEFAULT '',
    exclude_maintenance_windows   INTEGER NOT NULL DEFAULT 0,
    warning_percent               REAL NOT NULL,
    critical_percent              REAL NOT NULL,
    fast_burn_multiplier          REAL NOT NULL,
    created_at                    INTEGER NOT NULL,
    updated_at                    INTEGER NOT NULL
);
CREATE INDEX slo_objectives_by_system ON slo_objectives (system_id);

CREATE TABLE slo_downtime_events (
    id                   TEXT PRIMARY KEY NOT NULL,
    objective_id         TEXT NOT NULL REFERENCES slo_objectives (id) ON DELETE CASCADE,
    system_id            TEXT NOT NULL,
    start_time           INTEGER NOT NULL,
    end_time             INTEGER,
    attribution_type     TEXT NOT NULL,
    upstream_system_id   TEXT,
    upstream_system_name TEXT,
    source               TEXT NOT NULL
);
CREATE INDEX slo_downtime_events_by_objective_start ON slo_downtime_events (objective_id, start_time);
-- At most one open event per objective, enforced by the database itself.
CREATE UNIQUE INDEX slo_downtime_events_open_by_objective
    ON slo_downtime_events (objective_id) WHERE end_time IS NULL;
CREATE INDEX slo_downtime_events_open_by_system
    ON slo_downtime_events (system_id) WHERE end_time IS NULL;

CREATE TABLE slo_streaks (
    objective_id    TEXT PRIMARY KEY NOT NULL REFERENCES slo_objectives (id) ON DELETE CASCADE,
    current_streak  INTEGER NOT NULL DEFAULT 0,
    best_streak     INTEGER NOT NULL DEFAULT 0,
    streak_start    INTEGER,
    best_streak_end INTEGER,
    last_run_date   INTEGER
);

CREATE TABLE slo_daily_snapshots (
    objective_id             TEXT NOT NULL REFERENCES slo_objectives (id) ON DELETE CASCADE,
    date                     INTEGER NOT NULL,
    availability_percent     REAL NOT NULL,
    budget_consumed_minutes  REAL NOT NULL,
    budget_remaining_percent REAL NOT NULL,
    burn_rate                REAL,
    streak_days              INTEGER NOT NULL,
    PRIMARY KEY (objective_id, date)
);

CREATE TABLE slo_achievements (
    system_id   TEXT NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    achievement TEXT NOT NULL,
    unlocked_at INTEGER NOT NULL,
    PRIMARY KEY (system_id, achievement)
);
CREATE INDEX slo_achievements_by_time ON slo_achievements (unlocked_at);
