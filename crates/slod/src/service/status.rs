//! Objective status at an instant (SPEC §4), for one objective or many.
//!
//! The arithmetic is `slod_core::status::compute_status`; this module
//! fetches its inputs with as few reads as possible: the spans of all the
//! requested objectives in one `event_spans` call (from the earliest instant
//! any of them needs), and the systems' down state once.
//!
//! "Down at T" comes from live health when T is now (SPEC §4: live health is
//! authoritative, so a stale open event never counts) and from the outage
//! history when T is in the past.
//!
//! [`judge`] does the same inside a change's transaction, from the world
//! the operation loaded: the statuses that `effects` and `alerts` judge
//! thresholds and events on.
//!
//! Maintenance windows (SPEC §12) come in the same way: one read of the
//! non-cancelled windows of every system whose objectives exclude them
//! (`service::maintenance::load_for`), whatever the number of objectives.
//!
//! Corrections (SPEC §17) likewise: one read of the live corrections of
//! the systems involved (`service::corrections::load_for`), applied as an
//! overlay by `service::corrections::compute`.
//!
//! Every `{objective, status}` read also carries the objective's streak
//! (SPEC §5) as it stands, fetched for all the listed objectives at once.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use slod_core::engine::World;
use slod_core::model::{Objective, ObjectiveId, SystemId};
use slod_core::status::{SloStatus, BURN_WINDOWS, OPEN_END};
use slod_core::streak::Streak;
use slod_core::time::Timestamp;
use slod_store::{SpanSet, Spans, Store, StoreTx};

use super::{corrections, maintenance, ServiceResult};
use crate::halves::{self, in_halves};

/// An objective with its status and streak, the API's
/// `{objective, status, streak}`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ObjectiveWithStatus {
    pub objective: Objective,
    pub status: SloStatus,
    /// `{currentStreak, bestStreak, streakStart, bestStreakEnd}` as it
    /// stands now, whatever instant the status is for.
    pub streak: Streak,
}

/// The status of each of `objectives` at `at` (or now), in the same order,
/// each with its streak.
pub async fn with_status(
    store: &dyn Store,
    objectives: Vec<Objective>,
    at: Option<Timestamp>,
    now: Timestamp,
) -> ServiceResult<Vec<ObjectiveWithStatus>> {
    if objectives.is_empty() {
        return Ok(Vec::new());
    }
    let statuses = statuses(store, &objectives, at, now).await?;
    let ids: Vec<String> = objectives.iter().map(|o| o.id.to_string()).collect();
    let mut streaks: BTreeMap<String, Streak> =
        store.streaks(Some(&ids)).await?.into_iter().map(|r| (r.objective_id, r.streak)).collect();
    Ok(objectives
        .into_iter()
        .zip(statuses)
        .map(|(objective, status)| {
            let streak = streaks.remove(objective.id.as_str()).unwrap_or_default();
            ObjectiveWithStatus { objective, status, streak }
        })
        .collect())
}

/// The status of each of `objectives` at `at` (or now), in the same order:
/// one `event_spans` read, one down-state read and one maintenance read for
/// all of them.
pub async fn statuses(
    store: &dyn Store,
    objectives: &[Objective],
    at: Option<Timestamp>,
    now: Timestamp,
) -> ServiceResult<Vec<SloStatus>> {
    if objectives.is_empty() {
        return Ok(Vec::new());
    }
    let t = at.unwrap_or(now);
    // Burn rates look back 72 h even when the window is shorter; a calendar
    // window reaches back to its period's start (SPEC §17).
    let longest_burn = BURN_WINDOWS[BURN_WINDOWS.len() - 1].1;
    let since = objectives
        .iter()
        .map(|o| o.window_start(t).min(t.minus_millis(longest_burn)))
        .min()
        .unwrap_or(t);
    let ids: Vec<String> = objectives.iter().map(|o| o.id.to_string()).collect();
    let mut spans = store.event_spans(&ids, since, t).await?;
    if at.is_some() {
        as_of(&mut spans.spans, t);
    }
    let systems: BTreeSet<SystemId> = objectives.iter().map(|o| o.system_id.clone()).collect();
    let down = systems_down(store, &systems, at).await?;
    // Windows as they are now, whatever `t` is: they are a plan (SPEC §12).
    let windows = maintenance::load_for(store, objectives).await?;
    // Corrections are an overlay read as they are now (SPEC §17).
    let fixes = corrections::load_for(store, objectives).await?;
    let upstreams = corrections::upstream_table(&spans.upstreams, &fixes);

    let compute = |objectives: &[Objective]| -> Vec<SloStatus> {
        objectives
            .iter()
            .map(|objective| {
                let own = spans.spans.get(objective.id.as_str());
                let (own, settled) =
                    (own.map_or(&[][..], Spans::as_slice), own.map(Spans::settled));
                let is_down = down.contains(&objective.system_id);
                corrections::compute(
                    objective, own, settled, &upstreams, t, is_down, &windows, &fixes,
                )
            })
            .collect()
    };
    Ok(in_halves(objectives, halves::SPLIT_FROM, compute).into_iter().flatten().collect())
}

