//! Property tests of the downtime engine (SPEC §3) and the status arithmetic
//! on what it produces (SPEC §4).
//!
//! A scenario is a small dependency graph (4 systems, acyclic edges), some
//! objectives of both modes with random exclusions, and a report log. The log
//! is applied in batches to an in-memory event table kept the way a store
//! keeps it (insert `inserted`, replace `updated`, remove `deleted`), and the
//! table is checked after every batch. The downtime it charges is then
//! compared with an independent, instant-by-instant reading of the same log.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use slod_core::engine::{apply_reports, systems_changed_by, Changeset, HealthReport, World};
use slod_core::model::{
    Attribution, BurnRateThresholds, DependencyExclusion, DowntimeEvent, HealthStatus, Objective,
    ObjectiveId, ReportSource, SystemId, Target, WindowDays,
};
use slod_core::status::{aggregate, compute_status, Aggregate, EventSpan, SloStatus, OPEN_END};
use slod_core::time::{Timestamp, DAY_MS, HOUR_MS, MINUTE_MS};

const SYSTEMS: [&str; 4] = ["s0", "s1", "s2", "s3"];
/// Candidate edges `(downstream, upstream)`; downstream < upstream keeps the
/// graph acyclic.
const EDGES: [(usize, usize); 6] = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)];
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;

fn sid(index: usize) -> SystemId {
    SystemId::parse(SYSTEMS[index], "id").unwrap()
}

#[derive(Debug, Clone)]
struct ObjectiveSpec {
    system: usize,
    self_only: bool,
    /// Bit `i` set: `s{i}` is in `excludedDependencyIds`.
    excluded: u8,
    window_days: u32,
}

#[derive(Debug, Clone)]
struct Scenario {
    edges: Vec<(usize, usize)>,
    objectives: Vec<ObjectiveSpec>,
    /// Time-ordered.
    reports: Vec<HealthReport>,
    /// `cuts[i]`: a batch ends after report `i`.
    cuts: Vec<bool>,
}

impl Scenario {
    fn objective(&self, index: usize) -> Objective {
        let spec = &self.objectives[index];
        Objective {
            id: ObjectiveId::from_trusted(format!("o{index}")),
            name: None,
            system_id: sid(spec.system),
            health_check_configuration_id: None,
            target: Target::parse(99.5).unwrap(),
            window: WindowDays::parse(spec.window_days.into()).unwrap().into(),
            dependency_exclusion: if spec.self_only {
                DependencyExclusion::SelfOnly
            } else {
                DependencyExclusion::Strict
            },
            excluded_dependency_ids: (0..SYSTEMS.len())
                .filter(|i| spec.excluded & (1 << i) != 0)
                .map(sid)
                .collect(),
            exclude_maintenance_windows: false,
            burn_rate_thresholds: BurnRateThresholds::default(),
            burn_rate_alerts: Default::default(),
            created_at: Timestamp::from_millis(T0),
            updated_at: Timestamp::from_millis(T0),
        }
    }

    fn world(&self) -> World {
        let mut world = World::default();
        for (index, id) in SYSTEMS.iter().enumerate() {
            world.add_system(sid(index), format!("System {}", id.to_uppercase()));
        }
        for (down, up) in &self.edges {
            world.add_dependency(&sid(*down), &sid(*up));
        }
        for index in 0..self.objectives.len() {
            world.add_objective(self.objective(index), None);
        }
        world
    }

    fn end(&self) -> i64 {
        self.reports.last().map_or(T0, |r| r.at.millis())
    }

    /// The batches the cuts describe.
    fn batches(&self) -> Vec<Vec<HealthReport>> {
        let mut batches = vec![];
        let mut current = vec![];
        for (report, cut) in self.reports.iter().zip(&self.cuts) {
            current.push(report.clone());
            if *cut {
                batches.push(std::mem::take(&mut current));
            }
        }
        if !current.is_empty() {
            batches.push(current);
        }
        batches
    }
}

fn status_strategy() -> impl Strategy<Value = HealthStatus> {
    prop_oneof![
        3 => Just(HealthStatus::Healthy),
        1 => Just(HealthStatus::Degraded),
        2 => Just(HealthStatus::Unhealthy),
    ]
}

