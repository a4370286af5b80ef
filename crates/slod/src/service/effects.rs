//! What a change causes beyond itself (SPEC §8), inside the change's own
//! transaction.
//!
//! Every operation that changes downtime events — a batch of reports, an
//! objective created or updated, a system's dependencies replaced — calls
//! [`after_changes`] once, after the engine's changes are written and
//! before committing. It computes the affected objectives' status now, from
//! the transaction's own view (so the change is included), and writes the
//! notification events that follow from it to the outbox in the same
//! transaction: the change and its events land together or not at all.
//! Judging once per operation is what SPEC §8 asks: never between the
//! reports of one batch.

use std::collections::BTreeSet;

use serde::Serialize;
use slod_core::engine::World;
use slod_core::events::{EventType, NotificationEvent};
use slod_core::model::{Objective, SystemId};
use slod_core::status::{compute_status, SloStatus, BURN_WINDOWS};
use slod_core::time::Timestamp;
use slod_store::{SpanSet, StoreTx};

use super::ServiceResult;

/// `slo.status.changed` payload.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusChanged<'a> {
    system_id: &'a SystemId,
    objective_id: &'a str,
    budget_remaining_percent: f64,
    is_breaching: bool,
}

/// An affected objective with its status now.
#[derive(Debug, Clone)]
pub struct Judged {
    pub objective: Objective,
    pub status: SloStatus,
}

/// Computes the status now of each objective in `objective_ids` (those
/// present in `world`, which the operation loaded and the engine updated)
/// and enqueues the events it causes; then evaluates the achievements of
/// the systems in `recovered` (the engine's `Changeset::outages_ended`:
/// system, went down, recovered) as of each recovery (SPEC §3 R2 step 3).
/// Returns the events, so the caller can publish them to live listeners
/// once committed.
pub async fn after_changes(
    tx: &mut dyn StoreTx,
    world: &World,
    objective_ids: &BTreeSet<String>,
    recovered: &[(SystemId, Timestamp, Timestamp)],
    now: Timestamp,
) -> ServiceResult<Vec<NotificationEvent>> {
    if objective_ids.is_empty() {
        return super::achievements::on_recovery(tx, world, recovered, None).await;
    }
    // One span read serves both the statuses now and the achievements as
    // of each recovery: on the ingest path they cover the same events.
    let needs = super::achievements::span_needs(world, recovered);
    let (judged, spans) = judge_with(tx, world, objective_ids, now, needs).await?;
    let mut events = Vec::with_capacity(judged.len());
    for Judged { objective, status } in &judged {
        events.push(NotificationEvent::new(
            slod_store::new_id(),
            EventType::StatusChanged,
            now,
            StatusChanged {
                system_id: &objective.system_id,
                objective_id: &objective.id,
                budget_remaining_percent: status.error_budget_remaining_percent,
                is_breaching: status.is_breaching,
            },
        ));
    }
    // SPEC §8 thresholds, judged on the same statuses (service::alerts).
    events.extend(super::alerts::evaluate(tx, &judged, now).await?);
    tx.enqueue_events(&events).await?;
    events.extend(super::achievements::on_recovery(tx, world, recovered, Some(&spans)).await?);
    Ok(events)
}

/// The status now of the objectives of `world` named in `objective_ids`.
pub async fn judge(
    tx: &mut dyn StoreTx,
    world: &World,
    objective_ids: &BTreeSet<String>,
    now: Timestamp,
) -> ServiceResult<Vec<Judged>> {
    Ok(judge_with(tx, world, objective_ids, now, None).await?.0)
}

/// [`judge`], reading in the same `event_spans` call the spans of `extra`
/// (objective ids, since, until) too; returns the spans read.
async fn judge_with(
    tx: &mut dyn StoreTx,
    world: &World,
    objective_ids: &BTreeSet<String>,
    now: Timestamp,
    extra: Option<(Vec<String>, Timestamp, Timestamp)>,
) -> ServiceResult<(Vec<Judged>, SpanSet)> {
    let objectives: Vec<&Objective> = world
        .objectives
        .values()
        .flatten()
        .map(|state| &state.objective)
        .filter(|o| objective_ids.contains(&o.id))
        .collect();
    if objectives.is_empty() && extra.is_none() {
        return Ok((Vec::new(), SpanSet::default()));
    }
    let longest_burn = BURN_WINDOWS[BURN_WINDOWS.len() - 1].1;
    let mut since = objectives
        .iter()
        .map(|o| now.minus_millis(o.window_ms().max(longest_burn)))
        .min()
        .unwrap_or(now);
    let mut until = now;
    let mut ids: BTreeSet<String> = objectives.iter().map(|o| o.id.clone()).collect();
    if let Some((more, from, to)) = extra {
        ids.extend(more);
        since = since.min(from);
        until = until.max(to);
    }
    let ids: Vec<String> = ids.into_iter().collect();
    // Spans beyond `now` or before a window count for nothing in
    // `compute_status`, so the wider read changes no status.
    let spans = tx.event_spans(&ids, since, until).await?;
    let judged = objectives
        .into_iter()
        .map(|objective| {
            let own = spans.spans.get(&objective.id).map(Vec::as_slice).unwrap_or(&[]);
            let down = world.systems.get(&objective.system_id).is_some_and(|s| s.is_down());
            let status = compute_status(objective, own, &spans.upstreams, now, down);
            Judged { objective: objective.clone(), status }
        })
        .collect();
    Ok((judged, spans))
}
