//! Achievements (SPEC §7): evaluating, unlocking and reading them.
//!
//! The rules are `slod_core::achievements::{context, earned}`; this module
//! gathers their inputs and stores the outcome. Two callers evaluate:
//!
//! - [`on_recovery`], inside the health-report transaction (SPEC §3 R2 step
//!   3): each recovered system as of its recovery instant, from the
//!   transaction's own view, so the outage that just ended counts.
//! - the daily job (`service::jobs`), every system with objectives as of
//!   the run's midnight.
//!
//! Either way each `(system, achievement)` is stored once, dated at the
//! instant it was first earned, and emits one `slo.achievement.unlocked` in
//! the same transaction.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use slod_core::achievements::{
    context, definitions, earned, AchievementDefinition, AchievementType,
};
use slod_core::engine::World;
use slod_core::events::{EventType, NotificationEvent};
use slod_core::model::{Objective, ObjectiveId, SystemId};
use slod_core::status::{compute_status, SloStatus};
use slod_core::streak::Streak;
use slod_core::time::Timestamp;
use slod_store::jobs::{AchievementRow, MilestoneRow, OutageSpan};
use slod_store::{SpanSet, Store, StoreTx};

use super::{ServiceError, ServiceResult};

/// SPEC §7: `fastestRecoverySeconds` looks at this many recent outages.
pub const RECENT_OUTAGES: u32 = 10;

/// Achievements whose rule reads an objective's status (availability,
/// budget, downtime); the others need only counts, streaks or outages.
const NEEDS_STATUS: [AchievementType; 4] = [
    AchievementType::NinesClub,
    AchievementType::BudgetMiser,
    AchievementType::CleanSheet,
    AchievementType::CascadeBreaker,
];

/// `slo.achievement.unlocked` payload.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Unlocked<'a> {
    system_id: &'a SystemId,
    system_name: &'a str,
    achievement: AchievementType,
}

/// The event announcing `unlock`.
pub fn unlocked_event(unlock: &AchievementRow, system_name: &str) -> NotificationEvent {
    NotificationEvent::new(
        slod_store::new_id(),
        EventType::AchievementUnlocked,
        unlock.unlocked_at,
        Unlocked { system_id: &unlock.system_id, system_name, achievement: unlock.achievement },
    )
}

/// What one system has earned at `at`: its objectives, each with its status
/// at `at` and its streak as it stands, and its recent outages (most recent
/// first; those that had not ended by `at` are ignored).
pub fn earned_at(
    objectives: &[(&Objective, &SloStatus, &Streak)],
    outages: &[OutageSpan],
    at: Timestamp,
) -> Vec<AchievementType> {
    let durations: Vec<i64> = outages
        .iter()
        .filter(|o| o.end <= at)
        .take(RECENT_OUTAGES as usize)
        .map(|o| o.duration_ms())
        .collect();
    earned(&context(objectives, &durations, at))
}

