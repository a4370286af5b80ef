//! Health reports (SPEC §3).
//!
//! A request carries one report or a batch; either way it is applied in one
//! transaction, in `at` order, or refused whole. Systems that a report asks
//! to create are created in that same transaction, so a refused batch
//! leaves no system behind either.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use slod_core::engine::{self, ChangeSummary, HealthReport, ReportError, World};
use slod_core::model::{CheckId, HealthStatus, ReportSource, SystemId, ValidationError};
use slod_core::time::{Timestamp, MINUTE_MS};
use slod_store::{Store, StoreTx};
use tokio::sync::oneshot;

use super::{effects, id_generator, ServiceError, ServiceResult};

/// One parsed report, before `at` defaults to now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportInput {
    pub system_id: SystemId,
    pub status: HealthStatus,
    /// `None`: the report is about now.
    pub at: Option<Timestamp>,
    pub source: ReportSource,
    /// The probe check reporting (SPEC §12); `None`: the unnamed check.
    pub check_id: Option<CheckId>,
    /// Create the system if it does not exist (named `system_name`, or its
    /// id) instead of refusing the report.
    pub create_system: bool,
    pub system_name: Option<String>,
    /// Where the report sat in the request (`""` or `"reports[3]."`), so
    /// errors name the field the caller sent.
    pub field_prefix: String,
}

/// What a request changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportOutcome {
    pub reports_applied: usize,
    pub reports_unchanged: usize,
    pub events_opened: Vec<String>,
    pub events_closed: Vec<String>,
    pub events_split: usize,
    pub systems_created: Vec<SystemId>,
}

impl ReportOutcome {
    fn new(summary: ChangeSummary, systems_created: Vec<SystemId>) -> Self {
        Self {
            reports_applied: summary.reports_applied,
            reports_unchanged: summary.reports_unchanged,
            events_opened: summary.events_opened,
            events_closed: summary.events_closed,
            events_split: summary.events_split,
            systems_created,
        }
    }
}

/// How far ahead of now a report may be (SPEC §3).
const MAX_FUTURE_MS: i64 = 5 * MINUTE_MS;

/// Applies `inputs` as one batch at `now`.
pub async fn apply_reports(
    store: &dyn Store,
    now: Timestamp,
    inputs: Vec<ReportInput>,
) -> ServiceResult<ReportOutcome> {
    refuse_future(&inputs, now)?;
    let mut tx = store.begin().await?;
    let applied = apply_reports_in(&mut *tx, now, &inputs, OnStale::Refuse).await?;
    tx.commit().await?;
    Ok(applied.outcome)
}

/// Refuses future reports before touching storage, naming the field; the
/// engine checks again, but cannot say which report it was.
fn refuse_future(inputs: &[ReportInput], now: Timestamp) -> ServiceResult<()> {
    for input in inputs {
        if let Some(at) = input.at {
            if is_in_future(at, now) {
                return Err(ValidationError::new(
                    format!("{}at", input.field_prefix),
                    format!("{at} is more than 5 minutes in the future (now is {now})"),
                )
                .into());
            }
        }
    }
    Ok(())
}

/// Group commit of `POST /health` requests on a store with one writer
/// ([`Store::has_one_writer`]: SQLite).
///
/// There, requests queue for the one write connection anyway, and a
/// commit (the WAL's fsync, `synchronous = FULL`) costs as much as
/// applying a batch of repeats. So the requests that arrive while one is
/// being applied are applied together: one after another in arrival
/// order, each by [`apply_reports_in`] exactly as in a transaction of its
/// own (every request sees the ones before it, and is judged once, SPEC
/// §8), then committed once. No request is answered before that commit.
/// If any request of a group fails (a `409`, an unknown system) or the
/// commit does, the group is rolled back and each request applied again in
/// a transaction of its own, so each gets the answer it would have had
/// alone and none fails because of another.
///
/// A group runs in a task of its own, so a client that hangs up does not
/// cancel the other requests' reports halfway. On PostgreSQL every request
/// keeps its own transaction: replicas lock systems in id order per
/// transaction, and a group would hold one request's locks while taking
/// the next one's.
pub struct ReportQueue {
    pending: Mutex<Vec<Job>>,
    /// Held by the task applying a group.
    running: tokio::sync::Mutex<()>,
}

