//! The storage interface of slod.
//!
//! [`Store`] is what the service layer talks to; each database backend
//! (`slod-store-sqlite`, `slod-store-postgres`) implements it with its own
//! SQL and migrations. Reads run on the store directly; every change runs in
//! a [`StoreTx`] obtained from [`Store::begin`], which the caller commits
//! once the whole change (state and the events it causes) is written.
//! Dropping a transaction without committing rolls it back, so an error at
//! any step leaves nothing half-written.
//!
//! Serialisation: a backend guarantees that two transactions which load
//! overlapping [`World`]s never interleave (SQLite: one writer connection;
//! PostgreSQL: row locks on the systems loaded), so an objective never gets
//! two open events.
//!
//! With the `testing` feature, [`conformance`] holds the suite every backend
//! runs against a fresh database.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use slod_core::engine::{Changeset, CheckState, HealthReport, World};
use slod_core::events::NotificationEvent;
use slod_core::model::{CheckId, DowntimeEvent, HealthStatus, Objective, System, SystemId};
use slod_core::status::{EventSpan, SettledSums};
use slod_core::time::Timestamp;

pub mod audit;
pub mod auth;
pub mod codec;
#[cfg(feature = "testing")]
pub mod conformance;
pub mod corrections;
pub mod counted;
pub mod jobs;
pub mod maintenance;
pub mod notify;
pub mod schema;
pub mod span_cache;

pub use audit::{AuditStore, AuditTx};
pub use auth::{AuthStore, AuthTx};
pub use corrections::{CorrectionStore, CorrectionTx};
pub use jobs::{JobStore, JobTx};
pub use maintenance::{MaintenanceStore, MaintenanceTx};
pub use notify::{NotifyStore, NotifyTx};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A system with its live health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemRow {
    pub system: System,
    pub effective_status: HealthStatus,
    /// Since when the effective status has been down, or `None` when healthy.
    pub down_since: Option<Timestamp>,
    pub last_report_at: Option<Timestamp>,
}

/// `{upstream, downstream}` of one system, each with names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DependenciesRow {
    pub upstream: Vec<System>,
    pub downstream: Vec<System>,
}

/// The events of several objectives as spans, for status arithmetic.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanSet {
    /// Spans per objective id, by start (objectives without events may be
    /// absent).
    pub spans: BTreeMap<String, Spans>,
    /// The upstream table `EventSpan::upstream` indexes (1-based).
    pub upstreams: Vec<(SystemId, String)>,
}

/// Builds a [`SpanSet`] from event rows, as every backend reads them:
/// spans appended per objective, each upstream interned once in the table.
/// An upstream added without its name is named by its id until
/// [`SpanSetBuilder::name_upstreams`]; [`SpanSetBuilder::unnamed`] says
/// where to look the names up.
#[derive(Debug, Default)]
pub struct SpanSetBuilder {
    spans: BTreeMap<String, Vec<EventSpan>>,
    upstreams: Vec<(SystemId, String)>,
    index: BTreeMap<String, u32>,
    /// For each upstream added without a name, one objective it was seen
    /// under (to look the name up by).
    unnamed: BTreeMap<String, String>,
}

impl SpanSetBuilder {
    /// The upstream table's index of `id` (1-based), adding it when new:
    /// named `name`, or left for [`SpanSetBuilder::name_upstreams`] and
    /// remembered as seen under `objective_id`.
    pub fn upstream(&mut self, objective_id: &str, id: &str, name: Option<&str>) -> u32 {
        if let Some(&n) = self.index.get(id) {
            return n;
        }
        if name.is_none() {
            self.unnamed.insert(id.to_owned(), objective_id.to_owned());
        }
        self.upstreams.push((SystemId::from_trusted(id.to_owned()), name.unwrap_or(id).to_owned()));
        let n = span_cache::upstream_number(self.upstreams.len());
        self.index.insert(id.to_owned(), n);
        n
    }

    /// The spans of `objective_id` so far, to append to.
    pub fn spans_of(&mut self, objective_id: &str) -> &mut Vec<EventSpan> {
        self.spans.entry(objective_id.to_owned()).or_default()
    }

    /// Adds one event: `end` `None` while open; `upstream` the id and the
    /// stored name of the system it is charged to, `None` for self.
    pub fn push(
        &mut self,
        objective_id: &str,
        start: i64,
        end: Option<i64>,
        upstream: Option<(&str, &str)>,
    ) {
        let upstream = match upstream {
            None => 0,
            Some((id, name)) => self.upstream(objective_id, id, Some(name)),
        };
        let end = end.unwrap_or(slod_core::status::OPEN_END);
        self.spans_of(objective_id).push(EventSpan { start, end, upstream });
    }

    /// The upstreams added without a name, each with an objective it was
    /// seen under: `(upstream id, objective id)`.
    pub fn unnamed(&self) -> &BTreeMap<String, String> {
        &self.unnamed
    }

