//! The scheduler inside `slod serve`: the daily job at 00:00 UTC, the
//! weekly digest on Mondays at 09:00 UTC and the monthly SLA statement on
//! the 1st at 00:00 UTC (SPEC §5, §6, §17). It decides when;
//! the jobs themselves are `service::jobs`.
//!
//! [`Scheduler::run_due_jobs`] is the whole decision, one pass: it runs the
//! daily runs owed at `now`, oldest first, then this week's digest if it is
//! due. [`Scheduler::run`] is only a loop around it that waits on the
//! application's [`Clock`] for the next due instant, so a test driving a
//! [`ManualClock`](crate::clock::ManualClock) (or calling `run_due_jobs`
//! directly) moves through a year of midnights in milliseconds.
//!
//! What is owed comes from storage, not from memory: the midnights after the
//! latest completed daily run (SPEC §5 catch-up: a restart after three days
//! runs those three days, in order, each as of its own midnight). A
//! database with no completed run owes nothing before this process started.
//! Across replicas the `job_runs` lease decides who runs a period; a period
//! held elsewhere is left to its holder and looked at again a few seconds
//! later.
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<dyn slod_store::Store>) -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use slod::clock::{Clock, ManualClock};
//! use slod::scheduler::Scheduler;
//! use slod_core::time::{Timestamp, DAY_MS};
//!
//! let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-03-01T12:00:00Z")?));
//! let mut scheduler = Scheduler::new(store, clock.clone());
//! clock.advance(DAY_MS);
//! let done = scheduler.run_due_jobs(clock.now()).await?;
//! assert_eq!(done.daily.len(), 1); // 2026-03-02
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use slod_core::digest::WeeklyDigest;
use slod_core::streak::{
    midnights_between, month_start, next_daily_run, next_monthly_report, next_weekly_digest,
};
use slod_core::time::{Timestamp, DAY_MS};
use slod_store::jobs::JobKind;
use slod_store::Store;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::service::jobs::{
    self as service, DailyOutcome, DailyRunResult, DigestOutcome, MonthlyOutcome, MonthlyReport,
};

/// The longest the loop sleeps before looking at the clock again, so a
/// wall clock that jumps (suspend, NTP step) is noticed within a minute.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// How soon to look again at a period another replica holds, or after a
/// failure.
const RETRY_AFTER_MS: i64 = 5_000;
/// [`RETRY_AFTER_MS`] as a sleep.
const RETRY_AFTER: Duration = Duration::from_millis(RETRY_AFTER_MS.unsigned_abs());

/// What one [`Scheduler::run_due_jobs`] pass did.
#[derive(Debug, Default)]
pub struct DueJobs {
    /// The daily runs this pass made, oldest first.
    pub daily: Vec<DailyRunResult>,
    /// The weekly digest, when this pass produced one.
    pub digest: Option<WeeklyDigest>,
    /// The monthly SLA statement, when this pass sent one (SPEC §17).
    pub monthly: Option<MonthlyReport>,
    /// Something due could not run yet (held by another replica, or it
    /// failed): look again soon rather than at the next due instant.
    pub retry_soon: bool,
}

/// Decides which scheduled runs are due and runs them.
pub struct Scheduler {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// When this process started scheduling: with no completed run in
    /// storage, nothing before it is owed.
    started_at: Timestamp,
    /// The last Monday 09:00 this process attempted (ran, skipped for lack
    /// of objectives, or found completed), so a skipped week is not
    /// retried every pass.
    digest_attempted: Option<Timestamp>,
    /// The last 1st-of-a-month this process attempted, likewise.
    monthly_attempted: Option<Timestamp>,
    stop: Option<watch::Receiver<bool>>,
}

