-- Calendar windows (SPEC §17): an objective measured over the week
-- (Monday first), month, quarter or year containing T in an IANA time zone.
-- Both columns are set for a calendar objective and NULL for a rolling one.
-- `window_days` stays the rolling window; it is 0 for a calendar objective,
-- as on SQLite, so that the shared row codec reads both backends alike.
ALTER TABLE slo_objectives ADD COLUMN calendar_unit TEXT;
ALTER TABLE slo_objectives ADD COLUMN calendar_time_zone TEXT;
ALTER TABLE slo_objectives ADD CONSTRAINT slo_objectives_one_window CHECK (
    (calendar_unit IS NULL AND calendar_time_zone IS NULL AND window_days > 0)
    OR (calendar_unit IS NOT NULL AND calendar_time_zone IS NOT NULL AND window_days = 0)
);