/// SPEC §3 R2 step 3: evaluates the achievements of every system in
/// `recovered` (system, went down, recovered) as of each recovery instant,
/// inside `tx` after the engine's changes are written, and stores and
/// enqueues the new unlocks. Returns the events enqueued.
///
/// One read of each input for all recovered systems together; the statuses
/// at each instant are then computed in memory, so a batch with many
/// recoveries costs little more than one with a single recovery. Systems
/// that already hold every achievement are skipped, and statuses are only
/// computed while some status-based achievement is still locked.
/// `prefetched` may carry spans already read in this transaction; they are
/// used when they cover what [`span_needs`] asks for.
pub async fn on_recovery(
    tx: &mut dyn StoreTx,
    world: &World,
    recovered: &[(SystemId, Timestamp, Timestamp)],
    prefetched: Option<&SpanSet>,
) -> ServiceResult<Vec<NotificationEvent>> {
    let mut instants: BTreeMap<&SystemId, Vec<Timestamp>> = BTreeMap::new();
    for (system, _, at) in recovered {
        let has_objectives = world.objectives.get(system).is_some_and(|o| !o.is_empty());
        if has_objectives {
            instants.entry(system).or_default().push(*at);
        }
    }
    if instants.is_empty() {
        return Ok(Vec::new());
    }
    let systems: Vec<SystemId> = instants.keys().map(|s| (*s).clone()).collect();
    let mut held: BTreeMap<SystemId, BTreeSet<AchievementType>> = BTreeMap::new();
    for row in tx.achievements(&systems).await? {
        held.entry(row.system_id).or_default().insert(row.achievement);
    }
    instants.retain(|system, _| {
        held.get(*system).map_or(0, BTreeSet::len) < AchievementType::ALL.len()
    });
    if instants.is_empty() {
        return Ok(Vec::new());
    }

    let objectives: Vec<&Objective> = instants
        .keys()
        .flat_map(|system| world.objectives.get(*system).into_iter().flatten())
        .map(|state| &state.objective)
        .collect();
    let ids: Vec<String> = objectives.iter().map(|o| o.id.to_string()).collect();
    let streaks: BTreeMap<String, Streak> =
        tx.streaks(&ids).await?.into_iter().map(|r| (r.objective_id, r.streak)).collect();
    let latest = instants.values().flatten().max().copied().unwrap_or(Timestamp::from_millis(0));
    let most_per_system = instants.values().map(Vec::len).max().unwrap_or(0);
    let systems: Vec<SystemId> = instants.keys().map(|s| (*s).clone()).collect();
    // The 10 most recent outages as of an earlier recovery in this batch
    // are among the 10 + (recoveries in the batch) most recent overall.
    let per_system =
        RECENT_OUTAGES.saturating_add(u32::try_from(most_per_system).unwrap_or(u32::MAX));
    let outages = tx.recent_outages(&systems, latest, per_system).await?;

    let needs_status = instants.keys().any(|system| {
        let held = held.get(*system);
        NEEDS_STATUS.iter().any(|kind| !held.is_some_and(|h| h.contains(kind)))
    });
    let read;
    let spans = match (needs_status, prefetched) {
        (false, _) => None,
        (true, Some(spans)) => Some(spans),
        (true, None) => match span_needs(world, recovered) {
            Some((ids, since, until)) => {
                let ids: Vec<String> = ids.into_iter().map(String::from).collect();
                read = tx.event_spans(&ids, since, until).await?;
                Some(&read)
            }
            None => None,
        },
    };

    // Statuses here exclude maintenance like every other (SPEC §12).
    let (windows, fixes) = match &spans {
        Some(_) => (
            super::maintenance::load_for_tx(tx, objectives.iter().copied()).await?,
            super::corrections::load_for_tx(tx, objectives.iter().copied()).await?,
        ),
        None => Default::default(),
    };
    let upstreams = spans
        .map(|spans| super::corrections::upstream_table(&spans.upstreams, &fixes))
        .unwrap_or_default();
    let mut unlocks = Vec::new();
    let no_streak = Streak::default();
    for (system, mut ats) in instants {
        ats.sort();
        let own: Vec<&Objective> =
            objectives.iter().copied().filter(|o| &o.system_id == system).collect();
        let mut first: BTreeMap<AchievementType, Timestamp> = BTreeMap::new();
        for at in ats {
            let statuses: Vec<SloStatus> = own
                .iter()
                .map(|objective| match &spans {
                    // The system recovered at `at`, so it is not down then:
                    // events reaching past `at` (later in this batch) count
                    // for nothing, as `status::as_of` rewinds them.
                    Some(spans) => {
                        let mut rewound = BTreeMap::from([(
                            objective.id.to_string(),
                            spans.spans.get(objective.id.as_str()).cloned().unwrap_or_default(),
                        )]);
                        super::status::as_of(&mut rewound, at);
                        let own_spans = rewound.remove(objective.id.as_str()).unwrap_or_default();
                        super::corrections::compute(
                            objective,
                            &own_spans,
                            Some(own_spans.settled()),
                            &upstreams,
                            at,
                            false,
                            &windows,
                            &fixes,
                        )
                    }
                    None => compute_status(objective, &[], &[], at, false),
                })
                .collect();
            let items: Vec<(&Objective, &SloStatus, &Streak)> = own
                .iter()
                .zip(&statuses)
                .map(|(o, s)| (*o, s, streaks.get(o.id.as_str()).unwrap_or(&no_streak)))
                .collect();
            let recent = outages.get(system).map(Vec::as_slice).unwrap_or(&[]);
            for kind in earned_at(&items, recent, at) {
                // Without statuses, a status-based rule saw an empty
                // window: it must not unlock from that.
                if spans.is_none() && NEEDS_STATUS.contains(&kind) {
                    continue;
                }
                first.entry(kind).or_insert(at);
            }
        }
        let held = held.get(system);
        unlocks.extend(
            first.into_iter().filter(|(kind, _)| !held.is_some_and(|h| h.contains(kind))).map(
                |(achievement, unlocked_at)| AchievementRow {
                    system_id: system.clone(),
                    achievement,
                    unlocked_at,
                },
            ),
        );
    }
    let new = tx.unlock_achievements(&unlocks).await?;
    let events: Vec<NotificationEvent> = new
        .iter()
        .map(|unlock| {
            let name = world
                .systems
                .get(&unlock.system_id)
                .map_or(unlock.system_id.as_str(), |s| s.name.as_str());
            unlocked_event(unlock, name)
        })
        .collect();
    tx.enqueue_events(&events).await?;
    Ok(events)
}