    /// Names upstreams added without one.
    pub fn name_upstreams(&mut self, mut names: BTreeMap<String, String>) {
        for (id, name) in &mut self.upstreams {
            if let Some(found) = names.remove(id.as_str()) {
                *name = found;
            }
        }
        self.unnamed.clear();
    }

    pub fn finish(self) -> SpanSet {
        SpanSet {
            spans: self.spans.into_iter().map(|(id, spans)| (id, Spans::from(spans))).collect(),
            upstreams: self.upstreams,
        }
    }
}

/// One objective's spans in a [`SpanSet`]: a range of a shared vector, so
/// that a read answered from the span cache hands out the spans the cache
/// holds instead of copying them (a million of them for a list read).
/// Derefs to the slice; [`Spans::to_mut`] copies on write.
///
/// Each carries the settled sums of the status arithmetic
/// ([`slod_core::status::SettledSums`]), shared with the span cache's entry
/// for as long as that entry's spans stay as they are, so that the next
/// read of an unchanged objective walks only its recent spans.
#[derive(Clone, Default)]
pub struct Spans {
    all: std::sync::Arc<Vec<EventSpan>>,
    range: std::ops::Range<usize>,
    settled: std::sync::Arc<SettledSums>,
}

impl Spans {
    /// `all[range]`, sharing `all` and the sums kept for it. `range` must
    /// lie within `all`, and `settled` must be used with `all` alone.
    pub fn shared(
        all: std::sync::Arc<Vec<EventSpan>>,
        range: std::ops::Range<usize>,
        settled: std::sync::Arc<SettledSums>,
    ) -> Self {
        debug_assert!(range.start <= range.end && range.end <= all.len());
        Self { all, range, settled }
    }

    pub fn as_slice(&self) -> &[EventSpan] {
        self.all.get(self.range.clone()).unwrap_or_default()
    }

    /// The settled sums of these spans.
    pub fn settled(&self) -> &SettledSums {
        &self.settled
    }

    /// The spans to change, copied first when they are shared or a part;
    /// the sums start afresh.
    pub fn to_mut(&mut self) -> &mut [EventSpan] {
        if self.range != (0..self.all.len()) {
            *self = Self::from(self.as_slice().to_vec());
        }
        self.settled = std::sync::Arc::default();
        std::sync::Arc::make_mut(&mut self.all).as_mut_slice()
    }
}

impl From<Vec<EventSpan>> for Spans {
    fn from(spans: Vec<EventSpan>) -> Self {
        let range = 0..spans.len();
        Self { all: std::sync::Arc::new(spans), range, settled: std::sync::Arc::default() }
    }
}

impl std::ops::Deref for Spans {
    type Target = [EventSpan];

    fn deref(&self) -> &[EventSpan] {
        self.as_slice()
    }
}

