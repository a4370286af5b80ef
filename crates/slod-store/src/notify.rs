//! Storage for notifications (SPEC §8): channels, deliveries and alert
//! threshold state. The outbox itself is on [`StoreTx`](crate::StoreTx),
//! since every change writes to it.
//!
//! How the pieces fit:
//!
//! - **Fan-out at enqueue.** A backend's `StoreTx::enqueue_events` writes
//!   the outbox row *and*, in the same statement or transaction, one
//!   delivery row per channel subscribed to the event's type. So fan-out is
//!   transactional with the change (whoever enqueues: the report path, the
//!   jobs, anything later), and a channel created afterwards never receives
//!   events from before it existed.
//! - **Claim with a lease.** A delivery worker claims due deliveries with
//!   [`NotifyTx::claim_deliveries`], which stamps them with a lease (an
//!   expiry and a random token) so no other worker, on this replica or
//!   another, takes them meanwhile. It sends, then reports every attempt
//!   with [`NotifyTx::record_attempts`]; a result is applied only while the
//!   token still matches, so a worker that outlived its lease cannot undo a
//!   newer claim. A worker killed mid-send leaves a lease that simply
//!   expires: the delivery is due again (at-least-once).
//! - **Alert state.** Which budget/burn thresholds an objective has already
//!   fired ([`AlertState`]) is stored per objective and changed only by
//!   compare-and-swap ([`NotifyTx::swap_alert_state`]), so two replicas
//!   judging the same objective at once fire one event, not two.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use async_trait::async_trait;
use slod_core::events::{EventType, NotificationEvent};
use slod_core::model::SystemId;
use slod_core::time::Timestamp;

use crate::StoreResult;

/// Where a channel sends: a generic JSON webhook, a Slack incoming webhook,
/// or a Microsoft Teams incoming webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    Webhook,
    Slack,
    Teams,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 3] = [Self::Webhook, Self::Slack, Self::Teams];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Slack => "slack",
            Self::Teams => "teams",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// A notification channel as stored. `secret` is the webhook's signing key:
/// it is needed to sign, so it is stored, but `Debug` never prints it (nor
/// the URL, which for Slack and Teams is itself a credential).
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelRow {
    pub id: String,
    pub name: String,
    pub kind: ChannelKind,
    pub url: String,
    pub secret: Option<String>,
    /// The event types it receives; `None`: all of them, including types
    /// added in later versions.
    pub events: Option<Vec<EventType>>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl ChannelRow {
    /// Whether an event of `event_type` goes to this channel.
    pub fn wants(&self, event_type: EventType) -> bool {
        self.events.as_ref().is_none_or(|types| types.contains(&event_type))
    }
}

impl fmt::Debug for ChannelRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelRow")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &"<redacted>")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("events", &self.events)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Not yet delivered; will be (re)tried at `next_attempt_at`.
    Pending,
    /// A 2xx came back.
    Delivered,
    /// Retried for the whole retry period without success; abandoned.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A delivery taken by a worker: the event, the channel as it stands now
/// (its current URL and secret), and the lease that makes it the worker's.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    pub delivery_id: i64,
    pub lease_token: String,
    /// The number of this attempt (1 for the first).
    pub attempt: u32,
    /// When the first attempt finished, if there was one: the retry period
    /// counts from there.
    pub first_attempt_at: Option<Timestamp>,
    pub channel: ChannelRow,
    pub event: NotificationEvent,
}

/// What became of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Failed; try again at this instant.
    RetryAt(Timestamp),
    /// Failed, and the retry period is over.
    GaveUp,
}

/// One finished attempt, as a worker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub delivery_id: i64,
    pub lease_token: String,
    pub channel_id: String,
    pub event_id: String,
    pub event_type: EventType,
    pub attempt: u32,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// Why it failed (a non-2xx status, a timeout, a refused connection).
    pub error: Option<String>,
    pub outcome: AttemptOutcome,
}

/// One attempt as stored and served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub attempt: u32,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub delivered: bool,
}

/// A delivery of one event to one channel, with its attempts (oldest
/// first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub id: i64,
    pub channel_id: String,
    pub event_id: String,
    pub event_type: EventType,
    pub occurred_at: Timestamp,
    pub state: DeliveryState,
    /// `None` once delivered or abandoned.
    pub next_attempt_at: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    pub attempts: Vec<AttemptRow>,
}

/// Which of an objective's alert thresholds have fired and not yet re-armed
/// (SPEC §8). A fresh objective has none fired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AlertState {
    pub warning: bool,
    pub critical: bool,
    pub exhausted: bool,
    pub burn_fast: bool,
    /// The objective's `burnRateAlerts` tiers that have fired, by position:
    /// bit `i` is tier `i` (SPEC §12).
    pub burn_tiers: u32,
}