fn source_strategy() -> impl Strategy<Value = ReportSource> {
    prop_oneof![4 => Just(ReportSource::Healthcheck), 1 => Just(ReportSource::Incident)]
}

fn scenario_strategy() -> impl Strategy<Value = Scenario> {
    let edges = prop::sample::subsequence(EDGES.to_vec(), 0..=EDGES.len());
    let objectives = prop::collection::vec(
        (0..SYSTEMS.len(), any::<bool>(), 0u8..16, prop_oneof![Just(1u32), Just(3)]).prop_map(
            |(system, self_only, excluded, window_days)| ObjectiveSpec {
                system,
                self_only,
                excluded,
                window_days,
            },
        ),
        1..8,
    );
    // Gaps of 0 put several reports at one instant.
    let gap = prop_oneof![1 => Just(0i64), 3 => 1..20 * MINUTE_MS];
    let reports = prop::collection::vec(
        (0..SYSTEMS.len(), status_strategy(), source_strategy(), gap, any::<bool>()),
        0..60,
    );
    (edges, objectives, reports).prop_map(|(edges, objectives, raw)| {
        let mut at = T0;
        let mut reports = vec![];
        let mut cuts = vec![];
        for (system, status, source, gap, cut) in raw {
            at += gap;
            reports.push(HealthReport {
                system_id: sid(system),
                status,
                at: Timestamp::from_millis(at),
                source,
                check_id: None,
            });
            cuts.push(cut);
        }
        Scenario { edges, objectives, reports, cuts }
    })
}

/// The engine's output, kept as a store keeps it.
struct Ledger {
    world: World,
    next_id: u64,
    events: BTreeMap<String, DowntimeEvent>,
}

impl Ledger {
    fn new(world: World) -> Self {
        Self { world, next_id: 0, events: BTreeMap::new() }
    }

    /// Applies one batch with `now` at its latest report, writes the
    /// changeset and checks the invariants.
    fn apply(&mut self, batch: Vec<HealthReport>) -> Result<(), TestCaseError> {
        let now = batch.iter().map(|r| r.at).max().unwrap_or(Timestamp::from_millis(T0));
        let next = &mut self.next_id;
        let changes = apply_reports(&mut self.world, batch, now, &mut || {
            *next += 1;
            format!("ev-{next}")
        })
        .map_err(|e| TestCaseError::fail(format!("batch refused: {e}")))?;
        self.write(&changes)?;
        self.check()
    }

    /// Writes a changeset; closed history must never be rewritten.
    fn write(&mut self, changes: &Changeset) -> Result<(), TestCaseError> {
        for event in &changes.inserted {
            prop_assert!(!self.events.contains_key(&event.id), "{} inserted twice", event.id);
            self.events.insert(event.id.clone(), event.clone());
        }
        for event in &changes.updated {
            let old = self.events.get(&event.id);
            prop_assert!(old.is_some_and(|e| e.end_time.is_none()), "{} was not open", event.id);
            self.events.insert(event.id.clone(), event.clone());
        }
        for id in &changes.deleted {
            let old = self.events.remove(id);
            prop_assert!(old.is_some_and(|e| e.end_time.is_none()), "{id} was not open");
        }
        Ok(())
    }

    fn events_of(&self, objective_id: &str) -> Vec<&DowntimeEvent> {
        let mut events: Vec<&DowntimeEvent> =
            self.events.values().filter(|e| e.objective_id == objective_id).collect();
        events.sort_by_key(|e| (e.start_time, e.end_time.is_none()));
        events
    }

