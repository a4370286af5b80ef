//! Storage for the scheduled jobs (SPEC §5-§7): snapshots, streaks,
//! achievements, digests and job runs.
//!
//! The daily job's idempotency lives in the database, not in the caller:
//!
//! - [`JobTx::insert_snapshots`] inserts at most one snapshot per
//!   `(objective, date)` and reports which rows it actually inserted. The
//!   caller updates a streak only when that objective's snapshot for the
//!   date was inserted by its own transaction, so two racing runs (or two
//!   replicas) never count a day twice, and re-running a half-done date
//!   finishes it without touching what the first attempt already did.
//! - [`JobTx::unlock_achievements`] stores each `(system, achievement)` once
//!   and reports which unlocks are new, so each emits exactly one event.
//! - [`JobTx::claim_run`] is a lease on one period of one job (a date, an ISO
//!   week) in `job_runs`: one holder at a time across replicas, taken over
//!   when its holder stops renewing it.
//!
//! Reads that a transaction needs to see its own writes (streaks and
//! outages, for achievements evaluated inside a health-report transaction)
//! exist on [`JobTx`] as well as on [`JobStore`].

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use slod_core::achievements::AchievementType;
use slod_core::digest::WeeklyDigest;
use slod_core::model::SystemId;
use slod_core::streak::{Snapshot, Streak};
use slod_core::time::Timestamp;

use crate::StoreResult;

/// The scheduled jobs that record their runs in `job_runs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JobKind {
    /// SPEC §5, one run per UTC date.
    Daily,
    /// SPEC §6, one scheduled run per ISO week.
    WeeklyDigest,
    /// SPEC §17, one monthly SLA statement per calendar month (UTC).
    MonthlyReport,
}

impl JobKind {
    pub const ALL: [JobKind; 3] = [Self::Daily, Self::WeeklyDigest, Self::MonthlyReport];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::WeeklyDigest => "weekly_digest",
            Self::MonthlyReport => "monthly_report",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobRunStatus {
    /// Someone holds (or held, if the lease expired) the run.
    Running,
    Completed,
}

impl JobRunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "running" => Some(Self::Running),
            "completed" => Some(Self::Completed),
            _ => None,
        }
    }
}

/// One period of one job (`job_runs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRunRow {
    pub kind: JobKind,
    /// The period's key: `2026-03-02` for a daily run, `2026-W10` for a
    /// weekly digest.
    pub period: String,
    /// The instant the run is about: the midnight, or the Monday 09:00.
    pub period_start: Timestamp,
    pub status: JobRunStatus,
    pub lease_owner: String,
    pub lease_expires_at: Timestamp,
    pub started_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    /// What the run did, as JSON text (the job's own format).
    pub result: Option<String>,
}

/// A request for the lease on one period of one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobClaim<'a> {
    pub kind: JobKind,
    pub period: &'a str,
    pub period_start: Timestamp,
    /// Unique per attempt, so two attempts in one process never share it.
    pub owner: &'a str,
    pub now: Timestamp,
    pub lease_until: Timestamp,
}

/// What [`JobTx::claim_run`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The caller holds the lease: the period had no run, or its holder let
    /// the lease expire without completing it.
    Claimed,
    /// The period's run is completed; nothing to do.
    Completed(JobRunRow),
    /// Someone else holds an unexpired lease.
    Held(JobRunRow),
}

/// An objective's streak row, with the objective's system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreakRow {
    pub objective_id: String,
    pub system_id: SystemId,
    pub streak: Streak,
}

/// An unlocked achievement (`slo_achievements`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AchievementRow {
    pub system_id: SystemId,
    pub achievement: AchievementType,
    pub unlocked_at: Timestamp,
}

/// An unlock with its system's name, for the milestone feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MilestoneRow {
    pub system_id: SystemId,
    pub system_name: String,
    pub achievement: AchievementType,
    pub unlocked_at: Timestamp,
}

/// A stored weekly digest (`slo_digests`).
#[derive(Debug, Clone, PartialEq)]
pub struct DigestRow {
    pub id: String,
    /// Produced by an operator's manual run rather than the schedule.
    pub manual: bool,
    pub created_at: Timestamp,
    pub digest: WeeklyDigest,
}

/// A complete outage of a system: from going down to recovering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutageSpan {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl OutageSpan {
    pub fn duration_ms(self) -> i64 {
        self.end.millis() - self.start.millis()
    }
}

