//! Reads of what the jobs produced: streaks, snapshots, digests and the
//! job runs themselves (`GET /streaks`, `/objectives/{id}/snapshots`,
//! `/digests`, `/jobs/runs`).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use slod_core::digest::WeeklyDigest;
use slod_core::model::SystemId;
use slod_core::streak::{Snapshot, Streak};
use slod_core::time::Timestamp;
use slod_store::jobs::{JobKind, JobRunRow};
use slod_store::Store;

use crate::service::{ServiceError, ServiceResult};

/// A streak as `GET /streaks` serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreakView {
    pub objective_id: String,
    pub system_id: SystemId,
    #[serde(flatten)]
    pub streak: Streak,
}

/// Every objective's streak, by system then objective id.
pub async fn streaks(store: &dyn Store) -> ServiceResult<Vec<StreakView>> {
    Ok(store
        .streaks(None)
        .await?
        .into_iter()
        .map(|r| StreakView {
            objective_id: r.objective_id,
            system_id: r.system_id,
            streak: r.streak,
        })
        .collect())
}

/// The streaks of `objective_ids`, by objective id.
pub async fn streaks_of(
    store: &dyn Store,
    objective_ids: &[String],
) -> ServiceResult<BTreeMap<String, Streak>> {
    Ok(store
        .streaks(Some(objective_ids))
        .await?
        .into_iter()
        .map(|r| (r.objective_id, r.streak))
        .collect())
}

/// The objective's snapshots dated in `[from, to]`, oldest first;
/// `NotFound` for an unknown objective.
pub async fn snapshots(
    store: &dyn Store,
    objective_id: &str,
    from: Timestamp,
    to: Timestamp,
) -> ServiceResult<Vec<Snapshot>> {
    if store.get_objective(objective_id).await?.is_none() {
        return Err(ServiceError::unknown_objective(objective_id));
    }
    Ok(store.snapshots(objective_id, from, to).await?)
}

/// A stored digest as `GET /digests` serves it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DigestView {
    pub id: String,
    pub week_of: NaiveDate,
    pub manual: bool,
    pub created_at: Timestamp,
    pub digest: WeeklyDigest,
}

/// The `limit` most recent digests, newest first.
pub async fn digests(store: &dyn Store, limit: u32) -> ServiceResult<Vec<DigestView>> {
    Ok(store
        .digests(limit)
        .await?
        .into_iter()
        .map(|row| DigestView {
            id: row.id,
            week_of: row.digest.week_of,
            manual: row.manual,
            created_at: row.created_at,
            digest: row.digest,
        })
        .collect())
}

/// A job run as `GET /jobs/runs` serves it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobRunView {
    pub kind: &'static str,
    pub period: String,
    pub period_start: Timestamp,
    pub status: &'static str,
    pub started_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    pub lease_expires_at: Timestamp,
    /// What the run did (the job's own JSON), once completed.
    pub result: Option<serde_json::Value>,
}

impl From<JobRunRow> for JobRunView {
    fn from(run: JobRunRow) -> Self {
        Self {
            kind: run.kind.as_str(),
            status: run.status.as_str(),
            period: run.period,
            period_start: run.period_start,
            started_at: run.started_at,
            completed_at: run.completed_at,
            lease_expires_at: run.lease_expires_at,
            result: run.result.and_then(|raw| serde_json::from_str(&raw).ok()),
        }
    }
}

/// The `limit` latest runs (of `kind`, or all), newest period first.
pub async fn job_runs(
    store: &dyn Store,
    kind: Option<JobKind>,
    limit: u32,
) -> ServiceResult<Vec<JobRunView>> {
    Ok(store.job_runs(kind, limit).await?.into_iter().map(JobRunView::from).collect())
}

/// Display names by system id, for event payloads. A failure only costs
/// the names (ids stand in), never the run.
pub(super) async fn system_names(store: &dyn Store) -> BTreeMap<SystemId, String> {
    match store.list_systems().await {
        Ok(rows) => rows.into_iter().map(|r| (r.system.id, r.system.name)).collect(),
        Err(err) => {
            tracing::warn!(error = %err, "reading system names failed; using ids");
            BTreeMap::new()
        }
    }
}
