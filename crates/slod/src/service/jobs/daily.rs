//! The daily job (SPEC §5): snapshots, streaks and achievements as of a
//! UTC midnight, run by the scheduler ([`run_daily`]) or by hand
//! ([`trigger_daily`], `POST /jobs/daily`). The order of a run and why it
//! is idempotent are in the [parent module](super).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use slod_core::achievements::AchievementType;
use slod_core::events::{EventType, NotificationEvent};
use slod_core::model::{Objective, SystemId, ValidationError};
use slod_core::status::SloStatus;
use slod_core::streak::{self, Snapshot, Streak, StreakChange};
use slod_core::time::Timestamp;
use slod_store::jobs::{AchievementRow, JobKind, JobRunRow, JobRunStatus};
use slod_store::Store;

use super::lease::{Claim, Lease};
use super::reads::system_names;
use crate::clock::Clock;
use crate::service::achievements::{earned_at, unlocked_event, RECENT_OUTAGES};
use crate::service::{status, ServiceError, ServiceResult};

/// Objectives per daily-run transaction: large enough to amortise the
/// commit, small enough that reports never wait long for the writer.
pub const CHUNK_SIZE: usize = 500;

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
    let now = clock.now();
    let body = async |lease: &Lease| daily_body(store, clock, midnight, lease).await;
    Ok(match Lease::run(store, clock, JobKind::Daily, period, midnight, now, body).await? {
        Claim::Claimed(outcome) => outcome,
        Claim::Completed => DailyOutcome::AlreadyCompleted,
        Claim::Held(run) => DailyOutcome::Held(run),
    })
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
                            failed.push(objective.id.to_string());
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
    let ids: Vec<String> = chunk.iter().map(|o| o.id.to_string()).collect();
    let mut tx = store.begin().await?;
    let mut streaks: BTreeMap<String, Streak> =
        tx.lock_streaks(&ids).await?.into_iter().map(|r| (r.objective_id, r.streak)).collect();
    let snapshots: Vec<Snapshot> = chunk
        .iter()
        .zip(&statuses)
        .map(|(o, st)| {
            let before = streaks.get(o.id.as_str()).map_or(0, |s| s.current_streak);
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
        if !inserted.contains(objective.id.as_str()) {
            continue;
        }
        let before = streaks.get(objective.id.as_str()).cloned().unwrap_or_default();
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
            changed.push((objective.id.to_string(), outcome.streak.clone()));
            streaks.insert(objective.id.to_string(), outcome.streak);
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
            let streak = streaks.remove(objective.id.as_str()).unwrap_or_default();
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
