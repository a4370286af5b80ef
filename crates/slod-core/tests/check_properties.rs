//! Property tests of per-check objectives and `slod check` (SPEC §12).
//!
//! One system gets reports from three named checks, from no check and from
//! the incident source; each check's reports are in time order, but the
//! checks interleave arbitrarily, so a report is often older than the
//! system's latest transition (it then takes effect at that transition).
//! What the engine writes is kept the way a store keeps it and compared with
//! an independent reading of the report log it produced: after every
//! report, the probe status is the worst latest status of the checks and
//! each objective has an open event exactly while what it follows is down;
//! at the end, each objective's downtime is exactly the time what it
//! follows was down, the audit finds nothing, and replaying the log gives
//! back the same events.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use slod_core::audit::{find_problems, rebuild_events, AuditData};
use slod_core::engine::{apply_reports, HealthReport, HealthTransition, World};
use slod_core::model::{
    BurnRateThresholds, CheckId, DependencyExclusion, DowntimeEvent, HealthStatus, Objective,
    ObjectiveId, ReportSource, SystemId, Target, WindowDays,
};
use slod_core::time::{Timestamp, MINUTE_MS};

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;
/// Report keys: named checks `c0`..`c2`, then no check, then the incident.
const KEYS: usize = 5;
const UNNAMED: usize = 3;
const INCIDENT: usize = 4;

fn api() -> SystemId {
    SystemId::parse("api", "id").unwrap()
}

/// Objectives: bound to c0, to c1, to a check that never reports, and to
/// the whole system.
fn objectives() -> Vec<Objective> {
    [Some("c0"), Some("c1"), Some("c9"), None]
        .into_iter()
        .enumerate()
        .map(|(i, check)| Objective {
            id: ObjectiveId::from_trusted(format!("o{i}")),
            name: None,
            system_id: api(),
            health_check_configuration_id: check.map(str::to_owned),
            target: Target::parse(99.5).unwrap(),
            window: WindowDays::parse(30).unwrap().into(),
            dependency_exclusion: DependencyExclusion::Strict,
            excluded_dependency_ids: vec![],
            exclude_maintenance_windows: false,
            burn_rate_thresholds: BurnRateThresholds::default(),
            burn_rate_alerts: Default::default(),
            created_at: Timestamp::from_millis(T0 - MINUTE_MS),
            updated_at: Timestamp::from_millis(T0 - MINUTE_MS),
        })
        .collect()
}

fn report(key: usize, status: HealthStatus, at: i64) -> HealthReport {
    HealthReport {
        system_id: api(),
        status,
        at: Timestamp::from_millis(at),
        source: if key == INCIDENT { ReportSource::Incident } else { ReportSource::Healthcheck },
        check_id: (key < UNNAMED).then(|| CheckId::parse(&format!("c{key}"), "c").unwrap()),
    }
}

fn status_strategy() -> impl Strategy<Value = HealthStatus> {
    prop_oneof![
        3 => Just(HealthStatus::Healthy),
        1 => Just(HealthStatus::Degraded),
        2 => Just(HealthStatus::Unhealthy),
    ]
}

/// Reports in arrival order: each key keeps its own clock (unnamed and
/// incident share one, as they share an ordering mark), starting at a
/// random offset.
fn reports_strategy() -> impl Strategy<Value = Vec<HealthReport>> {
    let starts = prop::collection::vec(0..120i64, KEYS);
    let steps = prop::collection::vec((0..KEYS, status_strategy(), 0..30i64), 1..40);
    (starts, steps).prop_map(|(starts, steps)| {
        let mut clocks: Vec<i64> = starts.iter().map(|m| T0 + m * MINUTE_MS).collect();
        clocks[INCIDENT] = clocks[UNNAMED];
        steps
            .into_iter()
            .map(|(key, status, gap)| {
                let clock = if key == INCIDENT { UNNAMED } else { key };
                clocks[clock] += gap * MINUTE_MS;
                report(key, status, clocks[clock])
            })
            .collect()
    })
}

/// The store in memory: every event the changesets wrote, the log, the
/// outages.
#[derive(Default)]
struct Store {
    events: BTreeMap<String, DowntimeEvent>,
    log: Vec<HealthTransition>,
    outages: Vec<(SystemId, Timestamp, Option<Timestamp>)>,
}

/// What each objective follows is down, from the latest statuses.
fn follows_down(latest: &BTreeMap<usize, HealthStatus>, objective: usize) -> bool {
    let down = |key: usize| latest.get(&key).is_some_and(|s| s.is_down());
    match objective {
        0 => down(0) || down(INCIDENT),
        1 => down(1) || down(INCIDENT),
        2 => down(INCIDENT),
        _ => (0..KEYS).any(down),
    }
}

fn key_of(transition: &HealthTransition) -> usize {
    match (transition.source, transition.check_id.as_str()) {
        (ReportSource::Incident, _) => INCIDENT,
        (_, "") => UNNAMED,
        (_, name) => name[1..].parse().unwrap(),
    }
}

