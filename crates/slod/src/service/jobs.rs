//! The daily job (SPEC §5) and the weekly digest (SPEC §6), and the reads of
//! what they produce.
//!
//! # The daily run for midnight M
//!
//! 1. Claim M's date in `job_runs` (a lease: one holder across replicas).
//! 2. For every objective, in chunks of [`CHUNK_SIZE`]: its status at M
//!    (`service::status`, one span read per chunk, down state from the
//!    outage history), then in one transaction: lock the chunk's streaks,
//!    insert each snapshot (`ON CONFLICT DO NOTHING`), update the streak of
//!    exactly those objectives whose snapshot this transaction inserted
//!    (`slod_core::streak::update_streak`), and enqueue `slo.streak.broken`
//!    for each reset. A chunk that fails is redone one objective at a time,
//!    so one bad objective is logged and skipped while the others go on.
//! 3. Achievements of every system with objectives, as of M
//!    (`service::achievements`), stored and announced in the transaction
//!    that marks the run completed.
//!
//! Because the snapshot insert gates the streak update, the run is
//! idempotent: re-running a date, two runs racing, or a replica taking over
//! a run whose holder died half-way all leave exactly one snapshot and one
//! streak step per objective and date.
//!
//! Decisions where the SPEC is silent:
//! - A run covers every objective that exists when it runs, as SPEC §7 says
//!   of achievements (and the issue of manual backfills), even one whose
//!   `createdAt` is after M: its status at M simply has an empty window.
//! - A run with objectives that failed is still completed (and its failures
//!   logged and kept in the stored result): a permanently broken row must
//!   not hold every later day back.
//! - `slo.streak.broken` and `slo.achievement.unlocked` are dated at M, the
//!   instant they are about, also when a run is caught up later.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use slod_core::achievements::AchievementType;
use slod_core::digest::{build_digest, WeeklyDigest};
use slod_core::events::{EventType, NotificationEvent};
use slod_core::model::{Objective, SystemId, ValidationError};
use slod_core::status::SloStatus;
use slod_core::streak::{self, Snapshot, Streak, StreakChange};
use slod_core::time::{Timestamp, MINUTE_MS};
use slod_store::jobs::{
    AchievementRow, ClaimOutcome, DigestRow, JobClaim, JobKind, JobRunRow, JobRunStatus,
};
use slod_store::Store;

use super::achievements::{earned_at, unlocked_event, RECENT_OUTAGES};
use super::{status, ServiceError, ServiceResult};
use crate::clock::Clock;

/// Objectives per daily-run transaction: large enough to amortise the
/// commit, small enough that reports never wait long for the writer.
pub const CHUNK_SIZE: usize = 500;

/// How long a claimed run stays ours without renewal; renewed after every
/// chunk. A holder that dies blocks its period for at most this long.
pub const LEASE_MS: i64 = 5 * MINUTE_MS;

/// How often a manual trigger looks again at a run held elsewhere, and for
/// how long it waits before giving up.
const WAIT_POLL: Duration = Duration::from_millis(50);
const WAIT_LIMIT: Duration = Duration::from_secs(120);

/// One unlock, as the daily run reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnlockedRef {
    pub system_id: SystemId,
    pub achievement: AchievementType,
}

/// What one daily run did: the `POST /jobs/daily` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DailyRunResult {
    /// The run's UTC date, `YYYY-MM-DD` (its midnight is the snapshots'
    /// `date`).
    pub date: NaiveDate,
    /// Objectives the run covered (including any that failed).
    pub objectives: usize,
    pub snapshots_written: usize,
    pub streaks_incremented: usize,
    pub streaks_reset: usize,
    pub achievements_unlocked: Vec<UnlockedRef>,
}

impl DailyRunResult {
    /// A call that did nothing: the date was already completed.
    pub fn nothing(date: NaiveDate) -> Self {
        Self {
            date,
            objectives: 0,
            snapshots_written: 0,
            streaks_incremented: 0,
            streaks_reset: 0,
            achievements_unlocked: Vec::new(),
        }
    }
}

/// The result as kept in `job_runs`: the response plus the failures.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StoredDailyResult<'a> {
    #[serde(flatten)]
    result: &'a DailyRunResult,
    failed_objectives: &'a [String],
}