    /// At most one open event per objective, the one the world holds, and
    /// only while its system is down; events never overlap and are never
    /// empty.
    fn check(&self) -> Result<(), TestCaseError> {
        for state in self.world.objectives.values().flatten() {
            let objective = &state.objective;
            let events = self.events_of(&objective.id);
            let open: Vec<&&DowntimeEvent> =
                events.iter().filter(|e| e.end_time.is_none()).collect();
            prop_assert!(open.len() <= 1, "{} has {} open events", objective.id, open.len());
            prop_assert_eq!(open.first().map(|e| (**e).clone()), state.open_event.clone());
            let down = self.world.systems[&objective.system_id].is_down();
            prop_assert_eq!(
                down,
                state.open_event.is_some(),
                "{}: down vs open event",
                &objective.id
            );
            for event in &events {
                if let Some(end) = event.end_time {
                    prop_assert!(end > event.start_time, "empty or negative event {:?}", event);
                }
                if objective.dependency_exclusion == DependencyExclusion::Strict {
                    prop_assert_eq!(&event.attribution, &Attribution::SelfCaused);
                }
            }
            // What a store loads as `MAX(end_time)` is what the engine keeps.
            let latest_end = events.iter().filter_map(|e| e.end_time).max();
            prop_assert_eq!(state.charged_until, latest_end, "{} charged_until", &objective.id);
            for pair in events.windows(2) {
                let end = pair[0].end_time;
                prop_assert!(
                    end.is_some_and(|end| end <= pair[1].start_time),
                    "{} overlaps {}",
                    pair[0].id,
                    pair[1].id
                );
            }
        }
        Ok(())
    }

    /// The objective's events as spans, upstreams indexed 1-based by
    /// `SYSTEMS`.
    fn spans(&self, objective_id: &str) -> Vec<EventSpan> {
        self.events_of(objective_id).into_iter().map(span_of).collect()
    }

    fn status(&self, scenario: &Scenario, index: usize, at: i64) -> SloStatus {
        let objective = scenario.objective(index);
        let down = self.world.systems[&objective.system_id].is_down();
        compute_status(
            &objective,
            &self.spans(&objective.id),
            &upstream_table(),
            Timestamp::from_millis(at),
            down,
        )
    }
}

fn span_of(event: &DowntimeEvent) -> EventSpan {
    let upstream = match &event.attribution {
        Attribution::SelfCaused => 0,
        Attribution::Upstream { system_id, .. } => SYSTEMS
            .iter()
            .position(|s| *s == system_id.as_str())
            .map_or(99, |i| u32::try_from(i).unwrap() + 1),
    };
    EventSpan {
        start: event.start_time.millis(),
        end: event.end_time.map_or(OPEN_END, Timestamp::millis),
        upstream,
    }
}

fn upstream_table() -> Vec<(SystemId, String)> {
    (0..SYSTEMS.len()).map(|i| (sid(i), format!("System {}", SYSTEMS[i].to_uppercase()))).collect()
}

fn run(scenario: &Scenario, batches: Vec<Vec<HealthReport>>) -> Result<Ledger, TestCaseError> {
    let mut ledger = Ledger::new(scenario.world());
    for batch in batches {
        ledger.apply(batch)?;
    }
    Ok(ledger)
}

/// The log read instant by instant, independently of the engine: between
/// two report instants each objective is charged `self`, or the excusable
/// upstream down the longest, while its system is down. Returns spans per
/// objective (`upstream` as in [`span_of`]) and whether each system is down
/// at the end.
fn reference(scenario: &Scenario) -> (Vec<Vec<EventSpan>>, Vec<bool>) {
    let n = SYSTEMS.len();
    let mut healthcheck = vec![HealthStatus::Healthy; n];
    let mut incident = vec![HealthStatus::Healthy; n];
    let mut down_since: Vec<Option<i64>> = vec![None; n];
    let mut spans = vec![Vec::<EventSpan>::new(); scenario.objectives.len()];
    let index_of = |id: &SystemId| SYSTEMS.iter().position(|s| *s == id.as_str()).unwrap();

    let mut reports = scenario.reports.iter().peekable();
    while let Some(first) = reports.next() {
        let instant = first.at.millis();
        let mut apply = |r: &HealthReport| {
            let i = index_of(&r.system_id);
            match r.source {
                ReportSource::Healthcheck => healthcheck[i] = r.status,
                ReportSource::Incident => incident[i] = r.status,
            }
            let down = healthcheck[i].max(incident[i]).is_down();
            match (down, down_since[i]) {
                (true, None) => down_since[i] = Some(instant),
                (false, Some(_)) => down_since[i] = None,
                _ => {}
            }
        };
        apply(first);
        while let Some(r) = reports.next_if(|r| r.at.millis() == instant) {
            apply(r);
        }
        let until = reports.peek().map_or(OPEN_END, |r| r.at.millis());
        for (index, spec) in scenario.objectives.iter().enumerate() {
            if down_since[spec.system].is_none() {
                continue;
            }
            let upstream = if spec.self_only {
                scenario
                    .edges
                    .iter()
                    .filter(|(down, up)| *down == spec.system && spec.excluded & (1 << up) == 0)
                    .filter_map(|(_, up)| down_since[*up].map(|since| (since, *up)))
                    .min()
                    .map_or(0, |(_, up)| u32::try_from(up).unwrap() + 1)
            } else {
                0
            };
            let spans = &mut spans[index];
            // Merge with the previous stretch when nothing changed.
            match spans.last_mut() {
                Some(last) if last.end == instant && last.upstream == upstream => last.end = until,
                _ => spans.push(EventSpan { start: instant, end: until, upstream }),
            }
        }
    }
    let down = down_since.iter().map(Option::is_some).collect();
    (spans, down)
}

