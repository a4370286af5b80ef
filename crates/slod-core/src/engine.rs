//! The downtime engine: health reports in, downtime-event changes out
//! (SPEC §3).
//!
//! The engine works on a [`World`]: the slice of stored state a batch of
//! reports can touch, loaded by the caller inside one write transaction
//! (the reporting systems, their upstreams and downstreams, and the
//! downstreams' upstreams, each with its objectives and their open events).
//! It mutates that slice in memory, rule by rule, and returns a
//! [`Changeset`] the store writes back in the same transaction. Time is a
//! parameter; ids come from the caller's generator, so the engine never does
//! I/O and every rule is testable on plain values.
//!
//! Checks (SPEC §12): a probe report may name its check; the system's probe
//! status is the worst latest status of its checks, each check is held to
//! time order on its own (reports naming none share one mark per system, as
//! in the first release), and an objective bound to a check
//! (`healthCheckConfigurationId`) opens and closes its events on that check
//! and the incident source alone. Every transition takes effect no earlier
//! than the system's latest one, so the report log is in time order per
//! system and replaying it (`crate::audit`) gives the same events.
//!
//! ```
//! use slod_core::engine::{apply_reports, HealthReport, World};
//! use slod_core::model::{HealthStatus, ReportSource, SystemId};
//! use slod_core::time::Timestamp;
//!
//! let api = SystemId::parse("api", "id").unwrap();
//! let mut world = World::default();
//! world.add_system(api.clone(), "API".into());
//! let report = HealthReport {
//!     system_id: api,
//!     status: HealthStatus::Unhealthy,
//!     at: Timestamp::from_millis(0),
//!     source: ReportSource::Healthcheck,
//!     check_id: None,
//! };
//! let mut next = 0;
//! let changes = apply_reports(&mut world, vec![report], Timestamp::from_millis(0), &mut || {
//!     next += 1;
//!     format!("ev-{next}")
//! })
//! .unwrap();
//! assert_eq!(changes.transitions.len(), 1);
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{
    Attribution, CheckId, DowntimeEvent, HealthStatus, Objective, ObjectiveId, ReportSource,
    SystemId,
};
use crate::time::{Timestamp, MINUTE_MS};

/// One health report, already parsed (SPEC §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    pub system_id: SystemId,
    pub status: HealthStatus,
    pub at: Timestamp,
    pub source: ReportSource,
    /// The check reporting (SPEC §12); `None` is the unnamed check `""`.
    /// Only probe reports name a check: an incident report's is ignored
    /// (the API refuses one).
    pub check_id: Option<CheckId>,
}

impl HealthReport {
    /// The named check this report's ordering mark belongs to: `None` for
    /// reports naming no check and for incident reports, which keep the
    /// first release's one mark per system.
    fn named_check(&self) -> Option<&CheckId> {
        match self.source {
            ReportSource::Healthcheck => self.check_id.as_ref().filter(|c| !c.is_unnamed()),
            ReportSource::Incident => None,
        }
    }

    /// The check whose status a probe report sets (`""` when it names none).
    fn check(&self) -> CheckId {
        self.named_check().cloned().unwrap_or_else(CheckId::unnamed)
    }
}

/// One check of a system (SPEC §12): its latest status and report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckState {
    pub status: HealthStatus,
    /// The latest report applied for this check (its ordering mark).
    pub at: Timestamp,
    /// Since when the check has not been healthy; `None` while healthy.
    pub down_since: Option<Timestamp>,
}

/// A change to one stored check: its new state, or `None` when forgotten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckChange {
    pub system_id: SystemId,
    pub check_id: CheckId,
    pub state: Option<CheckState>,
}

/// A system's live health, as the engine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemState {
    pub id: SystemId,
    pub name: String,
    pub healthcheck: HealthStatus,
    pub incident: HealthStatus,
    /// When the current outage began; `None` while healthy.
    pub down_since: Option<Timestamp>,
    /// The source whose report made the system down.
    pub down_source: Option<ReportSource>,
    /// The latest report applied for this system, of any source or check.
    pub last_report_at: Option<Timestamp>,
    /// The latest report applied that names no check, of either source: the
    /// ordering mark of such reports (SPEC §3), one per system as in the
    /// first release. A named check has its own, [`CheckState::at`].
    pub unnamed_report_at: Option<Timestamp>,
    /// The latest transition applied: no later one goes before it (SPEC
    /// §12), whatever the report's `at`.
    pub last_transition_at: Option<Timestamp>,
    /// The system's checks as loaded: at least every check that is not
    /// healthy and every check the batch names. A check missing here is
    /// healthy, so `healthcheck` is the worst of these.
    pub checks: BTreeMap<CheckId, CheckState>,
}

impl SystemState {
    pub fn new(id: SystemId, name: String) -> Self {
        Self {
            id,
            name,
            healthcheck: HealthStatus::Healthy,
            incident: HealthStatus::Healthy,
            down_since: None,
            down_source: None,
            last_report_at: None,
            unnamed_report_at: None,
            last_transition_at: None,
            checks: BTreeMap::new(),
        }
    }

    /// The latest status of one check (healthy when unknown).
    pub fn check_status(&self, check: &str) -> HealthStatus {
        self.checks
            .iter()
            .find(|(id, _)| id.as_str() == check)
            .map_or(HealthStatus::Healthy, |(_, state)| state.status)
    }

    /// The status `report` would replace: its check's, or the incident's.
    pub fn status_for(&self, report: &HealthReport) -> HealthStatus {
        match report.source {
            ReportSource::Healthcheck => self.check_status(report.check().as_str()),
            ReportSource::Incident => self.incident,
        }
    }

    /// Whether what `objective` follows is down: its check and the incident
    /// source when it is bound to a check (SPEC §12), else the system.
    pub fn is_down_for(&self, objective: &Objective) -> bool {
        match objective.bound_check() {
            None => self.is_down(),
            Some(check) => self.check_status(check).max(self.incident).is_down(),
        }
    }

    /// Since when what `objective` follows has been down, as far as the
    /// state tells: its check's outage start, or the system's while the
    /// incident source holds it down (the incident's own start is not kept).
    fn down_since_for(&self, objective: &Objective) -> Option<Timestamp> {
        let Some(check) = objective.bound_check() else { return self.down_since };
        let check_since = self
            .checks
            .iter()
            .find(|(id, _)| id.as_str() == check)
            .and_then(|(_, state)| state.down_since);
        let incident_since = if self.incident.is_down() { self.down_since } else { None };
        match (check_since, incident_since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The worst latest status of the system's checks (SPEC §12).
    fn worst_check(&self) -> HealthStatus {
        self.checks.values().map(|c| c.status).max().unwrap_or(HealthStatus::Healthy)
    }

    /// The worst status across sources (SPEC §1).
    pub fn effective(&self) -> HealthStatus {
        self.healthcheck.max(self.incident)
    }

    pub fn is_down(&self) -> bool {
        self.effective().is_down()
    }

    pub fn status_of(&self, source: ReportSource) -> HealthStatus {
        match source {
            ReportSource::Healthcheck => self.healthcheck,
            ReportSource::Incident => self.incident,
        }
    }
}

/// An objective with its open downtime event, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectiveState {
    pub objective: Objective,
    pub open_event: Option<DowntimeEvent>,
    /// The end of the objective's latest closed event (`MAX(end_time)` of
    /// its events), if any. No event starts before it. It matters only when
    /// reports arrive out of time order across systems: an upstream's report
    /// can split the system's event at an instant later than the system's
    /// own next report, and closed history never changes, so an outage the
    /// system reports next must not be charged a second time.
    pub charged_until: Option<Timestamp>,
}

/// The slice of state a batch of reports may read and change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct World {
    pub systems: BTreeMap<SystemId, SystemState>,
    /// Direct upstreams of each loaded system.
    pub upstreams: BTreeMap<SystemId, Vec<SystemId>>,
    /// Direct downstreams (dependents) of each loaded system.
    pub downstreams: BTreeMap<SystemId, Vec<SystemId>>,
    pub objectives: BTreeMap<SystemId, Vec<ObjectiveState>>,
}

impl World {
    /// Adds a healthy system with no edges and no objectives.
    pub fn add_system(&mut self, id: SystemId, name: String) {
        self.systems.insert(id.clone(), SystemState::new(id, name));
    }

    /// Adds the edge `downstream` depends on `upstream`.
    pub fn add_dependency(&mut self, downstream: &SystemId, upstream: &SystemId) {
        self.upstreams.entry(downstream.clone()).or_default().push(upstream.clone());
        self.downstreams.entry(upstream.clone()).or_default().push(downstream.clone());
    }

    /// Adds an objective with its open event and no closed history.
    pub fn add_objective(&mut self, objective: Objective, open_event: Option<DowntimeEvent>) {
        self.add_objective_with_history(objective, open_event, None);
    }

    /// Adds an objective with its open event and the end of its latest
    /// closed event (see [`ObjectiveState::charged_until`]).
    pub fn add_objective_with_history(
        &mut self,
        objective: Objective,
        open_event: Option<DowntimeEvent>,
        charged_until: Option<Timestamp>,
    ) {
        self.objectives.entry(objective.system_id.clone()).or_default().push(ObjectiveState {
            objective,
            open_event,
            charged_until,
        });
    }

    fn upstreams_of(&self, id: &SystemId) -> &[SystemId] {
        self.upstreams.get(id).map(Vec::as_slice).unwrap_or(&[])
    }

    fn downstreams_of(&self, id: &SystemId) -> Vec<SystemId> {
        self.downstreams.get(id).cloned().unwrap_or_default()
    }