struct Job {
    now: Timestamp,
    inputs: Vec<ReportInput>,
    reply: oneshot::Sender<ServiceResult<ReportOutcome>>,
}

/// Reports per group at most (a group of one request may hold more): the
/// first request of a group waits for the last one's to be applied.
const MAX_GROUP_REPORTS: usize = 1_000;

impl Default for ReportQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl ReportQueue {
    pub fn new() -> Self {
        Self { pending: Mutex::new(Vec::new()), running: tokio::sync::Mutex::new(()) }
    }

    /// [`apply_reports`], grouped with concurrent requests when `store`
    /// has one writer.
    pub async fn apply(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        now: Timestamp,
        inputs: Vec<ReportInput>,
    ) -> ServiceResult<ReportOutcome> {
        if !store.has_one_writer() {
            return apply_reports(&**store, now, inputs).await;
        }
        refuse_future(&inputs, now)?;
        let (reply, answer) = oneshot::channel();
        self.pending_jobs().push(Job { now, inputs, reply });
        let queue = Arc::clone(self);
        let store = Arc::clone(store);
        // One task per request, so there are always as many tasks as jobs;
        // a task whose job an earlier group took finds nothing to do.
        tokio::spawn(async move { queue.run_next(&*store).await });
        answer.await.map_err(|_| {
            ServiceError::Internal(anyhow::anyhow!(
                "the task applying the reports ended without answering"
            ))
        })?
    }

    fn pending_jobs(&self) -> MutexGuard<'_, Vec<Job>> {
        // Nothing panics while holding it; were it poisoned, the list is
        // still whole.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn run_next(&self, store: &dyn Store) {
        let _running = self.running.lock().await;
        let jobs: Vec<Job> = {
            let mut pending = self.pending_jobs();
            let mut reports = 0;
            let fit = pending
                .iter()
                .take_while(|job| {
                    reports += job.inputs.len();
                    reports <= MAX_GROUP_REPORTS
                })
                .count();
            let take = fit.max(1).min(pending.len());
            pending.drain(..take).collect()
        };
        if jobs.len() > 1 {
            apply_group(store, jobs).await;
        } else {
            for job in jobs {
                let result = apply_reports(store, job.now, job.inputs).await;
                // The client may have hung up; its reports stand anyway.
                let _ = job.reply.send(result);
            }
        }
    }
}

/// Applies `jobs` in one transaction, or, when that fails, each in its own.
async fn apply_group(store: &dyn Store, jobs: Vec<Job>) {
    let together = async {
        let mut tx = store.begin().await?;
        let mut outcomes = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let applied = apply_reports_in(&mut *tx, job.now, &job.inputs, OnStale::Refuse).await?;
            outcomes.push(applied.outcome);
        }
        tx.commit().await?;
        ServiceResult::Ok(outcomes)
    };
    match together.await {
        Ok(outcomes) => {
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                let _ = job.reply.send(Ok(outcome));
            }
        }
        Err(_) => {
            for job in jobs {
                let result = apply_reports(store, job.now, job.inputs).await;
                let _ = job.reply.send(result);
            }
        }
    }
}

/// Whether a report at `at` is further ahead of `now` than SPEC §3 allows.
pub fn is_in_future(at: Timestamp, now: Timestamp) -> bool {
    at > now.plus_millis(MAX_FUTURE_MS)
}

/// What to do with a report older than the latest one applied for its
/// check (SPEC §3 ordering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OnStale {
    /// Refuse the whole batch (`409`): `POST /health`.
    Refuse,
    /// Leave the report out and count it: the integrations (SPEC §13),
    /// whose senders would retry a refused payload forever.
    Skip,
}

/// What [`apply_reports_in`] did.
#[derive(Debug)]
pub(super) struct Applied {
    pub outcome: ReportOutcome,
    /// Reports left out as stale ([`OnStale::Skip`]).
    pub stale: usize,
}

