//! What `slod check` (SPEC §12) reads and writes: the whole database as an
//! [`AuditData`] in one consistent snapshot, and the replacement of one
//! objective's events by those rebuilt from the report log.
//!
//! The judging and the rebuild are pure, in `slod_core::audit`.

use async_trait::async_trait;
use slod_core::audit::AuditData;
use slod_core::model::DowntimeEvent;

use crate::StoreResult;

/// Reads for `slod check`.
#[async_trait]
pub trait AuditStore {
    /// Every system (with all its checks), edge, objective, event, outage
    /// and logged transition, read in one snapshot; the log in the order it
    /// was written.
    async fn audit_data(&self) -> StoreResult<AuditData>;
}

/// `slod check --repair`, inside a [`StoreTx`](crate::StoreTx).
#[async_trait]
pub trait AuditTx {
    /// Deletes every event of `objective_id` and inserts `events` instead
    /// (closed ones first, so the one-open-event index holds throughout).
    /// Holds the objective's system as a report would, where the backend
    /// locks.
    async fn replace_events(
        &mut self,
        objective_id: &str,
        events: &[DowntimeEvent],
    ) -> StoreResult<()>;
}
