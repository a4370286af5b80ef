-- Objective names (SPEC §14): optional, unique when set, so that files can
-- refer to an objective and `slod apply` finds it again. NULLs never
-- collide in a unique index, so unnamed objectives stay as many as wanted.
ALTER TABLE slo_objectives ADD COLUMN name TEXT;
CREATE UNIQUE INDEX slo_objectives_by_name ON slo_objectives (name);