impl PartialEq for Spans {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl std::fmt::Debug for Spans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// Reads and the way into writes. The jobs (SPEC §5-§7), notifications
/// (SPEC §8) and maintenance windows (SPEC §12) parts live in their own
/// traits, [`JobStore`], [`NotifyStore`] and [`MaintenanceStore`], one
/// module each.
#[async_trait]
pub trait Store:
    Send
    + Sync
    + 'static
    + JobStore
    + NotifyStore
    + MaintenanceStore
    + AuditStore
    + AuthStore
    + CorrectionStore
{
    /// Starts a write transaction.
    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>>;

    /// Starts a write transaction whose commit does not wait for the disk:
    /// for bookkeeping that a power failure may take back without harm,
    /// because losing it only repeats work (delivery claims and attempt
    /// records: delivery is at least once). It stays atomic and consistent,
    /// and the next ordinary commit makes it durable too. On SQLite, where
    /// every commit of the one writer is an fsync that reports queue
    /// behind, this keeps the delivery worker off the report path's disk
    /// time.
    async fn begin_bookkeeping(&self) -> StoreResult<Box<dyn StoreTx>> {
        self.begin().await
    }

    /// The backend's name, for logs: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Whether every write transaction of this store, across all its
    /// users, goes through one connection (SQLite): then concurrent writes
    /// queue anyway, and grouping them into one commit costs nobody a
    /// wait. `false` (PostgreSQL) when writers run side by side under row
    /// locks.
    fn has_one_writer(&self) -> bool;

    async fn get_system(&self, id: &SystemId) -> StoreResult<Option<SystemRow>>;
    /// All systems, ordered by id.
    async fn list_systems(&self) -> StoreResult<Vec<SystemRow>>;
    async fn dependencies(&self, id: &SystemId) -> StoreResult<DependenciesRow>;
    /// The system's checks (SPEC §12), ordered by check id.
    async fn list_checks(&self, id: &SystemId) -> StoreResult<Vec<(CheckId, CheckState)>>;

    async fn get_objective(&self, id: &str) -> StoreResult<Option<Objective>>;
    /// Objectives ordered by (system id, created at, id); all of them, or
    /// those of the given systems.
    async fn list_objectives(&self, systems: Option<&[SystemId]>) -> StoreResult<Vec<Objective>>;

    /// The objective's events, newest first.
    async fn list_events(&self, objective_id: &str, limit: u32) -> StoreResult<Vec<DowntimeEvent>>;
    /// Spans of the given objectives' events that end after `since` (or are
    /// open) and start before `until`.
    async fn event_spans(
        &self,
        objective_ids: &[String],
        since: Timestamp,
        until: Timestamp,
    ) -> StoreResult<SpanSet>;
    /// Which of `systems` were down at `at`, from the outage history.
    async fn systems_down_at(
        &self,
        systems: &[SystemId],
        at: Timestamp,
    ) -> StoreResult<BTreeSet<SystemId>>;

    /// Outbox events with a sequence number above `after`, oldest first,
    /// with their sequence numbers (a replica tails this to see every
    /// replica's events).
    async fn events_after(
        &self,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, NotificationEvent)>>;

    /// Succeeds when the database answers a trivial query: the readiness
    /// probe (`GET /readyz`, SPEC §18). The caller bounds how long it waits.
    async fn ping(&self) -> StoreResult<()>;

    /// Closes the store at shutdown, once nothing uses it any more; a
    /// query after it fails. SQLite copies the WAL into the database file
    /// and removes it, so the next start has no log to read first.
    async fn close(&self);
}

/// One write transaction; rolled back when dropped uncommitted.
#[async_trait]
pub trait StoreTx:
    Send + JobTx + NotifyTx + MaintenanceTx + AuditTx + AuthTx + CorrectionTx
{
    async fn commit(self: Box<Self>) -> StoreResult<()>;

    /// Loads (and, where the backend needs it, locks) the slice of state
    /// that reports on `systems` may read or change: those systems, their
    /// upstreams and downstreams, and the downstreams' upstreams, each with
    /// edges in both directions and its objectives with their open events.
    /// Unknown ids are skipped.
    async fn load_world(&mut self, systems: &[SystemId]) -> StoreResult<World>;
    /// [`StoreTx::load_world`] for a batch of reports: the full scope only
    /// of the systems whose status some report changes (as
    /// `engine::systems_changed_by` judges on their state here), the other
    /// reporting systems with their state alone (and locked, where the
    /// backend locks). The engine gives the same changeset on this world as
    /// on the full one; a report repeating its system's status, the common
    /// case, then costs one row however many dependents the system has.
    /// Unknown ids are skipped.
    async fn load_world_for_reports(&mut self, reports: &[HealthReport]) -> StoreResult<World>;
    /// Writes what the engine changed in a world loaded by this transaction.
    async fn write_changes(&mut self, changes: &Changeset) -> StoreResult<()>;
    /// As [`Store::event_spans`], inside this transaction: it sees the
    /// transaction's own writes.
    async fn event_spans(
        &mut self,
        objective_ids: &[String],
        since: Timestamp,
        until: Timestamp,
    ) -> StoreResult<SpanSet>;
    /// Appends events to the outbox, to be delivered once this transaction
    /// commits (the transactional outbox: a change and the events it causes
    /// land together or not at all).
    async fn enqueue_events(&mut self, events: &[NotificationEvent]) -> StoreResult<()>;

    /// Creates or renames a system; `true` when it was created.
    async fn upsert_system(
        &mut self,
        id: &SystemId,
        name: &str,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Deletes a system with its objectives (and their events), achievements,
    /// edges and maintenance windows; `false` when it did not exist.
    async fn delete_system(&mut self, id: &SystemId) -> StoreResult<bool>;
    /// Which of `ids` exist.
    async fn existing_systems(&mut self, ids: &[SystemId]) -> StoreResult<BTreeSet<SystemId>>;
    /// Every edge as (downstream, upstream).
    async fn all_edges(&mut self) -> StoreResult<Vec<(SystemId, SystemId)>>;
    /// Replaces the upstreams of `id`.
    async fn set_upstreams(&mut self, id: &SystemId, upstreams: &[SystemId]) -> StoreResult<()>;

    /// One check of a system, whatever its status (a loaded world holds
    /// only the checks that are down or that a batch names).
    async fn get_check(
        &mut self,
        system: &SystemId,
        check: &CheckId,
    ) -> StoreResult<Option<CheckState>>;

    async fn get_objective(&mut self, id: &str) -> StoreResult<Option<Objective>>;
    /// Inserts an objective and its streak row.
    async fn insert_objective(&mut self, objective: &Objective) -> StoreResult<()>;
    async fn update_objective(&mut self, objective: &Objective) -> StoreResult<()>;
    /// Deletes an objective with its events, snapshots, streak and alert
    /// state; `false` when it did not exist.
    async fn delete_objective(&mut self, id: &str) -> StoreResult<bool>;
}

/// A fresh random id for objectives and events.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
