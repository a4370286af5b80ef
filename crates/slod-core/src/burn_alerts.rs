//! Multiwindow, multi-burn-rate alert tiers (SPEC §12, after the Google SRE
//! workbook): a tier fires while both its long and its short window burn the
//! error budget at least as fast as its threshold.
//!
//! A tier's threshold is the burn rate that spends `budgetPercent` of the
//! whole window's budget within `longWindow`:
//! `budgetPercent / 100 × (windowDays × 24 h) / longWindow`. For a 30-day
//! window the default tiers' thresholds are 14.4, 6 and 1. A calendar
//! objective's window is its current period's length, DST included (SPEC
//! §17): 745 h for October in `Europe/Berlin`, so 14.9, 6.21 and 1.03.
//!
//! This module only judges a status; remembering which tiers already fired
//! (once per crossing, re-armed when either window falls below) belongs to
//! whoever keeps alert state.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::ValidationError;
use crate::status::{BurnRates, BURN_WINDOWS};
use crate::time::HOUR_MS;

/// One of the burn-rate windows of a status (`burnRates` keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BurnWindow {
    M5,
    M30,
    H1,
    H6,
    H24,
    H72,
}

impl BurnWindow {
    /// In [`BURN_WINDOWS`] order, narrowest first.
    pub const ALL: [BurnWindow; 6] =
        [Self::M5, Self::M30, Self::H1, Self::H6, Self::H24, Self::H72];

    fn index(self) -> usize {
        match self {
            Self::M5 => 0,
            Self::M30 => 1,
            Self::H1 => 2,
            Self::H6 => 3,
            Self::H24 => 4,
            Self::H72 => 5,
        }
    }

    /// The JSON key: `5m`, `30m`, `1h`, `6h`, `24h` or `72h`.
    pub fn as_str(self) -> &'static str {
        BURN_WINDOWS[self.index()].0
    }

    pub fn millis(self) -> i64 {
        BURN_WINDOWS[self.index()].1
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|window| window.as_str() == raw)
    }
}