/// Each objective's down time in milliseconds, read off the log alone.
fn reference_downtime(log: &[HealthTransition], end: i64) -> Vec<i64> {
    let mut latest = BTreeMap::new();
    let mut totals = vec![0; 4];
    let mut since: Vec<Option<i64>> = vec![None; 4];
    for transition in log {
        latest.insert(key_of(transition), transition.status);
        let t = transition.at.millis();
        for objective in 0..4 {
            match (since[objective], follows_down(&latest, objective)) {
                (None, true) => since[objective] = Some(t),
                (Some(start), false) => {
                    totals[objective] += t - start;
                    since[objective] = None;
                }
                _ => {}
            }
        }
    }
    for objective in 0..4 {
        if let Some(start) = since[objective] {
            totals[objective] += end - start;
        }
    }
    totals
}

fn charged(events: &[&DowntimeEvent], end: i64) -> i64 {
    events.iter().map(|e| e.end_time.map_or(end, |t| t.millis()) - e.start_time.millis()).sum()
}

fn shapes(events: &[DowntimeEvent]) -> Vec<(i64, Option<i64>)> {
    let mut list: Vec<_> =
        events.iter().map(|e| (e.start_time.millis(), e.end_time.map(|t| t.millis()))).collect();
    list.sort();
    list
}

fn run(reports: Vec<HealthReport>) -> Result<(), TestCaseError> {
    let mut world = World::default();
    world.add_system(api(), "API".into());
    for objective in objectives() {
        world.add_objective(objective, None);
    }
    let mut store = Store::default();
    let mut next = 0usize;
    let mut latest: BTreeMap<usize, HealthStatus> = BTreeMap::new();
    let now = Timestamp::from_millis(T0 + 10_000 * MINUTE_MS);
    for report in reports {
        let key = match (report.source, &report.check_id) {
            (ReportSource::Incident, _) => INCIDENT,
            (_, None) => UNNAMED,
            (_, Some(c)) => c.as_str()[1..].parse().unwrap(),
        };
        let changes = apply_reports(&mut world, vec![report.clone()], now, &mut || {
            next += 1;
            format!("e{next}")
        })
        .map_err(|e| TestCaseError::fail(format!("refused: {e}")))?;
        latest.insert(key, report.status);
        for id in &changes.deleted {
            store.events.remove(id);
        }
        for event in changes.inserted.iter().chain(&changes.updated) {
            store.events.insert(event.id.clone(), event.clone());
        }
        for (system, start) in &changes.outages_started {
            store.outages.push((system.clone(), *start, None));
        }
        for (system, start, stop) in &changes.outages_ended {
            match store.outages.iter_mut().find(|o| &o.0 == system && o.1 == *start) {
                Some(open) => open.2 = Some(*stop),
                None => store.outages.push((system.clone(), *start, Some(*stop))),
            }
        }
        store.log.extend(changes.transitions);

        let state = &world.systems[&api()];
        let worst_probe = (0..=UNNAMED).filter_map(|k| latest.get(&k)).max().copied();
        prop_assert_eq!(state.healthcheck, worst_probe.unwrap_or(HealthStatus::Healthy));
        for (index, objective) in world.objectives[&api()].iter().enumerate() {
            prop_assert_eq!(
                objective.open_event.is_some(),
                follows_down(&latest, index),
                "objective {} after {:?}",
                index,
                report
            );
        }
    }
    // The log is in time order.
    prop_assert!(store.log.windows(2).all(|w| w[0].at <= w[1].at));

    let end = store.log.last().map_or(T0, |t| t.at.millis()) + 60 * MINUTE_MS;
    let expected = reference_downtime(&store.log, end);
    for (index, total) in expected.iter().enumerate() {
        let id = format!("o{index}");
        let events: Vec<&DowntimeEvent> =
            store.events.values().filter(|e| e.objective_id == id.as_str()).collect();
        prop_assert_eq!(charged(&events, end), *total, "objective {}", index);
    }

    let data = AuditData {
        systems: world.systems.clone(),
        edges: vec![],
        objectives: objectives(),
        events: store.events.values().cloned().collect(),
        outages: store.outages.clone(),
        transitions: store.log.clone(),
    };
    prop_assert_eq!(find_problems(&data), vec![]);
    let ids: BTreeSet<ObjectiveId> =
        (0..4).map(|i| ObjectiveId::from_trusted(format!("o{i}"))).collect();
    let mut n = 0usize;
    let rebuilt = rebuild_events(&data, &ids, &mut || {
        n += 1;
        format!("r{n}")
    })
    .map_err(|e| TestCaseError::fail(format!("replay refused: {e}")))?;
    for id in &ids {
        let live: Vec<DowntimeEvent> =
            store.events.values().filter(|e| &e.objective_id == id).cloned().collect();
        prop_assert_eq!(shapes(&rebuilt[id]), shapes(&live), "objective {}", id);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn checks_interleaved_out_of_order_keep_every_objective_on_what_it_follows(
        reports in reports_strategy()
    ) {
        run(reports)?;
    }
}