    /// Who `objective` would be charged to if its system were down at `t`,
    /// judged on the upstreams' live state: the excusable upstream down the
    /// longest (ties by id), else `self`. When the only excusable upstreams
    /// went down after `t` (their reports arrived first), the downtime is
    /// `self` until the earliest of them went down: that instant and
    /// upstream are returned as the pending split.
    fn attribution_at(
        &self,
        objective: &Objective,
        t: Timestamp,
    ) -> (Attribution, Option<(Timestamp, Attribution)>) {
        let mut candidates: Vec<(Timestamp, &SystemState)> = self
            .upstreams_of(&objective.system_id)
            .iter()
            .filter(|up| objective.excuses(up))
            .filter_map(|up| self.systems.get(up))
            .filter_map(|state| state.down_since.map(|since| (since, state)))
            .collect();
        candidates.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
        let upstream = |state: &SystemState| Attribution::Upstream {
            system_id: state.id.clone(),
            system_name: state.name.clone(),
        };
        match candidates.first() {
            None => (Attribution::SelfCaused, None),
            Some((since, state)) if *since <= t => (upstream(state), None),
            Some((since, state)) => (Attribution::SelfCaused, Some((*since, upstream(state)))),
        }
    }
}

/// What the reports did, for the response and for notifications.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSummary {
    pub reports_applied: usize,
    pub reports_unchanged: usize,
    pub events_opened: Vec<String>,
    pub events_closed: Vec<String>,
    pub events_split: usize,
}

/// A change of one source's status, kept as the report log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthTransition {
    pub system_id: SystemId,
    pub source: ReportSource,
    /// The probe check that changed (`""` for unnamed and incident reports).
    pub check_id: CheckId,
    pub status: HealthStatus,
    /// When it took effect: the later of the report's `at` and the system's
    /// previous transition (SPEC §12), so the log is in time order per
    /// system.
    pub at: Timestamp,
}

/// Everything the store must write back, in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changeset {
    /// Events that did not exist before, in their final state.
    pub inserted: Vec<DowntimeEvent>,
    /// Events that existed (open) before and changed: closed or re-attributed.
    pub updated: Vec<DowntimeEvent>,
    /// Events that existed (open) before and turned out empty.
    pub deleted: Vec<String>,
    /// New state of every system whose health or ordering mark changed,
    /// one entry per system, by id.
    pub systems: Vec<SystemState>,
    /// Checks reported or forgotten, one entry per check.
    pub checks: Vec<CheckChange>,
    pub transitions: Vec<HealthTransition>,
    /// Outages (system-level down intervals) that began.
    pub outages_started: Vec<(SystemId, Timestamp)>,
    /// Outages that ended: system, began, ended. Achievements read these.
    pub outages_ended: Vec<(SystemId, Timestamp, Timestamp)>,
    /// Objectives whose events changed, for threshold evaluation.
    pub affected_objectives: BTreeSet<ObjectiveId>,
    pub summary: ChangeSummary,
}

impl Changeset {
    pub fn is_empty(&self) -> bool {
        self.inserted.is_empty()
            && self.updated.is_empty()
            && self.deleted.is_empty()
            && self.systems.is_empty()
            && self.checks.is_empty()
            && self.transitions.is_empty()
    }
}

/// Why a batch was refused; nothing of it applies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("system `{0}` does not exist")]
    UnknownSystem(SystemId),
    #[error("report for `{system_id}` at {at} precedes the latest report applied for it; it must not precede {latest}")]
    OutOfOrder { system_id: SystemId, at: Timestamp, latest: Timestamp },
    #[error("report for `{system_id}` at {at} is more than 5 minutes in the future")]
    InFuture { system_id: SystemId, at: Timestamp },
    #[error("report for `{system_id}` check `{check_id}` at {at} precedes the latest report applied for that check; it must not precede {latest}")]
    CheckOutOfOrder { system_id: SystemId, check_id: CheckId, at: Timestamp, latest: Timestamp },
}

/// Applies reports in `at` order (stable for equal instants) and returns what
/// changed. On error the world is left half-changed and must be discarded
/// with the caller's transaction.
pub fn apply_reports(
    world: &mut World,
    mut reports: Vec<HealthReport>,
    now: Timestamp,
    new_id: &mut dyn FnMut() -> String,
) -> Result<Changeset, ReportError> {
    reports.sort_by_key(|r| r.at);
    let mut run = Run::new(world, new_id);
    for report in reports {
        run.apply(report, now)?;
    }
    Ok(run.finish())
}

/// The systems of `reports` whose status some report changes, judged by
/// their current `states`; a system missing from `states` counts as
/// changing.
///
/// A report that repeats the status its system already has for that source
/// changes nothing but the system's last report time ([`apply_reports`]
/// returns before touching events). So a batch needs the full scope
/// ([`World`] with neighbours and objectives) only of the systems returned
/// here; the others need their own state alone. Most reports repeat the
/// status (checks run every few seconds, outages are rare), and an upstream
/// with a hundred dependents would otherwise load them all for every
/// repeat.
pub fn systems_changed_by(
    reports: &[HealthReport],
    states: &BTreeMap<SystemId, SystemState>,
) -> BTreeSet<SystemId> {
    reports
        .iter()
        .filter(|r| states.get(&r.system_id).is_none_or(|s| s.status_for(r) != r.status))
        .map(|r| r.system_id.clone())
        .collect()
}

/// Re-judges the open events of one objective after it was created or
/// updated (SPEC §2: reconcile on create): if its system is down and it has
/// no open event, one is opened; if an open event's attribution no longer
/// matches the objective's settings, it is split at `now`.
pub fn reconcile_objective(
    world: &mut World,
    objective_id: &str,
    now: Timestamp,
    new_id: &mut dyn FnMut() -> String,
) -> Changeset {
    let mut run = Run::new(world, new_id);
    run.reconcile(objective_id, now);
    run.finish()
}

/// Re-judges the open events of every objective of `system` at `now`, after
/// its dependencies changed.
pub fn reconcile_system(
    world: &mut World,
    system: &SystemId,
    now: Timestamp,
    new_id: &mut dyn FnMut() -> String,
) -> Changeset {
    let ids: Vec<ObjectiveId> = world
        .objectives
        .get(system)
        .map(|objs| objs.iter().map(|o| o.objective.id.clone()).collect())
        .unwrap_or_default();
    let mut run = Run::new(world, new_id);
    for id in ids {
        run.reconcile(&id, now);
    }
    run.finish()
}

/// Forgets one check of `system` at `now` (SPEC §12, `DELETE
/// /systems/{id}/checks/{checkId}`): the system's probe status becomes the
/// worst of its other checks, and a check that was down recovers, at the
/// later of `now` and the system's latest transition, closing what it held
/// open (logged as that check turning healthy, so a replay of the log gives
/// the same events). Returns `None` when the world holds no such check.
pub fn forget_check(
    world: &mut World,
    system: &SystemId,
    check: &CheckId,
    now: Timestamp,
    new_id: &mut dyn FnMut() -> String,
) -> Option<Changeset> {
    let state = world.systems.get(system)?.checks.get(check).copied()?;
    let mut run = Run::new(world, new_id);
    if state.status.is_down() {
        run.change_status(
            system,
            ReportSource::Healthcheck,
            check.clone(),
            HealthStatus::Healthy,
            now,
        );
    }
    if let Some(system_state) = run.world.systems.get_mut(system) {
        system_state.checks.remove(check);
    }
    run.changed_checks.insert((system.clone(), check.clone()));
    run.changed_systems.insert(system.clone());
    Some(run.finish())
}

/// Where an objective lives in the world: system and index.
type ObjectiveRef = (SystemId, usize);

struct Run<'w, 'g> {
    world: &'w mut World,
    new_id: &'g mut dyn FnMut() -> String,
    /// Ids of the events that were open when the run began.
    preexisting: BTreeSet<String>,
    /// Final state of every event the run touched.
    touched: BTreeMap<String, DowntimeEvent>,
    deleted: BTreeSet<String>,
    changed_systems: BTreeSet<SystemId>,
    /// Checks whose stored row changes (or goes, when no longer in the world).
    changed_checks: BTreeSet<(SystemId, CheckId)>,
    changes: Changeset,
}

impl<'w, 'g> Run<'w, 'g> {
    fn new(world: &'w mut World, new_id: &'g mut dyn FnMut() -> String) -> Self {
        let preexisting = world
            .objectives
            .values()
            .flatten()
            .filter_map(|o| o.open_event.as_ref().map(|e| e.id.clone()))
            .collect();
        Self {
            world,
            new_id,
            preexisting,
            touched: BTreeMap::new(),
            deleted: BTreeSet::new(),
            changed_systems: BTreeSet::new(),
            changed_checks: BTreeSet::new(),
            changes: Changeset::default(),
        }
    }

