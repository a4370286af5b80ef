-- Per-check health (SPEC §12), the PostgreSQL twin of the SQLite backend's
-- 0006_checks.sql. A system's probe status is the worst latest status of its
-- checks; reports naming no check belong to the check ''. Times are BIGINT
-- milliseconds since the Unix epoch, UTC. A check's row is written only by a
-- transaction that holds its system's row lock (tx.rs).

-- One row per check a system was reported on: its latest status, its
-- latest report (the check's ordering mark) and since when it is down.
CREATE TABLE system_checks (
    system_id  TEXT COLLATE "C" NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    check_id   TEXT COLLATE "C" NOT NULL,
    status     TEXT NOT NULL,
    at         BIGINT NOT NULL,
    down_since BIGINT,
    PRIMARY KEY (system_id, check_id)
);
-- Every report batch loads the checks of its systems that are not healthy.
CREATE INDEX system_checks_not_healthy ON system_checks (system_id) WHERE status <> 'healthy';

-- The ordering mark of reports naming no check (one per system, as before)
-- and the latest transition, which no later transition may precede.
ALTER TABLE systems ADD COLUMN unnamed_report_at BIGINT;
ALTER TABLE systems ADD COLUMN last_transition_at BIGINT;
UPDATE systems SET
    unnamed_report_at = last_report_at,
    last_transition_at = (SELECT MAX(r.at) FROM health_reports r WHERE r.system_id = systems.id);

-- The report log names the check whose status changed ('' when none).
ALTER TABLE health_reports ADD COLUMN check_id TEXT COLLATE "C" NOT NULL DEFAULT '';

-- Every probe report so far went to the check ''.
INSERT INTO system_checks (system_id, check_id, status, at, down_since)
SELECT id, '', healthcheck_status, COALESCE(last_report_at, created_at),
       CASE WHEN healthcheck_status <> 'healthy' THEN down_since END
FROM systems
WHERE healthcheck_status <> 'healthy'
   OR EXISTS (SELECT 1 FROM health_reports r WHERE r.system_id = systems.id AND r.source = 'healthcheck');
