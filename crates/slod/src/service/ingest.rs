//! Reports from the monitors people already run (SPEC §13): Alertmanager,
//! Uptime Kuma, Gatus.
//!
//! `input::integrations` turns each tool's payload into [`IngestItem`]s
//! (one per alert or heartbeat, already mapped to a system, a check and a
//! status); this module applies them as one batch through the same path as
//! `POST /health` ([`super::health::apply_reports_in`]), in one
//! transaction, with the integrations' answer instead of refusals: a sender
//! that got a `4xx` for an item would retry it forever, so an item in the
//! future, for an unknown system under `?create=false`, or older than its
//! check's latest report is left out and counted, and the rest applies.

use std::collections::BTreeSet;

use serde::Serialize;
use slod_core::model::{CheckId, HealthStatus, ReportSource, SystemId};
use slod_core::time::Timestamp;
use slod_store::Store;

use super::health::{self, OnStale, ReportInput};
use super::ServiceResult;

/// One alert or heartbeat, mapped to a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestItem {
    pub system_id: SystemId,
    /// The name a system created for this item gets.
    pub system_name: String,
    /// The check the item reports on (`alertmanager:<fingerprint>`, …).
    pub check_id: CheckId,
    pub status: HealthStatus,
    pub at: Timestamp,
    /// Where the item sat in the payload (`alerts[3]`), for errors.
    pub field: String,
}

/// A parsed payload: the items to apply, and how many of what it carried
/// the tool's mapping leaves out (an alert without the system label, a
/// pending heartbeat, a test notification).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestBatch {
    pub items: Vec<IngestItem>,
    pub ignored: usize,
}

/// The answer every integration route gives (SPEC §13).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IngestOutcome {
    /// Items taken, repeats included.
    pub applied: usize,
    /// Items left out: not mapped to a report, more than 5 minutes in the
    /// future, or for an unknown system under `?create=false`.
    pub ignored: usize,
    /// Items older than their check's latest report.
    pub stale: usize,
}

/// Applies `batch` at `now` in one transaction. With `create`, systems seen
/// for the first time are created (named after the item); without, their
/// items are ignored.
pub async fn ingest(
    store: &dyn Store,
    now: Timestamp,
    batch: IngestBatch,
    create: bool,
) -> ServiceResult<IngestOutcome> {
    let mut outcome = IngestOutcome { ignored: batch.ignored, ..IngestOutcome::default() };
    let (future, items): (Vec<_>, Vec<_>) =
        batch.items.into_iter().partition(|item| health::is_in_future(item.at, now));
    outcome.ignored += future.len();
    if items.is_empty() {
        return Ok(outcome);
    }

    let mut tx = store.begin().await?;
    let items = if create {
        items
    } else {
        let ids: BTreeSet<SystemId> = items.iter().map(|item| item.system_id.clone()).collect();
        let ids: Vec<SystemId> = ids.into_iter().collect();
        let known = tx.existing_systems(&ids).await?;
        let (known_items, unknown): (Vec<_>, Vec<_>) =
            items.into_iter().partition(|item| known.contains(&item.system_id));
        outcome.ignored += unknown.len();
        known_items
    };
    if items.is_empty() {
        return Ok(outcome);
    }
    let inputs: Vec<ReportInput> =
        items.into_iter().map(|item| report_input(item, create)).collect();
    let count = inputs.len();
    let applied = health::apply_reports_in(&mut *tx, now, &inputs, OnStale::Skip).await?;
    tx.commit().await?;
    outcome.stale = applied.stale;
    outcome.applied = count - applied.stale;
    Ok(outcome)
}

/// The report an item makes: a probe report on the item's own check, so
/// two alerts on one system don't clobber each other (SPEC §13).
fn report_input(item: IngestItem, create: bool) -> ReportInput {
    ReportInput {
        system_id: item.system_id,
        status: item.status,
        at: Some(item.at),
        source: ReportSource::Healthcheck,
        check_id: Some(item.check_id),
        create_system: create,
        system_name: Some(item.system_name),
        field_prefix: format!("{}.", item.field),
    }
}