/// What [`run_daily`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DailyOutcome {
    Ran {
        result: DailyRunResult,
        failed_objectives: Vec<String>,
    },
    /// The date's run was already completed; nothing was done.
    AlreadyCompleted,
    /// Another attempt (another replica, or a concurrent trigger) holds the
    /// date's lease.
    Held(JobRunRow),
}

/// `slo.streak.broken` payload.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StreakBroken<'a> {
    system_id: &'a SystemId,
    objective_id: &'a str,
    streak: u32,
    best_streak: u32,
}

/// A claimed period of a job.
struct Lease {
    kind: JobKind,
    period: String,
    owner: String,
}

impl Lease {
    /// Claims `period` for a fresh owner; `Ok(Err(outcome))` when it is
    /// completed or held elsewhere.
    async fn claim(
        store: &dyn Store,
        kind: JobKind,
        period: String,
        period_start: Timestamp,
        now: Timestamp,
    ) -> ServiceResult<Result<Self, ClaimOutcome>> {
        let owner = slod_store::new_id();
        let claim = JobClaim {
            kind,
            period: &period,
            period_start,
            owner: &owner,
            now,
            lease_until: now.plus_millis(LEASE_MS),
        };
        let mut tx = store.begin().await?;
        let outcome = tx.claim_run(&claim).await?;
        tx.commit().await?;
        Ok(match outcome {
            ClaimOutcome::Claimed => Ok(Self { kind, period, owner }),
            other => Err(other),
        })
    }

    /// Extends the lease; a lost lease is only logged, since every write
    /// of a run is idempotent and whoever took over finishes the period.
    async fn renew(&self, store: &dyn Store, now: Timestamp) -> ServiceResult<()> {
        let mut tx = store.begin().await?;
        let held =
            tx.renew_lease(self.kind, &self.period, &self.owner, now.plus_millis(LEASE_MS)).await?;
        tx.commit().await?;
        if !held {
            tracing::warn!(job = self.kind.as_str(), period = %self.period, "lost the lease on a run; carrying on, its writes are idempotent");
        }
        Ok(())
    }

    /// After a failure: expire the lease at once, so the next attempt (a
    /// retry, another replica) need not wait for it to run out.
    async fn abandon(&self, store: &dyn Store, now: Timestamp) {
        let expire = async {
            let mut tx = store.begin().await?;
            tx.renew_lease(self.kind, &self.period, &self.owner, now).await?;
            tx.commit().await
        };
        if let Err(err) = expire.await {
            tracing::warn!(job = self.kind.as_str(), period = %self.period, error = %err, "could not release the lease of a failed run; it expires on its own");
        }
    }

