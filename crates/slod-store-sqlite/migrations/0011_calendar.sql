-- Calendar windows (SPEC §17): an objective measured over the week
-- (Monday first), month, quarter or year containing T in an IANA time zone.
-- Both columns are set for a calendar objective and NULL for a rolling one.
-- `window_days` stays the rolling window; it is 0 for a calendar objective,
-- since SQLite cannot drop its NOT NULL without rebuilding the table (and
-- dropping the old one would cascade-delete every event and snapshot).
ALTER TABLE slo_objectives ADD COLUMN calendar_unit TEXT;
ALTER TABLE slo_objectives ADD COLUMN calendar_time_zone TEXT;
