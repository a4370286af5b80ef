//! `slod check` (SPEC §12, "no missed recoveries, by construction"): the
//! invariants stored downtime must satisfy, and the rebuild of an
//! objective's events from the report log.
//!
//! Events and statuses change in one transaction, so these hold unless
//! something wrote the database behind slod's back (a restored file, a
//! hand-made `UPDATE`, a bug). [`find_problems`] judges a whole database
//! read into an [`AuditData`]:
//!
//! 1. no open event while what its objective follows is healthy (the system,
//!    or the check the objective is bound to, with the incident source);
//! 2. at most one open event per objective;
//! 3. no two events of one objective overlap;
//! 4. every event lies inside one of its system's down intervals (the
//!    `system_outages` derived from the report log).
//!
//! [`rebuild_events`] replays the report log (every logged transition, in
//! time order per system) through the engine on a fresh world with today's
//! systems, edges and objectives, each objective joining at its `createdAt`,
//! and returns the events that replay charges.
//!
//! ```
//! use slod_core::audit::{find_problems, AuditData};
//! assert!(find_problems(&AuditData::default()).is_empty());
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::engine::{
    apply_reports, reconcile_objective, Changeset, HealthReport, HealthTransition, ReportError,
    SystemState, World,
};
use crate::model::{DowntimeEvent, Objective, ObjectiveId, SystemId};
use crate::time::Timestamp;

/// Everything the check reads, as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditData {
    /// Every system's live state, with all its checks.
    pub systems: BTreeMap<SystemId, SystemState>,
    /// Every edge, as (downstream, upstream).
    pub edges: Vec<(SystemId, SystemId)>,
    pub objectives: Vec<Objective>,
    pub events: Vec<DowntimeEvent>,
    /// Every system-level outage: system, start, end (`None` while open).
    pub outages: Vec<(SystemId, Timestamp, Option<Timestamp>)>,
    /// The report log, in the order it was written.
    pub transitions: Vec<HealthTransition>,
}

/// One broken invariant, naming the objective, its system and the times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// An open event while what the objective follows is healthy.
    OpenWhileHealthy { objective_id: ObjectiveId, system_id: SystemId, start: Timestamp },
    /// More than one open event.
    SeveralOpen { objective_id: ObjectiveId, system_id: SystemId, starts: Vec<Timestamp> },
    /// Two events that overlap.
    Overlap {
        objective_id: ObjectiveId,
        system_id: SystemId,
        first: (Timestamp, Option<Timestamp>),
        second: (Timestamp, Option<Timestamp>),
    },
    /// An event not inside any down interval of its system.
    OutsideOutage {
        objective_id: ObjectiveId,
        system_id: SystemId,
        start: Timestamp,
        end: Option<Timestamp>,
    },
}

impl Problem {
    pub fn objective_id(&self) -> &ObjectiveId {
        match self {
            Self::OpenWhileHealthy { objective_id, .. }
            | Self::SeveralOpen { objective_id, .. }
            | Self::Overlap { objective_id, .. }
            | Self::OutsideOutage { objective_id, .. } => objective_id,
        }
    }
}

fn span(start: Timestamp, end: Option<Timestamp>) -> String {
    match end {
        Some(end) => format!("[{start}, {end})"),
        None => format!("[{start}, open)"),
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OpenWhileHealthy { objective_id, system_id, start } => write!(
                f,
                "objective {objective_id} (system {system_id}): event open since {start} \
                 while what it follows is healthy"
            ),
            Self::SeveralOpen { objective_id, system_id, starts } => {
                let starts: Vec<String> = starts.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "objective {objective_id} (system {system_id}): {} open events, since {}",
                    starts.len(),
                    starts.join(", ")
                )
            }
            Self::Overlap { objective_id, system_id, first, second } => write!(
                f,
                "objective {objective_id} (system {system_id}): events {} and {} overlap",
                span(first.0, first.1),
                span(second.0, second.1)
            ),
            Self::OutsideOutage { objective_id, system_id, start, end } => write!(
                f,
                "objective {objective_id} (system {system_id}): event {} is not inside an \
                 outage of the system",
                span(*start, *end)
            ),
        }
    }
}

