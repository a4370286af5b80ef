//! Storage for corrections (SPEC §17): one row per correction of a system,
//! kept for ever as its audit trail (revoking sets `revoked_at` and
//! `revoked_by`; the row stays), and the snapshot rewrites a correction
//! causes.
//!
//! The status read path asks for the live (unrevoked) corrections of every
//! system it is about to judge in one call
//! ([`CorrectionStore::live_corrections`], or its twin on the transaction),
//! each system's oldest made first: the order
//! [`slod_core::corrections::Overlay::new`] paints them in, so the latest
//! made wins. "Made" is `created_at`, ties broken by an insertion sequence,
//! so two corrections made in the same millisecond still have an order.

use std::collections::BTreeMap;

use async_trait::async_trait;
use slod_core::corrections::Correction;
use slod_core::model::SystemId;
use slod_core::streak::Snapshot;
use slod_core::time::Timestamp;

use crate::StoreResult;

/// A stored correction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectionRow {
    pub id: String,
    pub system_id: SystemId,
    pub correction: Correction,
    pub reason: String,
    /// The token's name that made it, `local` while there are none.
    pub author: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<String>,
    /// The name of the system an `upstream` correction names, when it still
    /// exists (read, never written).
    pub upstream_name: Option<String>,
}

/// The live corrections of some systems, per system, oldest made first
/// (systems without any are absent).
pub type LiveCorrections = BTreeMap<SystemId, Vec<CorrectionRow>>;

/// Reads of corrections.
#[async_trait]
pub trait CorrectionStore {
    async fn get_correction(&self, id: &str) -> StoreResult<Option<CorrectionRow>>;
    /// Every correction of the system, revoked ones too, newest made first.
    async fn list_corrections(&self, system: &SystemId) -> StoreResult<Vec<CorrectionRow>>;
    /// The unrevoked corrections of `systems`, in one query.
    async fn live_corrections(&self, systems: &[SystemId]) -> StoreResult<LiveCorrections>;
}

/// Changes that corrections make, inside a [`StoreTx`](crate::StoreTx).
#[async_trait]
pub trait CorrectionTx {
    /// Inserts a correction; its system must exist.
    async fn insert_correction(&mut self, row: &CorrectionRow) -> StoreResult<()>;
    /// Marks an unrevoked correction revoked and returns it as it now
    /// stands; `NotFound` when there is no such correction, `Conflict` when
    /// it is already revoked.
    async fn revoke_correction(
        &mut self,
        id: &str,
        at: Timestamp,
        by: &str,
    ) -> StoreResult<CorrectionRow>;
    /// As [`CorrectionStore::live_corrections`], inside this transaction.
    async fn live_corrections(&mut self, systems: &[SystemId]) -> StoreResult<LiveCorrections>;
    /// Every snapshot of the objectives, per objective, oldest first.
    async fn all_snapshots(
        &mut self,
        objective_ids: &[String],
    ) -> StoreResult<BTreeMap<String, Vec<Snapshot>>>;
    /// Rewrites the figures of existing snapshots (keyed by objective and
    /// date). A snapshot rewritten for the first time keeps the figures it
    /// had in its `original_*` columns; later rewrites leave those alone.
    async fn recompute_snapshots(&mut self, snapshots: &[Snapshot]) -> StoreResult<()>;
}

/// Groups decoded rows by system, as both backends answer
/// `live_corrections` (rows already in made order).
pub fn group_by_system(rows: impl IntoIterator<Item = CorrectionRow>) -> LiveCorrections {
    let mut grouped = LiveCorrections::new();
    for row in rows {
        grouped.entry(row.system_id.clone()).or_default().push(row);
    }
    grouped
}
