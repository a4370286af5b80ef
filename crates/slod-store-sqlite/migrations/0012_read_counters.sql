-- Change counters for what a server keeps in memory between reads (the
-- span cache's downtime events, the objective list, the streaks): every
-- change to those tables, by any process (`slod apply --database` too),
-- bumps its counter in the same transaction, so one read of this row tells
-- a server whether what it holds is still what the database holds.
CREATE TABLE change_counters (
    events     INTEGER NOT NULL,
    objectives INTEGER NOT NULL,
    streaks    INTEGER NOT NULL
);
INSERT INTO change_counters (events, objectives, streaks) VALUES (0, 0, 0);

CREATE TRIGGER slo_downtime_events_insert_counted AFTER INSERT ON slo_downtime_events
BEGIN UPDATE change_counters SET events = events + 1; END;
CREATE TRIGGER slo_downtime_events_update_counted AFTER UPDATE ON slo_downtime_events
BEGIN UPDATE change_counters SET events = events + 1; END;
CREATE TRIGGER slo_downtime_events_delete_counted AFTER DELETE ON slo_downtime_events
BEGIN UPDATE change_counters SET events = events + 1; END;

CREATE TRIGGER slo_objectives_insert_counted AFTER INSERT ON slo_objectives
BEGIN UPDATE change_counters SET objectives = objectives + 1; END;
CREATE TRIGGER slo_objectives_update_counted AFTER UPDATE ON slo_objectives
BEGIN UPDATE change_counters SET objectives = objectives + 1; END;
CREATE TRIGGER slo_objectives_delete_counted AFTER DELETE ON slo_objectives
BEGIN UPDATE change_counters SET objectives = objectives + 1; END;

CREATE TRIGGER slo_streaks_insert_counted AFTER INSERT ON slo_streaks
BEGIN UPDATE change_counters SET streaks = streaks + 1; END;
CREATE TRIGGER slo_streaks_update_counted AFTER UPDATE ON slo_streaks
BEGIN UPDATE change_counters SET streaks = streaks + 1; END;
CREATE TRIGGER slo_streaks_delete_counted AFTER DELETE ON slo_streaks
BEGIN UPDATE change_counters SET streaks = streaks + 1; END;

-- The first read after a start loads every objective's events in the
-- window; with the end and the upstream in the index it reads the index
-- alone instead of looking up each event's row.
DROP INDEX slo_downtime_events_by_objective_start;
CREATE INDEX slo_downtime_events_by_objective_start
    ON slo_downtime_events (objective_id, start_time, end_time, upstream_system_id);
