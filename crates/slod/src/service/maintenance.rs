//! Maintenance windows (SPEC §12): declaring, changing and removing a
//! system's planned windows, and the occurrences a status subtracts.
//!
//! A window is a plan: the statuses computed after a change use the windows
//! as they are then, whatever instant they are for, and nothing computed
//! before (snapshots, fired alerts) is revisited. So a change here writes
//! one row and nothing else.
//!
//! Every status computation goes through [`load_for`] and [`excluded`]: one
//! read of the non-cancelled windows of the systems whose objectives
//! exclude maintenance (none at all when no objective does), then, per
//! objective, the merged occurrences over `maintenance_range`.

use slod_core::maintenance::{
    merged_occurrences, MaintenanceStatus, MaintenanceWindow, Recurrence,
};
use slod_core::model::{Objective, SystemId};
use slod_core::status::maintenance_range;
use slod_core::time::Timestamp;
use slod_store::maintenance::{ActiveWindows, MaintenanceWindowRow};
use slod_store::{Store, StoreError, StoreTx};

use super::{ServiceError, ServiceResult};

fn unknown_window(id: &str) -> ServiceError {
    ServiceError::NotFound { message: format!("no maintenance window with id `{id}`"), field: None }
}

/// `POST /systems/{id}/maintenance-windows` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateMaintenanceRequest {
    pub title: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub recurrence: Option<Recurrence>,
}

/// `PATCH /maintenance-windows/{id}` body: `None` leaves a field as it is;
/// `recurrence: Some(None)` makes the window a one-off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateMaintenanceRequest {
    pub title: Option<String>,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub recurrence: Option<Option<Recurrence>>,
    pub cancelled: Option<bool>,
}

/// The systems whose windows a status of some of `objectives` needs: those
/// of the objectives that exclude maintenance, each once.
fn systems_needed<'a>(objectives: impl IntoIterator<Item = &'a Objective>) -> Vec<SystemId> {
    let mut systems: Vec<SystemId> = objectives
        .into_iter()
        .filter(|o| o.exclude_maintenance_windows)
        .map(|o| o.system_id.clone())
        .collect();
    systems.sort_unstable();
    systems.dedup();
    systems
}

/// The active windows that statuses of `objectives` need, in one read (no
/// read at all when none of them excludes maintenance).
pub async fn load_for<'a>(
    store: &dyn Store,
    objectives: impl IntoIterator<Item = &'a Objective>,
) -> ServiceResult<ActiveWindows> {
    let systems = systems_needed(objectives);
    if systems.is_empty() {
        return Ok(ActiveWindows::new());
    }
    Ok(store.active_maintenance_windows(&systems).await?)
}

/// [`load_for`] inside a transaction (it sees the transaction's writes).
pub async fn load_for_tx<'a>(
    tx: &mut dyn StoreTx,
    objectives: impl IntoIterator<Item = &'a Objective>,
) -> ServiceResult<ActiveWindows> {
    let systems = systems_needed(objectives);
    if systems.is_empty() {
        return Ok(ActiveWindows::new());
    }
    Ok(tx.active_maintenance_windows(&systems).await?)
}

/// The merged occurrences the status of `objective` at `at` subtracts
/// (empty when it does not exclude maintenance).
pub fn excluded(objective: &Objective, windows: &ActiveWindows, at: Timestamp) -> Vec<(i64, i64)> {
    if !objective.exclude_maintenance_windows {
        return Vec::new();
    }
    let Some(windows) = windows.get(&objective.system_id) else {
        return Vec::new();
    };
    let (from, to) = maintenance_range(objective, at);
    merged_occurrences(windows, from, to)
}

/// A stored window with its status at the instant it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowWithStatus {
    pub row: MaintenanceWindowRow,
    pub status: MaintenanceStatus,
}

impl WindowWithStatus {
    fn at(row: MaintenanceWindowRow, now: Timestamp) -> Self {
        let status = row.window.status(now);
        Self { row, status }
    }
}

pub async fn create(
    store: &dyn Store,
    now: Timestamp,
    system: &SystemId,
    request: CreateMaintenanceRequest,
) -> ServiceResult<WindowWithStatus> {
    let window = MaintenanceWindow::new(request.start, request.end, request.recurrence, false)?;
    let row = MaintenanceWindowRow {
        id: slod_store::new_id(),
        system_id: system.clone(),
        title: request.title,
        window,
        created_at: now,
        updated_at: now,
    };
    let mut tx = store.begin().await?;
    if tx.existing_systems(std::slice::from_ref(system)).await?.is_empty() {
        return Err(ServiceError::unknown_system(system, None));
    }
    tx.insert_maintenance_window(&row).await?;
    tx.commit().await?;
    tracing::info!(window = %row.id, system = %system, "maintenance window declared");
    Ok(WindowWithStatus::at(row, now))
}

/// The system's windows, oldest start first.
pub async fn list(
    store: &dyn Store,
    now: Timestamp,
    system: &SystemId,
) -> ServiceResult<Vec<WindowWithStatus>> {
    if store.get_system(system).await?.is_none() {
        return Err(ServiceError::unknown_system(system, None));
    }
    let rows = store.list_maintenance_windows(system).await?;
    Ok(rows.into_iter().map(|row| WindowWithStatus::at(row, now)).collect())
}

pub async fn get(store: &dyn Store, now: Timestamp, id: &str) -> ServiceResult<WindowWithStatus> {
    let row = store.get_maintenance_window(id).await?.ok_or_else(|| unknown_window(id))?;
    Ok(WindowWithStatus::at(row, now))
}

/// Merges the patch into the stored window and validates the result as a
/// whole (a new `end` is checked against the stored `start`, and so on).
pub async fn update(
    store: &dyn Store,
    now: Timestamp,
    id: &str,
    patch: UpdateMaintenanceRequest,
) -> ServiceResult<WindowWithStatus> {
    let mut row = store.get_maintenance_window(id).await?.ok_or_else(|| unknown_window(id))?;
    let old = &row.window;
    let recurrence = match patch.recurrence {
        Some(recurrence) => recurrence,
        None => old.recurrence().cloned(),
    };
    row.window = MaintenanceWindow::new(
        patch.start.unwrap_or(old.start()),
        patch.end.unwrap_or(old.end()),
        recurrence,
        patch.cancelled.unwrap_or(old.is_cancelled()),
    )?;
    if let Some(title) = patch.title {
        row.title = title;
    }
    row.updated_at = now;
    let mut tx = store.begin().await?;
    match tx.update_maintenance_window(&row).await {
        Err(StoreError::NotFound) => return Err(unknown_window(id)),
        other => other?,
    }
    tx.commit().await?;
    Ok(WindowWithStatus::at(row, now))
}

pub async fn delete(store: &dyn Store, id: &str) -> ServiceResult<()> {
    let mut tx = store.begin().await?;
    if !tx.delete_maintenance_window(id).await? {
        return Err(unknown_window(id));
    }
    tx.commit().await?;
    Ok(())
}
