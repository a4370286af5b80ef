//! Storage for notifications (SPEC §8): channels, deliveries and alert
//! threshold state. The outbox itself is on [`StoreTx`](crate::StoreTx),
//! since every change writes to it.

use async_trait::async_trait;

/// Reads for notification channels and deliveries.
#[async_trait]
pub trait NotifyStore: Send + Sync {}

/// Writes for notification channels, deliveries and alert state, inside a
/// [`StoreTx`](crate::StoreTx).
#[async_trait]
pub trait NotifyTx: Send {}