/// Every broken invariant, grouped by objective (in id order), each
/// objective's in time order.
pub fn find_problems(data: &AuditData) -> Vec<Problem> {
    let mut events: BTreeMap<&ObjectiveId, Vec<&DowntimeEvent>> = BTreeMap::new();
    for event in &data.events {
        events.entry(&event.objective_id).or_default().push(event);
    }
    let objectives: BTreeMap<&ObjectiveId, &Objective> =
        data.objectives.iter().map(|o| (&o.id, o)).collect();
    let outages = down_intervals(&data.outages);
    let mut problems = Vec::new();
    for (objective_id, mut list) in events {
        list.sort_by_key(|e| (e.start_time, e.end_time.is_none(), e.end_time));
        let system_id = list[0].system_id.clone();
        let owned = || objective_id.clone();

        let open: Vec<&&DowntimeEvent> = list.iter().filter(|e| e.end_time.is_none()).collect();
        if open.len() > 1 {
            problems.push(Problem::SeveralOpen {
                objective_id: owned(),
                system_id: system_id.clone(),
                starts: open.iter().map(|e| e.start_time).collect(),
            });
        }
        let follows_down = objectives.get(objective_id).is_some_and(|objective| {
            data.systems.get(&objective.system_id).is_some_and(|s| s.is_down_for(objective))
        });
        if !follows_down {
            for event in &open {
                problems.push(Problem::OpenWhileHealthy {
                    objective_id: owned(),
                    system_id: system_id.clone(),
                    start: event.start_time,
                });
            }
        }
        for pair in list.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if a.end_time.is_none_or(|end| end > b.start_time) {
                problems.push(Problem::Overlap {
                    objective_id: owned(),
                    system_id: system_id.clone(),
                    first: (a.start_time, a.end_time),
                    second: (b.start_time, b.end_time),
                });
            }
        }
        let intervals = outages.get(&system_id).map(Vec::as_slice).unwrap_or(&[]);
        for event in &list {
            if !inside(intervals, event.start_time, event.end_time) {
                problems.push(Problem::OutsideOutage {
                    objective_id: owned(),
                    system_id: system_id.clone(),
                    start: event.start_time,
                    end: event.end_time,
                });
            }
        }
    }
    problems
}

/// Each system's outages, sorted, touching ones merged (a recovery and a
/// new failure at one instant leave no gap).
fn down_intervals(
    outages: &[(SystemId, Timestamp, Option<Timestamp>)],
) -> BTreeMap<SystemId, Vec<(Timestamp, Option<Timestamp>)>> {
    let mut by_system: BTreeMap<SystemId, Vec<(Timestamp, Option<Timestamp>)>> = BTreeMap::new();
    for (system, start, end) in outages {
        by_system.entry(system.clone()).or_default().push((*start, *end));
    }
    for list in by_system.values_mut() {
        list.sort_by_key(|(start, _)| *start);
        let mut merged: Vec<(Timestamp, Option<Timestamp>)> = Vec::with_capacity(list.len());
        for &(start, end) in list.iter() {
            if let Some(last) = merged.last_mut() {
                match last.1 {
                    // An open outage runs on: nothing after it is separate.
                    None => continue,
                    Some(last_end) if last_end >= start => {
                        last.1 = end.map(|end| end.max(last_end));
                        continue;
                    }
                    Some(_) => {}
                }
            }
            merged.push((start, end));
        }
        *list = merged;
    }
    by_system
}

/// Whether `[start, end)` lies inside one of `intervals` (sorted, disjoint).
fn inside(
    intervals: &[(Timestamp, Option<Timestamp>)],
    start: Timestamp,
    end: Option<Timestamp>,
) -> bool {
    intervals.iter().any(|&(from, to)| {
        from <= start
            && match (to, end) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(to), Some(end)) => end <= to,
            }
    })
}