    /// Gives the period back as if never attempted.
    async fn release(&self, store: &dyn Store) -> ServiceResult<()> {
        let mut tx = store.begin().await?;
        tx.release_run(self.kind, &self.period, &self.owner).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The `job_runs` key of the daily run at `midnight`.
pub fn daily_period(midnight: Timestamp) -> String {
    midnight.date().to_string()
}

/// Runs the daily job for the UTC day starting at `midnight` (any instant
/// is floored to its midnight), unless its run is completed or held.
pub async fn run_daily(
    store: &dyn Store,
    clock: &dyn Clock,
    midnight: Timestamp,
) -> ServiceResult<DailyOutcome> {
    let midnight = midnight.midnight_floor();
    let period = daily_period(midnight);
    let lease = match Lease::claim(store, JobKind::Daily, period, midnight, clock.now()).await? {
        Ok(lease) => lease,
        Err(ClaimOutcome::Held(run)) => return Ok(DailyOutcome::Held(run)),
        Err(_) => return Ok(DailyOutcome::AlreadyCompleted),
    };
    match daily_body(store, clock, midnight, &lease).await {
        Ok(outcome) => Ok(outcome),
        Err(err) => {
            lease.abandon(store, clock.now()).await;
            Err(err)
        }
    }
}

/// An objective evaluated by the run: its status at M and its streak as
/// it stands after the run.
type Evaluated = (Objective, SloStatus, Streak);

#[derive(Default)]
struct ChunkDone {
    evaluated: Vec<Evaluated>,
    snapshots_written: usize,
    streaks_incremented: usize,
    streaks_reset: usize,
}

async fn daily_body(
    store: &dyn Store,
    clock: &dyn Clock,
    midnight: Timestamp,
    lease: &Lease,
) -> ServiceResult<DailyOutcome> {
    let date = midnight.date();
    let (objectives, mut failed) = load_objectives(store).await?;
    let mut result = DailyRunResult::nothing(date);
    result.objectives = objectives.len() + failed.len();
    let mut evaluated: Vec<Evaluated> = Vec::with_capacity(objectives.len());
    let mut broken_systems: BTreeSet<SystemId> = BTreeSet::new();

    // Every status at M in one read when it can be had: one pass over the
    // events is cheaper than one per chunk. If that read fails, each chunk
    // reads its own, so a failure is narrowed down to the objective.
    let mut statuses = match status::statuses(store, &objectives, Some(midnight), clock.now()).await
    {
        Ok(all) => Some(all.into_iter()),
        Err(err) => {
            tracing::warn!(%date, error = %err, "daily run: reading every status at once failed; reading chunk by chunk");
            None
        }
    };
    let chunks: Vec<&[Objective]> = objectives.chunks(CHUNK_SIZE).collect();
    let last = chunks.len().saturating_sub(1);
    for (i, chunk) in chunks.into_iter().enumerate() {
        let mut done = Vec::new();
        let known = statuses.as_mut().map(|all| all.by_ref().take(chunk.len()).collect());
        match daily_chunk(store, chunk, known, midnight, clock.now()).await {
            Ok(chunk_done) => done.push(chunk_done),
            Err(err) => {
                tracing::warn!(%date, objectives = chunk.len(), error = %err, "daily run: a chunk failed; redoing its objectives one by one");
                for objective in chunk {
                    let one = std::slice::from_ref(objective);
                    match daily_chunk(store, one, None, midnight, clock.now()).await {
                        Ok(chunk_done) => done.push(chunk_done),
                        Err(err) => {
                            tracing::error!(%date, objective = %objective.id, system = %objective.system_id, error = %err, "daily run: objective failed; the others go on");
                            failed.push(objective.id.clone());
                            broken_systems.insert(objective.system_id.clone());
                        }
                    }
                }
            }
        }
        for chunk_done in done {
            result.snapshots_written += chunk_done.snapshots_written;
            result.streaks_incremented += chunk_done.streaks_incremented;
            result.streaks_reset += chunk_done.streaks_reset;
            evaluated.extend(chunk_done.evaluated);
        }
        if i < last {
            lease.renew(store, clock.now()).await?;
        }
    }

    // SPEC §5: then achievements for every system that has objectives. A
    // system with an objective that could not be evaluated is skipped: its
    // context would be missing that objective (and could, say, see zero
    // downtime that is not there).
    let unlocks = daily_unlocks(store, &evaluated, &broken_systems, midnight).await?;
    let names = system_names(store).await;
    let mut tx = store.begin().await?;
    let new = tx.unlock_achievements(&unlocks).await?;
    let events: Vec<NotificationEvent> = new
        .iter()
        .map(|u| {
            let name = names.get(&u.system_id).map_or(u.system_id.as_str(), String::as_str);
            unlocked_event(u, name)
        })
        .collect();
    tx.enqueue_events(&events).await?;
    result.achievements_unlocked = new
        .iter()
        .map(|u| UnlockedRef { system_id: u.system_id.clone(), achievement: u.achievement })
        .collect();
    let stored =
        serde_json::to_string(&StoredDailyResult { result: &result, failed_objectives: &failed })
            .map_err(|err| ServiceError::Internal(err.into()))?;
    let completed =
        tx.complete_run(JobKind::Daily, &lease.period, &lease.owner, clock.now(), &stored).await?;
    tx.commit().await?;
    if !completed {
        tracing::warn!(%date, "daily run finished after another attempt took it over; its writes were idempotent");
    }
    if !failed.is_empty() {
        tracing::error!(%date, failed = failed.len(), "daily run completed with objectives that failed");
    }
    Ok(DailyOutcome::Ran { result, failed_objectives: failed })
}

/// Every objective; when one row cannot be read, every other one, one by
/// one, with the unreadable ids returned separately.
async fn load_objectives(store: &dyn Store) -> ServiceResult<(Vec<Objective>, Vec<String>)> {
    match store.list_objectives(None).await {
        Ok(all) => Ok((all, Vec::new())),
        Err(err) => {
            tracing::warn!(error = %err, "daily run: listing objectives failed; reading them one by one");
            let mut objectives = Vec::new();
            let mut failed = Vec::new();
            for id in store.objective_ids().await? {
                match store.get_objective(&id).await {
                    Ok(Some(objective)) => objectives.push(objective),
                    Ok(None) => {} // deleted meanwhile
                    Err(err) => {
                        tracing::error!(objective = %id, error = %err, "daily run: cannot read objective; the others go on");
                        failed.push(id);
                    }
                }
            }
            Ok((objectives, failed))
        }
    }
}

/// Steps 1–3 of SPEC §5 for `chunk`, in one transaction; `statuses` are
/// the chunk's statuses at `midnight` when already read.
async fn daily_chunk(
    store: &dyn Store,
    chunk: &[Objective],
    statuses: Option<Vec<SloStatus>>,
    midnight: Timestamp,
    now: Timestamp,
) -> ServiceResult<ChunkDone> {
    let statuses = match statuses {
        Some(known) if known.len() == chunk.len() => known,
        _ => status::statuses(store, chunk, Some(midnight), now).await?,
    };
    let ids: Vec<String> = chunk.iter().map(|o| o.id.clone()).collect();
    let mut tx = store.begin().await?;
    let mut streaks: BTreeMap<String, Streak> =
        tx.lock_streaks(&ids).await?.into_iter().map(|r| (r.objective_id, r.streak)).collect();
    let snapshots: Vec<Snapshot> = chunk
        .iter()
        .zip(&statuses)
        .map(|(o, st)| {
            let before = streaks.get(&o.id).map_or(0, |s| s.current_streak);
            streak::snapshot(st, midnight, before)
        })
        .collect();
    let inserted = tx.insert_snapshots(&snapshots).await?;

    let mut done = ChunkDone { snapshots_written: inserted.len(), ..ChunkDone::default() };
    let mut changed = Vec::new();
    let mut events = Vec::new();
    for (objective, status) in chunk.iter().zip(&statuses) {
        // Only the transaction that wrote the day's snapshot moves the
        // streak: a second run for the date finds the snapshot and leaves
        // the streak to the first.
        if !inserted.contains(&objective.id) {
            continue;
        }
        let before = streaks.get(&objective.id).cloned().unwrap_or_default();
        let outcome = streak::update_streak(&before, status, midnight);
        match outcome.change {
            StreakChange::Incremented => done.streaks_incremented += 1,
            StreakChange::Reset { broken, best } => {
                done.streaks_reset += 1;
                events.push(NotificationEvent::new(
                    slod_store::new_id(),
                    EventType::StreakBroken,
                    midnight,
                    StreakBroken {
                        system_id: &objective.system_id,
                        objective_id: &objective.id,
                        streak: broken,
                        best_streak: best,
                    },
                ));
            }
            StreakChange::Unchanged => {}
        }
        if outcome.streak != before {
            changed.push((objective.id.clone(), outcome.streak.clone()));
            streaks.insert(objective.id.clone(), outcome.streak);
        }
    }
    tx.save_streaks(&changed).await?;
    tx.enqueue_events(&events).await?;
    tx.commit().await?;
    done.evaluated = chunk
        .iter()
        .cloned()
        .zip(statuses)
        .map(|(objective, status)| {
            let streak = streaks.remove(&objective.id).unwrap_or_default();
            (objective, status, streak)
        })
        .collect();
    Ok(done)
}

/// What every system with evaluated objectives has earned at `midnight`
/// and does not hold yet.
async fn daily_unlocks(
    store: &dyn Store,
    evaluated: &[Evaluated],
    skip: &BTreeSet<SystemId>,
    midnight: Timestamp,
) -> ServiceResult<Vec<AchievementRow>> {
    let mut by_system: BTreeMap<&SystemId, Vec<(&Objective, &SloStatus, &Streak)>> =
        BTreeMap::new();
    for (objective, status, streak) in evaluated {
        if !skip.contains(&objective.system_id) {
            by_system.entry(&objective.system_id).or_default().push((objective, status, streak));
        }
    }
    if by_system.is_empty() {
        return Ok(Vec::new());
    }
    let held: BTreeSet<(SystemId, AchievementType)> = store
        .achievements(None)
        .await?
        .into_iter()
        .map(|row| (row.system_id, row.achievement))
        .collect();
    let systems: Vec<SystemId> = by_system.keys().map(|s| (*s).clone()).collect();
    let outages = store.recent_outages(&systems, midnight, RECENT_OUTAGES).await?;
    let mut unlocks = Vec::new();
    for (system, items) in by_system {
        let recent = outages.get(system).map(Vec::as_slice).unwrap_or(&[]);
        for achievement in earned_at(&items, recent, midnight) {
            if !held.contains(&(system.clone(), achievement)) {
                unlocks.push(AchievementRow {
                    system_id: system.clone(),
                    achievement,
                    unlocked_at: midnight,
                });
            }
        }
    }
    Ok(unlocks)
}

/// Display names by system id, for event payloads. A failure only costs
/// the names (ids stand in), never the run.
async fn system_names(store: &dyn Store) -> BTreeMap<SystemId, String> {
    match store.list_systems().await {
        Ok(rows) => rows.into_iter().map(|r| (r.system.id, r.system.name)).collect(),
        Err(err) => {
            tracing::warn!(error = %err, "reading system names failed; using ids");
            BTreeMap::new()
        }
    }
}

/// `POST /jobs/daily?date=`: runs `date` now, following SPEC §5's order
/// rules, and returns what this call did.
///
/// - A date in the future is invalid.
/// - A date whose run is completed is a no-op: the answer has zero counts
///   (each answer counts what its own call did, so concurrent triggers for
///   one date add up to one run).
/// - A date before the latest completed run conflicts: runs go forward in
///   time (a streak cannot be replayed into the past).
/// - Any other past date is run now, over every objective that exists
///   (a backfill); days between it and the latest completed run are not.
/// - While another attempt holds the date, this call waits for it to finish
///   (then answers as for a completed date).
pub async fn trigger_daily(
    store: &dyn Store,
    clock: &dyn Clock,
    date: NaiveDate,
) -> ServiceResult<DailyRunResult> {
    let now = clock.now();
    let midnight = Timestamp::from_date(date);
    if midnight > now {
        return Err(ValidationError::new(
            "date",
            format!("{date} is in the future; the latest date that can run is {}", now.date()),
        )
        .into());
    }
    let period = daily_period(midnight);
    let run = store.job_run(JobKind::Daily, &period).await?;
    if run.is_some_and(|r| r.status == JobRunStatus::Completed) {
        return Ok(DailyRunResult::nothing(date));
    }
    if let Some(latest) = store.latest_completed_run(JobKind::Daily).await? {
        if latest.period_start > midnight {
            return Err(ServiceError::Conflict {
                message: format!(
                    "the daily job has already run for {}, after {date}; runs go forward in time, so {date} can no longer run",
                    latest.period
                ),
                field: Some("date".into()),
            });
        }
    }
    let waiting_since = Instant::now();
    loop {
        match run_daily(store, clock, midnight).await? {
            DailyOutcome::Ran { result, .. } => return Ok(result),
            DailyOutcome::AlreadyCompleted => return Ok(DailyRunResult::nothing(date)),
            DailyOutcome::Held(run) => {
                if waiting_since.elapsed() > WAIT_LIMIT {
                    return Err(ServiceError::Conflict {
                        message: format!(
                            "the daily run for {date} is in progress elsewhere (lease until {}); try again later",
                            run.lease_expires_at
                        ),
                        field: Some("date".into()),
                    });
                }
                tokio::time::sleep(WAIT_POLL).await;
            }
        }
    }
}

/// The `job_runs` key of the scheduled digest for the ISO week of `at`.
pub fn weekly_period(at: Timestamp) -> String {
    let (year, week) = streak::iso_week_of(at);
    format!("{year}-W{week:02}")
}

/// What [`run_scheduled_digest`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum DigestOutcome {
    Produced(WeeklyDigest),
    /// No objectives: nothing stored, and the week still counts as not done.
    Skipped,
    AlreadyCompleted,
    Held(JobRunRow),
}

/// The scheduled digest for the week of `at` (Monday 09:00), with every
/// status computed at `at`; at most once per ISO week across replicas.
pub async fn run_scheduled_digest(
    store: &dyn Store,
    clock: &dyn Clock,
    at: Timestamp,
) -> ServiceResult<DigestOutcome> {
    let now = clock.now();
    let lease = match Lease::claim(store, JobKind::WeeklyDigest, weekly_period(at), at, now).await?
    {
        Ok(lease) => lease,
        Err(ClaimOutcome::Held(run)) => return Ok(DigestOutcome::Held(run)),
        Err(_) => return Ok(DigestOutcome::AlreadyCompleted),
    };
    let produce = async {
        let status_at = (at < now).then_some(at);
        let Some(digest) = compute_digest(store, streak::week_monday(at), status_at, now).await?
        else {
            lease.release(store).await?;
            return Ok(DigestOutcome::Skipped);
        };
        let result =
            serde_json::to_string(&digest).map_err(|e| ServiceError::Internal(e.into()))?;
        let mut tx = store.begin().await?;
        store_digest(&mut *tx, &digest, false, at, now).await?;
        tx.complete_run(JobKind::WeeklyDigest, &lease.period, &lease.owner, clock.now(), &result)
            .await?;
        tx.commit().await?;
        Ok(DigestOutcome::Produced(digest))
    };
    match produce.await {
        Ok(outcome) => Ok(outcome),
        Err(err) => {
            lease.abandon(store, clock.now()).await;
            Err(err)
        }
    }
}

/// `POST /jobs/weekly-digest?weekOf=`: the digest for the week of
/// `week_of` (any day of it; default this week) with statuses computed
/// now, stored as a manual digest and emitted; `None` when there are no
/// objectives. A manual digest does not count as the week's scheduled one.
pub async fn trigger_digest(
    store: &dyn Store,
    week_of: Option<NaiveDate>,
    now: Timestamp,
) -> ServiceResult<Option<WeeklyDigest>> {
    let this_week = streak::week_monday(now);
    let monday = match week_of {
        None => this_week,
        Some(day) => streak::week_monday(Timestamp::from_date(day)),
    };
    if monday > this_week {
        return Err(ValidationError::new(
            "weekOf",
            format!("the week of {monday} has not started yet (this week began {this_week})"),
        )
        .into());
    }
    let Some(digest) = compute_digest(store, monday, None, now).await? else {
        return Ok(None);
    };
    let mut tx = store.begin().await?;
    store_digest(&mut *tx, &digest, true, now, now).await?;
    tx.commit().await?;
    Ok(Some(digest))
}

/// Stores a digest and enqueues its `slo.weekly.digest` event.
async fn store_digest(
    tx: &mut dyn slod_store::StoreTx,
    digest: &WeeklyDigest,
    manual: bool,
    occurred_at: Timestamp,
    now: Timestamp,
) -> ServiceResult<()> {
    tx.insert_digest(&DigestRow {
        id: slod_store::new_id(),
        manual,
        created_at: now,
        digest: digest.clone(),
    })
    .await?;
    let event =
        NotificationEvent::new(slod_store::new_id(), EventType::WeeklyDigest, occurred_at, digest);
    tx.enqueue_events(&[event]).await?;
    Ok(())
}

/// SPEC §6 over every objective, statuses at `at` (or now), with system
/// names; `None` without objectives.
async fn compute_digest(
    store: &dyn Store,
    week_of: NaiveDate,
    at: Option<Timestamp>,
    now: Timestamp,
) -> ServiceResult<Option<WeeklyDigest>> {
    let objectives = store.list_objectives(None).await?;
    if objectives.is_empty() {
        return Ok(None);
    }
    let statuses = status::statuses(store, &objectives, at, now).await?;
    let streaks: BTreeMap<String, Streak> =
        store.streaks(None).await?.into_iter().map(|r| (r.objective_id, r.streak)).collect();
    let names = system_names(store).await;
    let no_streak = Streak::default();
    let items: Vec<(&Objective, &SloStatus, &Streak, &str)> = objectives
        .iter()
        .zip(&statuses)
        .map(|(o, s)| {
            let name = names.get(&o.system_id).map_or(o.system_id.as_str(), String::as_str);
            (o, s, streaks.get(&o.id).unwrap_or(&no_streak), name)
        })
        .collect();
    Ok(build_digest(week_of, &items))
}

// ---- reads -----------------------------------------------------------------

/// A streak as `GET /streaks` serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreakView {
    pub objective_id: String,
    pub system_id: SystemId,
    #[serde(flatten)]
    pub streak: Streak,
}