/// Reads for the jobs' data.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Every objective's id, ordered like [`Store::list_objectives`]. Cheap
    /// and decodes nothing, so a job can still reach every objective when
    /// one row is unreadable.
    ///
    /// [`Store::list_objectives`]: crate::Store::list_objectives
    async fn objective_ids(&self) -> StoreResult<Vec<String>>;

    /// Streaks of the given objectives (all when `None`), ordered by
    /// (system id, objective id). Objectives without a streak row are absent.
    async fn streaks(&self, objective_ids: Option<&[String]>) -> StoreResult<Vec<StreakRow>>;

    /// The objective's snapshots dated in `[from, to]`, oldest first.
    async fn snapshots(
        &self,
        objective_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<Snapshot>>;

    /// Unlocked achievements of `systems` (all when `None`), ordered by
    /// (system id, unlocked at, achievement).
    async fn achievements(&self, systems: Option<&[SystemId]>) -> StoreResult<Vec<AchievementRow>>;

    /// The `limit` most recent unlocks with system names, newest first.
    async fn milestones(&self, limit: u32) -> StoreResult<Vec<MilestoneRow>>;

    /// The `limit` most recent digests, newest first.
    async fn digests(&self, limit: u32) -> StoreResult<Vec<DigestRow>>;

    /// For each of `systems`, up to `per_system` of its complete outages
    /// that ended at or before `at`, the most recent first. Systems without
    /// one are absent.
    async fn recent_outages(
        &self,
        systems: &[SystemId],
        at: Timestamp,
        per_system: u32,
    ) -> StoreResult<BTreeMap<SystemId, Vec<OutageSpan>>>;

    /// The completed run of `kind` with the latest `period_start`.
    async fn latest_completed_run(&self, kind: JobKind) -> StoreResult<Option<JobRunRow>>;

    /// The run of one period, whatever its state.
    async fn job_run(&self, kind: JobKind, period: &str) -> StoreResult<Option<JobRunRow>>;

    /// The `limit` runs (of `kind`, or all) with the latest `period_start`,
    /// newest first.
    async fn job_runs(&self, kind: Option<JobKind>, limit: u32) -> StoreResult<Vec<JobRunRow>>;
}

/// Writes for the jobs' data, inside a [`StoreTx`](crate::StoreTx).
#[async_trait]
pub trait JobTx: Send {
    /// Takes the lease on a period if nobody holds it; see [`ClaimOutcome`].
    async fn claim_run(&mut self, claim: &JobClaim<'_>) -> StoreResult<ClaimOutcome>;
    /// Extends a lease the caller still holds; `false` when it lost it.
    async fn renew_lease(
        &mut self,
        kind: JobKind,
        period: &str,
        owner: &str,
        until: Timestamp,
    ) -> StoreResult<bool>;
    /// Marks a held run completed with its result; `false` when the caller
    /// no longer held it (someone took over, or it was already completed).
    async fn complete_run(
        &mut self,
        kind: JobKind,
        period: &str,
        owner: &str,
        now: Timestamp,
        result: &str,
    ) -> StoreResult<bool>;
    /// Gives up a held, uncompleted run, leaving the period as if never
    /// attempted (a digest skipped for lack of objectives does not count).
    async fn release_run(&mut self, kind: JobKind, period: &str, owner: &str) -> StoreResult<()>;

    /// Streaks of `objective_ids` as this transaction sees them, ordered by
    /// objective id.
    async fn streaks(&mut self, objective_ids: &[String]) -> StoreResult<Vec<StreakRow>>;
    /// Like [`streaks`](Self::streaks), locking the rows until commit where
    /// the backend has row locks, so concurrent daily runs serialise per
    /// objective.
    async fn lock_streaks(&mut self, objective_ids: &[String]) -> StoreResult<Vec<StreakRow>>;
    /// Writes streaks (creating missing rows), keyed by objective id.
    async fn save_streaks(&mut self, streaks: &[(String, Streak)]) -> StoreResult<()>;
    /// Inserts the snapshots whose `(objective, date)` has none yet and
    /// returns the objective ids of those inserted.
    async fn insert_snapshots(&mut self, snapshots: &[Snapshot]) -> StoreResult<BTreeSet<String>>;

    /// As [`JobStore::achievements`] for `systems`, seeing this
    /// transaction's writes.
    async fn achievements(&mut self, systems: &[SystemId]) -> StoreResult<Vec<AchievementRow>>;
    /// Stores the unlocks not stored yet and returns those, in input order.
    async fn unlock_achievements(
        &mut self,
        unlocks: &[AchievementRow],
    ) -> StoreResult<Vec<AchievementRow>>;
    /// As [`JobStore::recent_outages`], seeing this transaction's writes.
    async fn recent_outages(
        &mut self,
        systems: &[SystemId],
        at: Timestamp,
        per_system: u32,
    ) -> StoreResult<BTreeMap<SystemId, Vec<OutageSpan>>>;

    async fn insert_digest(&mut self, digest: &DigestRow) -> StoreResult<()>;
}