/// Replays the report log through the engine (module docs) and returns the
/// events it charges to each of `objective_ids`, in time order. Events get
/// fresh ids from `new_id`.
pub fn rebuild_events(
    data: &AuditData,
    objective_ids: &BTreeSet<ObjectiveId>,
    new_id: &mut dyn FnMut() -> String,
) -> Result<BTreeMap<ObjectiveId, Vec<DowntimeEvent>>, ReportError> {
    let mut world = World::default();
    for state in data.systems.values() {
        world.add_system(state.id.clone(), state.name.clone());
    }
    for (down, up) in &data.edges {
        world.add_dependency(down, up);
    }
    let mut objectives: Vec<&Objective> = data.objectives.iter().collect();
    objectives.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    // The log in time order; stable, so a system's own order stays.
    let mut log: Vec<&HealthTransition> = data.transitions.iter().collect();
    log.sort_by_key(|t| t.at);

    let mut events: BTreeMap<String, DowntimeEvent> = BTreeMap::new();
    let mut write = |changes: Changeset| {
        for id in &changes.deleted {
            events.remove(id);
        }
        for event in changes.inserted.into_iter().chain(changes.updated) {
            events.insert(event.id.clone(), event);
        }
    };
    // An objective joins the replay when it was created, as it joined the
    // live system (opened at once if what it follows was down then).
    let join = |world: &mut World, objective: &Objective, new_id: &mut dyn FnMut() -> String| {
        if !world.systems.contains_key(&objective.system_id) {
            return Changeset::default();
        }
        world.add_objective(objective.clone(), None);
        reconcile_objective(world, &objective.id, objective.created_at, new_id)
    };
    let mut pending = objectives.into_iter().peekable();
    for transition in log {
        while let Some(objective) = pending.next_if(|o| o.created_at <= transition.at) {
            write(join(&mut world, objective, new_id));
        }
        if !world.systems.contains_key(&transition.system_id) {
            continue;
        }
        let report = HealthReport {
            system_id: transition.system_id.clone(),
            status: transition.status,
            at: transition.at,
            source: transition.source,
            check_id: Some(transition.check_id.clone()).filter(|c| !c.is_unnamed()),
        };
        write(apply_reports(&mut world, vec![report], transition.at, new_id)?);
    }
    for objective in pending {
        write(join(&mut world, objective, new_id));
    }

    let mut rebuilt: BTreeMap<ObjectiveId, Vec<DowntimeEvent>> =
        objective_ids.iter().map(|id| (id.clone(), Vec::new())).collect();
    for event in events.into_values() {
        if let Some(list) = rebuilt.get_mut(&event.objective_id) {
            list.push(event);
        }
    }
    for list in rebuilt.values_mut() {
        list.sort_by_key(|e| e.start_time);
    }
    Ok(rebuilt)
}

#[cfg(test)]
mod tests {
    //! The engine writes a small history the way a store does (events,
    //! outages, the log and the final states); the checks must find it
    //! consistent, find each corruption, and the replay must give back the
    //! events the engine wrote.

    use super::*;
    use crate::engine::reconcile_objective;
    use crate::model::{
        BurnRateThresholds, CheckId, DependencyExclusion, HealthStatus, ReportSource, Target,
        WindowDays,
    };
    use crate::time::MINUTE_MS;

    use HealthStatus::{Healthy, Unhealthy};

    const T0: i64 = 1_767_225_600_000;

    fn at(minute: i64) -> Timestamp {
        Timestamp::from_millis(T0 + minute * MINUTE_MS)
    }

    fn sid(raw: &str) -> SystemId {
        SystemId::parse(raw, "id").unwrap()
    }

    fn objective(id: &str, system: &str, check: Option<&str>) -> Objective {
        Objective {
            id: ObjectiveId::from_trusted(id.into()),
            name: None,
            system_id: sid(system),
            health_check_configuration_id: check.map(str::to_owned),
            target: Target::parse(99.9).unwrap(),
            window: WindowDays::parse(30).unwrap().into(),
            dependency_exclusion: DependencyExclusion::SelfOnly,
            excluded_dependency_ids: vec![],
            exclude_maintenance_windows: false,
            burn_rate_thresholds: BurnRateThresholds::default(),
            burn_rate_alerts: Default::default(),
            created_at: at(-1000),
            updated_at: at(-1000),
        }
    }

    /// A store in memory: what the engine's changesets wrote.
    struct Recorder {
        world: World,
        data: AuditData,
        events: BTreeMap<String, DowntimeEvent>,
        next: usize,
    }