/// Rewinds events to how they stood at the past instant `t`: one that
/// ended after `t` was still open then, so it runs to `t` and counts only
/// if the system was down at `t`, exactly like an open event now, and it
/// makes `hasOpenDowntime` true. (Live status does not do this: a report
/// may legitimately close an event a few minutes ahead of now, and that
/// event's time up to now is plain closed downtime.)
pub(crate) fn as_of(spans: &mut BTreeMap<String, Spans>, t: Timestamp) {
    for spans in spans.values_mut() {
        // Copied (from the span cache) only when something changes.
        if spans.iter().any(|span| span.end > t.millis()) {
            for span in spans.to_mut() {
                if span.end > t.millis() {
                    span.end = OPEN_END;
                }
            }
        }
    }
}

/// Which of `systems` are down at `at`, or now when `at` is `None`.
async fn systems_down(
    store: &dyn Store,
    systems: &BTreeSet<SystemId>,
    at: Option<Timestamp>,
) -> ServiceResult<BTreeSet<SystemId>> {
    if let Some(at) = at {
        let ids: Vec<SystemId> = systems.iter().cloned().collect();
        return Ok(store.systems_down_at(&ids, at).await?);
    }
    let rows = match systems.iter().next() {
        Some(only) if systems.len() == 1 => store.get_system(only).await?.into_iter().collect(),
        _ => store.list_systems().await?,
    };
    Ok(rows
        .into_iter()
        .filter(|row| row.effective_status.is_down() && systems.contains(&row.system.id))
        .map(|row| row.system.id)
        .collect())
}

/// Groups `items` by system, keeping every requested system (empty when it
/// has no objectives).
pub fn group_by_system(
    requested: &[SystemId],
    items: Vec<ObjectiveWithStatus>,
) -> BTreeMap<SystemId, Vec<ObjectiveWithStatus>> {
    let mut groups: BTreeMap<SystemId, Vec<ObjectiveWithStatus>> =
        requested.iter().map(|id| (id.clone(), Vec::new())).collect();
    for item in items {
        groups.entry(item.objective.system_id.clone()).or_default().push(item);
    }
    groups
}

/// An affected objective with its status now.
#[derive(Debug, Clone)]
pub struct Judged {
    pub objective: Objective,
    pub status: SloStatus,
}

/// The status now of the objectives of `world` named in `objective_ids`.
pub async fn judge(
    tx: &mut dyn StoreTx,
    world: &World,
    objective_ids: &BTreeSet<ObjectiveId>,
    now: Timestamp,
) -> ServiceResult<Vec<Judged>> {
    Ok(judge_with(tx, world, objective_ids, now, None).await?.0)
}

/// [`judge`], reading in the same `event_spans` call the spans of `extra`
/// (objective ids, since, until) too; returns the spans read.
pub(super) async fn judge_with(
    tx: &mut dyn StoreTx,
    world: &World,
    objective_ids: &BTreeSet<ObjectiveId>,
    now: Timestamp,
    extra: Option<(Vec<ObjectiveId>, Timestamp, Timestamp)>,
) -> ServiceResult<(Vec<Judged>, SpanSet)> {
    let objectives: Vec<&Objective> = world
        .objectives
        .values()
        .flatten()
        .map(|state| &state.objective)
        .filter(|o| objective_ids.contains(o.id.as_str()))
        .collect();
    if objectives.is_empty() && extra.is_none() {
        return Ok((Vec::new(), SpanSet::default()));
    }
    let longest_burn = BURN_WINDOWS[BURN_WINDOWS.len() - 1].1;
    let mut since = objectives
        .iter()
        .map(|o| o.window_start(now).min(now.minus_millis(longest_burn)))
        .min()
        .unwrap_or(now);
    let mut until = now;
    let mut ids: BTreeSet<ObjectiveId> = objectives.iter().map(|o| o.id.clone()).collect();
    if let Some((more, from, to)) = extra {
        ids.extend(more);
        since = since.min(from);
        until = until.max(to);
    }
    let ids: Vec<String> = ids.into_iter().map(String::from).collect();
    // Spans beyond `now` or before a window count for nothing in
    // `compute_status`, so the wider read changes no status.
    let spans = tx.event_spans(&ids, since, until).await?;
    let windows = maintenance::load_for_tx(tx, objectives.iter().copied()).await?;
    let fixes = corrections::load_for_tx(tx, objectives.iter().copied()).await?;
    let upstreams = corrections::upstream_table(&spans.upstreams, &fixes);
    let judged = objectives
        .into_iter()
        .map(|objective| {
            let own = spans.spans.get(objective.id.as_str()).map(Spans::as_slice).unwrap_or(&[]);
            let down = world.systems.get(&objective.system_id).is_some_and(|s| s.is_down());
            // Read once, inside the transaction: no sums to keep.
            let status =
                corrections::compute(objective, own, None, &upstreams, now, down, &windows, &fixes);
            Judged { objective: objective.clone(), status }
        })
        .collect();
    Ok((judged, spans))
}
