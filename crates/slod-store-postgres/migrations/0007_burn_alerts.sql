-- Burn-rate alert tiers (SPEC §12). Each objective keeps its tier list as
-- the JSON array the API serves; objectives made before get the three
-- SRE-workbook defaults. Which tiers have fired is one bit per tier
-- position in alert_state (0: none fired).

ALTER TABLE slo_objectives ADD COLUMN burn_rate_alerts TEXT NOT NULL DEFAULT '[{"severity":"page","longWindow":"1h","shortWindow":"5m","budgetPercent":2},{"severity":"page","longWindow":"6h","shortWindow":"30m","budgetPercent":5},{"severity":"ticket","longWindow":"72h","shortWindow":"6h","budgetPercent":10}]';

ALTER TABLE alert_state ADD COLUMN burn_tiers BIGINT NOT NULL DEFAULT 0;