/// Every objective's streak, by system then objective id.
pub async fn streaks(store: &dyn Store) -> ServiceResult<Vec<StreakView>> {
    Ok(store
        .streaks(None)
        .await?
        .into_iter()
        .map(|r| StreakView {
            objective_id: r.objective_id,
            system_id: r.system_id,
            streak: r.streak,
        })
        .collect())
}

/// The streaks of `objective_ids`, by objective id.
pub async fn streaks_of(
    store: &dyn Store,
    objective_ids: &[String],
) -> ServiceResult<BTreeMap<String, Streak>> {
    Ok(store
        .streaks(Some(objective_ids))
        .await?
        .into_iter()
        .map(|r| (r.objective_id, r.streak))
        .collect())
}

/// The objective's snapshots dated in `[from, to]`, oldest first;
/// `NotFound` for an unknown objective.
pub async fn snapshots(
    store: &dyn Store,
    objective_id: &str,
    from: Timestamp,
    to: Timestamp,
) -> ServiceResult<Vec<Snapshot>> {
    if store.get_objective(objective_id).await?.is_none() {
        return Err(ServiceError::unknown_objective(objective_id));
    }
    Ok(store.snapshots(objective_id, from, to).await?)
}

/// A stored digest as `GET /digests` serves it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestView {
    pub id: String,
    pub week_of: NaiveDate,
    pub manual: bool,
    pub created_at: Timestamp,
    pub digest: WeeklyDigest,
}

