//! SLO status at an instant (SPEC §4).
//!
//! [`aggregate`] is the hot loop: one pass over an objective's events as
//! compact [`EventSpan`]s, summing downtime inside the window (self and per
//! upstream) and inside each burn-rate window. [`compute_status`] turns the
//! sums into the `SloStatus` the API serves.

use serde::{Deserialize, Serialize};

use crate::model::{DependencyExclusion, Objective, SystemId};
use crate::time::{Timestamp, HOUR_MS, MINUTE_MS};

/// `end` of a span whose event is still open.
pub const OPEN_END: i64 = i64::MAX;

/// One downtime event reduced to what the arithmetic needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSpan {
    pub start: i64,
    /// Milliseconds, or [`OPEN_END`] while open.
    pub end: i64,
    /// 0 for `self`; `n` for the n-th entry (1-based) of the upstream table.
    pub upstream: u32,
}

/// The burn-rate windows and their JSON keys.
pub const BURN_WINDOWS: [(&str, i64); 5] = [
    ("5m", 5 * MINUTE_MS),
    ("1h", HOUR_MS),
    ("6h", 6 * HOUR_MS),
    ("24h", 24 * HOUR_MS),
    ("72h", 72 * HOUR_MS),
];

/// Sums over one objective's events, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregate {
    pub total_ms: i64,
    pub self_ms: i64,
    /// Indexed like the upstream table (entry 0 is upstream 1).
    pub upstream_ms: Vec<i64>,
    /// Consumed downtime inside each of [`BURN_WINDOWS`].
    pub burn_ms: [i64; 5],
    /// An open event counted toward consumed.
    pub has_open: bool,
}

/// One pass over `spans`: downtime inside `[window_start, at]`, split by
/// attribution, and consumed downtime inside each burn window. Open spans run
/// to `at` and count only when `system_down` (SPEC §4: live health is
/// authoritative). `strict` says whether upstream downtime is consumed.
pub fn aggregate(
    spans: &[EventSpan],
    upstream_count: usize,
    window_start: i64,
    at: i64,
    system_down: bool,
    strict: bool,
) -> Aggregate {
    let mut agg = Aggregate { upstream_ms: vec![0; upstream_count], ..Aggregate::default() };
    let burn_horizon = at - BURN_WINDOWS[4].1;
    for span in spans {
        let open = span.end == OPEN_END;
        if open && !system_down {
            continue;
        }
        let end = span.end.min(at);
        if end <= span.start {
            continue;
        }
        let consumed = strict || span.upstream == 0;
        if consumed && end > burn_horizon {
            for (slot, (_, width)) in agg.burn_ms.iter_mut().zip(BURN_WINDOWS) {
                let start = span.start.max(at - width);
                if end > start {
                    *slot += end - start;
                }
            }
        }
        let start = span.start.max(window_start);
        if end <= start {
            continue;
        }
        let ms = end - start;
        agg.total_ms += ms;
        if span.upstream == 0 {
            agg.self_ms += ms;
        } else if let Some(slot) = agg.upstream_ms.get_mut(span.upstream as usize - 1) {
            *slot += ms;
        }
        agg.has_open |= open && consumed;
    }
    agg
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BurnRates {
    #[serde(rename = "5m")]
    pub m5: Option<f64>,
    #[serde(rename = "1h")]
    pub h1: Option<f64>,
    #[serde(rename = "6h")]
    pub h6: Option<f64>,
    #[serde(rename = "24h")]
    pub h24: Option<f64>,
    #[serde(rename = "72h")]
    pub h72: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributionEntry {
    pub source_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_id: Option<SystemId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_name: Option<String>,
    pub minutes: f64,
}

/// `SloStatus` (SPEC §4), field for field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SloStatus {
    pub objective_id: String,
    pub system_id: SystemId,
    pub target: f64,
    pub window_days: u32,
    pub health_check_configuration_id: Option<String>,
    pub health_check_configuration_name: Option<String>,
    pub current_availability: f64,
    pub strict_availability: f64,
    pub error_budget_total_minutes: f64,
    pub error_budget_consumed_minutes: f64,
    pub error_budget_consumed_strict_minutes: f64,
    pub error_budget_remaining_minutes: f64,
    pub error_budget_remaining_percent: f64,
    pub burn_rate: Option<f64>,
    pub burn_rates: BurnRates,
    pub dependency_exclusion: DependencyExclusion,
    pub is_breaching: bool,
    pub has_open_downtime: bool,
    pub attribution: Vec<AttributionEntry>,
    pub computed_at: Timestamp,
}

fn minutes(ms: i64) -> f64 {
    ms as f64 / MINUTE_MS as f64
}

/// The status of `objective` at `at`, from its events (any order) and the
/// upstream table the spans index into.
pub fn compute_status(
    objective: &Objective,
    spans: &[EventSpan],
    upstreams: &[(SystemId, String)],
    at: Timestamp,
    system_down: bool,
) -> SloStatus {
    let strict = objective.dependency_exclusion == DependencyExclusion::Strict;
    let window_start = at.millis().saturating_sub(objective.window_ms());
    let agg = aggregate(spans, upstreams.len(), window_start, at.millis(), system_down, strict);

    let window_minutes = f64::from(objective.window_days) * 1440.0;
    let total = minutes(agg.total_ms);
    let consumed = if strict { total } else { minutes(agg.self_ms) };
    let budget_fraction = (100.0 - objective.target) / 100.0;
    let allowed = budget_fraction * window_minutes;
    let remaining = (allowed - consumed).max(0.0);
    let remaining_percent = if allowed > 0.0 {
        remaining / allowed * 100.0
    } else if consumed > 0.0 {
        0.0
    } else {
        100.0
    };
    let availability = (window_minutes - consumed) / window_minutes * 100.0;
    let strict_availability = (window_minutes - total) / window_minutes * 100.0;
    let rate = |i: usize| {
        (budget_fraction > 0.0).then(|| {
            let width = BURN_WINDOWS[i].1 as f64;
            (agg.burn_ms[i] as f64 / width) / budget_fraction
        })
    };

    let mut attribution = vec![AttributionEntry {
        source_type: "self".into(),
        system_id: None,
        system_name: None,
        minutes: minutes(agg.self_ms),
    }];
    for ((id, name), ms) in upstreams.iter().zip(&agg.upstream_ms) {
        if *ms > 0 {
            attribution.push(AttributionEntry {
                source_type: "upstream".into(),
                system_id: Some(id.clone()),
                system_name: Some(name.clone()),
                minutes: minutes(*ms),
            });
        }
    }

    SloStatus {
        objective_id: objective.id.clone(),
        system_id: objective.system_id.clone(),
        target: objective.target,
        window_days: objective.window_days,
        health_check_configuration_id: objective.health_check_configuration_id.clone(),
        health_check_configuration_name: objective.health_check_configuration_id.clone(),
        current_availability: availability,
        strict_availability,
        error_budget_total_minutes: allowed,
        error_budget_consumed_minutes: consumed,
        error_budget_consumed_strict_minutes: total,
        error_budget_remaining_minutes: remaining,
        error_budget_remaining_percent: remaining_percent,
        burn_rate: (allowed > 0.0).then(|| consumed / allowed),
        burn_rates: BurnRates { m5: rate(0), h1: rate(1), h6: rate(2), h24: rate(3), h72: rate(4) },
        dependency_exclusion: objective.dependency_exclusion,
        is_breaching: availability < objective.target,
        has_open_downtime: system_down && agg.has_open,
        attribution,
        computed_at: at,
    }
}
