//! Budget and burn-rate alerts (SPEC §8): edge-triggered threshold events.
//!
//! Four thresholds per objective, and its burn-rate tiers, judged on its
//! status now:
//!
//! | event | active while |
//! |---|---|
//! | `slo.budget.warning` | consumed % of budget (100 − remaining %) ≥ `warningPercent`, and some budget is consumed |
//! | `slo.budget.critical` | the same against `criticalPercent` |
//! | `slo.budget.exhausted` | remaining budget is 0 (and some is consumed) |
//! | `slo.burn.fast` | 1 h burn rate ≥ `fastBurnMultiplier` and 5 m burn rate ≥ it |
//! | `slo.burn.alert` | per tier of `burnRateAlerts` (SPEC §12): its long and short windows' burn rates both ≥ its threshold |
//!
//! An event fires when its threshold goes from inactive to active, once;
//! the threshold re-arms silently when it goes inactive again. Which ones
//! have fired is kept per objective in storage ([`AlertState`]), so a restart
//! or a second replica does not fire them again, and it is changed only by
//! compare-and-swap: a transaction emits only if its swap took effect.
//!
//! Judged in two places: by [`super::effects::after_changes`] inside every
//! transaction that changes an objective's events or settings (after the
//! whole batch, never between its reports), and by
//! [`evaluate_open_downtime`], which a background task runs every 30 s for
//! the objectives whose downtime is still open, since their budget keeps
//! burning between reports.
//!
//! "Some budget is consumed" keeps a `warningPercent` of 0 from firing on an
//! objective that never had any downtime.
//!
//! Burn-rate tiers are remembered by their position in the objective's
//! list (one bit each in [`AlertState::burn_tiers`]). Editing the list
//! keeps the bits: a tier still firing under its new settings does not fire
//! again, one no longer firing re-arms, as when a budget threshold is
//! edited. Like fast burn, a tier that fired during an outage re-arms when
//! next judged with a window below its threshold: at the latest, at the
//! report that starts the next outage. Rates only fall while the system is
//! up, so that judgement sees the lowest they have been since the outage
//! ended, and a tier that fell below in between is never missed.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use slod_core::burn_alerts::{firing_tiers_ms, BurnWindow, Severity};
use slod_core::events::{EventType, NotificationEvent};
use slod_core::model::{Objective, ObjectiveId, SystemId};
use slod_core::status::SloStatus;
use slod_core::time::Timestamp;
use slod_store::notify::{AlertState, AlertSwap};
use slod_store::{Store, StoreTx};

use super::status::{self, Judged};
use super::ServiceResult;

/// How many systems one background evaluation transaction covers. It
/// holds their locks (PostgreSQL) or the one writer (SQLite) while it runs,
/// and reports queue behind it, so keep each short: ten systems take a few
/// milliseconds.
const SYSTEMS_PER_TRANSACTION: usize = 10;

/// Which thresholds `status` has crossed, for `objective`'s settings.
pub fn active_thresholds(objective: &Objective, status: &SloStatus) -> AlertState {
    let thresholds = &objective.burn_rate_thresholds;
    let consumed_any = status.error_budget_consumed_minutes > 0.0;
    let consumed_percent = 100.0 - status.error_budget_remaining_percent;
    let fast = thresholds.fast_burn_multiplier;
    AlertState {
        warning: consumed_any && consumed_percent >= thresholds.warning_percent,
        critical: consumed_any && consumed_percent >= thresholds.critical_percent,
        exhausted: consumed_any && status.error_budget_remaining_percent <= 0.0,
        burn_fast: matches!(
            (status.burn_rates.h1, status.burn_rates.m5),
            (Some(h1), Some(m5)) if h1 >= fast && m5 >= fast
        ),
        // The tiers' thresholds scale with the whole window: a calendar
        // period's length at the status's T (SPEC §17), or the rolling days.
        burn_tiers: objective
            .burn_rate_alerts
            .firing_mask(&status.burn_rates, objective.window_ms_at(status.computed_at)),
    }
}

/// The events for the thresholds active in `now_active` that were not
/// fired in `fired`, in a fixed order: warning, critical, exhausted, burn.
pub fn crossings(fired: AlertState, now_active: AlertState) -> Vec<EventType> {
    [
        (fired.warning, now_active.warning, EventType::BudgetWarning),
        (fired.critical, now_active.critical, EventType::BudgetCritical),
        (fired.exhausted, now_active.exhausted, EventType::BudgetExhausted),
        (fired.burn_fast, now_active.burn_fast, EventType::BurnFast),
    ]
    .into_iter()
    .filter(|(was, is, _)| !was && *is)
    .map(|(_, _, event)| event)
    .collect()
}