/// The `limit` most recent digests, newest first.
pub async fn digests(store: &dyn Store, limit: u32) -> ServiceResult<Vec<DigestView>> {
    Ok(store
        .digests(limit)
        .await?
        .into_iter()
        .map(|row| DigestView {
            id: row.id,
            week_of: row.digest.week_of,
            manual: row.manual,
            created_at: row.created_at,
            digest: row.digest,
        })
        .collect())
}

/// A job run as `GET /jobs/runs` serves it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRunView {
    pub kind: &'static str,
    pub period: String,
    pub period_start: Timestamp,
    pub status: &'static str,
    pub started_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    pub lease_expires_at: Timestamp,
    /// What the run did (the job's own JSON), once completed.
    pub result: Option<serde_json::Value>,
}

impl From<JobRunRow> for JobRunView {
    fn from(run: JobRunRow) -> Self {
        Self {
            kind: run.kind.as_str(),
            status: run.status.as_str(),
            period: run.period,
            period_start: run.period_start,
            started_at: run.started_at,
            completed_at: run.completed_at,
            lease_expires_at: run.lease_expires_at,
            result: run.result.and_then(|raw| serde_json::from_str(&raw).ok()),
        }
    }
}

/// The `limit` latest runs (of `kind`, or all), newest period first.
pub async fn job_runs(
    store: &dyn Store,
    kind: Option<JobKind>,
    limit: u32,
) -> ServiceResult<Vec<JobRunView>> {
    Ok(store.job_runs(kind, limit).await?.into_iter().map(JobRunView::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_dates_and_iso_weeks() {
        let t = |raw: &str| Timestamp::parse(raw).unwrap();
        assert_eq!(daily_period(t("2026-03-02T00:00:00Z")), "2026-03-02");
        assert_eq!(weekly_period(t("2026-03-02T09:00:00Z")), "2026-W10");
        // 2027-01-01 is in 2026's last ISO week.
        assert_eq!(weekly_period(t("2027-01-01T09:00:00Z")), "2026-W53");
        assert_eq!(weekly_period(t("2026-01-05T09:00:00Z")), "2026-W02");
    }

    #[test]
    fn a_no_op_answer_has_the_wire_shape() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        assert_eq!(
            serde_json::to_value(DailyRunResult::nothing(day)).unwrap(),
            serde_json::json!({"date": "2026-03-02", "objectives": 0, "snapshotsWritten": 0,
                "streaksIncremented": 0, "streaksReset": 0, "achievementsUnlocked": []})
        );
    }
}