    fn apply(&mut self, report: HealthReport, now: Timestamp) -> Result<(), ReportError> {
        let Some(system) = self.world.systems.get_mut(&report.system_id) else {
            return Err(ReportError::UnknownSystem(report.system_id));
        };
        if report.at > now.plus_millis(5 * MINUTE_MS) {
            return Err(ReportError::InFuture { system_id: report.system_id, at: report.at });
        }
        // Time order is per check (SPEC §12); reports naming none keep the
        // first release's one mark per system, whichever source.
        match report.named_check() {
            None => {
                if let Some(latest) = system.unnamed_report_at {
                    if report.at < latest {
                        return Err(ReportError::OutOfOrder {
                            system_id: report.system_id,
                            at: report.at,
                            latest,
                        });
                    }
                }
                if system.unnamed_report_at != Some(report.at) {
                    system.unnamed_report_at = Some(report.at);
                    self.changed_systems.insert(report.system_id.clone());
                }
            }
            Some(check) => {
                if let Some(latest) = system.checks.get(check).map(|c| c.at) {
                    if report.at < latest {
                        return Err(ReportError::CheckOutOfOrder {
                            system_id: report.system_id.clone(),
                            check_id: check.clone(),
                            at: report.at,
                            latest,
                        });
                    }
                }
            }
        }
        if system.last_report_at.is_none_or(|latest| latest < report.at) {
            system.last_report_at = Some(report.at);
            self.changed_systems.insert(report.system_id.clone());
        }
        let previous = system.status_for(&report);
        if report.source == ReportSource::Healthcheck {
            let check = report.check();
            let entry = system.checks.entry(check.clone()).or_insert(CheckState {
                status: HealthStatus::Healthy,
                at: report.at,
                down_since: None,
            });
            entry.at = entry.at.max(report.at);
            self.changed_checks.insert((report.system_id.clone(), check));
        }
        if previous == report.status {
            self.changes.summary.reports_unchanged += 1;
            return Ok(());
        }
        self.changes.summary.reports_applied += 1;
        let check = report.check();
        self.change_status(&report.system_id, report.source, check, report.status, report.at);
        Ok(())
    }

    /// Sets one source's (or check's) status of `system_id`, effective at
    /// the later of `at` and the system's latest transition (SPEC §12), and
    /// applies what follows: R1/R2 when the system goes down or recovers,
    /// and the opening or closing of the events of objectives bound to the
    /// check.
    fn change_status(
        &mut self,
        system_id: &SystemId,
        source: ReportSource,
        check: CheckId,
        status: HealthStatus,
        at: Timestamp,
    ) {
        let bound_before = self.bound_objectives_down(system_id);
        let Some(system) = self.world.systems.get_mut(system_id) else { return };
        let t = system.last_transition_at.map_or(at, |last| last.max(at));
        system.last_transition_at = Some(t);
        let was_down = system.is_down();
        match source {
            ReportSource::Healthcheck => {
                let entry = system.checks.entry(check.clone()).or_insert(CheckState {
                    status: HealthStatus::Healthy,
                    at,
                    down_since: None,
                });
                entry.down_since = match (entry.status.is_down(), status.is_down()) {
                    (false, true) => Some(t),
                    (_, false) => None,
                    (true, true) => entry.down_since,
                };
                entry.status = status;
                system.healthcheck = system.worst_check();
                self.changed_checks.insert((system_id.clone(), check.clone()));
            }
            ReportSource::Incident => system.incident = status,
        }
        let is_down = system.is_down();
        self.changed_systems.insert(system_id.clone());
        self.changes.transitions.push(HealthTransition {
            system_id: system_id.clone(),
            source,
            check_id: check,
            status,
            at: t,
        });
        match (was_down, is_down) {
            (false, true) => {
                system.down_since = Some(t);
                system.down_source = Some(source);
                self.changes.outages_started.push((system_id.clone(), t));
                self.system_down(system_id, t, source);
            }
            (true, false) => {
                let since = system.down_since.take().unwrap_or(t);
                system.down_source = None;
                self.changes.outages_ended.push((system_id.clone(), since, t));
                self.system_recovered(system_id, t);
            }
            // degraded <-> unhealthy, or one source changing while another
            // holds the system down: no event changes (SPEC §3).
            _ => {}
        }
        self.bound_objectives_follow(system_id, &bound_before, t, source);
    }

