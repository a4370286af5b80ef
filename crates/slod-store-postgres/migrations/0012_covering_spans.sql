-- The first read after a start loads every objective's events in the
-- window; with the end and the upstream in the index it can read the index
-- alone (an index-only scan) instead of each event's row.
DROP INDEX slo_downtime_events_by_objective_start;
CREATE INDEX slo_downtime_events_by_objective_start
    ON slo_downtime_events (objective_id, start_time) INCLUDE (end_time, upstream_system_id);
