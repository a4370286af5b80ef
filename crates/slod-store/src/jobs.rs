//! Storage for the scheduled jobs (SPEC §5-§7): snapshots, streaks,
//! achievements, digests and job runs.

use async_trait::async_trait;

/// Reads for the jobs' data.
#[async_trait]
pub trait JobStore: Send + Sync {}

/// Writes for the jobs' data, inside a [`StoreTx`](crate::StoreTx).
#[async_trait]
pub trait JobTx: Send {}