/// The spans the achievements of `recovered` may need, as (objective ids,
/// since, until) for one `event_spans` read: every objective of each
/// recovered system, from a window before the earliest recovery to just
/// past the latest. `None` when no recovered system has objectives.
pub fn span_needs(
    world: &World,
    recovered: &[(SystemId, Timestamp, Timestamp)],
) -> Option<(Vec<ObjectiveId>, Timestamp, Timestamp)> {
    let mut ids = Vec::new();
    let mut since: Option<Timestamp> = None;
    let mut until: Option<Timestamp> = None;
    for (system, _, at) in recovered {
        let Some(states) = world.objectives.get(system) else { continue };
        for state in states {
            ids.push(state.objective.id.clone());
            let from = state.objective.window_start(*at);
            since = Some(since.map_or(from, |s| s.min(from)));
        }
        if !states.is_empty() {
            // `until` is exclusive: one past the recovery instant.
            let to = at.plus_millis(1);
            until = Some(until.map_or(to, |u| u.max(to)));
        }
    }
    ids.sort();
    ids.dedup();
    Some((ids, since?, until?))
}

/// An unlocked achievement as served, with its definition.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AchievementView {
    pub system_id: SystemId,
    pub achievement: AchievementType,
    pub unlocked_at: Timestamp,
    pub label: &'static str,
    pub emoji: &'static str,
    pub description: &'static str,
}

impl From<AchievementRow> for AchievementView {
    fn from(row: AchievementRow) -> Self {
        let def = row.achievement.definition();
        Self {
            system_id: row.system_id,
            achievement: row.achievement,
            unlocked_at: row.unlocked_at,
            label: def.label,
            emoji: def.emoji,
            description: def.description,
        }
    }
}

/// An entry of the milestone feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MilestoneView {
    pub system_id: SystemId,
    pub system_name: String,
    pub achievement: AchievementType,
    pub unlocked_at: Timestamp,
}

impl From<MilestoneRow> for MilestoneView {
    fn from(row: MilestoneRow) -> Self {
        Self {
            system_id: row.system_id,
            system_name: row.system_name,
            achievement: row.achievement,
            unlocked_at: row.unlocked_at,
        }
    }
}

/// Every achievement's definition, in a fixed order.
pub fn all_definitions() -> &'static [AchievementDefinition] {
    definitions()
}