/// `slo.budget.warning` / `slo.budget.critical` payload.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BudgetPayload<'a> {
    system_id: &'a SystemId,
    objective_id: &'a str,
    target: f64,
    budget_remaining_percent: f64,
}

/// `slo.budget.exhausted` payload.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExhaustedPayload<'a> {
    system_id: &'a SystemId,
    objective_id: &'a str,
    target: f64,
}

/// `slo.burn.alert` payload (SPEC §12).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BurnTierPayload<'a> {
    system_id: &'a SystemId,
    objective_id: &'a str,
    severity: Severity,
    long_window: BurnWindow,
    short_window: BurnWindow,
    burn_rate_long: f64,
    burn_rate_short: f64,
    threshold: f64,
}

/// One `slo.burn.alert` per tier firing in `now_active` that had not fired
/// in `fired`, in list order.
fn tier_crossings(
    fired: AlertState,
    now_active: AlertState,
    objective: &Objective,
    status: &SloStatus,
    now: Timestamp,
) -> Vec<NotificationEvent> {
    let new_tiers = now_active.burn_tiers & !fired.burn_tiers;
    if new_tiers == 0 {
        return Vec::new();
    }
    firing_tiers_ms(
        &status.burn_rates,
        objective.burn_rate_alerts.tiers(),
        objective.window_ms_at(status.computed_at),
    )
    .into_iter()
    .filter(|firing| new_tiers & (1 << firing.index) != 0)
    .map(|firing| {
        NotificationEvent::new(
            slod_store::new_id(),
            EventType::BurnAlert,
            now,
            BurnTierPayload {
                system_id: &objective.system_id,
                objective_id: &objective.id,
                severity: firing.tier.severity,
                long_window: firing.tier.long_window,
                short_window: firing.tier.short_window,
                burn_rate_long: firing.burn_rate_long,
                burn_rate_short: firing.burn_rate_short,
                threshold: firing.threshold,
            },
        )
    })
    .collect()
}

/// `slo.burn.fast` payload.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BurnPayload<'a> {
    system_id: &'a SystemId,
    objective_id: &'a str,
    burn_rate_1h: Option<f64>,
    burn_rate_5m: Option<f64>,
}

fn event_for(
    event_type: EventType,
    objective: &Objective,
    status: &SloStatus,
    now: Timestamp,
) -> NotificationEvent {
    let id = slod_store::new_id();
    let (system_id, objective_id) = (&objective.system_id, objective.id.as_str());
    match event_type {
        EventType::BudgetExhausted => NotificationEvent::new(
            id,
            event_type,
            now,
            ExhaustedPayload { system_id, objective_id, target: objective.target.get() },
        ),
        EventType::BurnFast => NotificationEvent::new(
            id,
            event_type,
            now,
            BurnPayload {
                system_id,
                objective_id,
                burn_rate_1h: status.burn_rates.h1,
                burn_rate_5m: status.burn_rates.m5,
            },
        ),
        _ => NotificationEvent::new(
            id,
            event_type,
            now,
            BudgetPayload {
                system_id,
                objective_id,
                target: objective.target.get(),
                budget_remaining_percent: status.error_budget_remaining_percent,
            },
        ),
    }
}

/// Judges the thresholds of each objective in `judged` against its stored
/// alert state, stores the new state and returns the events of the
/// crossings (not yet enqueued: the caller writes them to the outbox in the
/// same transaction). An objective whose stored state changed under us
/// (another replica judged it first) emits nothing.
pub async fn evaluate(
    tx: &mut dyn StoreTx,
    judged: &[Judged],
    now: Timestamp,
) -> ServiceResult<Vec<NotificationEvent>> {
    if judged.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = judged.iter().map(|j| j.objective.id.to_string()).collect();
    let stored = tx.alert_states(&ids).await?;
    let moved: Vec<_> = judged
        .iter()
        .filter_map(|Judged { objective, status }| {
            let fired = stored.get(objective.id.as_str()).copied().unwrap_or_default();
            let active = active_thresholds(objective, status);
            (active != fired).then_some((objective, status, fired, active))
        })
        .collect();
    if moved.is_empty() {
        return Ok(Vec::new());
    }
    let swaps: Vec<AlertSwap> = moved
        .iter()
        .map(|(objective, _, fired, active)| AlertSwap {
            objective_id: objective.id.to_string(),
            expected: *fired,
            new: *active,
        })
        .collect();
    // An objective left out of `changed` had its state moved by someone
    // else since we read it; they emitted whatever crossing there was.
    let changed = tx.swap_alert_states(&swaps, now).await?;
    let mut events = Vec::new();
    for (objective, status, fired, active) in moved {
        if !changed.contains(objective.id.as_str()) {
            continue;
        }
        for event_type in crossings(fired, active) {
            events.push(event_for(event_type, objective, status, now));
        }
        events.extend(tier_crossings(fired, active, objective, status, now));
    }
    Ok(events)
}