    impl Recorder {
        fn new() -> Self {
            let mut world = World::default();
            world.add_system(sid("api"), "API".into());
            world.add_system(sid("db"), "DB".into());
            world.add_dependency(&sid("api"), &sid("db"));
            let mut data =
                AuditData { edges: vec![(sid("api"), sid("db"))], ..AuditData::default() };
            for o in [objective("whole", "api", None), objective("on-a", "api", Some("a"))] {
                world.add_objective(o.clone(), None);
                data.objectives.push(o);
            }
            Self { world, data, events: BTreeMap::new(), next: 0 }
        }

        fn report(&mut self, system: &str, check: Option<&str>, status: HealthStatus, minute: i64) {
            let report = HealthReport {
                system_id: sid(system),
                status,
                at: at(minute),
                source: ReportSource::Healthcheck,
                check_id: check.map(|c| CheckId::parse(c, "checkId").unwrap()),
            };
            let next = &mut self.next;
            let changes = apply_reports(&mut self.world, vec![report], at(minute), &mut || {
                *next += 1;
                format!("live-{next}")
            })
            .unwrap();
            for id in &changes.deleted {
                self.events.remove(id);
            }
            for e in changes.inserted.iter().chain(&changes.updated) {
                self.events.insert(e.id.clone(), e.clone());
            }
            for (system, start) in &changes.outages_started {
                self.data.outages.push((system.clone(), *start, None));
            }
            for (system, start, end) in &changes.outages_ended {
                match self.data.outages.iter_mut().find(|o| &o.0 == system && o.1 == *start) {
                    Some(open) => open.2 = Some(*end),
                    None => self.data.outages.push((system.clone(), *start, Some(*end))),
                }
            }
            self.data.transitions.extend(changes.transitions);
        }

        fn snapshot(&self) -> AuditData {
            let mut data = self.data.clone();
            data.systems = self.world.systems.clone();
            data.events = self.events.values().cloned().collect();
            data
        }
    }

    fn history() -> Recorder {
        let mut r = Recorder::new();
        r.report("api", Some("a"), Unhealthy, 10);
        r.report("db", None, Unhealthy, 15);
        r.report("api", Some("b"), Unhealthy, 18);
        r.report("db", None, Healthy, 25);
        r.report("api", Some("a"), Healthy, 30);
        r.report("api", Some("b"), Healthy, 35);
        r.report("api", None, Unhealthy, 50);
        r
    }

    /// Fresh ids for replayed events.
    fn oids(ids: &[&str]) -> BTreeSet<ObjectiveId> {
        ids.iter().map(|id| ObjectiveId::from_trusted((*id).to_owned())).collect()
    }