/// The achievements `system` has unlocked, oldest first; `NotFound` for an
/// unknown system.
pub async fn system_achievements(
    store: &dyn Store,
    system: &SystemId,
) -> ServiceResult<Vec<AchievementView>> {
    if store.get_system(system).await?.is_none() {
        return Err(ServiceError::unknown_system(system, None));
    }
    let rows = store.achievements(Some(std::slice::from_ref(system))).await?;
    Ok(rows.into_iter().map(AchievementView::from).collect())
}

/// The unlocked achievements of `systems` (all when `None`), by system,
/// oldest unlock first.
pub async fn achievements(
    store: &dyn Store,
    systems: Option<&[SystemId]>,
) -> ServiceResult<Vec<AchievementRow>> {
    Ok(store.achievements(systems).await?)
}

/// The `limit` most recent unlocks across all systems, newest first.
pub async fn milestones(store: &dyn Store, limit: u32) -> ServiceResult<Vec<MilestoneView>> {
    Ok(store.milestones(limit).await?.into_iter().map(MilestoneView::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use slod_core::model::{BurnRateThresholds, DependencyExclusion, Target, WindowDays};
    use slod_core::time::{DAY_MS, MINUTE_MS};

    fn at(minutes: i64) -> Timestamp {
        Timestamp::from_millis(1_772_409_600_000 + minutes * MINUTE_MS)
    }

    fn outage(start: i64, end: i64) -> OutageSpan {
        OutageSpan { start: at(start), end: at(end) }
    }

    fn objective() -> Objective {
        Objective {
            id: ObjectiveId::from_trusted("slo-1".into()),
            name: None,
            system_id: SystemId::parse("api", "id").unwrap(),
            health_check_configuration_id: None,
            target: Target::parse(99.9).unwrap(),
            window: WindowDays::parse(30).unwrap().into(),
            dependency_exclusion: DependencyExclusion::Strict,
            excluded_dependency_ids: vec![],
            exclude_maintenance_windows: false,
            burn_rate_thresholds: BurnRateThresholds::default(),
            burn_rate_alerts: Default::default(),
            created_at: at(0).minus_millis(DAY_MS),
            updated_at: at(0),
        }
    }

    #[test]
    fn only_outages_over_by_the_instant_and_the_ten_latest_count() {
        let o = objective();
        let status = compute_status(&o, &[], &[], at(100), false);
        let streak = Streak::default();
        let items = [(&o, &status, &streak)];
        let rapid = |outages: &[OutageSpan], when: i64| {
            earned_at(&items, outages, at(when)).contains(&AchievementType::RapidRecovery)
        };
        // A 2-minute outage that ends after the instant does not count yet.
        assert!(!rapid(&[outage(95, 102)], 100));
        assert!(rapid(&[outage(95, 97)], 100));
        // Ten slow outages after the quick one push it out of the window.
        let mut outages: Vec<OutageSpan> =
            (0..10).rev().map(|i| outage(20 + 10 * i, 29 + 10 * i)).collect();
        outages.push(outage(0, 1));
        assert!(!rapid(&outages, 200));
        outages.remove(0);
        assert!(rapid(&outages, 200));
    }

    #[test]
    fn span_needs_cover_every_recovery_of_systems_with_objectives() {
        let mut world = World::default();
        let api = SystemId::parse("api", "id").unwrap();
        let db = SystemId::parse("db", "id").unwrap();
        world.add_system(api.clone(), "API".into());
        world.add_system(db.clone(), "Database".into());
        world.add_objective(objective(), None);
        assert_eq!(span_needs(&world, &[(db.clone(), at(0), at(5))]), None);
        let (ids, since, until) = span_needs(
            &world,
            &[(api.clone(), at(0), at(5)), (api, at(10), at(20)), (db, at(0), at(90))],
        )
        .unwrap();
        assert_eq!(ids, ["slo-1"]);
        assert_eq!(since, at(5).minus_millis(30 * DAY_MS));
        assert_eq!(until, at(20).plus_millis(1));
    }
}