impl Scheduler {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        let started_at = clock.now();
        Self {
            store,
            clock,
            started_at,
            digest_attempted: None,
            monthly_attempted: None,
            stop: None,
        }
    }

    fn stopping(&self) -> bool {
        self.stop.as_ref().is_some_and(|stop| *stop.borrow())
    }

    /// Runs every job due at `now`: the daily runs owed, in order, then the
    /// current week's digest if its Monday 09:00 has passed and the week
    /// has none. Errors of a single run are logged and end the pass early
    /// (later midnights wait for earlier ones); an error reading what is
    /// owed is returned.
    pub async fn run_due_jobs(&mut self, now: Timestamp) -> anyhow::Result<DueJobs> {
        let mut done = DueJobs::default();
        let latest = self
            .store
            .latest_completed_run(JobKind::Daily)
            .await
            .context("reading the latest completed daily run")?;
        let since = latest.map_or(self.started_at, |run| run.period_start);
        let mut owed = midnights_between(Some(since), now).into_iter().peekable();
        while let Some(midnight) = owed.next() {
            if self.stopping() {
                return Ok(done);
            }
            // During a long catch-up an operator (or another replica) may
            // have run a later date; the days before it are skipped, as a
            // manual backfill would have them (runs go forward in time).
            if owed.peek().is_some() {
                let latest = self
                    .store
                    .latest_completed_run(JobKind::Daily)
                    .await
                    .context("reading the latest completed daily run")?;
                if latest.is_some_and(|run| run.period_start > midnight) {
                    continue;
                }
            }
            match service::run_daily(&*self.store, &*self.clock, midnight).await {
                Ok(DailyOutcome::Ran { result, failed_objectives }) => {
                    tracing::info!(
                        date = %result.date,
                        objectives = result.objectives,
                        snapshots = result.snapshots_written,
                        incremented = result.streaks_incremented,
                        reset = result.streaks_reset,
                        unlocked = result.achievements_unlocked.len(),
                        failed = failed_objectives.len(),
                        "daily run completed"
                    );
                    done.daily.push(result);
                }
                Ok(DailyOutcome::AlreadyCompleted) => {}
                Ok(DailyOutcome::Held(run)) => {
                    tracing::debug!(date = %run.period, "daily run held by another replica");
                    done.retry_soon = true;
                    return Ok(done);
                }
                Err(err) => {
                    tracing::error!(date = %midnight.date(), error = %err, "daily run failed; retrying soon");
                    done.retry_soon = true;
                    return Ok(done);
                }
            }
        }

        self.run_due_monthly(now, &mut done).await?;
        let monday_nine = next_weekly_digest(now).minus_millis(7 * DAY_MS);
        if self.stopping() || self.digest_attempted == Some(monday_nine) {
            return Ok(done);
        }
        // A Monday before this process started is only owed when slod has
        // produced digests before (it was stopped over Monday 09:00); a
        // fresh install waits for the next Monday.
        let owed = monday_nine > self.started_at
            || self
                .store
                .latest_completed_run(JobKind::WeeklyDigest)
                .await
                .context("reading the latest weekly digest run")?
                .is_some_and(|run| run.period_start < monday_nine);
        if !owed {
            self.digest_attempted = Some(monday_nine);
            return Ok(done);
        }
        match service::run_scheduled_digest(&*self.store, &*self.clock, monday_nine).await {
            Ok(DigestOutcome::Produced(digest)) => {
                tracing::info!(week_of = %digest.week_of, objectives = digest.total_objectives, "weekly digest produced");
                self.digest_attempted = Some(monday_nine);
                done.digest = Some(digest);
            }
            Ok(DigestOutcome::Skipped) => {
                tracing::info!(week_of = %monday_nine.date(), "weekly digest skipped: no objectives");
                self.digest_attempted = Some(monday_nine);
            }
            Ok(DigestOutcome::AlreadyCompleted) => self.digest_attempted = Some(monday_nine),
            Ok(DigestOutcome::Held(_)) => done.retry_soon = true,
            Err(err) => {
                tracing::error!(error = %err, "weekly digest failed; retrying soon");
                done.retry_soon = true;
            }
        }
        Ok(done)
    }

    /// The month before this one's SLA statement, when its 1st 00:00 UTC
    /// has passed and it was not sent (SPEC §17). Owed like the digest: a
    /// 1st before this process started only when slod has sent monthly
    /// statements before.
    async fn run_due_monthly(&mut self, now: Timestamp, done: &mut DueJobs) -> anyhow::Result<()> {
        let first = month_start(now);
        if self.stopping() || self.monthly_attempted == Some(first) {
            return Ok(());
        }
        let owed = first > self.started_at
            || self
                .store
                .latest_completed_run(JobKind::MonthlyReport)
                .await
                .context("reading the latest monthly report run")?
                .is_some_and(|run| run.period_start < first);
        if !owed {
            self.monthly_attempted = Some(first);
            return Ok(());
        }
        match service::run_scheduled_monthly(&*self.store, &*self.clock, first).await {
            Ok(MonthlyOutcome::Sent(report)) => {
                tracing::info!(month = %report.month, objectives = report.objectives.len(), "monthly SLA statement sent");
                self.monthly_attempted = Some(first);
                done.monthly = Some(report);
            }
            // Another attempt took the month over and sends it.
            Ok(MonthlyOutcome::AlreadyCompleted | MonthlyOutcome::TakenOver) => {
                self.monthly_attempted = Some(first);
            }
            Ok(MonthlyOutcome::Held(_)) => done.retry_soon = true,
            Err(err) => {
                tracing::error!(error = %err, "monthly SLA statement failed; retrying soon");
                done.retry_soon = true;
            }
        }
        Ok(())
    }

    /// The next instant something may fall due after `now`.
    pub fn next_due(&self, now: Timestamp) -> Timestamp {
        next_daily_run(now).min(next_weekly_digest(now)).min(next_monthly_report(now))
    }

    /// Runs due jobs, sleeps on the clock until the next due instant, and
    /// again, until `stop` turns true. A run in progress finishes its
    /// current period; the next one is not started.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        self.stop = Some(stop.clone());
        loop {
            if *stop.borrow() {
                break;
            }
            let now = self.clock.now();
            let retry_soon = match self.run_due_jobs(now).await {
                Ok(done) => done.retry_soon,
                Err(err) => {
                    tracing::error!(
                        error = format!("{err:#}"),
                        "scheduler pass failed; retrying soon"
                    );
                    true
                }
            };
            // From the instant this pass judged, not a fresh reading: if the
            // clock passed a due instant while the pass ran, the sleep ends
            // at once and the next pass runs it.
            let (until, cap) = if retry_soon {
                (now.plus_millis(RETRY_AFTER_MS), RETRY_AFTER)
            } else {
                (self.next_due(now), MAX_SLEEP)
            };
            tokio::select! {
                () = self.clock.sleep_until(until, cap) => {}
                changed = stop.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        tracing::debug!("scheduler stopped");
    }
}
