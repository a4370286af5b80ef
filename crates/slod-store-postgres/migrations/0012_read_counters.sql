-- Change counters for what a server keeps in memory between reads (the
-- objective list, the streaks): every statement changing those tables, on
-- any replica, bumps its counter in the same transaction, so one read of
-- this row tells a replica whether what it holds is still the database's.
-- Downtime events have no counter here: replicas write them concurrently,
-- and one row bumped by every such transaction would serialise them.
CREATE TABLE change_counters (
    objectives BIGINT NOT NULL,
    streaks    BIGINT NOT NULL
);
INSERT INTO change_counters (objectives, streaks) VALUES (0, 0);

CREATE FUNCTION count_objective_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE change_counters SET objectives = objectives + 1;
    RETURN NULL;
END
$$;
CREATE FUNCTION count_streak_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE change_counters SET streaks = streaks + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER slo_objectives_counted AFTER INSERT OR UPDATE OR DELETE ON slo_objectives
    FOR EACH STATEMENT EXECUTE FUNCTION count_objective_changes();
CREATE TRIGGER slo_streaks_counted AFTER INSERT OR UPDATE OR DELETE ON slo_streaks
    FOR EACH STATEMENT EXECUTE FUNCTION count_streak_changes();

-- The first read after a start loads every objective's events in the
-- window; with the end and the upstream in the index it can read the index
-- alone (an index-only scan) instead of each event's row.
DROP INDEX slo_downtime_events_by_objective_start;
CREATE INDEX slo_downtime_events_by_objective_start
    ON slo_downtime_events (objective_id, start_time) INCLUDE (end_time, upstream_system_id);
