//! The weekly digest (SPEC §6): the scheduled one, at most once per ISO
//! week across replicas ([`run_scheduled_digest`]), and the manual one
//! (`POST /jobs/weekly-digest`, [`trigger_digest`]), which does not count as
//! the week's.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use slod_core::digest::{build_digest, WeeklyDigest};
use slod_core::events::{EventType, NotificationEvent};
use slod_core::model::{Objective, ValidationError};
use slod_core::status::SloStatus;
use slod_core::streak::{self, Streak};
use slod_core::time::Timestamp;
use slod_store::jobs::{DigestRow, JobKind, JobRunRow};
use slod_store::Store;

use super::lease::{Claim, Lease};
use super::reads::system_names;
use crate::clock::Clock;
use crate::service::{status, ServiceError, ServiceResult};

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
    let produce = async |lease: &Lease| {
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
    let period = weekly_period(at);
    Ok(match Lease::run(store, clock, JobKind::WeeklyDigest, period, at, now, produce).await? {
        Claim::Claimed(outcome) => outcome,
        Claim::Completed => DigestOutcome::AlreadyCompleted,
        Claim::Held(run) => DigestOutcome::Held(run),
    })
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
            (o, s, streaks.get(o.id.as_str()).unwrap_or(&no_streak), name)
        })
        .collect();
    Ok(build_digest(week_of, &items))
}