    /// Whether what each objective of `system` bound to a check follows is
    /// down: `(index, down)`.
    fn bound_objectives_down(&self, system: &SystemId) -> Vec<(usize, bool)> {
        let Some(state) = self.world.systems.get(system) else { return Vec::new() };
        self.world
            .objectives
            .get(system)
            .map(|objs| {
                objs.iter()
                    .enumerate()
                    .filter(|(_, o)| o.objective.bound_check().is_some())
                    .map(|(index, o)| (index, state.is_down_for(&o.objective)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// SPEC §12: an objective bound to a check opens its event when its
    /// check (or the incident source) goes down and closes it when both are
    /// healthy, at the transition's instant.
    fn bound_objectives_follow(
        &mut self,
        system: &SystemId,
        before: &[(usize, bool)],
        t: Timestamp,
        source: ReportSource,
    ) {
        for &(index, was_down) in before {
            let oref = (system.clone(), index);
            let is_down = self
                .world
                .systems
                .get(system)
                .is_some_and(|state| state.is_down_for(self.objective(&oref)));
            match (was_down, is_down) {
                (false, true) if self.open_event(&oref).is_none() => self.open(&oref, t, source),
                (true, false) => {
                    self.close(&oref, t);
                }
                _ => {}
            }
        }
    }

    /// SPEC §3 R1.
    fn system_down(&mut self, system: &SystemId, t: Timestamp, source: ReportSource) {
        for index in 0..self.objective_count(system) {
            let oref = (system.clone(), index);
            // Objectives bound to a check follow it instead (SPEC §12).
            if self.objective(&oref).bound_check().is_some() {
                continue;
            }
            if self.open_event(&oref).is_none() {
                self.open(&oref, t, source);
            }
        }
        for downstream in self.world.downstreams_of(system) {
            for index in 0..self.objective_count(&downstream) {
                let oref = (downstream.clone(), index);
                let Some(event) = self.open_event(&oref) else { continue };
                let excused = self.objective(&oref).excuses(system);
                if event.attribution == Attribution::SelfCaused && excused {
                    let name = self.system_name(system);
                    self.split(
                        &oref,
                        t,
                        Attribution::Upstream { system_id: system.clone(), system_name: name },
                    );
                }
            }
        }
    }

    /// SPEC §3 R2 (steps 1 and 2; achievements are the caller's, from
    /// `outages_ended`).
    fn system_recovered(&mut self, system: &SystemId, t: Timestamp) {
        for index in 0..self.objective_count(system) {
            let oref = (system.clone(), index);
            if self.objective(&oref).bound_check().is_none() {
                self.close(&oref, t);
            }
        }
        for downstream in self.world.downstreams_of(system) {
            let source = self
                .world
                .systems
                .get(&downstream)
                .and_then(|s| s.down_source)
                .unwrap_or(ReportSource::Healthcheck);
            for index in 0..self.objective_count(&downstream) {
                let oref = (downstream.clone(), index);
                let Some(event) = self.open_event(&oref) else { continue };
                if event.attribution.upstream_id() != Some(system) {
                    continue;
                }
                // Down as far as this objective is concerned: the system, or
                // the check it is bound to.
                let still_down = self
                    .world
                    .systems
                    .get(&downstream)
                    .is_some_and(|state| state.is_down_for(self.objective(&oref)));
                let source = if still_down { event.source } else { source };
                if let Some(end) = self.close(&oref, t) {
                    if still_down {
                        self.open(&oref, end, source);
                        self.changes.summary.events_split += 1;
                    }
                }
            }
        }
    }

    fn reconcile(&mut self, objective_id: &str, now: Timestamp) {
        let Some(oref) = self.find(objective_id) else { return };
        let Some(state) = self.world.systems.get(&oref.0) else { return };
        let objective = self.objective(&oref);
        let is_down = state.is_down_for(objective);
        let down_since = state.down_since_for(objective);
        let source = match objective.bound_check() {
            Some(_) if state.incident.is_down() => ReportSource::Incident,
            Some(_) => ReportSource::Healthcheck,
            None => state.down_source.unwrap_or(ReportSource::Healthcheck),
        };
        if !is_down {
            // Only an objective re-bound to a healthy check can hold an
            // open event here: what it now follows is up.
            if objective.bound_check().is_some() && self.open_event(&oref).is_some() {
                self.close(&oref, now);
            }
            return;
        }
        let Some(down_since) = down_since else { return };
        match self.open_event(&oref) {
            None => {
                let created = self.objective(&oref).created_at;
                let start = down_since.max(created).min(now);
                self.open(&oref, start, source);
            }
            Some(event) => {
                let (attribution, _) = self.world.attribution_at(self.objective(&oref), now);
                if attribution != event.attribution {
                    self.split(&oref, now, attribution);
                }
            }
        }
    }

    // ---- primitive operations ------------------------------------------

    fn open(&mut self, oref: &ObjectiveRef, t: Timestamp, source: ReportSource) {
        // Never inside closed history: the objective is already charged up
        // to `charged_until`.
        let t = self.state(oref).charged_until.map_or(t, |until| t.max(until));
        let id = (self.new_id)();
        let objective = self.objective(oref);
        let (attribution, pending) = self.world.attribution_at(objective, t);
        let event = DowntimeEvent {
            id,
            objective_id: objective.id.clone(),
            system_id: objective.system_id.clone(),
            start_time: t,
            end_time: None,
            attribution,
            source,
        };
        self.changes.summary.events_opened.push(event.id.clone());
        self.set_open_event(oref, Some(event));
        if let Some((at, upstream)) = pending {
            self.split(oref, at, upstream);
        }
    }

    /// Closes the open event at `t` (never before it began); returns the end
    /// instant, or `None` if there was nothing open.
    fn close(&mut self, oref: &ObjectiveRef, t: Timestamp) -> Option<Timestamp> {
        let mut event = self.set_open_event(oref, None)?;
        let end = t.max(event.start_time);
        if end == event.start_time {
            // Nothing was charged: drop it rather than keep an empty event.
            self.touched.remove(&event.id);
            self.changes.summary.events_opened.retain(|id| id != &event.id);
            if self.preexisting.contains(&event.id) {
                self.deleted.insert(event.id);
            }
        } else {
            event.end_time = Some(end);
            self.changes.summary.events_closed.push(event.id.clone());
            self.touched.insert(event.id.clone(), event);
            if let Some(state) = self.state_mut(oref) {
                state.charged_until = Some(state.charged_until.map_or(end, |until| until.max(end)));
            }
        }
        Some(end)
    }

    /// Ends the open event at `t` (or its start, whichever is later) and
    /// continues the outage under `attribution`.
    fn split(&mut self, oref: &ObjectiveRef, t: Timestamp, attribution: Attribution) {
        let Some(event) = self.open_event(oref) else { return };
        let at = t.max(event.start_time);
        if at == event.start_time {
            // The split would leave an empty piece: re-attribute in place.
            let mut event = event.clone();
            event.attribution = attribution;
            self.set_open_event(oref, Some(event));
            return;
        }
        let source = event.source;
        self.close(oref, at);
        let id = (self.new_id)();
        let objective = self.objective(oref);
        let event = DowntimeEvent {
            id,
            objective_id: objective.id.clone(),
            system_id: objective.system_id.clone(),
            start_time: at,
            end_time: None,
            attribution,
            source,
        };
        self.changes.summary.events_split += 1;
        self.changes.summary.events_opened.push(event.id.clone());
        self.set_open_event(oref, Some(event));
    }

    // ---- access helpers ------------------------------------------------

    fn objective_count(&self, system: &SystemId) -> usize {
        self.world.objectives.get(system).map_or(0, Vec::len)
    }

    fn state(&self, oref: &ObjectiveRef) -> &ObjectiveState {
        &self.world.objectives[&oref.0][oref.1]
    }

    fn state_mut(&mut self, oref: &ObjectiveRef) -> Option<&mut ObjectiveState> {
        self.world.objectives.get_mut(&oref.0).and_then(|objs| objs.get_mut(oref.1))
    }

    fn objective(&self, oref: &ObjectiveRef) -> &Objective {
        &self.state(oref).objective
    }

    fn open_event(&self, oref: &ObjectiveRef) -> Option<&DowntimeEvent> {
        self.state(oref).open_event.as_ref()
    }

    /// Replaces the open event, recording the new one as touched; returns the
    /// previous one.
    fn set_open_event(
        &mut self,
        oref: &ObjectiveRef,
        event: Option<DowntimeEvent>,
    ) -> Option<DowntimeEvent> {
        let objective_id = self.objective(oref).id.clone();
        self.changes.affected_objectives.insert(objective_id);
        if let Some(event) = &event {
            self.touched.insert(event.id.clone(), event.clone());
        }
        match self.state_mut(oref).map(|state| &mut state.open_event) {
            Some(slot) => std::mem::replace(slot, event),
            None => None,
        }
    }

    fn find(&self, objective_id: &str) -> Option<ObjectiveRef> {
        self.world.objectives.iter().find_map(|(system, objs)| {
            objs.iter()
                .position(|o| o.objective.id == objective_id)
                .map(|index| (system.clone(), index))
        })
    }

    fn system_name(&self, id: &SystemId) -> String {
        self.world.systems.get(id).map_or_else(|| id.to_string(), |s| s.name.clone())
    }

    fn finish(mut self) -> Changeset {
        for (id, event) in std::mem::take(&mut self.touched) {
            if self.preexisting.contains(&id) {
                self.changes.updated.push(event);
            } else {
                self.changes.inserted.push(event);
            }
        }
        self.changes.deleted = self.deleted.into_iter().collect();
        self.changes.checks = self
            .changed_checks
            .into_iter()
            .map(|(system_id, check_id)| {
                let state = self
                    .world
                    .systems
                    .get(&system_id)
                    .and_then(|s| s.checks.get(&check_id))
                    .copied();
                CheckChange { system_id, check_id, state }
            })
            .collect();
        self.changes.systems = self
            .changed_systems
            .iter()
            .chain(self.changes.transitions.iter().map(|t| &t.system_id))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter_map(|id| self.world.systems.get(id).cloned())
            .collect();
        self.changes
    }
}

#[cfg(test)]
mod tests {
    //! One test per rule of SPEC §3, on hand-built worlds. Times are minutes
    //! after `T0`; `Harness` keeps every event the changesets ever wrote, as
    //! a store would, so tests can look at closed history too.

    use super::*;
    use crate::model::{BurnRateThresholds, DependencyExclusion, Target, WindowDays};

    use DependencyExclusion::{SelfOnly, Strict};
    use HealthStatus::{Degraded, Healthy, Unhealthy};
    use ReportSource::{Healthcheck, Incident};

    /// 2026-01-01T00:00:00Z.
    const T0: i64 = 1_767_225_600_000;

    fn at(minute: i64) -> Timestamp {
        Timestamp::from_millis(T0 + minute * MINUTE_MS)
    }

    fn minute_of(t: Timestamp) -> i64 {
        (t.millis() - T0) / MINUTE_MS
    }

    fn sid(raw: &str) -> SystemId {
        SystemId::parse(raw, "id").unwrap()
    }

    fn objective(
        id: &str,
        system: &str,
        mode: DependencyExclusion,
        excluded: &[&str],
    ) -> Objective {
        Objective {
            id: ObjectiveId::from_trusted(id.into()),
            name: None,
            system_id: sid(system),
            health_check_configuration_id: None,
            target: Target::parse(99.9).unwrap(),
            window: WindowDays::parse(30).unwrap().into(),
            dependency_exclusion: mode,
            excluded_dependency_ids: excluded.iter().map(|s| sid(s)).collect(),
            exclude_maintenance_windows: false,
            burn_rate_thresholds: BurnRateThresholds::default(),
            burn_rate_alerts: Default::default(),
            created_at: at(0),
            updated_at: at(0),
        }
    }

    fn report(
        system: &str,
        status: HealthStatus,
        minute: i64,
        source: ReportSource,
    ) -> HealthReport {
        HealthReport { system_id: sid(system), status, at: at(minute), source, check_id: None }
    }

    /// An event as `(start, end, attribution)` in minutes, e.g.
    /// `(10, Some(20), "upstream:db")`.
    type Piece = (i64, Option<i64>, String);

    fn piece(event: &DowntimeEvent) -> Piece {
        let who = match &event.attribution {
            Attribution::SelfCaused => "self".to_owned(),
            Attribution::Upstream { system_id, .. } => format!("upstream:{system_id}"),
        };
        (minute_of(event.start_time), event.end_time.map(minute_of), who)
    }

    fn p(start: i64, end: Option<i64>, who: &str) -> Piece {
        (start, end, who.to_owned())
    }

    struct Harness {
        world: World,
        next_id: usize,
        /// Every event ever written: inserted, replaced when updated, removed
        /// when deleted.
        events: BTreeMap<String, DowntimeEvent>,
        now: Timestamp,
    }

    impl Harness {
        fn new() -> Self {
            Self { world: World::default(), next_id: 0, events: BTreeMap::new(), now: at(100_000) }
        }

        fn system(&mut self, id: &str, name: &str) {
            self.world.add_system(sid(id), name.into());
        }

        fn depends(&mut self, downstream: &str, upstream: &str) {
            self.world.add_dependency(&sid(downstream), &sid(upstream));
        }

        fn objective(&mut self, objective: Objective) {
            self.world.add_objective(objective, None);
        }

        /// Applies a batch like a store transaction: on error the world is
        /// rolled back and nothing is written.
        fn try_apply(&mut self, reports: Vec<HealthReport>) -> Result<Changeset, ReportError> {
            let before = self.world.clone();
            let next = &mut self.next_id;
            let result = apply_reports(&mut self.world, reports, self.now, &mut || {
                *next += 1;
                format!("ev-{next}")
            });
            match &result {
                Ok(changes) => self.write(changes),
                Err(_) => self.world = before,
            }
            result
        }

        fn apply(&mut self, reports: Vec<HealthReport>) -> Changeset {
            self.try_apply(reports).unwrap()
        }

        /// One healthcheck report.
        fn hc(&mut self, system: &str, status: HealthStatus, minute: i64) -> Changeset {
            self.apply(vec![report(system, status, minute, Healthcheck)])
        }

        fn reconcile(&mut self, objective_id: &str, now: Timestamp) -> Changeset {
            let next = &mut self.next_id;
            let changes = reconcile_objective(&mut self.world, objective_id, now, &mut || {
                *next += 1;
                format!("ev-{next}")
            });
            self.write(&changes);
            changes
        }

        /// Writes a changeset the way a store does, checking that it only
        /// ever rewrites events that were open (closed history never changes).
        fn write(&mut self, changes: &Changeset) {
            for event in &changes.inserted {
                assert!(!self.events.contains_key(&event.id), "{} inserted twice", event.id);
                self.events.insert(event.id.clone(), event.clone());
            }
            for event in &changes.updated {
                let old = self.events.get(&event.id).expect("updated event exists");
                assert_eq!(old.end_time, None, "closed event {} rewritten", event.id);
                self.events.insert(event.id.clone(), event.clone());
            }
            for id in &changes.deleted {
                let old = self.events.remove(id).expect("deleted event exists");
                assert_eq!(old.end_time, None, "closed event {id} deleted");
            }
        }

        /// The objective's stored events in time order.
        fn pieces(&self, objective_id: &str) -> Vec<Piece> {
            let mut events: Vec<&DowntimeEvent> =
                self.events.values().filter(|e| e.objective_id == objective_id).collect();
            events.sort_by_key(|e| e.start_time);
            events.into_iter().map(piece).collect()
        }

        fn open_event(&self, objective_id: &str) -> Option<&DowntimeEvent> {
            self.world
                .objectives
                .values()
                .flatten()
                .find(|o| o.objective.id == objective_id)
                .and_then(|o| o.open_event.as_ref())
        }

        fn objective_mut(&mut self, objective_id: &str) -> &mut Objective {
            self.world
                .objectives
                .values_mut()
                .flatten()
                .map(|o| &mut o.objective)
                .find(|o| o.id == objective_id)
                .unwrap()
        }
    }

    /// `api` depends on `db`; `api` has a strict, a self-only and a self-only
    /// objective that does not excuse `db`.
    fn api_on_db() -> Harness {
        let mut h = Harness::new();
        h.system("api", "API");
        h.system("db", "Database");
        h.depends("api", "db");
        h.objective(objective("strict", "api", Strict, &[]));
        h.objective(objective("self-only", "api", SelfOnly, &[]));
        h.objective(objective("blames-self", "api", SelfOnly, &["db"]));
        h
    }

    // ---- R1 step 1 ------------------------------------------------------

    #[test]
    fn going_down_opens_one_event_per_objective_with_the_reports_source() {
        let mut h = Harness::new();
        h.system("api", "API");
        h.objective(objective("a", "api", Strict, &[]));
        h.objective(objective("b", "api", SelfOnly, &[]));
        let changes = h.apply(vec![report("api", Unhealthy, 10, Incident)]);

        assert_eq!(changes.inserted.len(), 2);
        for event in &changes.inserted {
            assert_eq!(event.start_time, at(10));
            assert_eq!(event.end_time, None);
            assert_eq!(event.attribution, Attribution::SelfCaused);
            assert_eq!(event.source, Incident);
            assert_eq!(event.system_id, sid("api"));
        }
        assert_eq!(h.open_event("a").unwrap().id, changes.inserted[0].id);
        assert_eq!(h.open_event("b").unwrap().id, changes.inserted[1].id);
        assert_eq!(changes.summary.events_opened, vec!["ev-1", "ev-2"]);
        assert_eq!(changes.outages_started, vec![(sid("api"), at(10))]);
    }

    #[test]
    fn an_objective_that_already_has_an_open_event_gets_no_second_one() {
        let mut h = Harness::new();
        h.system("api", "API");
        let stale = DowntimeEvent {
            id: "stale".into(),
            objective_id: ObjectiveId::from_trusted("a".into()),
            system_id: sid("api"),
            start_time: at(1),
            end_time: None,
            attribution: Attribution::SelfCaused,
            source: Healthcheck,
        };
        h.events.insert(stale.id.clone(), stale.clone());
        h.world.add_objective(objective("a", "api", Strict, &[]), Some(stale));
        h.objective(objective("b", "api", Strict, &[]));

        let changes = h.hc("api", Unhealthy, 10);
        assert_eq!(changes.inserted.len(), 1);
        assert_eq!(changes.inserted[0].objective_id, "b");
        assert!(changes.updated.is_empty());
        assert_eq!(h.open_event("a").unwrap().id, "stale");
    }

    #[test]
    fn degraded_and_unhealthy_are_both_down_and_moving_between_them_changes_nothing() {
        let mut h = Harness::new();
        h.system("api", "API");
        h.objective(objective("a", "api", Strict, &[]));
        let changes = h.hc("api", Degraded, 10);
        assert_eq!(changes.inserted.len(), 1);

        for (status, minute) in [(Unhealthy, 11), (Degraded, 12)] {
            let changes = h.hc("api", status, minute);
            assert!(changes.inserted.is_empty() && changes.updated.is_empty());
            assert!(changes.deleted.is_empty() && changes.affected_objectives.is_empty());
            assert_eq!(changes.summary.reports_applied, 1);
            assert_eq!(changes.transitions.len(), 1, "the log still records the change");
            assert!(changes.outages_started.is_empty() && changes.outages_ended.is_empty());
        }
        h.hc("api", Healthy, 20);
        assert_eq!(h.pieces("a"), vec![p(10, Some(20), "self")]);
    }

    #[test]
    fn repeating_a_sources_status_is_a_no_op() {
        let mut h = Harness::new();
        h.system("api", "API");
        h.objective(objective("a", "api", Strict, &[]));
        let healthy_again = h.hc("api", Healthy, 5);
        assert_eq!(healthy_again.summary.reports_unchanged, 1);
        assert_eq!(healthy_again.summary.reports_applied, 0);
        assert!(healthy_again.transitions.is_empty() && healthy_again.inserted.is_empty());

        h.hc("api", Unhealthy, 10);
        let changes = h.apply(vec![
            report("api", Unhealthy, 11, Healthcheck),
            report("api", Unhealthy, 12, Healthcheck),
        ]);
        assert_eq!(changes.summary.reports_unchanged, 2);
        assert_eq!(changes.summary.reports_applied, 0);
        assert!(changes.transitions.is_empty());
        assert!(changes.inserted.is_empty() && changes.updated.is_empty());
        assert!(changes.affected_objectives.is_empty());
        // Only the ordering mark moved.
        assert_eq!(changes.systems.len(), 1);
        assert_eq!(changes.systems[0].last_report_at, Some(at(12)));
        assert_eq!(h.pieces("a"), vec![p(10, None, "self")]);
    }

    // ---- attribution ----------------------------------------------------

    #[test]
    fn strict_objectives_are_charged_to_the_system_itself() {
        let mut h = api_on_db();
        h.hc("db", Unhealthy, 5);
        h.hc("api", Unhealthy, 10);
        assert_eq!(h.pieces("strict"), vec![p(10, None, "self")]);
    }

    #[test]
    fn self_only_objectives_are_charged_to_a_down_upstream_by_name() {
        let mut h = api_on_db();
        h.hc("db", Unhealthy, 5);
        let changes = h.hc("api", Unhealthy, 10);
        assert_eq!(h.pieces("self-only"), vec![p(10, None, "upstream:db")]);
        let event = changes.inserted.iter().find(|e| e.objective_id == "self-only").unwrap();
        assert_eq!(
            event.attribution,
            Attribution::Upstream { system_id: sid("db"), system_name: "Database".into() }
        );
        assert_eq!(event.source, Healthcheck);
    }

    #[test]
    fn excluded_upstreams_are_not_excused() {
        let mut h = api_on_db();
        h.hc("db", Unhealthy, 5);
        h.hc("api", Unhealthy, 10);
        assert_eq!(h.pieces("blames-self"), vec![p(10, None, "self")]);
    }

    #[test]
    fn the_upstream_down_the_longest_is_chosen_and_ties_go_by_id() {
        let mut h = Harness::new();
        for id in ["api", "web", "cache", "zdb"] {
            h.system(id, id);
        }
        for down in ["api", "web"] {
            h.depends(down, "zdb");
            h.depends(down, "cache");
        }
        h.objective(objective("api-slo", "api", SelfOnly, &[]));
        h.objective(objective("web-slo", "web", SelfOnly, &[]));
        // `zdb` went down first: it wins although `cache` sorts first.
        h.hc("zdb", Unhealthy, 1);
        h.hc("cache", Unhealthy, 2);
        h.hc("api", Unhealthy, 3);
        assert_eq!(h.pieces("api-slo"), vec![p(3, None, "upstream:zdb")]);

        // Both down since the same instant: the smaller id wins.
        h.hc("zdb", Healthy, 4);
        h.hc("cache", Healthy, 4);
        h.apply(vec![
            report("zdb", Unhealthy, 5, Healthcheck),
            report("cache", Unhealthy, 5, Healthcheck),
        ]);
        h.hc("web", Unhealthy, 6);
        assert_eq!(h.pieces("web-slo"), vec![p(6, None, "upstream:cache")]);
    }

    #[test]
    fn an_excluded_upstream_down_longer_does_not_hide_an_excusable_one() {
        let mut h = Harness::new();
        for id in ["api", "db", "queue"] {
            h.system(id, id);
        }
        h.depends("api", "db");
        h.depends("api", "queue");
        h.objective(objective("a", "api", SelfOnly, &["db"]));
        h.hc("db", Unhealthy, 1);
        h.hc("queue", Unhealthy, 2);
        h.hc("api", Unhealthy, 3);
        assert_eq!(h.pieces("a"), vec![p(3, None, "upstream:queue")]);
    }

    // ---- R1 step 2 ------------------------------------------------------

    #[test]
    fn an_upstream_going_down_splits_open_self_events_of_self_only_objectives() {
        let mut h = api_on_db();
        h.hc("api", Unhealthy, 10);
        let changes = h.hc("db", Unhealthy, 20);

        assert_eq!(
            h.pieces("self-only"),
            vec![p(10, Some(20), "self"), p(20, None, "upstream:db")]
        );
        assert_eq!(h.pieces("strict"), vec![p(10, None, "self")]);
        assert_eq!(h.pieces("blames-self"), vec![p(10, None, "self")]);

        // The closed self piece existed before this batch; the upstream piece
        // is new.
        assert_eq!(changes.updated.len(), 1);
        assert_eq!(piece(&changes.updated[0]), p(10, Some(20), "self"));
        assert_eq!(changes.inserted.len(), 1);
        assert_eq!(piece(&changes.inserted[0]), p(20, None, "upstream:db"));
        assert_eq!(changes.inserted[0].source, Healthcheck);
        assert_eq!(changes.summary.events_split, 1);
        assert_eq!(changes.summary.events_closed, vec![changes.updated[0].id.clone()]);
        assert_eq!(changes.summary.events_opened, vec![changes.inserted[0].id.clone()]);
        assert_eq!(
            changes.affected_objectives,
            BTreeSet::from([ObjectiveId::from_trusted("self-only".to_owned())])
        );
    }

    #[test]
    fn a_downstream_already_charged_to_one_upstream_is_not_split_by_another() {
        let mut h = Harness::new();
        for id in ["api", "db", "cache"] {
            h.system(id, id);
        }
        h.depends("api", "db");
        h.depends("api", "cache");
        h.objective(objective("a", "api", SelfOnly, &[]));
        h.hc("cache", Unhealthy, 5);
        h.hc("api", Unhealthy, 10);
        let changes = h.hc("db", Unhealthy, 20);
        assert!(changes.inserted.is_empty() && changes.updated.is_empty());
        assert_eq!(h.pieces("a"), vec![p(10, None, "upstream:cache")]);
    }

    #[test]
    fn a_healthy_downstream_is_left_alone_when_an_upstream_goes_down() {
        let mut h = api_on_db();
        let changes = h.hc("db", Unhealthy, 20);
        assert!(changes.inserted.is_empty() && changes.updated.is_empty());
        assert!(changes.affected_objectives.is_empty());
    }

    // ---- R2 -------------------------------------------------------------

    #[test]
    fn recovery_closes_every_open_event_of_the_system() {
        let mut h = api_on_db();
        h.hc("api", Unhealthy, 10);
        let changes = h.hc("api", Healthy, 30);
        assert_eq!(changes.updated.len(), 3);
        assert!(changes.inserted.is_empty());
        for objective in ["strict", "self-only", "blames-self"] {
            assert_eq!(h.pieces(objective), vec![p(10, Some(30), "self")]);
            assert!(h.open_event(objective).is_none());
        }
        assert_eq!(changes.outages_ended, vec![(sid("api"), at(10), at(30))]);
        assert_eq!(changes.summary.events_closed.len(), 3);
        assert_eq!(changes.systems[0].down_since, None);
        assert_eq!(changes.systems[0].down_source, None);
    }

    #[test]
    fn an_upstream_recovering_hands_a_still_down_downstream_back_to_self() {
        let mut h = api_on_db();
        h.hc("db", Unhealthy, 5);
        h.apply(vec![report("api", Unhealthy, 10, Incident)]);
        let changes = h.hc("db", Healthy, 20);

        assert_eq!(
            h.pieces("self-only"),
            vec![p(10, Some(20), "upstream:db"), p(20, None, "self")]
        );
        assert_eq!(
            h.open_event("self-only").unwrap().source,
            Incident,
            "the outage's source carries over"
        );
        assert_eq!(h.pieces("strict"), vec![p(10, None, "self")]);
        assert_eq!(h.pieces("blames-self"), vec![p(10, None, "self")]);
        assert_eq!(changes.summary.events_split, 1);
        assert_eq!(changes.outages_ended, vec![(sid("db"), at(5), at(20))]);
    }

    #[test]
    fn an_upstream_recovering_hands_over_to_another_upstream_still_down() {
        let mut h = Harness::new();
        for id in ["api", "db", "cache"] {
            h.system(id, id);
        }
        h.depends("api", "db");
        h.depends("api", "cache");
        h.objective(objective("a", "api", SelfOnly, &[]));
        h.hc("db", Unhealthy, 5);
        h.hc("cache", Unhealthy, 7);
        h.hc("api", Unhealthy, 10);
        h.hc("db", Healthy, 20);
        assert_eq!(
            h.pieces("a"),
            vec![p(10, Some(20), "upstream:db"), p(20, None, "upstream:cache")]
        );
        h.hc("cache", Healthy, 25);
        h.hc("api", Healthy, 30);
        assert_eq!(
            h.pieces("a"),
            vec![
                p(10, Some(20), "upstream:db"),
                p(20, Some(25), "upstream:cache"),
                p(25, Some(30), "self")
            ]
        );
    }

    #[test]
    fn an_upstream_recovering_after_its_downstream_changes_nothing_downstream() {
        let mut h = api_on_db();
        h.hc("db", Unhealthy, 5);
        h.hc("api", Unhealthy, 10);
        h.hc("api", Healthy, 15);
        let changes = h.hc("db", Healthy, 20);
        assert!(changes.inserted.is_empty() && changes.updated.is_empty());
        assert_eq!(h.pieces("self-only"), vec![p(10, Some(15), "upstream:db")]);
    }

    // ---- ordering and bad input -----------------------------------------

    #[test]
    fn a_report_older_than_the_latest_is_refused_naming_the_latest() {
        let mut h = api_on_db();
        h.hc("api", Unhealthy, 10);
        let before = h.world.clone();
        let err = h.try_apply(vec![report("api", Healthy, 9, Healthcheck)]).unwrap_err();
        assert_eq!(
            err,
            ReportError::OutOfOrder { system_id: sid("api"), at: at(9), latest: at(10) }
        );
        assert!(err.to_string().contains(&at(10).to_string()));
        assert_eq!(h.world, before);
        // The ordering mark is per system: another source is held to it too,
        // and an unchanged report still moves it.
        h.hc("api", Unhealthy, 12);
        let err = h.try_apply(vec![report("api", Unhealthy, 11, Incident)]).unwrap_err();
        assert!(matches!(err, ReportError::OutOfOrder { latest, .. } if latest == at(12)));
    }

    #[test]
    fn a_report_at_the_latest_instant_is_accepted() {
        let mut h = api_on_db();
        h.hc("api", Unhealthy, 10);
        h.hc("api", Healthy, 10);
        // Opened and closed at the same instant: nothing was charged.
        assert_eq!(h.pieces("strict"), vec![]);
        h.hc("api", Unhealthy, 10);
        assert_eq!(h.pieces("strict"), vec![p(10, None, "self")]);
    }

    #[test]
    fn a_report_more_than_five_minutes_ahead_is_refused() {
        let mut h = api_on_db();
        h.now = at(100);
        let err = h.try_apply(vec![report("api", Unhealthy, 106, Healthcheck)]).unwrap_err();
        assert_eq!(err, ReportError::InFuture { system_id: sid("api"), at: at(106) });
        let just_over =
            HealthReport { at: at(105).plus_millis(1), ..report("api", Unhealthy, 0, Healthcheck) };
        assert!(matches!(h.try_apply(vec![just_over]), Err(ReportError::InFuture { .. })));
        assert!(h.events.is_empty());
        h.hc("api", Unhealthy, 105);
        assert_eq!(h.pieces("strict"), vec![p(105, None, "self")]);
    }

    #[test]
    fn an_unknown_system_is_refused() {
        let mut h = api_on_db();
        let err = h.try_apply(vec![report("nope", Unhealthy, 1, Healthcheck)]).unwrap_err();
        assert_eq!(err, ReportError::UnknownSystem(sid("nope")));
    }

    #[test]
    fn a_batch_is_applied_in_time_order() {
        let mut h = api_on_db();
        let changes = h.apply(vec![
            report("api", Healthy, 20, Healthcheck),
            report("db", Unhealthy, 15, Healthcheck),
            report("api", Unhealthy, 10, Healthcheck),
        ]);
        assert_eq!(
            h.pieces("self-only"),
            vec![p(10, Some(15), "self"), p(15, Some(20), "upstream:db")]
        );
        assert_eq!(h.pieces("strict"), vec![p(10, Some(20), "self")]);
        // Everything is new in this batch, closed pieces included.
        assert_eq!(changes.inserted.len(), 4);
        assert!(changes.updated.is_empty());
        let order: Vec<Timestamp> = changes.transitions.iter().map(|t| t.at).collect();
        assert_eq!(order, vec![at(10), at(15), at(20)]);
    }

    #[test]
    fn a_batch_with_one_bad_report_is_refused_whole() {
        let mut h = api_on_db();
        h.hc("db", Unhealthy, 50);
        let err = h
            .try_apply(vec![
                report("api", Unhealthy, 10, Healthcheck),
                report("db", Healthy, 40, Healthcheck),
            ])
            .unwrap_err();
        assert!(matches!(err, ReportError::OutOfOrder { .. }));
        assert_eq!(h.pieces("strict"), vec![]);
        assert!(!h.world.systems[&sid("api")].is_down());
    }

    // ---- a split never happens before the event began --------------------

    #[test]
    fn an_upstream_report_older_than_the_downstream_event_re_attributes_in_place() {
        let mut h = api_on_db();
        h.hc("api", Unhealthy, 20);
        // db's report arrives later but says db went down at 10.
        let changes = h.hc("db", Unhealthy, 10);
        assert_eq!(h.pieces("self-only"), vec![p(20, None, "upstream:db")]);
        assert_eq!(changes.updated.len(), 1);
        assert!(changes.inserted.is_empty());
        assert_eq!(changes.summary.events_split, 0);
        assert_eq!(h.pieces("strict"), vec![p(20, None, "self")]);
    }

    #[test]
    fn a_downstream_down_before_an_upstream_reported_first_is_split_when_the_upstream_fell() {
        let mut h = api_on_db();
        h.hc("db", Unhealthy, 20);
        // api's report arrives later but says api went down at 10.
        let changes = h.hc("api", Unhealthy, 10);
        assert_eq!(
            h.pieces("self-only"),
            vec![p(10, Some(20), "self"), p(20, None, "upstream:db")]
        );
        assert_eq!(h.pieces("strict"), vec![p(10, None, "self")]);
        assert_eq!(h.pieces("blames-self"), vec![p(10, None, "self")]);
        assert!(changes.updated.is_empty());
        assert_eq!(changes.inserted.len(), 4);
        assert_eq!(changes.summary.events_split, 1);
    }

    #[test]
    fn a_system_reporting_inside_a_split_it_did_not_know_about_is_not_charged_twice() {
        // api went down at 10; db's report that it fell at 20 arrives next
        // and splits api's event at 20. Then api's own reports arrive: it
        // was healthy at 15 and down again at 16. [10, 20) is closed history
        // and cannot shrink, so the new outage is charged from 20 on, never
        // a second time over [16, 20).
        let mut h = api_on_db();
        h.hc("api", Unhealthy, 10);
        h.hc("db", Unhealthy, 20);
        let recovered = h.hc("api", Healthy, 15);
        assert_eq!(recovered.outages_ended, vec![(sid("api"), at(10), at(15))]);
        assert_eq!(recovered.deleted.len(), 1, "the upstream piece [20, 20) is dropped");
        h.hc("api", Unhealthy, 16);
        assert_eq!(
            h.pieces("self-only"),
            vec![p(10, Some(20), "self"), p(20, None, "upstream:db")]
        );
        assert_eq!(h.pieces("strict"), vec![p(10, Some(15), "self"), p(16, None, "self")]);

        // The same when the store reloads the world between batches,
        // loading each objective's latest closed end with it.
        let mut h = api_on_db();
        h.hc("api", Unhealthy, 10);
        h.hc("db", Unhealthy, 20);
        h.hc("api", Healthy, 15);
        let mut reloaded = World { systems: h.world.systems.clone(), ..World::default() };
        reloaded.add_dependency(&sid("api"), &sid("db"));
        for state in h.world.objectives.values().flatten() {
            let latest = h
                .events
                .values()
                .filter(|e| e.objective_id == state.objective.id)
                .filter_map(|e| e.end_time)
                .max();
            assert_eq!(state.charged_until, latest);
            reloaded.add_objective_with_history(
                state.objective.clone(),
                state.open_event.clone(),
                latest,
            );
        }
        h.world = reloaded;
        h.hc("api", Unhealthy, 16);
        assert_eq!(
            h.pieces("self-only"),
            vec![p(10, Some(20), "self"), p(20, None, "upstream:db")]
        );
    }

    // ---- incident source (SPEC §12) --------------------------------------

    #[test]
    fn an_incident_holds_the_system_down_while_probes_are_healthy() {
        let mut h = api_on_db();
        let changes = h.apply(vec![report("api", Unhealthy, 10, Incident)]);
        assert!(changes.inserted.iter().all(|e| e.source == Incident));
        assert_eq!(changes.systems[0].down_source, Some(Incident));

        // Probes fall and recover underneath the incident: nothing changes.
        h.hc("api", Unhealthy, 12);
        let changes = h.hc("api", Healthy, 15);
        assert!(changes.updated.is_empty() && changes.outages_ended.is_empty());
        assert_eq!(h.pieces("strict"), vec![p(10, None, "self")]);

        let changes = h.apply(vec![report("api", Healthy, 20, Incident)]);
        assert_eq!(changes.outages_ended, vec![(sid("api"), at(10), at(20))]);
        assert_eq!(h.pieces("strict"), vec![p(10, Some(20), "self")]);
    }

    #[test]
    fn an_incident_clearing_does_not_close_downtime_the_probes_hold() {
        let mut h = api_on_db();
        h.hc("api", Unhealthy, 10);
        h.apply(vec![report("api", Unhealthy, 12, Incident)]);
        h.apply(vec![report("api", Healthy, 15, Incident)]);
        assert_eq!(h.pieces("strict"), vec![p(10, None, "self")]);
        assert_eq!(h.open_event("strict").unwrap().source, Healthcheck);
        h.hc("api", Healthy, 20);
        assert_eq!(h.pieces("strict"), vec![p(10, Some(20), "self")]);
    }

    // ---- checks (SPEC §12) ----------------------------------------------

    fn ck(raw: &str) -> CheckId {
        CheckId::parse(raw, "checkId").unwrap()
    }

    /// A probe report from the named check.
    fn named(system: &str, check: &str, status: HealthStatus, minute: i64) -> HealthReport {
        HealthReport { check_id: Some(ck(check)), ..report(system, status, minute, Healthcheck) }
    }

    fn bound(id: &str, system: &str, check: &str) -> Objective {
        let mut o = objective(id, system, Strict, &[]);
        o.health_check_configuration_id = Some(check.into());
        o
    }

    #[test]
    fn the_probe_status_is_the_worst_latest_status_of_the_checks() {
        let mut h = Harness::new();
        h.system("api", "API");
        h.objective(objective("whole", "api", Strict, &[]));
        h.apply(vec![named("api", "a", Unhealthy, 10)]);
        h.apply(vec![named("api", "b", Degraded, 12)]);
        let api = |h: &Harness| h.world.systems[&sid("api")].clone();
        assert_eq!(api(&h).healthcheck, Unhealthy);
        let changes = h.apply(vec![named("api", "a", Healthy, 15)]);
        assert_eq!(api(&h).healthcheck, Degraded);
        assert!(changes.outages_ended.is_empty(), "b still holds it down");
        let changes = h.apply(vec![named("api", "b", Healthy, 20)]);
        assert_eq!(api(&h).healthcheck, Healthy);
        assert_eq!(changes.outages_ended, vec![(sid("api"), at(10), at(20))]);
        assert_eq!(h.pieces("whole"), vec![p(10, Some(20), "self")]);
        let a = api(&h).checks[&ck("a")];
        assert_eq!((a.status, a.at, a.down_since), (Healthy, at(15), None));
        let rows: Vec<(String, Option<HealthStatus>)> = changes
            .checks
            .iter()
            .map(|c| (c.check_id.to_string(), c.state.map(|s| s.status)))
            .collect();
        assert_eq!(rows, vec![("b".to_owned(), Some(Healthy))]);
        assert_eq!(changes.transitions[0].check_id, ck("b"));
    }

    #[test]
    fn an_objective_bound_to_a_check_follows_that_check_alone() {
        let mut h = Harness::new();
        h.system("api", "API");
        h.objective(objective("whole", "api", Strict, &[]));
        h.objective(bound("on-a", "api", "a"));
        h.objective(bound("on-b", "api", "b"));
        h.apply(vec![named("api", "a", Unhealthy, 10)]);
        h.apply(vec![named("api", "b", Unhealthy, 20)]);
        h.apply(vec![named("api", "a", Healthy, 30)]);
        h.apply(vec![named("api", "b", Healthy, 40)]);
        assert_eq!(h.pieces("whole"), vec![p(10, Some(40), "self")]);
        assert_eq!(h.pieces("on-a"), vec![p(10, Some(30), "self")]);
        assert_eq!(h.pieces("on-b"), vec![p(20, Some(40), "self")]);
        // A report naming no check is the check "": none of the bound ones.
        h.hc("api", Unhealthy, 50);
        h.hc("api", Healthy, 55);
        assert_eq!(h.pieces("on-a"), vec![p(10, Some(30), "self")]);
        assert_eq!(h.pieces("whole"), vec![p(10, Some(40), "self"), p(50, Some(55), "self")]);
    }

    #[test]
    fn the_incident_source_holds_check_bound_objectives_down_too() {
        let mut h = Harness::new();
        h.system("api", "API");
        h.objective(bound("on-a", "api", "a"));
        h.apply(vec![report("api", Unhealthy, 10, Incident)]);
        h.apply(vec![named("api", "a", Unhealthy, 15)]);
        h.apply(vec![report("api", Healthy, 20, Incident)]);
        assert_eq!(h.open_event("on-a").unwrap().source, Incident);
        h.apply(vec![named("api", "a", Healthy, 25)]);
        assert_eq!(h.pieces("on-a"), vec![p(10, Some(25), "self")]);
    }

    #[test]
    fn a_bound_objective_keeps_its_upstream_attribution() {
        let mut h = Harness::new();
        h.system("api", "API");
        h.system("db", "Database");
        h.depends("api", "db");
        let mut o = bound("on-a", "api", "a");
        o.dependency_exclusion = SelfOnly;
        h.objective(o);
        h.hc("db", Unhealthy, 5);
        h.apply(vec![named("api", "a", Unhealthy, 10)]);
        // db recovers while a is still down: the upstream piece ends and the
        // objective goes on, charged to itself.
        h.hc("db", Healthy, 20);
        h.apply(vec![named("api", "a", Healthy, 30)]);
        assert_eq!(h.pieces("on-a"), vec![p(10, Some(20), "upstream:db"), p(20, Some(30), "self")]);
        // a failing while db is down is db's; another check failing on top
        // changes nothing for it.
        h.hc("db", Unhealthy, 40);
        h.apply(vec![named("api", "a", Unhealthy, 41)]);
        h.apply(vec![named("api", "z", Unhealthy, 42)]);
        h.apply(vec![named("api", "a", Healthy, 43)]);
        assert_eq!(h.pieces("on-a").last(), Some(&p(41, Some(43), "upstream:db")));
        h.hc("db", Healthy, 50);
        assert_eq!(h.open_event("on-a"), None);
    }

    #[test]
    fn time_order_is_per_check_and_unnamed_reports_keep_one_mark() {
        let mut h = Harness::new();
        h.system("api", "API");
        h.apply(vec![named("api", "a", Healthy, 20)]);
        h.apply(vec![named("api", "b", Healthy, 10)]);
        let err = h.try_apply(vec![named("api", "a", Unhealthy, 15)]).unwrap_err();
        assert_eq!(
            err,
            ReportError::CheckOutOfOrder {
                system_id: sid("api"),
                check_id: ck("a"),
                at: at(15),
                latest: at(20)
            }
        );
        assert!(err.to_string().contains("check `a`"));
        // Unnamed reports are held to their own mark only, across sources.
        h.hc("api", Healthy, 5);
        h.apply(vec![report("api", Healthy, 6, Incident)]);
        let err = h.try_apply(vec![report("api", Healthy, 5, Healthcheck)]).unwrap_err();
        assert!(matches!(err, ReportError::OutOfOrder { latest, .. } if latest == at(6)));
        let api = &h.world.systems[&sid("api")];
        assert_eq!((api.last_report_at, api.unnamed_report_at), (Some(at(20)), Some(at(6))));
        // An incident report's check is ignored.
        let incident =
            HealthReport { check_id: Some(ck("a")), ..report("api", Healthy, 7, Incident) };
        h.apply(vec![incident]);
        assert_eq!(h.world.systems[&sid("api")].checks[&ck("a")].at, at(20));
    }

    #[test]
    fn a_transition_takes_effect_no_earlier_than_the_systems_latest() {
        let mut h = Harness::new();
        h.system("api", "API");
        h.objective(objective("whole", "api", Strict, &[]));
        h.objective(bound("on-b", "api", "b"));
        h.apply(vec![named("api", "a", Unhealthy, 30)]);
        let changes = h.apply(vec![named("api", "b", Unhealthy, 20)]);
        assert_eq!(changes.transitions[0].at, at(30));
        assert_eq!(h.world.systems[&sid("api")].checks[&ck("b")].down_since, Some(at(30)));
        assert_eq!(h.pieces("on-b"), vec![p(30, None, "self")]);
        h.apply(vec![named("api", "a", Healthy, 40)]);
        let changes = h.apply(vec![named("api", "b", Healthy, 35)]);
        assert_eq!(changes.outages_ended, vec![(sid("api"), at(30), at(40))]);
        assert_eq!(h.pieces("on-b"), vec![p(30, Some(40), "self")]);
        assert_eq!(h.pieces("whole"), vec![p(30, Some(40), "self")]);
        // A repeat changes no status and moves no transition mark.
        h.apply(vec![named("api", "b", Healthy, 60)]);
        assert_eq!(h.world.systems[&sid("api")].last_transition_at, Some(at(40)));
    }

    #[test]
    fn forgetting_a_check_recovers_what_it_held_down_at_that_instant() {
        let mut h = Harness::new();
        h.system("api", "API");
        h.objective(objective("whole", "api", Strict, &[]));
        h.objective(bound("on-a", "api", "a"));
        h.objective(bound("on-b", "api", "b"));
        h.apply(vec![named("api", "a", Unhealthy, 10)]);
        h.apply(vec![named("api", "b", Healthy, 10)]);
        let next = &mut h.next_id;
        let mut gen = || {
            *next += 1;
            format!("ev-{next}")
        };
        assert!(forget_check(&mut h.world, &sid("api"), &ck("zzz"), at(30), &mut gen).is_none());
        let changes = forget_check(&mut h.world, &sid("api"), &ck("a"), at(30), &mut gen).unwrap();
        h.write(&changes);
        assert_eq!(h.pieces("whole"), vec![p(10, Some(30), "self")]);
        assert_eq!(h.pieces("on-a"), vec![p(10, Some(30), "self")]);
        assert!(h.pieces("on-b").is_empty());
        assert_eq!(changes.outages_ended, vec![(sid("api"), at(10), at(30))]);
        assert_eq!(changes.transitions.len(), 1);
        assert_eq!(changes.transitions[0].status, Healthy);
        assert_eq!(
            changes.checks,
            vec![CheckChange { system_id: sid("api"), check_id: ck("a"), state: None }]
        );
        assert!(!h.world.systems[&sid("api")].checks.contains_key(&ck("a")));
        // A healthy check goes without a transition.
        let next = &mut h.next_id;
        let changes = forget_check(&mut h.world, &sid("api"), &ck("b"), at(40), &mut || {
            *next += 1;
            format!("ev-{next}")
        })
        .unwrap();
        assert!(changes.transitions.is_empty() && changes.inserted.is_empty());
        assert_eq!(changes.checks.len(), 1);
    }

    // ---- reconcile (SPEC §2) --------------------------------------------

    #[test]
    fn reconcile_opens_an_event_for_an_objective_created_during_an_outage() {
        let mut h = Harness::new();
        h.system("api", "API");
        h.apply(vec![report("api", Unhealthy, 10, Incident)]);

        // Created after the outage began: charged from its creation.
        let mut late = objective("late", "api", Strict, &[]);
        late.created_at = at(30);
        h.objective(late);
        let changes = h.reconcile("late", at(40));
        assert_eq!(h.pieces("late"), vec![p(30, None, "self")]);
        assert_eq!(changes.inserted[0].source, Incident);
        assert_eq!(
            changes.affected_objectives,
            BTreeSet::from([ObjectiveId::from_trusted("late".to_owned())])
        );

        // Imported with a past creation date: charged from the outage start.
        h.objective(objective("imported", "api", Strict, &[]));
        h.reconcile("imported", at(40));
        assert_eq!(h.pieces("imported"), vec![p(10, None, "self")]);

        // Created a little in the future: never opened after `now`.
        let mut ahead = objective("ahead", "api", Strict, &[]);
        ahead.created_at = at(43);
        h.objective(ahead);
        h.reconcile("ahead", at(40));
        assert_eq!(h.pieces("ahead"), vec![p(40, None, "self")]);

        // Already open: nothing to do.
        assert!(h.reconcile("late", at(50)).is_empty());
    }

    #[test]
    fn reconcile_on_a_healthy_system_or_unknown_objective_does_nothing() {
        let mut h = api_on_db();
        assert!(h.reconcile("strict", at(10)).is_empty());
        assert!(h.reconcile("no-such-objective", at(10)).is_empty());
    }

    #[test]
    fn reconcile_splits_at_now_when_new_settings_change_the_attribution() {
        let mut h = api_on_db();
        h.hc("db", Unhealthy, 5);
        h.hc("api", Unhealthy, 10);

        h.objective_mut("self-only").excluded_dependency_ids = vec![sid("db")];
        let changes = h.reconcile("self-only", at(30));
        assert_eq!(
            h.pieces("self-only"),
            vec![p(10, Some(30), "upstream:db"), p(30, None, "self")]
        );
        assert_eq!(changes.updated.len(), 1);
        assert_eq!(changes.inserted.len(), 1);
        assert_eq!(changes.summary.events_split, 1);

        h.objective_mut("strict").dependency_exclusion = SelfOnly;
        h.reconcile("strict", at(35));
        assert_eq!(h.pieces("strict"), vec![p(10, Some(35), "self"), p(35, None, "upstream:db")]);

        // Unchanged settings: no split.
        assert!(h.reconcile("blames-self", at(40)).is_empty());
    }

    #[test]
    fn reconcile_system_re_judges_every_objective_after_edges_change() {
        let mut h = Harness::new();
        h.system("api", "API");
        h.system("db", "Database");
        h.objective(objective("a", "api", SelfOnly, &[]));
        h.objective(objective("b", "api", Strict, &[]));
        h.hc("db", Unhealthy, 5);
        h.hc("api", Unhealthy, 10);
        h.depends("api", "db");
        let next = &mut h.next_id;
        let changes = reconcile_system(&mut h.world, &sid("api"), at(20), &mut || {
            *next += 1;
            format!("ev-{next}")
        });
        h.write(&changes);
        assert_eq!(h.pieces("a"), vec![p(10, Some(20), "self"), p(20, None, "upstream:db")]);
        assert_eq!(h.pieces("b"), vec![p(10, None, "self")]);
    }

    // ---- changeset bookkeeping ------------------------------------------

    #[test]
    fn the_changeset_says_what_to_write() {
        let mut h = api_on_db();
        let first = h.apply(vec![
            report("api", Unhealthy, 10, Healthcheck),
            report("api", Healthy, 15, Healthcheck),
            report("api", Unhealthy, 20, Healthcheck),
        ]);
        // Opened and closed in the same batch: inserted closed, never updated.
        assert_eq!(first.inserted.len(), 6);
        assert!(first.updated.is_empty() && first.deleted.is_empty());
        assert_eq!(first.summary.events_opened.len(), 6);
        assert_eq!(first.summary.events_closed.len(), 3);
        assert_eq!(first.summary.reports_applied, 3);
        assert_eq!(first.transitions.len(), 3);
        assert_eq!(first.outages_started, vec![(sid("api"), at(10)), (sid("api"), at(20))]);
        assert_eq!(first.outages_ended, vec![(sid("api"), at(10), at(15))]);
        assert_eq!(first.affected_objectives.len(), 3);
        assert_eq!(first.systems.len(), 1);
        let api = &first.systems[0];
        assert_eq!((api.down_since, api.last_report_at), (Some(at(20)), Some(at(20))));
        assert_eq!(api.healthcheck, Unhealthy);

        // Opened in an earlier batch and closed at its own start: deleted.
        let second = h.hc("api", Healthy, 20);
        assert_eq!(second.deleted.len(), 3);
        assert!(second.inserted.is_empty() && second.updated.is_empty());
        assert!(second.summary.events_closed.is_empty());
        assert_eq!(second.outages_ended, vec![(sid("api"), at(20), at(20))]);
        assert_eq!(h.pieces("strict"), vec![p(10, Some(15), "self")]);

        // Opened and dropped in one batch: never written at all.
        let third = h.apply(vec![
            report("api", Unhealthy, 30, Healthcheck),
            report("api", Healthy, 30, Healthcheck),
        ]);
        assert!(third.inserted.is_empty() && third.updated.is_empty() && third.deleted.is_empty());
        assert!(third.summary.events_opened.is_empty());
        assert_eq!(third.transitions.len(), 2);
        assert_eq!(h.pieces("strict"), vec![p(10, Some(15), "self")]);
    }

    #[test]
    fn an_upstream_report_lists_downstream_systems_only_when_they_changed() {
        let mut h = api_on_db();
        h.hc("api", Unhealthy, 10);
        let changes = h.hc("db", Unhealthy, 20);
        let systems: Vec<&str> = changes.systems.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(systems, vec!["db"]);
        assert_eq!(changes.outages_started, vec![(sid("db"), at(20))]);
        assert!(!changes.is_empty());
    }
}