    fn ids_gen() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("re-{n}")
        }
    }

    fn shapes(events: &[DowntimeEvent]) -> Vec<(Timestamp, Option<Timestamp>, String)> {
        let mut list: Vec<_> = events
            .iter()
            .map(|e| (e.start_time, e.end_time, e.attribution.type_str().to_owned()))
            .collect();
        list.sort();
        list
    }

    #[test]
    fn what_the_engine_writes_is_consistent_and_the_replay_gives_it_back() {
        let data = history().snapshot();
        assert_eq!(find_problems(&data), vec![]);
        let ids = oids(&["whole", "on-a"]);
        let rebuilt = rebuild_events(&data, &ids, &mut ids_gen()).unwrap();
        for id in &ids {
            let live: Vec<DowntimeEvent> =
                data.events.iter().filter(|e| &e.objective_id == id).cloned().collect();
            assert!(!live.is_empty());
            assert_eq!(shapes(&rebuilt[id]), shapes(&live), "{id}");
        }
        // `whole` went down with a at 10, was db's 15..25, self until b
        // recovered at 35, and is down again since 50.
        assert_eq!(
            shapes(&rebuilt["whole"]),
            vec![
                (at(10), Some(at(15)), "self".into()),
                (at(15), Some(at(25)), "upstream".into()),
                (at(25), Some(at(35)), "self".into()),
                (at(50), None, "self".into()),
            ]
        );
    }

    #[test]
    fn each_corruption_is_found_and_named() {
        let data = history().snapshot();
        let whole: Vec<&DowntimeEvent> =
            data.events.iter().filter(|e| e.objective_id == "whole").collect();
        let closed = whole.iter().find(|e| e.end_time == Some(at(35))).unwrap();

        // An overlapping event.
        let mut bad = data.clone();
        bad.events.push(DowntimeEvent {
            id: "x".into(),
            start_time: at(28),
            end_time: Some(at(33)),
            ..(*closed).clone()
        });
        let problems = find_problems(&bad);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(matches!(&problems[0], Problem::Overlap { objective_id, first, second, .. }
            if objective_id == "whole" && first.0 == at(25) && second.0 == at(28)));
        assert!(problems[0].to_string().contains("overlap"));

        // An open event while the check it follows is healthy; it also
        // lies outside any outage of the system.
        let mut bad = data.clone();
        bad.events.retain(|e| e.objective_id != "on-a" || e.end_time.is_some());
        bad.events.push(DowntimeEvent {
            id: "y".into(),
            objective_id: ObjectiveId::from_trusted("on-a".into()),
            start_time: at(40),
            end_time: None,
            ..(*closed).clone()
        });
        let problems = find_problems(&bad);
        assert!(problems.iter().all(|p| p.objective_id() == "on-a"));
        assert!(problems
            .iter()
            .any(|p| matches!(p, Problem::OpenWhileHealthy { start, .. } if *start == at(40))));
        assert!(problems
            .iter()
            .any(|p| matches!(p, Problem::OutsideOutage { start, .. } if *start == at(40))));

        // Two open events.
        let mut bad = data.clone();
        let open = whole.iter().find(|e| e.end_time.is_none()).unwrap();
        bad.events.push(DowntimeEvent { id: "z".into(), start_time: at(55), ..(*open).clone() });
        let problems = find_problems(&bad);
        assert!(problems
            .iter()
            .any(|p| matches!(p, Problem::SeveralOpen { starts, .. } if starts.len() == 2)));
        assert!(problems.iter().any(|p| matches!(p, Problem::Overlap { .. })));

        // The replay repairs what it is asked to.
        let ids = oids(&["on-a"]);
        let rebuilt = rebuild_events(&bad, &ids, &mut ids_gen()).unwrap();
        assert_eq!(rebuilt.len(), 1);
        let live: Vec<DowntimeEvent> =
            data.events.iter().filter(|e| e.objective_id == "on-a").cloned().collect();
        assert_eq!(shapes(&rebuilt["on-a"]), shapes(&live));
    }

    #[test]
    fn touching_outages_count_as_one_down_interval() {
        let outages = vec![
            (sid("api"), at(20), Some(at(30))),
            (sid("api"), at(10), Some(at(20))),
            (sid("api"), at(40), None),
        ];
        let merged = down_intervals(&outages);
        assert_eq!(merged[&sid("api")], vec![(at(10), Some(at(30))), (at(40), None)]);
        assert!(inside(&merged[&sid("api")], at(15), Some(at(25))));
        assert!(!inside(&merged[&sid("api")], at(25), Some(at(35))));
        assert!(inside(&merged[&sid("api")], at(45), None));
        assert!(!inside(&merged[&sid("api")], at(5), None));
    }

    #[test]
    fn an_objective_joins_the_replay_when_it_was_created() {
        let mut r = Recorder::new();
        r.report("api", None, Unhealthy, 10);
        // Created at 20 during the outage: the live reconcile opens at 20.
        let mut late = objective("late", "api", None);
        late.created_at = at(20);
        r.world.add_objective(late.clone(), None);
        r.data.objectives.push(late);
        let changes = reconcile_objective(&mut r.world, "late", at(20), &mut || "l".into());
        for e in changes.inserted {
            r.events.insert(e.id.clone(), e);
        }
        r.report("api", None, Healthy, 30);
        let data = r.snapshot();
        assert_eq!(find_problems(&data), vec![]);
        let ids = oids(&["late"]);
        let rebuilt = rebuild_events(&data, &ids, &mut ids_gen()).unwrap();
        assert_eq!(shapes(&rebuilt["late"]), vec![(at(20), Some(at(30)), "self".into())]);
    }
}