/// Reads for notification channels, deliveries and alerts.
#[async_trait]
pub trait NotifyStore: Send + Sync {
    /// All channels, oldest first.
    async fn list_channels(&self) -> StoreResult<Vec<ChannelRow>>;
    async fn get_channel(&self, id: &str) -> StoreResult<Option<ChannelRow>>;
    /// The channel's deliveries, newest event first, each with its attempts.
    async fn list_deliveries(&self, channel_id: &str, limit: u32) -> StoreResult<Vec<DeliveryRow>>;
    /// Channels that have pending deliveries due at `now` and not leased: a
    /// cheap read a worker polls before claiming (which writes).
    async fn due_channels(&self, now: Timestamp) -> StoreResult<Vec<String>>;
    /// Objectives with an open downtime event, with their systems: those
    /// whose budget keeps burning between reports.
    async fn objectives_with_open_downtime(&self) -> StoreResult<Vec<(String, SystemId)>>;
    /// As [`NotifyTx::alert_states`], outside a transaction: the committed
    /// state, for a look that decides whether a transaction is needed.
    async fn alert_states(
        &self,
        objective_ids: &[String],
    ) -> StoreResult<BTreeMap<String, AlertState>>;
    /// The highest outbox sequence number given so far (0 when empty): where
    /// a new tailer of [`Store::events_after`](crate::Store::events_after)
    /// starts so that it sees only what comes next.
    async fn outbox_head(&self) -> StoreResult<i64>;
    /// How many deliveries are not yet delivered nor abandoned, across all
    /// channels: the backlog `slod_outbox_pending` exports (SPEC §15).
    async fn pending_deliveries(&self) -> StoreResult<u64>;
}

/// Writes for notification channels, deliveries and alert state, inside a
/// [`StoreTx`](crate::StoreTx).
#[async_trait]
pub trait NotifyTx: Send {
    /// `Conflict` if the id is taken.
    async fn insert_channel(&mut self, channel: &ChannelRow) -> StoreResult<()>;
    /// Replaces every field but `id` and `created_at`; `NotFound` if absent.
    async fn update_channel(&mut self, channel: &ChannelRow) -> StoreResult<()>;
    /// Deletes the channel with its deliveries; `false` if absent.
    async fn delete_channel(&mut self, id: &str) -> StoreResult<bool>;

    /// Leases up to `n` due deliveries for each `(channel id, n)` in
    /// `wanted`: pending, `next_attempt_at <= now`, and not leased (or the
    /// lease expired). Oldest first per channel. The lease lasts until
    /// `lease_until`. Rows another transaction is claiming are skipped, not
    /// waited for.
    async fn claim_deliveries(
        &mut self,
        now: Timestamp,
        lease_until: Timestamp,
        wanted: &[(String, u32)],
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Logs each attempt and applies its outcome to its delivery, releasing
    /// the lease, unless the lease token no longer matches (the lease
    /// expired and someone else claimed it): then only the log is written.
    async fn record_attempts(&mut self, attempts: &[AttemptRecord]) -> StoreResult<()>;
    /// Deletes deliveries (and their attempts) that finished, delivered or
    /// abandoned, before `before`; returns how many.
    async fn prune_deliveries(&mut self, before: Timestamp) -> StoreResult<u64>;

    /// The stored alert state of each of `objective_ids` that has one
    /// (absent: nothing fired).
    async fn alert_states(
        &mut self,
        objective_ids: &[String],
    ) -> StoreResult<BTreeMap<String, AlertState>>;
    /// Sets the objective's alert state to `new` if it is still `expected`
    /// (absent counts as the default); `true` when it changed. An objective
    /// that no longer exists is `false`.
    async fn swap_alert_state(
        &mut self,
        objective_id: &str,
        expected: AlertState,
        new: AlertState,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// [`NotifyTx::swap_alert_state`] for each of `swaps` (distinct
    /// objectives); the ids of those that changed. A store that pays a
    /// round trip per statement does it in a few.
    async fn swap_alert_states(
        &mut self,
        swaps: &[AlertSwap],
        now: Timestamp,
    ) -> StoreResult<BTreeSet<String>> {
        swap_one_by_one(self, swaps, now).await
    }
}

/// [`NotifyTx::swap_alert_states`] as one [`NotifyTx::swap_alert_state`]
/// after another, each seeing the ones before it: the default, and what a
/// store's own version falls back to.
pub async fn swap_one_by_one<T: NotifyTx + ?Sized>(
    tx: &mut T,
    swaps: &[AlertSwap],
    now: Timestamp,
) -> StoreResult<BTreeSet<String>> {
    let mut changed = BTreeSet::new();
    for swap in swaps {
        if tx.swap_alert_state(&swap.objective_id, swap.expected, swap.new, now).await? {
            changed.insert(swap.objective_id.clone());
        }
    }
    Ok(changed)
}

/// One objective's alert state to set if it is still as expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSwap {
    pub objective_id: String,
    pub expected: AlertState,
    pub new: AlertState,
}