/// The parts of an aggregate that do not depend on which of two upstreams
/// down since the same instant is named (arrival order decides that).
fn comparable(agg: &Aggregate) -> (i64, i64, i64, [i64; 6], bool) {
    (agg.total_ms, agg.self_ms, agg.upstream_ms.iter().sum(), agg.burn_ms, agg.has_open)
}

/// Instants after the last report (an open event is never empty there), one
/// of them a day on so that 1-day windows cut events.
fn status_instants(scenario: &Scenario, offset: i64) -> [i64; 2] {
    let end = scenario.end();
    [end + offset, end + DAY_MS + offset]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn batches_keep_the_ledger_consistent_and_match_the_log(
        scenario in scenario_strategy(),
        offset in 1..2 * HOUR_MS,
    ) {
        let ledger = run(&scenario, scenario.batches())?;
        let (expected, down_at_end) = reference(&scenario);

        for (index, spec) in scenario.objectives.iter().enumerate() {
            let objective = scenario.objective(index);
            prop_assert_eq!(ledger.world.systems[&objective.system_id].is_down(), down_at_end[spec.system]);
            let spans = ledger.spans(&objective.id);
            let strict = !spec.self_only;
            for at in status_instants(&scenario, offset) {
                let window_start = at - i64::from(spec.window_days) * DAY_MS;
                let down = down_at_end[spec.system];
                let got = aggregate(&spans, SYSTEMS.len(), window_start, at, down, strict);
                let want = aggregate(&expected[index], SYSTEMS.len(), window_start, at, down, strict);
                prop_assert_eq!(comparable(&got), comparable(&want), "objective {} at {}", &objective.id, at);

                // SPEC §4: total = self + upstream, in the served status too.
                prop_assert_eq!(got.total_ms, got.self_ms + got.upstream_ms.iter().sum::<i64>());
                let status = ledger.status(&scenario, index, at);
                let parts: f64 = status.attribution.iter().map(|a| a.minutes).sum();
                prop_assert!((status.error_budget_consumed_strict_minutes - parts).abs() < 1e-6);
                let consumed = if strict { got.total_ms } else { got.self_ms };
                prop_assert!((status.error_budget_consumed_minutes - consumed as f64 / 60_000.0).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn batch_grouping_does_not_change_the_outcome(
        scenario in scenario_strategy(),
        offset in 1..2 * HOUR_MS,
    ) {
        let batched = run(&scenario, scenario.batches())?;
        let one_by_one = run(&scenario, scenario.reports.iter().map(|r| vec![r.clone()]).collect())?;
        let all_at_once = run(&scenario, vec![scenario.reports.clone()])?;

        // Same operations in the same order: even the generated ids agree.
        prop_assert_eq!(&batched.events, &one_by_one.events);
        prop_assert_eq!(&batched.events, &all_at_once.events);
        prop_assert_eq!(&batched.world, &one_by_one.world);
        for index in 0..scenario.objectives.len() {
            for at in status_instants(&scenario, offset) {
                prop_assert_eq!(batched.status(&scenario, index, at), one_by_one.status(&scenario, index, at));
                prop_assert_eq!(batched.status(&scenario, index, at), all_at_once.status(&scenario, index, at));
            }
        }
    }
}

/// The log as it might arrive: each system's reports in time order, the
/// systems interleaved by `choices`.
fn arrival_order(scenario: &Scenario, choices: &[usize]) -> Vec<HealthReport> {
    let mut queues: Vec<std::collections::VecDeque<HealthReport>> =
        vec![Default::default(); SYSTEMS.len()];
    for report in &scenario.reports {
        let i = SYSTEMS.iter().position(|s| *s == report.system_id.as_str()).unwrap();
        queues[i].push_back(report.clone());
    }
    let mut arrived = vec![];
    for choice in choices.iter().cycle().take(scenario.reports.len()) {
        let waiting: Vec<usize> = (0..queues.len()).filter(|i| !queues[*i].is_empty()).collect();
        let queue = waiting[choice % waiting.len()];
        arrived.extend(queues[queue].pop_front());
    }
    arrived
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// SPEC §3: reports for different systems apply in arrival order, which
    /// need not be time order. The ledger must stay consistent all the same.
    #[test]
    fn cross_system_arrival_order_keeps_the_ledger_consistent(
        scenario in scenario_strategy(),
        choices in prop::collection::vec(0usize..12, 1..16),
    ) {
        let arrived = arrival_order(&scenario, &choices);
        let mut ledger = Ledger::new(scenario.world());
        let mut batch = vec![];
        for (report, cut) in arrived.into_iter().zip(&scenario.cuts) {
            batch.push(report);
            if *cut {
                ledger.apply(std::mem::take(&mut batch))?;
            }
        }
        ledger.apply(batch)?;
    }
}

/// What a store loads for `batch` (`Store::load_world_for_reports`): the
/// full scope of the systems some report changes (them, their upstreams and
/// downstreams, and the downstreams' upstreams, with edges and objectives),
/// and the state alone of the other reporting systems.
fn shallow_world(full: &World, batch: &[HealthReport]) -> World {
    let changing = systems_changed_by(batch, &full.systems);
    let mut scope: BTreeSet<SystemId> = changing.clone();
    for system in &changing {
        scope.extend(full.upstreams.get(system).into_iter().flatten().cloned());
        for down in full.downstreams.get(system).into_iter().flatten() {
            scope.insert(down.clone());
            scope.extend(full.upstreams.get(down).into_iter().flatten().cloned());
        }
    }
    let mut world = World::default();
    for system in &scope {
        world.systems.insert(system.clone(), full.systems[system].clone());
        if let Some(ups) = full.upstreams.get(system) {
            world.upstreams.insert(system.clone(), ups.clone());
        }
        if let Some(downs) = full.downstreams.get(system) {
            world.downstreams.insert(system.clone(), downs.clone());
        }
        if let Some(objectives) = full.objectives.get(system) {
            world.objectives.insert(system.clone(), objectives.clone());
        }
    }
    for report in batch {
        let state = &full.systems[&report.system_id];
        world.systems.entry(report.system_id.clone()).or_insert_with(|| state.clone());
    }
    world
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Loading the full scope only of the systems whose status a batch
    /// changes (`systems_changed_by`) gives the engine everything it needs:
    /// every batch yields the same changeset as on the whole world.
    #[test]
    fn the_scope_of_changing_systems_is_enough(scenario in scenario_strategy()) {
        let mut ledger = Ledger::new(scenario.world());
        for batch in scenario.batches() {
            let now = batch.iter().map(|r| r.at).max().unwrap_or(Timestamp::from_millis(T0));
            let mut shallow = shallow_world(&ledger.world, &batch);
            let mut next = ledger.next_id;
            let from_shallow = apply_reports(&mut shallow, batch.clone(), now, &mut || {
                next += 1;
                format!("ev-{next}")
            })
            .map_err(|e| TestCaseError::fail(format!("batch refused: {e}")))?;
            let mut full = ledger.world.clone();
            let mut next = ledger.next_id;
            let from_full = apply_reports(&mut full, batch.clone(), now, &mut || {
                next += 1;
                format!("ev-{next}")
            })
            .map_err(|e| TestCaseError::fail(format!("batch refused: {e}")))?;
            prop_assert_eq!(&from_shallow, &from_full);
            ledger.apply(batch)?;
        }
    }
}
