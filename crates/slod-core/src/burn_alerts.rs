//! Multiwindow, multi-burn-rate alert tiers (SPEC §12, after the Google SRE
//! workbook): a tier fires while both its long and its short window burn the
//! error budget at least as fast as its threshold.
//!
//! A tier's threshold is the burn rate that spends `budgetPercent` of the
//! whole window's budget within `longWindow`:
//! `budgetPercent / 100 × (windowDays × 24 h) / longWindow`. For a 30-day
//! window the default tiers' thresholds are 14.4, 6 and 1.
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
#[serde(rename_all = "camelCase")]
pub struct BurnRateAlertTier {
    pub severity: Severity,
    pub long_window: BurnWindow,
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
        let window_ms = f64::from(window_days) * 24.0 * HOUR_MS as f64;
        self.budget_percent / 100.0 * window_ms / self.long_window.millis() as f64
    }
}

/// Validates a whole `burnRateAlerts` list, naming the bad entry.
pub fn validate_tiers(
    tiers: Vec<BurnRateAlertTier>,
) -> Result<Vec<BurnRateAlertTier>, ValidationError> {
    for (i, tier) in tiers.iter().enumerate() {
        tier.validate(&format!("burnRateAlerts[{i}]"))?;
    }
    Ok(tiers)
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
    tiers
        .iter()
        .enumerate()
        .filter_map(|(index, tier)| {
            let long = rates.get(tier.long_window)?;
            let short = rates.get(tier.short_window)?;
            let threshold = tier.threshold(window_days);
            (long >= threshold && short >= threshold).then_some(FiringTier {
                index,
                tier: *tier,
                burn_rate_long: long,
                burn_rate_short: short,
                threshold,
            })
        })
        .collect()
}
