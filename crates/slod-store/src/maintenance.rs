//! Storage for maintenance windows (SPEC §12): one row per window of a
//! system, holding the validated plan ([`MaintenanceWindow`]) with its id,
//! system and title.
//!
//! Windows are a plan, not history: nothing here records when a window was
//! in progress. The status read path asks for the non-cancelled windows of
//! all the systems it is about to judge in one call
//! ([`MaintenanceStore::active_maintenance_windows`], or its twin on the
//! transaction), so a list of a thousand objectives costs one more query,
//! not a thousand.

use std::collections::BTreeMap;

use async_trait::async_trait;
use slod_core::maintenance::MaintenanceWindow;
use slod_core::model::SystemId;
use slod_core::time::Timestamp;

use crate::StoreResult;

/// A stored maintenance window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceWindowRow {
    pub id: String,
    pub system_id: SystemId,
    pub title: String,
    pub window: MaintenanceWindow,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The non-cancelled windows of some systems, per system (systems without
/// any are absent).
pub type ActiveWindows = BTreeMap<SystemId, Vec<MaintenanceWindow>>;

/// Reads of maintenance windows.
#[async_trait]
pub trait MaintenanceStore {
    async fn get_maintenance_window(&self, id: &str) -> StoreResult<Option<MaintenanceWindowRow>>;
    /// The system's windows, oldest start first (then by id).
    async fn list_maintenance_windows(
        &self,
        system: &SystemId,
    ) -> StoreResult<Vec<MaintenanceWindowRow>>;
    /// The non-cancelled windows of `systems`, in one query.
    async fn active_maintenance_windows(&self, systems: &[SystemId]) -> StoreResult<ActiveWindows>;
}

/// Changes to maintenance windows, inside a [`StoreTx`](crate::StoreTx).
#[async_trait]
pub trait MaintenanceTx {
    /// Inserts a window; its system must exist.
    async fn insert_maintenance_window(&mut self, row: &MaintenanceWindowRow) -> StoreResult<()>;
    /// Rewrites a window's title, plan and `updated_at` (its system and
    /// `created_at` never change); `NotFound` when it does not exist.
    async fn update_maintenance_window(&mut self, row: &MaintenanceWindowRow) -> StoreResult<()>;
    /// `false` when it did not exist.
    async fn delete_maintenance_window(&mut self, id: &str) -> StoreResult<bool>;
    /// As [`MaintenanceStore::active_maintenance_windows`], inside this
    /// transaction.
    async fn active_maintenance_windows(
        &mut self,
        systems: &[SystemId],
    ) -> StoreResult<ActiveWindows>;
}

/// Groups decoded rows by system, as both backends answer
/// `active_maintenance_windows`.
pub fn group_by_system(rows: impl IntoIterator<Item = MaintenanceWindowRow>) -> ActiveWindows {
    let mut grouped = ActiveWindows::new();
    for row in rows {
        grouped.entry(row.system_id).or_default().push(row.window);
    }
    grouped
}
