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
use slod_core::model::{ObjectiveId, SystemId};
use slod_core::time::Timestamp;
use slod_store::StoreTx;

use super::status::{self, Judged};
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
    objective_ids: &BTreeSet<ObjectiveId>,
    recovered: &[(SystemId, Timestamp, Timestamp)],
    now: Timestamp,
) -> ServiceResult<Vec<NotificationEvent>> {
    if objective_ids.is_empty() {
        return super::achievements::on_recovery(tx, world, recovered, None).await;
    }
    // One span read serves both the statuses now and the achievements as
    // of each recovery: on the ingest path they cover the same events.
    let needs = super::achievements::span_needs(world, recovered);
    let (judged, spans) = status::judge_with(tx, world, objective_ids, now, needs).await?;
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
