//! Systems and their dependency edges (SPEC §1, §9).

use serde::Serialize;
use slod_core::engine;
use slod_core::graph;
use slod_core::model::{CheckId, HealthStatus, System, SystemId, ValidationError};
use slod_core::time::Timestamp;
use slod_store::{Store, SystemRow};

use super::{effects, id_generator, ServiceError, ServiceResult};

/// A system as the API shows it: with its live effective status, and since
/// when it has been down (`null` while healthy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemView {
    pub id: SystemId,
    pub name: String,
    pub created_at: Timestamp,
    pub status: HealthStatus,
    pub since: Option<Timestamp>,
    pub last_report_at: Option<Timestamp>,
    /// The system's checks (SPEC §12), on `GET /systems/{id}` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<CheckView>>,
}

/// One check of a system: its latest status and when it last reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckView {
    pub check_id: CheckId,
    pub status: HealthStatus,
    pub at: Timestamp,
}

impl From<SystemRow> for SystemView {
    fn from(row: SystemRow) -> Self {
        Self {
            id: row.system.id,
            name: row.system.name,
            created_at: row.system.created_at,
            status: row.effective_status,
            since: row.down_since,
            last_report_at: row.last_report_at,
            checks: None,
        }
    }
}

/// A dependency edge's far end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SystemRef {
    pub id: SystemId,
    pub name: String,
}

impl From<System> for SystemRef {
    fn from(system: System) -> Self {
        Self { id: system.id, name: system.name }
    }
}

/// `{upstream, downstream}` of one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DependenciesView {
    pub upstream: Vec<SystemRef>,
    pub downstream: Vec<SystemRef>,
}

/// Creates or renames a system; the flag says whether it was created.
pub async fn put_system(
    store: &dyn Store,
    now: Timestamp,
    id: &SystemId,
    name: &str,
) -> ServiceResult<(SystemView, bool)> {
    let mut tx = store.begin().await?;
    let created = tx.upsert_system(id, name, now).await?;
    tx.commit().await?;
    let view = get_system(store, id).await?;
    Ok((view, created))
}

/// One system with its checks.
pub async fn get_system(store: &dyn Store, id: &SystemId) -> ServiceResult<SystemView> {
    let Some(row) = store.get_system(id).await? else {
        return Err(ServiceError::unknown_system(id, None));
    };
    let checks = store.list_checks(id).await?;
    let mut view = SystemView::from(row);
    view.checks = Some(
        checks
            .into_iter()
            .map(|(check_id, state)| CheckView { check_id, status: state.status, at: state.at })
            .collect(),
    );
    Ok(view)
}

/// Forgets one check of a system (SPEC §12): the system's probe status is
/// the worst of the others from `now` on (or from its latest transition,
/// when that is later), and whatever the check held down recovers then.
pub async fn forget_check(
    store: &dyn Store,
    now: Timestamp,
    id: &SystemId,
    check: &CheckId,
) -> ServiceResult<()> {
    let mut tx = store.begin().await?;
    let mut world = tx.load_world(std::slice::from_ref(id)).await?;
    let Some(system) = world.systems.get_mut(id) else {
        return Err(ServiceError::unknown_system(id, None));
    };
    // The world holds only the checks that are down; a healthy one is
    // forgotten all the same.
    let Some(state) = tx.get_check(id, check).await? else {
        return Err(ServiceError::NotFound {
            message: format!("system `{id}` has no check `{check}`"),
            field: None,
        });
    };
    system.checks.insert(check.clone(), state);
    let Some(changes) = engine::forget_check(&mut world, id, check, now, &mut id_generator())
    else {
        return Err(ServiceError::Internal(anyhow::anyhow!("the loaded check went missing")));
    };
    tx.write_changes(&changes).await?;
    effects::after_changes(
        &mut *tx,
        &world,
        &changes.affected_objectives,
        &changes.outages_ended,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list_systems(store: &dyn Store) -> ServiceResult<Vec<SystemView>> {
    Ok(store.list_systems().await?.into_iter().map(SystemView::from).collect())
}

/// Deletes a system with its objectives, their events, and its edges
/// (SPEC §2).
pub async fn delete_system(store: &dyn Store, id: &SystemId) -> ServiceResult<()> {
    let mut tx = store.begin().await?;
    if !tx.delete_system(id).await? {
        return Err(ServiceError::unknown_system(id, None));
    }
    tx.commit().await?;
    Ok(())
}

pub async fn get_dependencies(store: &dyn Store, id: &SystemId) -> ServiceResult<DependenciesView> {
    if store.get_system(id).await?.is_none() {
        return Err(ServiceError::unknown_system(id, None));
    }
    let row = store.dependencies(id).await?;
    Ok(DependenciesView {
        upstream: row.upstream.into_iter().map(SystemRef::from).collect(),
        downstream: row.downstream.into_iter().map(SystemRef::from).collect(),
    })
}

/// Replaces the upstreams of `id`. Unknown upstreams are `NotFound` naming
/// `upstreamIds[i]`; a self-edge is invalid input; a cycle conflicts with
/// the edges already stored. Open downtime of the system's objectives is
/// re-attributed at `now` under the new edges, in the same transaction.
pub async fn set_dependencies(
    store: &dyn Store,
    now: Timestamp,
    id: &SystemId,
    upstreams: &[SystemId],
) -> ServiceResult<DependenciesView> {
    if upstreams.contains(id) {
        return Err(
            ValidationError::new("upstreamIds", format!("`{id}` cannot depend on itself")).into()
        );
    }
    let mut tx = store.begin().await?;
    let mut wanted = vec![id.clone()];
    wanted.extend(upstreams.iter().cloned());
    let existing = tx.existing_systems(&wanted).await?;
    if !existing.contains(id) {
        return Err(ServiceError::unknown_system(id, None));
    }
    if let Some((index, missing)) =
        upstreams.iter().enumerate().find(|(_, up)| !existing.contains(*up))
    {
        return Err(ServiceError::unknown_system(missing, Some(format!("upstreamIds[{index}]"))));
    }
    let edges = tx.all_edges().await?;
    graph::check_upstreams(id, upstreams, &edges)
        .map_err(|err| ServiceError::Conflict { message: err.message, field: Some(err.field) })?;
    tx.set_upstreams(id, upstreams).await?;
    let mut world = tx.load_world(std::slice::from_ref(id)).await?;
    let changes = engine::reconcile_system(&mut world, id, now, &mut id_generator());
    tx.write_changes(&changes).await?;
    effects::after_changes(
        &mut *tx,
        &world,
        &changes.affected_objectives,
        &changes.outages_ended,
        now,
    )
    .await?;
    tx.commit().await?;
    get_dependencies(store, id).await
}