/// The 30-second check (SPEC §8): judges every objective with open downtime
/// at `now`, in transactions of a few systems each, and enqueues the
/// threshold events that fall due. Returns how many events it enqueued.
///
/// A look outside any transaction comes first: statuses from the read path
/// (the span cache) against the committed alert state. Only objectives
/// whose thresholds moved are judged again in a transaction, so a pass that
/// finds nothing to fire (nearly all of them) never takes the locks or the
/// SQLite writer that reports wait for. A crossing the look misses by a
/// hair is caught by the next pass, or by the report that causes it.
pub async fn evaluate_open_downtime(store: &dyn Store, now: Timestamp) -> ServiceResult<usize> {
    let open = store.objectives_with_open_downtime().await?;
    if open.is_empty() {
        return Ok(0);
    }
    let open_ids: BTreeSet<&str> = open.iter().map(|(o, _)| o.as_str()).collect();
    let systems: Vec<SystemId> =
        open.iter().map(|(_, s)| s.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let objectives: Vec<Objective> = store
        .list_objectives(Some(&systems))
        .await?
        .into_iter()
        .filter(|o| open_ids.contains(o.id.as_str()))
        .collect();
    let statuses = status::statuses(store, &objectives, None, now).await?;
    let ids: Vec<String> = objectives.iter().map(|o| o.id.to_string()).collect();
    let stored = store.alert_states(&ids).await?;
    let mut by_system: BTreeMap<SystemId, BTreeSet<ObjectiveId>> = BTreeMap::new();
    for (objective, status) in objectives.iter().zip(&statuses) {
        let fired = stored.get(objective.id.as_str()).copied().unwrap_or_default();
        if active_thresholds(objective, status) != fired {
            by_system.entry(objective.system_id.clone()).or_default().insert(objective.id.clone());
        }
    }
    let systems: Vec<(SystemId, BTreeSet<ObjectiveId>)> = by_system.into_iter().collect();
    let mut emitted = 0;
    for chunk in systems.chunks(SYSTEMS_PER_TRANSACTION) {
        let ids: Vec<SystemId> = chunk.iter().map(|(system, _)| system.clone()).collect();
        let objectives: BTreeSet<ObjectiveId> =
            chunk.iter().flat_map(|(_, objectives)| objectives.iter().cloned()).collect();
        let mut tx = store.begin().await?;
        // Loading the world takes the same locks a report on these systems
        // does, so the judgement sees a settled state.
        let world = tx.load_world(&ids).await?;
        let judged = status::judge(&mut *tx, &world, &objectives, now).await?;
        let events = evaluate(&mut *tx, &judged, now).await?;
        if events.is_empty() {
            // Only alert state may have changed (a re-arm); keep it.
            tx.commit().await?;
            continue;
        }
        tx.enqueue_events(&events).await?;
        tx.commit().await?;
        emitted += events.len();
    }
    Ok(emitted)
}

#[cfg(test)]
mod tests {
    use slod_core::model::{BurnRateThresholds, DependencyExclusion, Target, WindowDays};
    use slod_core::status::{compute_status, EventSpan, OPEN_END};
    use slod_core::time::{DAY_MS, MINUTE_MS};

    use super::*;

    const T: i64 = 1_772_366_400_000;

    fn objective(target: f64, window_days: u32) -> Objective {
        Objective {
            id: ObjectiveId::from_trusted("o".into()),
            name: None,
            system_id: SystemId::parse("api", "id").unwrap(),
            health_check_configuration_id: None,
            target: Target::parse(target).unwrap(),
            window: WindowDays::parse(window_days.into()).unwrap().into(),
            dependency_exclusion: DependencyExclusion::Strict,
            excluded_dependency_ids: vec![],
            exclude_maintenance_windows: false,
            burn_rate_thresholds: BurnRateThresholds::default(),
            burn_rate_alerts: Default::default(),
            created_at: Timestamp::from_millis(T - 400 * DAY_MS),
            updated_at: Timestamp::from_millis(T - 400 * DAY_MS),
        }
    }

    /// Status at T with one outage of `minutes`, ending `ago` minutes before
    /// T (open when `ago` is 0 and `down`).
    fn status(o: &Objective, minutes: i64, ago: i64, down: bool) -> SloStatus {
        let end = if ago == 0 && down { OPEN_END } else { T - ago * MINUTE_MS };
        let start = T - (ago + minutes) * MINUTE_MS;
        let spans = [EventSpan { start, end, upstream: 0 }];
        compute_status(o, &spans, &[], Timestamp::from_millis(T), down)
    }

    #[test]
    fn budget_thresholds_follow_consumed_percent() {
        // 99 % over 1 day: 14.4 minutes of budget.
        let o = objective(99.0, 1);
        let quiet = active_thresholds(&o, &status(&o, 0, 60, false));
        assert_eq!(quiet, AlertState::default());
        // 7 minutes = 48.6 %: below warning.
        assert!(!active_thresholds(&o, &status(&o, 7, 60, false)).warning);
        // 8 minutes = 55.6 %: warning only.
        let s = active_thresholds(&o, &status(&o, 8, 60, false));
        assert!(s.warning && !s.critical && !s.exhausted && !s.burn_fast);
        // 12 minutes = 83 %: critical too.
        let s = active_thresholds(&o, &status(&o, 12, 60, false));
        assert!(s.warning && s.critical && !s.exhausted);
        // 15 minutes: exhausted.
        let s = active_thresholds(&o, &status(&o, 15, 60, false));
        assert!(s.warning && s.critical && s.exhausted);
    }

    #[test]
    fn fast_burn_needs_both_windows() {
        // 99.9 % over 30 days: a fully-down hour burns at 1000x.
        let o = objective(99.9, 30);
        // Down for the last 10 minutes, still down: 1 h rate 166x, 5 m 1000x.
        assert!(active_thresholds(&o, &status(&o, 10, 0, true)).burn_fast);
        // Recovered 10 minutes ago: 5 m rate is 0.
        assert!(!active_thresholds(&o, &status(&o, 10, 10, false)).burn_fast);
        // 100 % target: burn rates are null, never fast.
        let strict = objective(100.0, 30);
        let s = active_thresholds(&strict, &status(&strict, 10, 0, true));
        assert!(!s.burn_fast);
        assert!(s.exhausted && s.warning && s.critical);
    }

    #[test]
    fn zero_warning_percent_needs_some_downtime() {
        let mut o = objective(99.0, 1);
        o.burn_rate_thresholds.warning_percent = 0.0;
        assert!(!active_thresholds(&o, &status(&o, 0, 60, false)).warning);
        assert!(active_thresholds(&o, &status(&o, 1, 60, false)).warning);
    }

    #[test]
    fn crossings_fire_once_and_rearm() {
        let none = AlertState::default();
        let warn = AlertState { warning: true, ..none };
        let all = AlertState {
            warning: true,
            critical: true,
            exhausted: true,
            burn_fast: true,
            burn_tiers: 0,
        };
        assert_eq!(crossings(none, warn), [EventType::BudgetWarning]);
        assert!(crossings(warn, warn).is_empty());
        assert!(crossings(warn, none).is_empty(), "re-arming is silent");
        assert_eq!(
            crossings(warn, all),
            [EventType::BudgetCritical, EventType::BudgetExhausted, EventType::BurnFast]
        );
    }

    #[test]
    fn payloads_match_the_spec() {
        let o = objective(99.0, 1);
        let s = status(&o, 8, 0, true);
        let now = Timestamp::from_millis(T);
        let warning = event_for(EventType::BudgetWarning, &o, &s, now);
        assert_eq!(warning.data["systemId"], "api");
        assert_eq!(warning.data["objectiveId"], "o");
        assert_eq!(warning.data["target"], 99.0);
        assert!(warning.data["budgetRemainingPercent"].as_f64().is_some());
        let exhausted = event_for(EventType::BudgetExhausted, &o, &s, now);
        let mut keys: Vec<&String> = exhausted.data.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["objectiveId", "systemId", "target"]);
        let burn = event_for(EventType::BurnFast, &o, &s, now);
        assert!(burn.data["burnRate1h"].as_f64().is_some());
        assert!(burn.data["burnRate5m"].as_f64().is_some());
    }
}