impl fmt::Display for BurnWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for BurnWindow {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for BurnWindow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{text}` is not a burn-rate window (5m, 30m, 1h, 6h, 24h or 72h)"
            ))
        })
    }
}

impl BurnRates {
    /// The rate over `window`; `None` when the target is 100 %.
    pub fn get(&self, window: BurnWindow) -> Option<f64> {
        match window {
            BurnWindow::M5 => self.m5,
            BurnWindow::M30 => self.m30,
            BurnWindow::H1 => self.h1,
            BurnWindow::H6 => self.h6,
            BurnWindow::H24 => self.h24,
            BurnWindow::H72 => self.h72,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Page,
    Ticket,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Page => "page",
            Self::Ticket => "ticket",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "page" => Some(Self::Page),
            "ticket" => Some(Self::Ticket),
            _ => None,
        }
    }
}

/// One tier of an objective's `burnRateAlerts` (SPEC §12).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BurnRateAlertTier {
    pub severity: Severity,
    /// A `burnRates` key: `5m`, `30m`, `1h`, `6h`, `24h` or `72h`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1h"))]
    pub long_window: BurnWindow,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "5m"))]
    pub short_window: BurnWindow,
    /// Share of the whole window's budget that, spent within `long_window`,
    /// fires the tier: 0 < budgetPercent ≤ 100.
    pub budget_percent: f64,
}

impl BurnRateAlertTier {
    /// SPEC §12's defaults: page at 2 % of the budget in 1 h (and 5 m), page
    /// at 5 % in 6 h (and 30 m), ticket at 10 % in 72 h (and 6 h).
    pub const DEFAULTS: [BurnRateAlertTier; 3] = [
        Self::new(Severity::Page, BurnWindow::H1, BurnWindow::M5, 2.0),
        Self::new(Severity::Page, BurnWindow::H6, BurnWindow::M30, 5.0),
        Self::new(Severity::Ticket, BurnWindow::H72, BurnWindow::H6, 10.0),
    ];

    /// Unvalidated; see [`BurnRateAlertTier::validate`].
    pub const fn new(
        severity: Severity,
        long_window: BurnWindow,
        short_window: BurnWindow,
        budget_percent: f64,
    ) -> Self {
        Self { severity, long_window, short_window, budget_percent }
    }

    /// The short window must be narrower than the long one, and the budget
    /// share in (0, 100]. `field` prefixes the names in errors (e.g.
    /// `burnRateAlerts[1]`).
    pub fn validate(self, field: &str) -> Result<Self, ValidationError> {
        if self.short_window >= self.long_window {
            return Err(ValidationError::new(
                format!("{field}.shortWindow"),
                format!("must be shorter than longWindow ({})", self.long_window),
            ));
        }
        if !self.budget_percent.is_finite()
            || self.budget_percent <= 0.0
            || self.budget_percent > 100.0
        {
            return Err(ValidationError::new(
                format!("{field}.budgetPercent"),
                "must be a number greater than 0 and at most 100",
            ));
        }
        Ok(self)
    }

    /// The burn rate at which this tier fires for a `window_days` objective.
    pub fn threshold(&self, window_days: u32) -> f64 {
        self.threshold_ms(i64::from(window_days) * 24 * HOUR_MS)
    }

    /// The burn rate at which this tier fires for a window `window_ms`
    /// long: a rolling window's days, or a calendar period's length
    /// (`Objective::window_ms_at`, SPEC §17).
    pub fn threshold_ms(&self, window_ms: i64) -> f64 {
        let window_ms = window_ms as f64;
        // One division last: with whole-number inputs the product and the
        // divisor are exact, so 14.4 comes out as the closest f64 to 14.4
        // and a rate of exactly 14.4 fires.
        self.budget_percent * window_ms / (100.0 * self.long_window.millis() as f64)
    }
}

/// Validates a whole `burnRateAlerts` list, naming the bad entry.
pub fn validate_tiers(
    tiers: Vec<BurnRateAlertTier>,
) -> Result<Vec<BurnRateAlertTier>, ValidationError> {
    if tiers.len() > MAX_TIERS {
        return Err(ValidationError::new(
            "burnRateAlerts",
            format!("may hold at most {MAX_TIERS} tiers, not {}", tiers.len()),
        ));
    }
    for (i, tier) in tiers.iter().enumerate() {
        tier.validate(&format!("burnRateAlerts[{i}]"))?;
    }
    Ok(tiers)
}

/// The most tiers one objective may have. Which tiers have fired is kept
/// as one bit per position (see [`BurnRateAlerts::firing_mask`]); ten is
/// far more than the workbook's three or four.
pub const MAX_TIERS: usize = 10;

/// An objective's `burnRateAlerts`: a validated list of tiers (at most
/// [`MAX_TIERS`], each valid). Empty turns tier alerts off. Serialized as
/// the bare JSON array; deserializing validates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "Vec<BurnRateAlertTier>", into = "Vec<BurnRateAlertTier>")]
pub struct BurnRateAlerts(Vec<BurnRateAlertTier>);

impl Default for BurnRateAlerts {
    /// SPEC §12's three tiers.
    fn default() -> Self {
        Self(BurnRateAlertTier::DEFAULTS.to_vec())
    }
}

impl TryFrom<Vec<BurnRateAlertTier>> for BurnRateAlerts {
    type Error = ValidationError;

    fn try_from(tiers: Vec<BurnRateAlertTier>) -> Result<Self, Self::Error> {
        Self::parse(tiers)
    }
}

impl From<BurnRateAlerts> for Vec<BurnRateAlertTier> {
    fn from(alerts: BurnRateAlerts) -> Self {
        alerts.0
    }
}

impl BurnRateAlerts {
    /// Errors name the field as the API does: `burnRateAlerts[1].shortWindow`.
    pub fn parse(tiers: Vec<BurnRateAlertTier>) -> Result<Self, ValidationError> {
        validate_tiers(tiers).map(Self)
    }

    pub fn tiers(&self) -> &[BurnRateAlertTier] {
        &self.0
    }

    /// Every tier judged against `rates`, in list order, for a window
    /// `window_ms` long (`Objective::window_ms_at`: a calendar period's
    /// length or the rolling days, SPEC §17).
    pub fn readings(&self, rates: &BurnRates, window_ms: i64) -> Vec<TierReading> {
        self.0
            .iter()
            .enumerate()
            .map(|(index, tier)| TierReading::of(index, *tier, rates, window_ms))
            .collect()
    }

    /// Bit `i` set: tier `i` is firing. What the alert state remembers.
    pub fn firing_mask(&self, rates: &BurnRates, window_ms: i64) -> u32 {
        firing_tiers_ms(rates, &self.0, window_ms)
            .iter()
            .fold(0, |mask, firing| mask | (1 << firing.index))
    }
}

/// One tier against a status's rates, firing or not: what the dashboard
/// shows next to each tier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TierReading {
    pub index: usize,
    pub tier: BurnRateAlertTier,
    /// `None` when the target is 100 % (no rates).
    pub burn_rate_long: Option<f64>,
    pub burn_rate_short: Option<f64>,
    pub threshold: f64,
    pub firing: bool,
}

impl TierReading {
    fn of(index: usize, tier: BurnRateAlertTier, rates: &BurnRates, window_ms: i64) -> Self {
        let threshold = tier.threshold_ms(window_ms);
        let burn_rate_long = rates.get(tier.long_window);
        let burn_rate_short = rates.get(tier.short_window);
        let firing = matches!((burn_rate_long, burn_rate_short),
            (Some(long), Some(short)) if long >= threshold && short >= threshold);
        Self { index, tier, burn_rate_long, burn_rate_short, threshold, firing }
    }
}

/// A tier whose long and short windows are both at or above its threshold:
/// the payload of `slo.burn.alert` minus the ids.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FiringTier {
    /// Position in the objective's tier list, to remember the crossing by.
    pub index: usize,
    pub tier: BurnRateAlertTier,
    pub burn_rate_long: f64,
    pub burn_rate_short: f64,
    pub threshold: f64,
}

/// The tiers firing for a status with these `rates` (SPEC §12). A 100 %
/// target has no rates and fires nothing.
pub fn firing_tiers(
    rates: &BurnRates,
    tiers: &[BurnRateAlertTier],
    window_days: u32,
) -> Vec<FiringTier> {
    firing_tiers_ms(rates, tiers, i64::from(window_days) * 24 * HOUR_MS)
}

/// [`firing_tiers`] for a window `window_ms` long (a calendar period's
/// length, say).
pub fn firing_tiers_ms(
    rates: &BurnRates,
    tiers: &[BurnRateAlertTier],
    window_ms: i64,
) -> Vec<FiringTier> {
    tiers
        .iter()
        .enumerate()
        .filter_map(|(index, tier)| {
            let reading = TierReading::of(index, *tier, rates, window_ms);
            match (reading.firing, reading.burn_rate_long, reading.burn_rate_short) {
                (true, Some(burn_rate_long), Some(burn_rate_short)) => Some(FiringTier {
                    index,
                    tier: *tier,
                    burn_rate_long,
                    burn_rate_short,
                    threshold: reading.threshold,
                }),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{Timestamp, DAY_MS};
    use crate::window::{Calendar, Window};

    fn rates(m5: f64, m30: f64, h1: f64, h6: f64, h24: f64, h72: f64) -> BurnRates {
        BurnRates {
            m5: Some(m5),
            m30: Some(m30),
            h1: Some(h1),
            h6: Some(h6),
            h24: Some(h24),
            h72: Some(h72),
        }
    }

    #[test]
    fn default_thresholds_for_thirty_days_are_the_workbooks() {
        let [fast, slow, ticket] = BurnRateAlertTier::DEFAULTS;
        // 2 % of 720 h in 1 h, 5 % of 720 h in 6 h, 10 % of 720 h in 72 h.
        assert_eq!(fast.threshold(30), 14.4);
        assert_eq!(slow.threshold(30), 6.0);
        assert_eq!(ticket.threshold(30), 1.0);
        // A 7-day window: 2 % of 168 h in 1 h.
        assert!((fast.threshold(7) - 3.36).abs() < 1e-9);
        for (i, tier) in BurnRateAlertTier::DEFAULTS.into_iter().enumerate() {
            assert_eq!(tier.validate(&format!("burnRateAlerts[{i}]")), Ok(tier));
        }
    }

    #[test]
    fn tiers_serialize_camel_case_with_window_keys() {
        let json = serde_json::to_value(BurnRateAlertTier::DEFAULTS).unwrap();
        assert_eq!(
            json[1],
            serde_json::json!({"severity": "page", "longWindow": "6h", "shortWindow": "30m", "budgetPercent": 5.0})
        );
        let back: Vec<BurnRateAlertTier> = serde_json::from_value(json).unwrap();
        assert_eq!(back, BurnRateAlertTier::DEFAULTS);
        let unknown = serde_json::json!({"severity": "page", "longWindow": "2h", "shortWindow": "5m", "budgetPercent": 5});
        let err = serde_json::from_value::<BurnRateAlertTier>(unknown).unwrap_err();
        assert!(err.to_string().contains("`2h` is not a burn-rate window"), "{err}");
        assert!(serde_json::from_value::<Severity>(serde_json::json!("email")).is_err());
        assert_eq!(
            BurnWindow::ALL.map(BurnWindow::as_str),
            ["5m", "30m", "1h", "6h", "24h", "72h"]
        );
        assert_eq!(BurnWindow::parse("30m"), Some(BurnWindow::M30));
        assert_eq!(BurnWindow::H6.millis(), 6 * HOUR_MS);
        assert_eq!(Severity::parse("ticket"), Some(Severity::Ticket));
    }

    #[test]
    fn validation_names_the_bad_field() {
        let tier =
            |long, short, budget| BurnRateAlertTier::new(Severity::Page, long, short, budget);
        let err = validate_tiers(vec![
            BurnRateAlertTier::DEFAULTS[0],
            tier(BurnWindow::H1, BurnWindow::H1, 2.0),
        ])
        .unwrap_err();
        assert_eq!(err.field, "burnRateAlerts[1].shortWindow");
        let err = tier(BurnWindow::M5, BurnWindow::H1, 2.0).validate("t").unwrap_err();
        assert_eq!(err.field, "t.shortWindow");
        for budget in [0.0, -1.0, 100.5, f64::NAN, f64::INFINITY] {
            let err = tier(BurnWindow::H1, BurnWindow::M5, budget).validate("t").unwrap_err();
            assert_eq!(err.field, "t.budgetPercent", "{budget}");
        }
        assert!(tier(BurnWindow::H72, BurnWindow::M5, 100.0).validate("t").is_ok());
        let eleven = vec![BurnRateAlertTier::DEFAULTS[0]; MAX_TIERS + 1];
        assert_eq!(BurnRateAlerts::parse(eleven).unwrap_err().field, "burnRateAlerts");
        assert!(BurnRateAlerts::parse(vec![BurnRateAlertTier::DEFAULTS[0]; MAX_TIERS]).is_ok());
        assert!(BurnRateAlerts::parse(Vec::new()).is_ok(), "no tiers: tier alerts off");
    }

    #[test]
    fn the_list_serializes_bare_and_validates_when_read() {
        let json = serde_json::to_value(BurnRateAlerts::default()).unwrap();
        assert_eq!(json, serde_json::to_value(BurnRateAlertTier::DEFAULTS).unwrap());
        let back: BurnRateAlerts = serde_json::from_value(json).unwrap();
        assert_eq!(back.tiers(), BurnRateAlertTier::DEFAULTS);
        let bad = serde_json::json!([{"severity": "page", "longWindow": "5m", "shortWindow": "1h", "budgetPercent": 2}]);
        let err = serde_json::from_value::<BurnRateAlerts>(bad).unwrap_err();
        assert!(err.to_string().contains("shorter than longWindow"), "{err}");
    }

    #[test]
    fn readings_and_mask_agree_with_firing_tiers() {
        let alerts = BurnRateAlerts::default();
        let r = rates(10.0, 7.0, 20.0, 7.0, 3.0, 0.9);
        let readings = alerts.readings(&r, 30 * DAY_MS);
        assert_eq!(readings.iter().map(|r| r.firing).collect::<Vec<_>>(), [false, true, false]);
        assert_eq!(readings[0].burn_rate_long, Some(20.0));
        assert_eq!(readings[0].burn_rate_short, Some(10.0));
        assert_eq!(readings[2].threshold, 1.0);
        assert_eq!(alerts.firing_mask(&r, 30 * DAY_MS), 0b010);
        let all = rates(14.4, 6.0, 14.4, 6.0, 1.0, 1.0);
        assert_eq!(alerts.firing_mask(&all, 30 * DAY_MS), 0b111);
        // A 7-day window lowers the thresholds: 3.36, 1.4 and 0.2333…
        let week = rates(3.36, 1.4, 3.36, 1.4, 0.0, 0.24);
        assert_eq!(alerts.firing_mask(&week, 7 * DAY_MS), 0b111);
        let none = BurnRates { m5: None, m30: None, h1: None, h6: None, h24: None, h72: None };
        assert_eq!(alerts.firing_mask(&none, 30 * DAY_MS), 0);
        assert!(alerts
            .readings(&none, 30 * DAY_MS)
            .iter()
            .all(|r| !r.firing && r.burn_rate_long.is_none()));
    }

    #[test]
    fn a_tier_fires_only_when_both_windows_reach_its_threshold() {
        let tiers = BurnRateAlertTier::DEFAULTS;
        // 1 h at 20 but 5 m at 10: the fast page waits; 6 h and 30 m both at
        // 7 ≥ 6: the slow page fires; 72 h at 0.9 < 1: no ticket.
        let firing = firing_tiers(&rates(10.0, 7.0, 20.0, 7.0, 3.0, 0.9), &tiers, 30);
        assert_eq!(firing.len(), 1);
        let slow = firing[0];
        assert_eq!((slow.index, slow.tier), (1, tiers[1]));
        assert_eq!((slow.burn_rate_long, slow.burn_rate_short), (7.0, 7.0));
        assert!((slow.threshold - 6.0).abs() < 1e-9);

        // Exactly at the threshold fires.
        let all = firing_tiers(&rates(14.4, 6.0, 14.4, 6.0, 1.0, 1.0), &tiers, 30);
        assert_eq!(all.iter().map(|f| f.index).collect::<Vec<_>>(), [0, 1, 2]);

        // A 100 % target has no rates: nothing fires.
        let none = BurnRates { m5: None, m30: None, h1: None, h6: None, h24: None, h72: None };
        assert!(firing_tiers(&none, &tiers, 30).is_empty());
    }

    /// SPEC §17: a calendar objective's tiers scale with its period's
    /// length, so October in Berlin (745 h, the change to winter time
    /// included) has a fast-page threshold of 2 % of 745 h in 1 h.
    #[test]
    fn calendar_thresholds_use_the_periods_length() {
        let october = Window::Calendar(Calendar::parse("month", "Europe/Berlin").unwrap());
        let at = Timestamp::parse("2026-10-20T12:00:00Z").unwrap();
        let window_ms = october.length_ms(at);
        assert_eq!(window_ms, 745 * HOUR_MS);
        let [fast, slow, ticket] = BurnRateAlertTier::DEFAULTS;
        assert!((fast.threshold_ms(window_ms) - 14.9).abs() < 1e-9);
        assert!((slow.threshold_ms(window_ms) - 745.0 * 0.05 / 6.0).abs() < 1e-9);
        assert!((ticket.threshold_ms(window_ms) - 745.0 * 0.10 / 72.0).abs() < 1e-9);
        // 14.5 would fire a 30-day objective's fast page, not October's.
        let r = rates(14.5, 14.5, 14.5, 0.0, 0.0, 0.0);
        let alerts = BurnRateAlerts::default();
        assert_eq!(alerts.firing_mask(&r, 30 * DAY_MS), 0b001);
        assert_eq!(alerts.firing_mask(&r, window_ms), 0);
        assert!(firing_tiers_ms(&rates(14.9, 14.9, 14.9, 0.0, 0.0, 0.0), fast_only(), window_ms)
            .iter()
            .any(|f| f.index == 0));
    }

    fn fast_only() -> &'static [BurnRateAlertTier] {
        &BurnRateAlertTier::DEFAULTS[..1]
    }
}