/// Applies `inputs` as one batch at `now` inside the caller's transaction,
/// which the caller commits (or drops, on error, undoing every write made
/// here, systems created included).
pub(super) async fn apply_reports_in(
    tx: &mut dyn StoreTx,
    now: Timestamp,
    inputs: &[ReportInput],
    on_stale: OnStale,
) -> ServiceResult<Applied> {
    let mut created = Vec::new();
    // Which systems exist is asked only when a report may create one; the
    // world loaded below answers it for every other request.
    if inputs.iter().any(|input| input.create_system) {
        let ids: Vec<SystemId> = inputs
            .iter()
            .map(|input| input.system_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut known = tx.existing_systems(&ids).await?;
        for input in inputs.iter().filter(|input| input.create_system) {
            if known.contains(&input.system_id) {
                continue;
            }
            let name = input.system_name.clone().unwrap_or_else(|| input.system_id.to_string());
            tx.upsert_system(&input.system_id, &name, now).await?;
            known.insert(input.system_id.clone());
            created.push(input.system_id.clone());
        }
    }

    let reports: Vec<HealthReport> = inputs.iter().map(|input| engine_report(input, now)).collect();
    // Unknown systems are not in the world.
    let mut world = tx.load_world_for_reports(&reports).await?;
    if let Some(unknown) = inputs.iter().find(|input| !world.systems.contains_key(&input.system_id))
    {
        return Err(ServiceError::unknown_system(
            &unknown.system_id,
            Some(format!("{}systemId", unknown.field_prefix)),
        ));
    }
    let (inputs, reports, stale): (Vec<&ReportInput>, _, _) = match on_stale {
        OnStale::Refuse => (inputs.iter().collect(), reports, 0),
        OnStale::Skip => {
            let (stale, fresh): (Vec<&ReportInput>, Vec<&ReportInput>) =
                inputs.iter().partition(|input| is_stale(&world, input, now));
            let reports = fresh.iter().map(|input| engine_report(input, now)).collect();
            (fresh, reports, stale.len())
        }
    };
    let changes = engine::apply_reports(&mut world, reports, now, &mut id_generator())
        .map_err(|err| report_error(err, &inputs, now))?;
    tx.write_changes(&changes).await?;
    effects::after_changes(
        &mut *tx,
        &world,
        &changes.affected_objectives,
        &changes.outages_ended,
        now,
    )
    .await?;
    Ok(Applied { outcome: ReportOutcome::new(changes.summary, created), stale })
}

fn engine_report(input: &ReportInput, now: Timestamp) -> HealthReport {
    HealthReport {
        system_id: input.system_id.clone(),
        status: input.status,
        at: input.at.unwrap_or(now),
        source: input.source,
        check_id: input.check_id.clone(),
    }
}

/// Whether `input` is older than the latest report applied for its check,
/// which the engine would refuse (SPEC §3, §12: time order is per check;
/// reports naming none, and incident reports, share the system's one
/// unnamed mark). The engine applies a batch in `at` order, so judging
/// against the stored state alone is exact: no report of the batch can be
/// stale with respect to another one of it. The world holds every check
/// the batch names.
fn is_stale(world: &World, input: &ReportInput, now: Timestamp) -> bool {
    let Some(system) = world.systems.get(&input.system_id) else { return false };
    let named = match input.source {
        ReportSource::Healthcheck => input.check_id.as_ref().filter(|c| !c.is_unnamed()),
        ReportSource::Incident => None,
    };
    let latest = match named {
        Some(check) => system.checks.get(check).map(|state| state.at),
        None => system.unnamed_report_at,
    };
    latest.is_some_and(|latest| input.at.unwrap_or(now) < latest)
}

/// Maps an engine refusal to the caller's terms, naming the report's field.
fn report_error(err: ReportError, inputs: &[&ReportInput], now: Timestamp) -> ServiceError {
    let prefix_of = |system_id: &SystemId, at: Timestamp| {
        inputs
            .iter()
            .find(|input| &input.system_id == system_id && input.at.unwrap_or(now) == at)
            .map(|input| input.field_prefix.clone())
            .unwrap_or_default()
    };
    match err {
        ReportError::UnknownSystem(id) => {
            let field = inputs
                .iter()
                .find(|input| input.system_id == id)
                .map(|input| format!("{}systemId", input.field_prefix));
            ServiceError::unknown_system(&id, field)
        }
        ReportError::OutOfOrder { ref system_id, at, .. }
        | ReportError::CheckOutOfOrder { ref system_id, at, .. } => ServiceError::Conflict {
            field: Some(format!("{}at", prefix_of(system_id, at))),
            message: err.to_string(),
        },
        ReportError::InFuture { ref system_id, at } => ServiceError::Invalid(ValidationError::new(
            format!("{}at", prefix_of(system_id, at)),
            err.to_string(),
        )),
    }
}
