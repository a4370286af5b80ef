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
    Attribution, DowntimeEvent, HealthStatus, Objective, ReportSource, SystemId,
};
use crate::time::{Timestamp, MINUTE_MS};

/// One health report, already parsed (SPEC §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    pub system_id: SystemId,
    pub status: HealthStatus,
    pub at: Timestamp,
    pub source: ReportSource,
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
    /// The latest report applied for this system (ordering rule, SPEC §3).
    pub last_report_at: Option<Timestamp>,
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
        }
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

    fn set_status(&mut self, source: ReportSource, status: HealthStatus) {
        match source {
            ReportSource::Healthcheck => self.healthcheck = status,
            ReportSource::Incident => self.incident = status,
        }
    }
}

/// An objective with its open downtime event, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectiveState {
    pub objective: Objective,
    pub open_event: Option<DowntimeEvent>,
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

    pub fn add_objective(&mut self, objective: Objective, open_event: Option<DowntimeEvent>) {
        self.objectives
            .entry(objective.system_id.clone())
            .or_default()
            .push(ObjectiveState { objective, open_event });
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
    pub status: HealthStatus,
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
    /// New state of every system whose health or ordering mark changed.
    pub systems: Vec<SystemState>,
    pub transitions: Vec<HealthTransition>,
    /// Outages (system-level down intervals) that began.
    pub outages_started: Vec<(SystemId, Timestamp)>,
    /// Outages that ended: system, began, ended. Achievements read these.
    pub outages_ended: Vec<(SystemId, Timestamp, Timestamp)>,
    /// Objectives whose events changed, for threshold evaluation.
    pub affected_objectives: BTreeSet<String>,
    pub summary: ChangeSummary,
}

impl Changeset {
    pub fn is_empty(&self) -> bool {
        self.inserted.is_empty()
            && self.updated.is_empty()
            && self.deleted.is_empty()
            && self.systems.is_empty()
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
    let ids: Vec<String> = world
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
        if let Some(latest) = system.last_report_at {
            if report.at < latest {
                return Err(ReportError::OutOfOrder {
                    system_id: report.system_id,
                    at: report.at,
                    latest,
                });
            }
        }
        if system.last_report_at != Some(report.at) {
            system.last_report_at = Some(report.at);
            self.changed_systems.insert(report.system_id.clone());
        }
        if system.status_of(report.source) == report.status {
            self.changes.summary.reports_unchanged += 1;
            return Ok(());
        }
        self.changes.summary.reports_applied += 1;
        let was_down = system.is_down();
        system.set_status(report.source, report.status);
        let is_down = system.is_down();
        self.changes.transitions.push(HealthTransition {
            system_id: report.system_id.clone(),
            source: report.source,
            status: report.status,
            at: report.at,
        });
        match (was_down, is_down) {
            (false, true) => {
                system.down_since = Some(report.at);
                system.down_source = Some(report.source);
                self.changes.outages_started.push((report.system_id.clone(), report.at));
                self.system_down(&report.system_id, report.at, report.source);
            }
            (true, false) => {
                let since = system.down_since.take().unwrap_or(report.at);
                system.down_source = None;
                self.changes
                    .outages_ended
                    .push((report.system_id.clone(), since, report.at));
                self.system_recovered(&report.system_id, report.at);
            }
            // degraded <-> unhealthy, or one source changing while another
            // holds the system down: no event changes (SPEC §3).
            _ => {}
        }
        Ok(())
    }

    /// SPEC §3 R1.
    fn system_down(&mut self, system: &SystemId, t: Timestamp, source: ReportSource) {
        for index in 0..self.objective_count(system) {
            let oref = (system.clone(), index);
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
            self.close(&(system.clone(), index), t);
        }
        for downstream in self.world.downstreams_of(system) {
            let still_down = self.world.systems.get(&downstream).is_some_and(SystemState::is_down);
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
        let Some(down_since) = state.down_since else { return };
        let source = state.down_source.unwrap_or(ReportSource::Healthcheck);
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
        let slot = self
            .world
            .objectives
            .get_mut(&oref.0)
            .and_then(|objs| objs.get_mut(oref.1))
            .map(|state| &mut state.open_event);
        match slot {
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
